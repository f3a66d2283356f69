/**
 * Profiles as the pprof receiver hands them on: one entry per scrape of one target, holding
 * each wanted profile family either parsed or with the reason it failed. Profile batches are
 * read-only by contract: no stage mutates one, so fan-out shares them without copying.
 */
import type { LimitReason, ScrapeLimits } from '../scrape/config.js';
import type { FailureReason, TargetInfo } from './targets.js';

/**
 * Families of derived metrics a scrape config may ask for (`profiles:`). A family names what is
 * derived, not a URL: the receiver picks the cheapest source that gives it.
 * - goroutine, threadcreate: counts (go_goroutines, go_threads)
 * - heap: runtime.MemStats (go_memstats_*, go_gc_duration_seconds)
 * - goroutine_functions: goroutines by top non-runtime function
 * - goroutine_states: goroutines by wait state and the longest wait (needs goroutine?debug=2)
 * - allocs: in-use and allocated heap bytes and objects, total and by function (heap profile, proto)
 * - mutex, block: contentions and delay, total and by function (proto)
 * - cpu: sampled CPU seconds and utilisation over a window, total and by function (proto)
 */
export const PROFILE_FAMILIES = [
  'goroutine',
  'threadcreate',
  'heap',
  'goroutine_functions',
  'goroutine_states',
  'allocs',
  'mutex',
  'block',
  'cpu',
] as const;
export type ProfileFamily = (typeof PROFILE_FAMILIES)[number];

/**
 * A profile reduced to what the derivations read: per value column (pprof sample type) the sum over
 * all samples, and the same sums per leaf function (runtime frames skipped). Goroutine stacks from
 * the debug=1 text form reduce to the same shape (one column, `goroutine`).
 */
export interface FunctionProfile {
  /** pprof sample type names, one per column: `inuse_space`, `delay`, `cpu`, ... */
  readonly columns: readonly string[];
  /** Units of the columns as the profile declares them (`bytes`, `nanoseconds`, `count`). */
  readonly units: readonly string[];
  /** Sum of each column over all samples. */
  readonly totals: readonly number[];
  /**
   * Per function: sums of each column over the samples attributed to it (their leaf frame, innermost
   * inline first, after the skipped frames). Samples whose every frame is skipped go under their leaf frame.
   */
  readonly byFunction: ReadonlyMap<string, readonly number[]>;
  /** Length of the profiled window in seconds (cpu); 0 for profiles of a moment or since start. */
  readonly durationSeconds: number;
  /**
   * What only a profile.proto says of itself, set by its decoder (core/pprof/decode.ts) and read by no
   * derivation: absent from goroutine?debug=1 stacks and from a decode worker's answer, which carries
   * only what the derivations read.
   */
  readonly sampleCount?: number;
  readonly periodType?: ValueType;
  readonly period?: number;
  /** When the profile was taken, ns since the epoch (Profile.time_nanos). */
  readonly timeNanos?: number;
  /** The working memory the decode was sized for, in bytes (what was checked against its maxWorkingBytes). */
  readonly workingBytes?: number;
}

/** A pprof ValueType: what a column or the period counts, and its unit. */
export interface ValueType {
  readonly type: string;
  readonly unit: string;
}

/** The subset of Go's runtime.MemStats that the derivations use, numbers as Go printed them. */
export interface MemStats {
  Alloc: number;
  TotalAlloc: number;
  Sys: number;
  Mallocs: number;
  Frees: number;
  HeapAlloc: number;
  HeapSys: number;
  HeapIdle: number;
  HeapInuse: number;
  HeapReleased: number;
  HeapObjects: number;
  StackInuse: number;
  StackSys: number;
  MSpanInuse: number;
  MSpanSys: number;
  MCacheInuse: number;
  MCacheSys: number;
  BuckHashSys: number;
  GCSys: number;
  OtherSys: number;
  NextGC: number;
  /** Nanoseconds since the Unix epoch; 0 before the first GC. */
  LastGC: number;
  /** Go's ring of the last 256 pause durations (ns); the newest sits at (NumGC+255) % 256. */
  PauseNs: number[];
  NumGC: number;
  /** Present only where the source carries it (expvar does, `heap?debug=1` does not). */
  PauseTotalNs?: number;
}

export type ParsedProfile =
  | { readonly family: 'goroutine'; readonly total: number }
  | { readonly family: 'threadcreate'; readonly total: number }
  | { readonly family: 'heap'; readonly memstats: MemStats }
  | { readonly family: 'goroutine_states'; readonly byState: ReadonlyMap<string, number>; readonly waitMaxSeconds: number }
  | { readonly family: 'goroutine_functions' | 'allocs' | 'mutex' | 'block' | 'cpu'; readonly functions: FunctionProfile };

export type ProfileResult =
  | { readonly family: ProfileFamily; readonly ok: true; readonly profile: ParsedProfile; readonly source: string }
  | {
      /**
       * Not a failure: the target refused a CPU profile because another profiler holds it (Go allows
       * one at a time). The target stays up, its cpu series keep their last values, next window retries.
       */
      readonly family: ProfileFamily;
      readonly ok: 'busy';
      readonly message: string;
      readonly source: string;
    }
  | {
      readonly family: ProfileFamily;
      readonly ok: false;
      readonly reason: FailureReason;
      readonly message: string;
      /** The URL that failed, for the operator's log and the debug exporter's note. */
      readonly source: string;
    };

export interface TargetScrape {
  readonly target: TargetInfo;
  /**
   * `scrape` (default): one interval's scrape; it carries results only for the families due in it
   * (each family has its own interval), and the series of families not in `results` stay as they are.
   * `cpu`: the end of a CPU profile window, run beside the scrape loop; no pprof_up of its own.
   */
  readonly kind?: 'scrape' | 'cpu';
  /** When the scrape started, ms since the epoch: the timestamp of every sample it yields. */
  readonly startedMs: number;
  readonly durationSeconds: number;
  readonly results: readonly ProfileResult[];
  /**
   * The scrape config's limits, enforced by the stage that derives samples (pprof_metrics) after deriving:
   * past one, the scrape fails as a whole and the stage says so through ProfileBatch.limitExceeded.
   */
  readonly limits?: ScrapeLimits;
}

export interface ProfileBatch {
  readonly signal: 'profiles';
  readonly source: string;
  readonly scrapes: readonly TargetScrape[];
  /** Targets that left discovery: every series derived from them ends. */
  readonly ended: readonly { readonly target: TargetInfo; readonly timestampMs: number }[];
  /**
   * Called by a deriving stage when a scrape of this batch went past one of its `limits` (it then sends
   * that scrape as failed: `pprof_up` 0, every series of the target ended), so that the receiver counts
   * the reason and marks the target down. May be called once per deriving stage the batch reaches.
   */
  readonly limitExceeded?: (target: TargetInfo, reason: LimitReason, message: string) => void;
  /**
   * Called by a deriving stage with the samples (stale markers not counted) it made from each scrape of
   * this batch, for the receiver's target status (`samples` on /status and /api/v1/status/pipeline).
   */
  readonly derived?: (target: TargetInfo, samples: number) => void;
}
