/**
 * Parsers for the text forms Go's net/http/pprof serves with `?debug=1`. They read only what the
 * derivations need (a total, the MemStats block) and reject anything that is not a Go profile.
 */
import { PprofcolError } from '../errors.js';
import type { MemStats } from '../model/profiles.js';

export class ProfileDecodeError extends PprofcolError {
  constructor(message: string) {
    super('ERR_PROFILE_DECODE', message);
    this.name = 'ProfileDecodeError';
  }
}

/** Reads the first line only: `goroutine profile: total 42` (goroutine and threadcreate alike). */
export function parseProfileTotal(body: Buffer, profileName: 'goroutine' | 'threadcreate'): number {
  const end = body.indexOf(0x0a);
  const line = body.subarray(0, end === -1 ? Math.min(body.length, 200) : end).toString('utf8');
  const match = /^(\w+) profile: total (\d+)\s*$/.exec(line);
  if (match === null) {
    throw new ProfileDecodeError(`not a ${profileName} profile in debug=1 text form: first line is "${line.slice(0, 80)}"`);
  }
  if (match[1] !== profileName) throw new ProfileDecodeError(`expected a ${profileName} profile, got ${match[1]}`);
  return Number(match[2]);
}

// Fields of the `# runtime.MemStats` block, as runtime/pprof writes them; `Stack = a / b` carry two values.
const SINGLE_FIELDS = [
  'Alloc', 'TotalAlloc', 'Sys', 'Mallocs', 'Frees', 'HeapAlloc', 'HeapSys', 'HeapIdle', 'HeapInuse',
  'HeapReleased', 'HeapObjects', 'BuckHashSys', 'GCSys', 'OtherSys', 'NextGC', 'LastGC', 'NumGC',
] as const;
const PAIR_FIELDS: Record<string, [keyof MemStats, keyof MemStats]> = {
  Stack: ['StackInuse', 'StackSys'],
  MSpan: ['MSpanInuse', 'MSpanSys'],
  MCache: ['MCacheInuse', 'MCacheSys'],
};
const MEMSTATS_MARKER = '# runtime.MemStats\n';

/** Extracts runtime.MemStats from `heap?debug=1`; the block sits at the end, after the records. */
export function parseHeapMemStats(body: Buffer): MemStats {
  const head = body.subarray(0, 64).toString('latin1');
  if (!head.startsWith('heap profile:')) {
    throw new ProfileDecodeError(`not a heap profile in debug=1 text form: starts with "${head.split('\n')[0].slice(0, 60)}"`);
  }
  const at = body.lastIndexOf(MEMSTATS_MARKER);
  if (at === -1) throw new ProfileDecodeError('heap profile has no "# runtime.MemStats" block');
  const block = body.subarray(at + MEMSTATS_MARKER.length).toString('latin1');
  const values = new Map<string, string>();
  for (const line of block.split('\n')) {
    const match = /^# (\w+) = (.*)$/.exec(line);
    if (match !== null) values.set(match[1], match[2]);
  }
  const stats: Partial<MemStats> = {};
  const number = (field: string, text: string | undefined): number => {
    if (text === undefined) throw new ProfileDecodeError(`runtime.MemStats block lacks ${field}`);
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw new ProfileDecodeError(`runtime.MemStats ${field} = "${text.slice(0, 40)}" is not a count`);
    return n;
  };
  for (const field of SINGLE_FIELDS) stats[field] = number(field, values.get(field));
  for (const [field, [first, second]] of Object.entries(PAIR_FIELDS)) {
    const parts = values.get(field)?.split(' / ');
    if (parts?.length !== 2) throw new ProfileDecodeError(`runtime.MemStats ${field} is not "inuse / sys"`);
    (stats as Record<string, number>)[first] = number(field, parts[0]);
    (stats as Record<string, number>)[second] = number(field, parts[1]);
  }
  const pauses = /^\[([\d ]*)\]$/.exec(values.get('PauseNs') ?? '');
  if (pauses === null) throw new ProfileDecodeError('runtime.MemStats PauseNs is not a [...] list');
  stats.PauseNs = pauses[1] === '' ? [] : pauses[1].split(' ').map(Number);
  return stats as MemStats;
}
