/**
 * A scrape target's last outcome, as the status page and /api/v1/targets show it. The scrape pool keeps
 * one per running target loop (it goes with the loop when the target leaves discovery); the receiver
 * that scraped reports into it, since only the receiver knows what "failed" means for its kind of target.
 * Memory: a fixed handful of fields per target plus the last scrape's source URLs (one per source read,
 * at most ten for pprof, one for a metrics page).
 */
import { copyLabels, type Labels } from '../model/metrics.js';
import type { TargetHealth, TargetStatus } from '../status.js';
import { formatDuration } from '../units.js';
import type { Target } from './targets.js';

/** What a receiver reports after a scrape has ended. */
export interface ScrapeOutcome {
  readonly startedMs: number;
  readonly durationSeconds: number;
  /** The error in words; '' when the scrape succeeded. */
  readonly error: string;
  /** Samples produced, stale markers not counted; undefined keeps the count already known. */
  readonly samples?: number;
  readonly sources: readonly string[];
}

/** How the pool describes every target of one scrape config. */
export interface TargetStateSettings {
  readonly job: string;
  readonly scheme: string;
  /** metrics_path, or the pprof path prefix: the path of scrapeUrl and `__metrics_path__`. */
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export class TargetState {
  private health: TargetHealth = 'unknown';
  private lastError = '';
  private lastScrapeMs = 0;
  private lastDurationSeconds = 0;
  private samples = 0;
  private sources: readonly string[] = [];

  constructor(
    readonly target: Target,
    private readonly settings: TargetStateSettings,
  ) {}

  record(outcome: ScrapeOutcome): void {
    this.health = outcome.error === '' ? 'up' : 'down';
    this.lastError = outcome.error;
    this.lastScrapeMs = outcome.startedMs;
    this.lastDurationSeconds = outcome.durationSeconds;
    if (outcome.samples !== undefined) this.samples = outcome.samples;
    this.sources = outcome.sources;
  }

  /** Sets the samples of the last scrape once a later stage has counted them (pprof: after deriving). */
  setSamples(samples: number): void {
    this.samples = samples;
  }

  status(): TargetStatus {
    const s = this.settings;
    const address = this.target.baseUrl.slice(`${s.scheme}://`.length);
    const discovered: Labels = copyLabels(this.target.labels, {
      __address__: address,
      __metrics_path__: s.path,
      __scheme__: s.scheme,
      __scrape_interval__: formatDuration(s.intervalMs),
      __scrape_timeout__: formatDuration(s.timeoutMs),
    });
    // instance is set from __address__ after discovery unless the group set it: not a discovered label then.
    if (discovered.instance === address) delete discovered.instance;
    return {
      job: s.job,
      labels: this.target.labels,
      discoveredLabels: discovered,
      scrapeUrl: `${this.target.baseUrl}${s.path}`,
      health: this.health,
      lastError: this.lastError,
      lastScrapeMs: this.lastScrapeMs,
      lastScrapeDurationSeconds: this.lastDurationSeconds,
      scrapeIntervalMs: s.intervalMs,
      scrapeTimeoutMs: s.timeoutMs,
      samples: this.samples,
      sources: this.sources,
    };
  }
}
