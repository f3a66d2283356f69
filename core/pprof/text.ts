/**
 * Parsers for the text forms Go's net/http/pprof serves with `?debug=1`. They read only what the
 * derivations need (a total, the MemStats block) and reject anything that is not a Go profile.
 */
import { PprofcolError } from '../errors.js';
import type { FunctionProfile, MemStats } from '../model/profiles.js';

export class ProfileDecodeError extends PprofcolError {
  /** The profile was refused for its size (body_size_limit), not its content: reason `too_large`. */
  readonly tooLarge: boolean;
  constructor(message: string, options?: { tooLarge?: boolean; cause?: unknown }) {
    super('ERR_PROFILE_DECODE', message, { cause: options?.cause });
    this.name = 'ProfileDecodeError';
    this.tooLarge = options?.tooLarge ?? false;
  }
}

/**
 * Distinct functions one profile may attribute samples to, at most (decodeProfile, parseGoroutineStacks);
 * more is refused as too large. Every one of them becomes a Map entry here and, downstream, a counter's
 * remembered value per target and family (pprof_metrics keeps the previous profile's values to
 * accumulate `other`): so this bounds what one target keeps, ~5 MB per family. Go binaries of the
 * largest services attribute a few thousand to tens of thousands; 65,536 leaves room.
 */
export const MAX_FUNCTIONS = 65_536;

export function tooManyFunctions(): ProfileDecodeError {
  return new ProfileDecodeError(`samples attributed to more than ${MAX_FUNCTIONS} distinct functions: refused as too large`, { tooLarge: true });
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
/** Go's block is ~30 short lines (PauseNs, 256 numbers, the longest): 64 KiB is far more than it needs. */
const MEMSTATS_BLOCK_MAX_BYTES = 64 * 1024;

/** Extracts runtime.MemStats from `heap?debug=1`; the block sits at the end, after the records. */
export function parseHeapMemStats(body: Buffer): MemStats {
  const head = body.subarray(0, 64).toString('latin1');
  if (!head.startsWith('heap profile:')) {
    throw new ProfileDecodeError(`not a heap profile in debug=1 text form: starts with "${head.split('\n')[0].slice(0, 60)}"`);
  }
  const at = body.lastIndexOf(MEMSTATS_MARKER);
  if (at === -1) throw new ProfileDecodeError('heap profile has no "# runtime.MemStats" block');
  // The block is the body's tail; a "marker" early in a crafted body must not turn the body into lines.
  const block = body.subarray(at + MEMSTATS_MARKER.length, at + MEMSTATS_MARKER.length + MEMSTATS_BLOCK_MAX_BYTES).toString('latin1');
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

/** Drops the `+0x1f` offset Go appends to a frame's function name in debug=1 stacks. */
function functionOfFrame(line: string): string | undefined {
  // `#\t0x68ec74\tmain.parkedWorker+0x14\t/path/main.go:28`
  const parts = line.split('\t');
  if (parts.length < 3) return undefined;
  const name = parts[2];
  const plus = name.lastIndexOf('+0x');
  return plus === -1 ? name : name.slice(0, plus);
}

/**
 * Goroutines by the first frame (leaf first) for which `skipFrame` is false, from the debug=1 text
 * form: records of `N @ pc...` followed by `#\tpc\tfunction+off\tfile:line` lines. A stack of
 * runtime frames only is counted under its leaf frame. The shape is a one-column FunctionProfile.
 * Memory is bounded by the input: the text (one copy) and one Map entry (~150 bytes) per distinct
 * function, each of which takes a record of >= 30 bytes; the receiver parses bodies above 256 KiB in
 * its decode workers, so the time a large one takes is a worker's, not the main thread's.
 */
export function parseGoroutineStacks(body: Buffer, skipFrame: (functionName: string) => boolean): FunctionProfile {
  const total = parseProfileTotal(body, 'goroutine');
  const byFunction = new Map<string, number[]>();
  const text = body.toString('utf8');
  let count = 0;
  let chosen: string | undefined;
  let leaf: string | undefined;
  let counted = 0;
  const flush = (): void => {
    if (count > 0) {
      const name = chosen ?? leaf ?? 'unknown';
      const entry = byFunction.get(name);
      if (entry === undefined) {
        if (byFunction.size === MAX_FUNCTIONS) throw tooManyFunctions();
        byFunction.set(name, [count]);
      } else entry[0] += count;
      counted += count;
    }
    count = 0;
    chosen = undefined;
    leaf = undefined;
  };
  let start = text.indexOf('\n') + 1;
  while (start > 0 && start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.startsWith('#\t')) {
      if (count === 0 || chosen !== undefined) continue;
      const name = functionOfFrame(line);
      if (name === undefined) continue;
      leaf ??= name;
      if (!skipFrame(name)) chosen = name;
    } else if (line.length > 0 && line.charCodeAt(0) >= 0x30 && line.charCodeAt(0) <= 0x39) {
      flush();
      const at = line.indexOf(' @ ');
      const n = Number(at === -1 ? NaN : line.slice(0, at));
      if (!Number.isSafeInteger(n) || n < 0) throw new ProfileDecodeError(`goroutine record "${line.slice(0, 40)}" has no count`);
      count = n;
    }
  }
  flush();
  // Go writes the total and the records from two reads of a changing set; they may differ slightly.
  return { columns: ['goroutine'], units: ['count'], totals: [Math.max(total, counted)], byFunction, durationSeconds: 0 };
}

export interface GoroutineStates {
  total: number;
  /** Wait reason (`chan receive`, `select`, `IO wait`, `running`, ...) -> goroutines in it. */
  byState: Map<string, number>;
  /** Longest wait printed, in seconds; Go prints waits in whole minutes from one minute up, so 0 or >= 60. */
  waitMaxSeconds: number;
}

/**
 * Distinct states at most. Go's wait reasons are ~40 (runtime/runtime2.go waitReasonStrings) plus the
 * scheduler states (running, runnable, syscall, ...): a dump with more is not Go's, and counting it would
 * grow a Map with the input.
 */
export const MAX_GOROUTINE_STATES = 256;
/** A header longer than this is not Go's (`goroutine N gp=.. m=.. mp=.. [state, N minutes, locked to thread]:`). */
const MAX_HEADER_BYTES = 512;
const HEADER_PREFIX = Buffer.from('goroutine ');
const NL_HEADER = Buffer.from('\ngoroutine ');

// `goroutine 20 [chan receive, 5 minutes, locked to thread]:`
const GOROUTINE_HEADER = /^goroutine \d+(?: gp=\S+ m=\S+(?: mp=\S+)?)? \[([^\]]*)\]:?/;

/**
 * Goroutine states from the debug=2 text form (one panic-style trace per goroutine). Only the
 * header lines are read, found with Buffer.indexOf (native memmem: a 60 MiB dump is scanned in tens of
 * ms), and only each header is decoded; the body is never turned into one string. The state is the
 * text before the first comma in the brackets. Memory: the body + at most MAX_GOROUTINE_STATES states.
 */
export function parseGoroutineStates(body: Buffer): GoroutineStates {
  const byState = new Map<string, number>();
  let total = 0;
  let waitMaxMinutes = 0;
  if (body.indexOf(HEADER_PREFIX) !== 0) {
    throw new ProfileDecodeError(`not a goroutine dump (debug=2): starts with "${body.subarray(0, 40).toString('latin1').split('\n')[0]}"`);
  }
  let start = 0;
  while (start !== -1 && start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    const header = body.subarray(start, Math.min(end, start + MAX_HEADER_BYTES)).toString('latin1');
    const match = GOROUTINE_HEADER.exec(header);
    if (match !== null) {
      total++;
      const parts = match[1].split(', ');
      const state = parts[0];
      const n = byState.get(state);
      if (n === undefined && byState.size === MAX_GOROUTINE_STATES) {
        throw new ProfileDecodeError(`goroutine dump (debug=2) has more than ${MAX_GOROUTINE_STATES} distinct states: not Go's`);
      }
      byState.set(state, (n ?? 0) + 1);
      for (let i = 1; i < parts.length; i++) {
        const wait = /^(\d+) minutes?$/.exec(parts[i]);
        if (wait !== null) waitMaxMinutes = Math.max(waitMaxMinutes, Number(wait[1]));
      }
    }
    const next = body.indexOf(NL_HEADER, end === body.length ? end : end);
    start = next === -1 ? -1 : next + 1;
  }
  if (total === 0) throw new ProfileDecodeError('goroutine dump (debug=2) has no goroutine headers');
  return { total, byState, waitMaxSeconds: waitMaxMinutes * 60 };
}
