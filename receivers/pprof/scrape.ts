/**
 * One scrape of one target: decide which families are due (each has its own interval), pick for
 * each the cheapest source the target serves, fetch every source once and in parallel within one
 * deadline, and parse. A source the target does not serve (404, or not what it should be) is
 * remembered per target and its fallback used at once; it is probed again after SOURCE_REPROBE_MS.
 * Failures become results with a reason, never exceptions.
 */
import { errorMessage } from '../../core/errors.js';
import type { FunctionProfile, ParsedProfile, ProfileFamily, ProfileResult, TargetScrape } from '../../core/model/profiles.js';
import type { FailureReason } from '../../core/model/targets.js';
import { DEFAULT_MAX_INFLATED_BYTES, decodeProfile, inflateProfile } from '../../core/pprof/decode.js';
import { DecodeQueueFullError, type DecodePool } from '../../core/pprof/pool.js';
import { prefixSkipper } from '../../core/pprof/pool-protocol.js';
import { indexCount, parseExpvarMemStats } from '../../core/pprof/sources.js';
import { parseGoroutineStacks, parseGoroutineStates, parseHeapMemStats, parseProfileTotal, ProfileDecodeError } from '../../core/pprof/text.js';
import { ScrapeError, type HttpScraper } from '../../core/scrape/http.js';
import type { Target } from '../../core/scrape/targets.js';
import { DEFAULT_EXPVAR_PATH, profileIntervalMs, type PprofScrapeConfig } from './config.js';

/** What the target is asked for; also the `source` label of pprofcol_receiver_source_requests_total. */
export type SourceId =
  | 'index'
  | 'expvar'
  | 'goroutine_debug1'
  | 'threadcreate_debug1'
  | 'heap_debug1'
  | 'goroutine_debug2'
  | 'allocs'
  | 'mutex'
  | 'block'
  | 'cpu';

/** A source that was missing is asked again after this long: a deploy may have added it. */
export const SOURCE_REPROBE_MS = 10 * 60_000;

/** Async where the body must be inflated first (protos): that runs off the main thread. */
type Parser = (body: Buffer, settings: ScrapeSettings) => ParsedProfile | Promise<ParsedProfile>;

/**
 * Frames skipped when naming the function a sample belongs to: the runtime (and internal/), and
 * sync's wrappers, so that a goroutine or a contention inside `sync.(*Mutex).Lock` is attributed to
 * the caller that took the lock, the function an operator can change.
 */
export const SKIP_PREFIXES: readonly string[] = ['runtime.', 'runtime/internal/', 'internal/', 'sync.', 'sync/'];
export const skipFrame: (functionName: string) => boolean = prefixSkipper(SKIP_PREFIXES);

/**
 * Inflated profiles (and goroutine?debug=2 bodies) larger than this decode in the receiver's worker pool;
 * smaller ones on the main thread, where a worker's round trip would cost more than it saves. Measured
 * (this machine, 2 cores, loaded): real profiles decode at 22-24 ms per MiB (the recorded heap and cpu
 * profiles; small ones weigh their fixed costs most), a valid crafted profile of distinct functions at
 * 15, so 256 KiB stalls the main thread by 6 ms at most: well inside the 50 ms a scrape may start late.
 */
export const DECODE_OFF_THREAD_BYTES = 256 * 1024;
/**
 * Gzipped profile bodies larger than this are inflated and decoded in a worker without being inflated
 * here first: Go's profiles compress 3-5x, so 16 KiB is ~64 KiB inflated (1.5 ms of decoding), and a
 * body this small that inflates far more (a bomb) no longer costs the main thread its inflation.
 */
export const GZIP_OFF_THREAD_BYTES = 16 * 1024;

/**
 * A profile.proto body (gzip inside, whatever the Content-Encoding was), decoded where it costs the
 * other targets nothing: a gzipped body above GZIP_OFF_THREAD_BYTES goes to a decode worker whole
 * (inflated there); a smaller one is inflated in zlib's thread pool and, if it inflates past
 * DECODE_OFF_THREAD_BYTES, decoded in a worker; the rest decodes here.
 */
async function functionProfile(body: Buffer, settings: ScrapeSettings): Promise<FunctionProfile> {
  const maxInflatedBytes = settings.bodySizeLimit > 0 ? settings.bodySizeLimit : DEFAULT_MAX_INFLATED_BYTES;
  const pool = settings.decodePool;
  // A gzipped body above GZIP_OFF_THREAD_BYTES is inflated in the worker too: joining 64 MiB of
  // inflated chunks on the main thread is itself a stall of tens of ms.
  if (pool !== undefined && body.length > GZIP_OFF_THREAD_BYTES && body[0] === 0x1f && body[1] === 0x8b) return pool.profile(body, maxInflatedBytes, SKIP_PREFIXES);
  const raw = await inflateProfile(body, maxInflatedBytes);
  if (raw.length > DECODE_OFF_THREAD_BYTES && pool !== undefined) return pool.profile(raw, maxInflatedBytes, SKIP_PREFIXES);
  return decodeProfile(raw, { skipFrame, maxInflatedBytes });
}

/**
 * Candidate sources per family, cheapest first, with the parser that reads the family from each.
 * Costs measured on real targets (bench/target-cost.ts): index < expvar < /metrics < heap?debug=1.
 */
const CANDIDATES: Record<Exclude<ProfileFamily, 'cpu'>, ReadonlyArray<{ source: SourceId; parse: Parser }>> = {
  goroutine: [
    { source: 'index', parse: (b) => ({ family: 'goroutine', total: indexCount(b, 'goroutine') }) },
    { source: 'goroutine_debug1', parse: (b) => ({ family: 'goroutine', total: parseProfileTotal(b, 'goroutine') }) },
  ],
  threadcreate: [
    { source: 'index', parse: (b) => ({ family: 'threadcreate', total: indexCount(b, 'threadcreate') }) },
    { source: 'threadcreate_debug1', parse: (b) => ({ family: 'threadcreate', total: parseProfileTotal(b, 'threadcreate') }) },
  ],
  heap: [
    { source: 'expvar', parse: (b) => ({ family: 'heap', memstats: parseExpvarMemStats(b) }) },
    { source: 'heap_debug1', parse: (b) => ({ family: 'heap', memstats: parseHeapMemStats(b) }) },
  ],
  goroutine_functions: [
    {
      source: 'goroutine_debug1',
      parse: async (b, s) => ({
        family: 'goroutine_functions',
        functions: b.length > DECODE_OFF_THREAD_BYTES && s.decodePool !== undefined ? await s.decodePool.goroutineStacks(b, SKIP_PREFIXES) : parseGoroutineStacks(b, skipFrame),
      }),
    },
  ],
  goroutine_states: [
    {
      source: 'goroutine_debug2',
      parse: async (b, s) => {
        const states = b.length > DECODE_OFF_THREAD_BYTES && s.decodePool !== undefined ? await s.decodePool.goroutineStates(b) : parseGoroutineStates(b);
        return { family: 'goroutine_states', byState: states.byState, waitMaxSeconds: states.waitMaxSeconds };
      },
    },
  ],
  allocs: [{ source: 'allocs', parse: async (b, s) => ({ family: 'allocs', functions: await functionProfile(b, s) }) }],
  mutex: [{ source: 'mutex', parse: async (b, s) => ({ family: 'mutex', functions: await functionProfile(b, s) }) }],
  block: [{ source: 'block', parse: async (b, s) => ({ family: 'block', functions: await functionProfile(b, s) }) }],
};

export interface ScrapeSettings {
  pathPrefix: string;
  /** '' = never ask for /debug/vars; default DEFAULT_EXPVAR_PATH. */
  expvarPath?: string;
  profiles: readonly ProfileFamily[];
  timeoutMs: number;
  bodySizeLimit: number;
  /** Interval of a family in ms (>= the scrape interval); omitted: every family every scrape. */
  intervalMs?: (family: Exclude<ProfileFamily, 'cpu'>) => number;
  /**
   * Memstats every scrape while the target serves /debug/vars (it costs a Go target an eighth of its
   * own /metrics), so client_golang's go_memstats_* keep their usual resolution; `intervalMs('heap')`
   * applies once heap?debug=1 is the source. Off when profile_intervals.heap is set explicitly.
   */
  heapEveryScrapeFromExpvar?: boolean;
  scrapeIntervalMs?: number;
  /** Where profiles above DECODE_OFF_THREAD_BYTES decode; without one, everything decodes on the main thread. */
  decodePool?: DecodePool;
  /** Called once per request sent, for pprofcol_receiver_source_requests_total. */
  onRequest?: (source: SourceId) => void;
}

/** The settings a scrape config gives every scrape of its targets (built once per config, not per scrape). */
export function scrapeSettingsOf(config: PprofScrapeConfig): ScrapeSettings {
  return {
    pathPrefix: config.path_prefix,
    expvarPath: config.expvar_path,
    profiles: config.profiles,
    timeoutMs: config.scrape_timeout,
    bodySizeLimit: config.body_size_limit,
    intervalMs: (family) => profileIntervalMs(config, family),
    heapEveryScrapeFromExpvar: config.profile_intervals.heap === undefined,
    scrapeIntervalMs: config.scrape_interval,
  };
}

/**
 * What the receiver remembers per target between scrapes. Times are on the clock scrapeTarget's
 * `clockMs` is on (the scrape pool's monotonic clock in the receiver), so a wall-clock step does not
 * make families wait for the length of the step.
 */
export class TargetSourceState {
  /** Family -> start of the scrape that last fetched it. */
  readonly lastFetchedMs = new Map<ProfileFamily, number>();
  /** Source -> until when it is known to be missing on this target. */
  readonly missingUntilMs = new Map<SourceId, number>();

  /** Forget when families were fetched, so all are due next scrape (after the target was down). */
  resetSchedule(): void {
    this.lastFetchedMs.clear();
  }
}

export function sourcePath(source: SourceId, settings: Pick<ScrapeSettings, 'pathPrefix' | 'expvarPath'>, cpuSeconds = 0): string {
  const prefix = settings.pathPrefix === '/' ? '' : settings.pathPrefix;
  switch (source) {
    case 'index':
      return `${prefix}/`;
    case 'expvar':
      return settings.expvarPath ?? DEFAULT_EXPVAR_PATH;
    case 'goroutine_debug1':
      return `${prefix}/goroutine?debug=1`;
    case 'threadcreate_debug1':
      return `${prefix}/threadcreate?debug=1`;
    case 'heap_debug1':
      return `${prefix}/heap?debug=1`;
    case 'goroutine_debug2':
      return `${prefix}/goroutine?debug=2`;
    case 'allocs':
    case 'mutex':
    case 'block':
      return `${prefix}/${source}`;
    case 'cpu':
      return `${prefix}/profile?seconds=${cpuSeconds}`;
  }
}

/** Families due in a scrape starting at `startedMs`; half an interval of slack absorbs timer jitter. */
export function dueFamilies(settings: ScrapeSettings, state: TargetSourceState, startedMs: number): Array<Exclude<ProfileFamily, 'cpu'>> {
  const due: Array<Exclude<ProfileFamily, 'cpu'>> = [];
  const slack = (settings.scrapeIntervalMs ?? 0) / 2;
  for (const family of settings.profiles) {
    if (family === 'cpu') continue;
    const last = state.lastFetchedMs.get(family);
    const cheapHeap =
      family === 'heap' && settings.heapEveryScrapeFromExpvar === true && settings.expvarPath !== '' && !((state.missingUntilMs.get('expvar') ?? 0) > startedMs);
    const interval = cheapHeap ? 0 : (settings.intervalMs?.(family) ?? 0);
    if (last === undefined || startedMs - last >= interval - slack) due.push(family);
  }
  return due;
}

/** Whether a family may ask `source` now: not an expvar turned off, not a source found missing lately. */
function usableSource(source: SourceId, settings: ScrapeSettings, state: TargetSourceState, clockMs: number): boolean {
  return !(source === 'expvar' && settings.expvarPath === '') && !((state.missingUntilMs.get(source) ?? 0) > clockMs);
}

/** A source the target does not have: fall back to the next candidate instead of failing. */
function isMissing(err: unknown, source: SourceId): boolean {
  if (err instanceof ScrapeError) return err.reason === 'http_status' && (err.status === 404 || err.status === 405);
  // /debug/vars that is not expvar, or an index page without the table: not this target's kind of source.
  return err instanceof ProfileDecodeError && (source === 'expvar' || source === 'index');
}

export async function scrapeTarget(
  http: HttpScraper,
  target: Target,
  settings: ScrapeSettings,
  startedMs: number,
  signal?: AbortSignal,
  state: TargetSourceState = new TargetSourceState(),
  /** The scrape's start on the clock `state` is kept on (default startedMs, the wall clock). */
  clockMs = startedMs,
): Promise<TargetScrape> {
  const t0 = performance.now();
  const families = dueFamilies(settings, state, clockMs);
  // One request per source per scrape, shared by the families that read it (index: two counts).
  const fetches = new Map<SourceId, Promise<Buffer>>();
  const fetchSource = (source: SourceId, url: string): Promise<Buffer> => {
    let pending = fetches.get(source);
    if (pending === undefined) {
      settings.onRequest?.(source);
      pending = http.get(url, { timeoutMs: settings.timeoutMs, limitBytes: settings.bodySizeLimit, signal });
      pending.catch(() => undefined);
      fetches.set(source, pending);
    }
    return pending;
  };

  const results = await Promise.all(
    families.map(async (family): Promise<ProfileResult> => {
      const all = CANDIDATES[family];
      // The usual case, no source of the family missing, takes the table's own array.
      let usable = all;
      if (all.some((c) => !usableSource(c.source, settings, state, clockMs))) {
        const candidates = all.filter((c) => usableSource(c.source, settings, state, clockMs));
        // Every candidate marked missing: ask the last one anyway, so the failure is reported.
        usable = candidates.length > 0 ? candidates : all.slice(-1);
      }
      let last: ProfileResult | undefined;
      for (let i = 0; i < usable.length; i++) {
        const { source, parse } = usable[i];
        const url = `${target.baseUrl}${sourcePath(source, settings)}`;
        try {
          const body = await fetchSource(source, url);
          return { family, ok: true, profile: await parse(body, settings), source: url };
        } catch (err) {
          last = { family, ok: false, reason: reasonOf(err), message: errorMessage(err), source: url };
          if (i < usable.length - 1 && isMissing(err, source)) {
            state.missingUntilMs.set(source, clockMs + SOURCE_REPROBE_MS);
            continue;
          }
          return last;
        }
      }
      return last!;
    }),
  );
  // A family that failed is asked again next scrape, not a whole interval later.
  for (const r of results) if (r.ok !== false) state.lastFetchedMs.set(r.family, clockMs);
  // A target that answered nothing: all its series end, so every family is due when it is back.
  if (results.length > 0 && results.every((r) => r.ok === false)) state.resetSchedule();
  return { target, startedMs, durationSeconds: (performance.now() - t0) / 1000, results, kind: 'scrape' };
}

/** Go's answer while another CPU profile runs: 500 `Could not enable CPU profiling: cpu profiling already in use`. */
function isCpuBusy(err: unknown): boolean {
  return err instanceof ScrapeError && err.status === 500 && /already in use/i.test(err.message);
}

/**
 * One CPU profile window: `profile?seconds=W`, which the target answers only after W seconds, so
 * the deadline is W plus scrape_timeout. Samples are stamped with the window's start.
 */
export async function scrapeCpu(
  http: HttpScraper,
  target: Target,
  settings: ScrapeSettings,
  windowMs: number,
  startedMs: number,
  signal?: AbortSignal,
): Promise<TargetScrape> {
  const t0 = performance.now();
  const seconds = Math.max(1, Math.round(windowMs / 1000));
  const url = `${target.baseUrl}${sourcePath('cpu', settings, seconds)}`;
  settings.onRequest?.('cpu');
  let result: ProfileResult;
  try {
    const body = await http.get(url, { timeoutMs: seconds * 1000 + settings.timeoutMs, limitBytes: settings.bodySizeLimit, signal });
    const functions = await functionProfile(body, settings);
    result = { family: 'cpu', ok: true, profile: { family: 'cpu', functions: functions.durationSeconds > 0 ? functions : { ...functions, durationSeconds: seconds } }, source: url };
  } catch (err) {
    result = isCpuBusy(err)
      ? { family: 'cpu', ok: 'busy', message: errorMessage(err), source: url }
      : { family: 'cpu', ok: false, reason: reasonOf(err), message: errorMessage(err), source: url };
  }
  return { target, startedMs, durationSeconds: (performance.now() - t0) / 1000, results: [result], kind: 'cpu' };
}

function reasonOf(err: unknown): FailureReason {
  if (err instanceof ScrapeError) return err.reason;
  if (err instanceof ProfileDecodeError) return err.tooLarge ? 'too_large' : 'decode';
  if (err instanceof DecodeQueueFullError) return 'queue_full';
  if ((err as { code?: unknown }).code === 'ERR_PROFILE_DECODE') return 'decode';
  return 'other';
}
