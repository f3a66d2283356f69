/**
 * The two cheap sources besides the pprof profiles: net/http/pprof's index page (`/debug/pprof/`),
 * whose table carries each profile's count, and expvar's `/debug/vars`, which carries
 * runtime.MemStats as JSON. Both cost the target far less than a profile: see receivers/pprof/README.md.
 */
import type { MemStats } from '../model/profiles.js';
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

const MEMSTATS_NUMBERS: ReadonlyArray<Exclude<keyof MemStats, 'PauseNs' | 'PauseTotalNs'>> = [
  'Alloc', 'TotalAlloc', 'Sys', 'Mallocs', 'Frees', 'HeapAlloc', 'HeapSys', 'HeapIdle', 'HeapInuse',
  'HeapReleased', 'HeapObjects', 'StackInuse', 'StackSys', 'MSpanInuse', 'MSpanSys', 'MCacheInuse',
  'MCacheSys', 'BuckHashSys', 'GCSys', 'OtherSys', 'NextGC', 'LastGC', 'NumGC',
];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * runtime.MemStats from expvar's JSON. LastGC (ns since the epoch, ~1.8e18) exceeds 2^53: JSON.parse
 * rounds it to the nearest double, an error below a microsecond, far under the metric's resolution.
 */
export function parseExpvarMemStats(body: Buffer): MemStats {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ProfileDecodeError('/debug/vars is not JSON');
  }
  if (!isRecord(parsed) || !isRecord(parsed.memstats)) throw new ProfileDecodeError('/debug/vars has no "memstats" (expvar not imported?)');
  const raw = parsed.memstats;
  const stats: Partial<MemStats> = {};
  for (const field of MEMSTATS_NUMBERS) {
    const v = raw[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ProfileDecodeError(`/debug/vars memstats.${field} is not a count`);
    stats[field] = v;
  }
  const pauses = raw.PauseNs;
  if (!Array.isArray(pauses) || !pauses.every((p): p is number => typeof p === 'number')) {
    throw new ProfileDecodeError('/debug/vars memstats.PauseNs is not a list of numbers');
  }
  stats.PauseNs = pauses;
  if (typeof raw.PauseTotalNs === 'number') stats.PauseTotalNs = raw.PauseTotalNs;
  return stats as MemStats;
}
