/**
 * One scrape config's running targets: a loop per target, each on its own timer at its own
 * offset, so one slow target never delays another. Discovery changes start and stop loops.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ScrapeConfig } from './config.js';
import { TargetDiscovery } from './discovery.js';
import { fileSdMetrics, scrapeLagMetric, skipMetrics } from './metrics.js';
import type { Telemetry } from '../telemetry/metrics.js';
import { nextScrapeTime, scrapeOffsetMs, type Target } from './targets.js';
import { TargetState, type ScrapeOutcome } from './target-state.js';
import type { TargetStatus } from '../status.js';

export interface ScrapeHandler {
  /**
   * Scrapes one target once. Must not throw: failures are data (`up` 0), not exceptions.
   * `startedMs` is wall time (sample timestamps); `monotonicMs` is the pool's monotonic clock at the
   * same moment, for whatever the handler schedules itself (intervals, windows): a wall-clock step
   * must not move those. The handler calls `handingOff()` when it has what it fetched and starts
   * handing it to the next stage: a slot that comes while that hand-off still waits is skipped as
   * backpressure, not as an overrun of the scrape itself.
   */
  scrape(target: Target, startedMs: number, signal: AbortSignal, monotonicMs: number, handingOff: () => void): Promise<void>;
  /** The target left discovery (not called on shutdown, so a restart does not end every series). */
  targetGone(target: Target, timestampMs: number): Promise<void>;
}

export interface ScrapePoolOptions {
  config: ScrapeConfig;
  configDir: string;
  logger: Logger;
  handler: ScrapeHandler;
  /** Wall clock (ms since the epoch): sample timestamps and the offset phase. Default Date.now; for tests. */
  now?: () => number;
  /**
   * Monotonic clock (ms, any origin) that timers are scheduled on, so that a wall-clock step (NTP, a
   * VM resumed, an operator) neither stops scraping for the length of a step back nor bursts scrapes
   * after a step forward. Default performance.now; for tests.
   */
  monotonicNow?: () => number;
  /**
   * Called after every discovery sync has started and stopped loops, with the targets now scraped
   * (for a targets gauge: file_sd adds and removes targets at any time, not only at start).
   */
  onSync?: (targets: readonly Target[]) => void;
  /** Where file_sd errors are counted (pprofcol_receiver_file_sd_errors_total), under `receiver`. */
  telemetry?: Telemetry;
  receiver?: string;
  /** Path of the target's scrapeUrl on the status page (metrics_path, pprof's path_prefix); default '/'. */
  scrapePath?: string;
}

/**
 * Why a slot was skipped: the previous scrape's hand-off still waited for room downstream
 * (backpressure), or the previous scrape was still fetching (overrun).
 */
export type SkipReason = 'backpressure' | 'overrun';

/** The two clocks a loop reads. */
interface Clocks {
  wall: () => number;
  monotonic: () => number;
}

/** Called with how late a scrape started after its slot, in seconds (timer and event-loop delay). */
type LagObserver = (seconds: number) => void;

class TargetLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** The running scrape has fetched and waits on the next stage. */
  private handing = false;
  private readonly handingOff = (): void => {
    this.handing = true;
  };
  private readonly abort = new AbortController();
  private stopped = false;
  readonly offsetMs: number;

  constructor(
    readonly target: Target,
    readonly state: TargetState,
    private readonly intervalMs: number,
    private readonly handler: ScrapeHandler,
    private readonly logger: Logger,
    private readonly clocks: Clocks,
    private readonly skipped: (reason: SkipReason) => void,
    private readonly onLag: LagObserver | undefined,
  ) {
    this.offsetMs = scrapeOffsetMs(target.key, intervalMs);
  }

  /**
   * The phase inside the interval is taken from the wall clock once, here, so that a target keeps its
   * offset across restarts; from then on slots are counted on the monotonic clock.
   */
  start(): void {
    const wall = this.clocks.wall();
    const monotonic = this.clocks.monotonic();
    const at = nextScrapeTime(wall, this.intervalMs, this.offsetMs);
    this.arm(monotonic + (at - wall));
  }

  /** Sets the timer for the slot at `slotMs` on the monotonic clock. */
  private arm(slotMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.tick(slotMs), Math.max(0, slotMs - this.clocks.monotonic()));
  }

  private tick(slotMs: number): void {
    const monotonic = this.clocks.monotonic();
    this.onLag?.(Math.max(0, monotonic - slotMs) / 1000);
    // A pull receiver never shifts its schedule: a scrape still running, or still handing its data on,
    // keeps its slot, and this one is skipped (and counted) rather than started late.
    if (this.running === undefined) {
      this.handing = false;
      this.running = this.handler
        .scrape(this.target, this.clocks.wall(), this.abort.signal, monotonic, this.handingOff)
        .catch((err: unknown) => this.logger.error({ target: this.target.instance, err: errorMessage(err) }, 'scrape handler threw'))
        .finally(() => {
          this.running = undefined;
        });
    } else {
      this.skipped(this.handing ? 'backpressure' : 'overrun');
    }
    // Schedule from the slot just taken, not from "now", so timer lateness does not accumulate; slots
    // an event-loop stall made us miss are skipped, not run back to back.
    let next = slotMs + this.intervalMs;
    if (next <= monotonic) next += Math.ceil((monotonic - next) / this.intervalMs) * this.intervalMs;
    this.arm(next);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }
}

export class ScrapePool {
  private readonly loops = new Map<string, TargetLoop>();
  private readonly discovery: TargetDiscovery;
  private readonly clocks: Clocks;
  private pending: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly skipped: (reason: SkipReason) => void;
  private readonly onLag: LagObserver | undefined;

  constructor(private readonly options: ScrapePoolOptions) {
    this.clocks = { wall: options.now ?? Date.now, monotonic: options.monotonicNow ?? (() => performance.now()) };
    this.skipped = skipCounter(options);
    this.onLag = lagObserver(options);
    this.discovery = new TargetDiscovery({
      job: options.config.job_name,
      scheme: options.config.scheme,
      staticConfigs: options.config.static_configs,
      fileSdConfigs: options.config.file_sd_configs,
      configDir: options.configDir,
      logger: options.logger,
      onFileError: fileSdErrorCounter(options),
      onTargets: (targets) => {
        // Serialized: a sync must finish (gone targets stopped and reported) before the next begins.
        this.pending = this.pending.then(() => this.sync(targets));
      },
    });
  }

  /** Resolves once the first discovered targets have their loops (and onSync has seen them). */
  async start(): Promise<void> {
    await this.discovery.start();
    await this.pending;
  }

  /** The offsets of the current targets, by instance (for logs and tests). */
  offsets(): Map<string, number> {
    return new Map([...this.loops.values()].map((l) => [l.target.instance, l.offsetMs]));
  }

  targets(): Target[] {
    return [...this.loops.values()].map((l) => l.target);
  }

  /** Records how a scrape of a running target ended (a target that left meanwhile is ignored). */
  report(target: Target, outcome: ScrapeOutcome): void {
    this.loops.get(target.key)?.state.record(outcome);
  }

  /** Sets the samples of the target's last scrape, counted by a later stage. */
  reportSamples(targetKey: string, samples: number): void {
    this.loops.get(targetKey)?.state.setSamples(samples);
  }

  /** Every running target with its last outcome, in discovery order. */
  status(): TargetStatus[] {
    return [...this.loops.values()].map((l) => l.state.status());
  }

  private async sync(targets: Target[]): Promise<void> {
    if (this.stopped) return;
    const wanted = new Set(targets.map((t) => t.key));
    for (const [key, loop] of this.loops) {
      if (wanted.has(key)) continue;
      this.loops.delete(key);
      await loop.stop();
      this.options.logger.info({ job: loop.target.job, target: loop.target.instance }, 'target left discovery; ending its series');
      await this.options.handler.targetGone(loop.target, this.clocks.wall()).catch((err: unknown) =>
        this.options.logger.error({ err: errorMessage(err) }, 'ending series of a removed target failed'),
      );
    }
    for (const target of targets) {
      if (this.loops.has(target.key)) continue;
      const state = new TargetState(target, {
        job: this.options.config.job_name,
        scheme: this.options.config.scheme,
        path: this.options.scrapePath ?? '/',
        intervalMs: this.options.config.scrape_interval,
        timeoutMs: this.options.config.scrape_timeout,
      });
      const loop = new TargetLoop(target, state, this.options.config.scrape_interval, this.options.handler, this.options.logger, this.clocks, this.skipped, this.onLag);
      this.loops.set(target.key, loop);
      loop.start();
    }
    this.options.onSync?.(this.targets());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.discovery.stop();
    await this.pending;
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
    this.loops.clear();
  }
}

/** Counts skipped slots in pprofcol_receiver_scrapes_skipped_total, logging the first of a run once. */
function skipCounter(options: ScrapePoolOptions): (reason: SkipReason) => void {
  const counter = options.telemetry === undefined ? undefined : skipMetrics(options.telemetry).skipped;
  const receiver = options.receiver ?? '';
  const job = options.config.job_name;
  let logged: SkipReason | undefined;
  let lastAt = 0;
  return (reason) => {
    counter?.inc({ receiver, job, reason });
    const now = Date.now();
    // Once per run: again only after a quiet interval or when the reason changes.
    if (logged !== reason || now - lastAt > 10 * options.config.scrape_interval) {
      logged = reason;
      options.logger.warn(
        { receiver, job, reason, scrape_interval_ms: options.config.scrape_interval },
        reason === 'backpressure'
          ? 'scrape slot skipped: the previous scrape still waits for room in an exporter queue (the remote end takes less than comes in)'
          : 'scrape slot skipped: the previous scrape of the target still runs',
      );
    }
    lastAt = now;
  };
}

function fileSdErrorCounter(options: ScrapePoolOptions): ((reason: string) => void) | undefined {
  if (options.telemetry === undefined) return undefined;
  const errors = fileSdMetrics(options.telemetry).errors;
  const receiver = options.receiver ?? '';
  const job = options.config.job_name;
  return (reason) => errors.inc({ receiver, job, reason });
}

/** pprofcol_receiver_scrape_lag_seconds of this pool, its labels bound once (one observe per scrape). */
function lagObserver(options: ScrapePoolOptions): LagObserver | undefined {
  if (options.telemetry === undefined) return undefined;
  const child = scrapeLagMetric(options.telemetry).labels({ receiver: options.receiver ?? '', job: options.config.job_name });
  return (seconds) => child.observe(seconds);
}
