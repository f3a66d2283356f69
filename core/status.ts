/**
 * What a running component tells the status page (`/status`) and the status APIs (`/api/v1/targets`,
 * `/api/v1/status/pipeline`). A component opts in by having a `status()` method; the telemetry listener
 * asks every component of the running graph for it on each request, so nothing is pushed or cached and
 * a component that does not implement it is simply listed without details. Plain data only: the
 * listener serializes it and renders it, and must not reach into component internals.
 */
import type { Component } from './component.js';
import type { Labels } from './model/metrics.js';
import { maskUrl, maskUrlsIn } from './redact.js';

/** Prometheus's words for a target's state: `unknown` until its first scrape has ended. */
export type TargetHealth = 'up' | 'down' | 'unknown';

/** One scrape target as a pulling receiver (pprof, prometheus) sees it; kept by core/scrape/target-state.ts. */
export interface TargetStatus {
  /** The scrape config's job_name: Prometheus's scrapePool. */
  readonly job: string;
  /** The labels the target's series carry (job, instance, the group's labels). */
  readonly labels: Readonly<Labels>;
  /** The labels before relabelling, with the `__` ones Prometheus shows (`__address__`, `__scheme__`, ...). */
  readonly discoveredLabels: Readonly<Labels>;
  /** What is fetched: the metrics path, or the pprof index (the sources actually read are in `sources`). */
  readonly scrapeUrl: string;
  readonly health: TargetHealth;
  /** The last scrape's error in words, '' when it succeeded or none has ended yet. */
  readonly lastError: string;
  /** Start of the last scrape that ended, ms since the epoch; 0 before the first. */
  readonly lastScrapeMs: number;
  readonly lastScrapeDurationSeconds: number;
  readonly scrapeIntervalMs: number;
  readonly scrapeTimeoutMs: number;
  /** Samples the last scrape produced (derived or parsed), stale markers not counted. */
  readonly samples: number;
  /** URLs the last scrape read. */
  readonly sources: readonly string[];
}

/** One exporter's sending state. Counters are totals since start, as on /metrics. */
export interface ExporterStatus {
  /** Where it sends, URL userinfo masked. */
  readonly endpoint: string;
  /** The protocol in use now (`remote write 1.0`, `remote write 2.0`, `OTLP/HTTP protobuf`, ...). */
  readonly protocol: string;
  readonly shards: number;
  /** Samples waiting in the queue or in the request in flight. */
  readonly queueSamples: number;
  readonly samplesSent: number;
  /** Samples accepted per second over the last minute (or since start, if younger). */
  readonly sendRatePerSecond: number;
  readonly samplesRetried: number;
  /** Samples given up on, by reason. */
  readonly dropped: Readonly<Record<string, number>>;
  /** The last failure (retried or final) in words, '' when none yet. */
  readonly lastError: string;
  /** When it happened, ms since the epoch; 0 when none. */
  readonly lastErrorMs: number;
  readonly buffer: {
    /** `memory`, `disk`, `redis`. */
    readonly type: string;
    /** What the buffer holds at most: samples for memory, bytes for disk; 0 when unbounded here. */
    readonly capacity: number;
    readonly capacityUnit: 'samples' | 'bytes';
    /** Bytes held now (durable buffers), 0 where not measured. */
    readonly bytes: number;
  };
}

/** gapfill's loss meter for one native target: per family, the intervals decided, missing and filled. */
export interface LossMeterStatus {
  readonly job: string;
  readonly instance: string;
  readonly families: ReadonlyArray<{ readonly metric: string; readonly intervals: number; readonly missing: number; readonly filled: number }>;
}

export interface ComponentStatus {
  readonly targets?: readonly TargetStatus[];
  readonly exporter?: ExporterStatus;
  readonly lossMeter?: readonly LossMeterStatus[];
}

/** Implemented by components that have something to show. Called per status request: keep it cheap. */
export interface StatusProvider {
  status(): ComponentStatus;
}

export function hasStatus(component: Component): component is Component & StatusProvider {
  return typeof (component as Partial<StatusProvider>).status === 'function';
}

/** A rate over the last minute, in per-second buckets: O(1) per add, 60 numbers of memory, no timer. */
const RATE_BUCKETS = 60;

/**
 * The numbers an exporter's own metrics count, kept beside prom-client's counters so that status() reads
 * them without parsing the registry. Every exporter's metrics class feeds one.
 */
export class ExporterTally {
  samplesSent = 0;
  samplesRetried = 0;
  queueSamples = 0;
  shards = 0;
  bufferBytes = 0;
  lastError = '';
  lastErrorMs = 0;
  readonly dropped: Record<string, number> = Object.create(null) as Record<string, number>;
  private readonly buckets = new Float64Array(RATE_BUCKETS);
  /** The second each bucket was last written in, so a stale bucket reads as 0. */
  private readonly bucketSecond = new Float64Array(RATE_BUCKETS).fill(-1);
  private readonly startedMs: number;

  constructor(private readonly now: () => number = Date.now) {
    this.startedMs = now();
  }

  sent(n: number): void {
    this.samplesSent += n;
    const second = Math.floor(this.now() / 1000);
    const i = second % RATE_BUCKETS;
    if (this.bucketSecond[i] !== second) {
      this.bucketSecond[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i] += n;
  }

  drop(reason: string, n: number): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + n;
  }

  error(message: string): void {
    // An answer's text may quote the endpoint with its credentials.
    this.lastError = maskUrlsIn(message);
    this.lastErrorMs = this.now();
  }

  /** The exporter's status: what it says about itself, with these counts. `shards` defaults to the counted one. */
  snapshot(info: { endpoint: string; protocol: string; shards?: number; buffer: ExporterStatus['buffer'] }): ExporterStatus {
    return {
      endpoint: maskUrl(info.endpoint),
      protocol: info.protocol,
      shards: info.shards ?? this.shards,
      queueSamples: this.queueSamples,
      samplesSent: this.samplesSent,
      sendRatePerSecond: this.sendRate(),
      samplesRetried: this.samplesRetried,
      dropped: { ...this.dropped },
      lastError: this.lastError,
      lastErrorMs: this.lastErrorMs,
      buffer: info.buffer,
    };
  }

  /** Samples per second over the last full minute, or over the time since start when that is shorter. */
  sendRate(): number {
    const nowMs = this.now();
    const second = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let i = 0; i < RATE_BUCKETS; i++) if (this.bucketSecond[i] > second - RATE_BUCKETS) sum += this.buckets[i];
    const windowS = Math.min(RATE_BUCKETS, Math.max(1, (nowMs - this.startedMs) / 1000));
    return sum / windowS;
  }
}
