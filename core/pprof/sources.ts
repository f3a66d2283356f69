/**
 * The two cheap sources besides the pprof profiles: net/http/pprof's index page (`/debug/pprof/`),
 * whose table carries each profile's count, and expvar's `/debug/vars`, which carries
 * runtime.MemStats as JSON. Both cost the target far less than a profile: see receivers/pprof/README.md.
 */
import { ProfileDecodeError } from './text.js';

// `<tr><td>212</td><td><a href='goroutine?debug=1'>goroutine</a></td></tr>` (Go 1.11 to today).
const INDEX_ROW = /<tr><td>(\d+)<\/td><td><a href=['"]?([A-Za-z0-9_]+)\?debug=1['"]?>/g;

/**
 * Profile name -> count from the index page. The counts of goroutine and threadcreate are the
 * number of goroutines and of threads created; heap, allocs, mutex and block count profile
 * records (stacks), not memory or events: do not read them as such.
 */
export function parseIndexCounts(body: Buffer): Map<string, number> {
  const text = body.toString('utf8');
  const counts = new Map<string, number>();
  for (const match of text.matchAll(INDEX_ROW)) counts.set(match[2], Number(match[1]));
  if (counts.size === 0) throw new ProfileDecodeError('not a net/http/pprof index page: no profile table');
  return counts;
}

// runtime.MemStats from expvar: a scanner that reads only the fields used (core/pprof/expvar.ts).
export { parseExpvarMemStats } from './expvar.js';
