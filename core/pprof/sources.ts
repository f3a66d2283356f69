/**
 * The two cheap sources besides the pprof profiles: net/http/pprof's index page (`/debug/pprof/`),
 * whose table carries each profile's count, and expvar's `/debug/vars`, which carries
 * runtime.MemStats as JSON. Both cost the target far less than a profile: see receivers/pprof/README.md.
 */
import { decimalDigits } from './expvar.js';
import { ProfileDecodeError } from './text.js';

// A row of the table (Go 1.11 to today), read as the pattern
//   <tr><td>(\d+)</td><td><a href=['"]?([A-Za-z0-9_]+)\?debug=1['"]?>
// e.g. `<tr><td>212</td><td><a href='goroutine?debug=1'>goroutine</a></td></tr>`. The page is read as
// bytes where it lies: every scrape of every target reads two counts from it, and a string of the
// page plus a match array per row were most of what the receiver allocated per scrape
// (bench/many-targets.ts, a sampling heap profile). The pattern is ASCII, so bytes and the UTF-8 text
// match alike. Memory: nothing beyond the body (parseIndexCounts: one entry per row).
const ROW_START = Buffer.from('<tr><td>', 'latin1');
const CELL_THEN_LINK = Buffer.from('</td><td><a href=', 'latin1');
const DEBUG_1 = Buffer.from('?debug=1', 'latin1');

const NO_TABLE = 'not a net/http/pprof index page: no profile table';

function isNameByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

function matchesAt(body: Buffer, at: number, bytes: Buffer): boolean {
  if (at + bytes.length > body.length) return false;
  for (let i = 0; i < bytes.length; i++) if (body[at + i] !== bytes[i]) return false;
  return true;
}

/** Where the parts of the row found last lie: count start and end, name start and end (byte offsets). */
const row = new Int32Array(4);

/**
 * Finds the first table row at or after `from` and puts its parts in `row`; returns where the search
 * for the next one starts, or -1 when there is none.
 */
function nextRow(body: Buffer, from: number): number {
  let at = body.indexOf(ROW_START, from);
  while (at !== -1) {
    const countStart = at + ROW_START.length;
    let pos = countStart;
    while (pos < body.length && body[pos] >= 0x30 && body[pos] <= 0x39) pos++;
    const countEnd = pos;
    if (countEnd > countStart && matchesAt(body, pos, CELL_THEN_LINK)) {
      pos += CELL_THEN_LINK.length;
      if (body[pos] === 0x27 || body[pos] === 0x22) pos++; // ' or "
      const nameStart = pos;
      while (pos < body.length && isNameByte(body[pos])) pos++;
      const nameEnd = pos;
      if (nameEnd > nameStart && matchesAt(body, pos, DEBUG_1)) {
        pos += DEBUG_1.length;
        if (body[pos] === 0x27 || body[pos] === 0x22) pos++;
        if (body[pos] === 0x3e /* > */) {
          row[0] = countStart;
          row[1] = countEnd;
          row[2] = nameStart;
          row[3] = nameEnd;
          return pos + 1;
        }
      }
    }
    at = body.indexOf(ROW_START, countStart);
  }
  return -1;
}

/** Profile names as bytes, made once per name asked for (the receiver asks for two). */
const nameBytes = new Map<string, Buffer>();

/**
 * The count of one profile on the index page (`goroutine`: goroutines now, `threadcreate`: threads
 * created). A page with no table row is refused; one whose table lacks the profile too.
 */
export function indexCount(body: Buffer, profile: string): number {
  let name = nameBytes.get(profile);
  if (name === undefined) nameBytes.set(profile, (name = Buffer.from(profile, 'latin1')));
  let count: number | undefined;
  let rows = 0;
  for (let at = nextRow(body, 0); at !== -1; at = nextRow(body, at)) {
    rows++;
    // The last row of a name wins, as in parseIndexCounts.
    if (row[3] - row[2] === name.length && matchesAt(body, row[2], name)) count = decimalDigits(body, row[0], row[1]);
  }
  if (rows === 0) throw new ProfileDecodeError(NO_TABLE);
  if (count === undefined) throw new ProfileDecodeError(`index page lists no ${profile} profile`);
  return count;
}

/**
 * Profile name -> count from the index page. The counts of goroutine and threadcreate are the
 * number of goroutines and of threads created; heap, allocs, mutex and block count profile
 * records (stacks), not memory or events: do not read them as such.
 */
export function parseIndexCounts(body: Buffer): Map<string, number> {
  const counts = new Map<string, number>();
  for (let at = nextRow(body, 0); at !== -1; at = nextRow(body, at)) counts.set(body.toString('latin1', row[2], row[3]), decimalDigits(body, row[0], row[1]));
  if (counts.size === 0) throw new ProfileDecodeError(NO_TABLE);
  return counts;
}

// runtime.MemStats from expvar: a scanner that reads only the fields used (core/pprof/expvar.ts).
export { parseExpvarMemStats } from './expvar.js';
