/**
 * Profiles as the pprof receiver hands them on: one entry per scrape of one target, holding
 * each wanted profile family either parsed or with the reason it failed. Profile batches are
 * read-only by contract: no stage mutates one, so fan-out shares them without copying.
 */
import type { Labels } from './metrics.js';

/** Families of derived metrics a scrape config may ask for (`profiles:`). */
export const PROFILE_FAMILIES = ['goroutine', 'threadcreate', 'heap'] as const;
export type ProfileFamily = (typeof PROFILE_FAMILIES)[number];

/** Why a fetch or parse failed; the `reason` label of pprofcol's failure counters. */
export type FailureReason = 'timeout' | 'connect' | 'http_status' | 'too_large' | 'decode' | 'tls' | 'other';

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
  | { readonly family: 'heap'; readonly memstats: MemStats };

export type ProfileResult =
  | { readonly family: ProfileFamily; readonly ok: true; readonly profile: ParsedProfile; readonly source: string }
  | {
      readonly family: ProfileFamily;
      readonly ok: false;
      readonly reason: FailureReason;
      readonly message: string;
      /** The URL that failed, for the operator's log and the debug exporter's note. */
      readonly source: string;
    };

/** Identity and labels of one scrape target. */
export interface TargetInfo {
  /** Stable key: job plus the sorted target labels. */
  readonly key: string;
  readonly job: string;
  readonly instance: string;
  /** Every label the target's series carry: job, instance and the target group's labels. */
  readonly labels: Labels;
}

export interface TargetScrape {
  readonly target: TargetInfo;
  /** When the scrape started, ms since the epoch: the timestamp of every sample it yields. */
  readonly startedMs: number;
  readonly durationSeconds: number;
  readonly results: readonly ProfileResult[];
}

export interface ProfileBatch {
  readonly signal: 'profiles';
  readonly source: string;
  readonly scrapes: readonly TargetScrape[];
  /** Targets that left discovery: every series derived from them ends. */
  readonly ended: readonly { readonly target: TargetInfo; readonly timestampMs: number }[];
}
