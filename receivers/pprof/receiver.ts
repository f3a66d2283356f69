/**
 * The pprof receiver: one scrape pool per scrape config; each scrape of a target becomes one
 * ProfileBatch for the next stage. Logs a target's state once per change, not every interval.
 */
import type { Consumer, CreateSettings, Receiver } from '../../core/component.js';
import type { ComponentStatus, StatusProvider } from '../../core/status.js';
import { errorMessage } from '../../core/errors.js';
import type { ProfileBatch, TargetScrape } from '../../core/model/profiles.js';
import { FAILURE_HINTS, type FailureReason } from '../../core/model/targets.js';
import type { LimitReason, ScrapeLimits } from '../../core/scrape/config.js';
import { DecodePool } from '../../core/pprof/pool.js';
import { HttpScraper } from '../../core/scrape/http.js';
import { HandOff } from '../../core/scrape/handoff.js';
import { ScrapePool } from '../../core/scrape/pool.js';
import type { Target } from '../../core/scrape/targets.js';
import type { PprofReceiverConfig, PprofScrapeConfig } from './config.js';
import { CpuSchedule, CpuSlots } from './cpu.js';
import { receiverMetrics, type ReceiverMetrics } from './metrics.js';
import { scrapeCpu, scrapeSettingsOf, scrapeTarget, TargetSourceState, type ScrapeSettings } from './scrape.js';

/** A target's failing families in words, one clause per distinct error: `heap, goroutine: <message> (<what to check>)`. */
function failureText(failing: ReadonlyMap<string, { reason: FailureReason; message: string }>): string {
  if (failing.size === 0) return ''; // the common case, every scrape of a healthy target: build nothing
  const byMessage = new Map<string, { reason: FailureReason; families: string[] }>();
  for (const [family, f] of failing) {
    const known = byMessage.get(f.message);
    if (known === undefined) byMessage.set(f.message, { reason: f.reason, families: [family] });
    else known.families.push(family);
  }
  return [...byMessage].map(([message, { reason, families }]) => `${families.join(', ')}: ${message} (${FAILURE_HINTS[reason]})`).join('; ');
}

/** A scrape's outcomes into the families' last failures: a failed family is set, an answered one leaves. */
function applyResults(failing: TargetRuntime['failing'], results: TargetScrape['results']): void {
  for (const r of results) {
    if (r.ok === false) failing.set(r.family, { reason: r.reason, message: r.message });
    else failing.delete(r.family);
  }
}

/** What one scrape config's scrapes share: settings, limits and its counters with their labels bound. */
interface ConfigRuntime {
  settings: ScrapeSettings;
  limits: ScrapeLimits;
  success: { inc(): void };
  failure: { inc(): void };
}

interface LimitFailure {
  reason: LimitReason;
  message: string;
}

/** The scrape as the receiver's state sees it once a limit failed it: every family failed for that reason. */
function failedBy(scrape: TargetScrape, limit: LimitFailure): TargetScrape {
  return { ...scrape, results: scrape.results.map((r) => ({ family: r.family, ok: false as const, reason: limit.reason, message: limit.message, source: r.source })) };
}

/** What the receiver keeps per target between scrapes. */
interface TargetRuntime {
  sources: TargetSourceState;
  cpu: CpuSchedule | undefined;
  /** Family -> its last failure (`reason: message`); a family leaves it when it is fetched again. */
  failing: Map<string, { reason: FailureReason; message: string }>;
}

export class PprofReceiver implements Receiver, StatusProvider {
  private readonly pools: ScrapePool[] = [];
  private readonly clients: HttpScraper[] = [];
  private readonly metrics: ReceiverMetrics;
  /** Last logged state per target key: 'up' or the failure summary. */
  private readonly lastState = new Map<string, string>();
  private started = false;
  private readonly targetState = new Map<string, TargetRuntime>();
  private readonly cpuSlots: CpuSlots;
  /** Where profiles too large for the main thread decode (workers start on first use). */
  private readonly decodePool: DecodePool;
  /** CPU windows in progress or queued, awaited on shutdown. */
  private readonly cpuJobs = new Set<Promise<void>>();
  private readonly handOff: HandOff;
  /** Per scrape config, what every scrape of it reads: built once, not per scrape. */
  private readonly perConfig = new Map<PprofScrapeConfig, ConfigRuntime>();

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: PprofReceiverConfig,
    private readonly next: Consumer,
  ) {
    this.metrics = receiverMetrics(settings.telemetry);
    this.cpuSlots = new CpuSlots(config.max_concurrent_cpu_profiles);
    this.handOff = new HandOff(settings.logger);
    const id = { receiver: settings.id };
    this.decodePool = new DecodePool({
      workers: config.decode_workers,
      queueLimit: config.decode_queue_size,
      onChange: (queued, busy) => {
        this.metrics.decodeQueue.set(id, queued);
        this.metrics.decodeWorkersBusy.set(id, busy);
      },
    });
    this.metrics.decodeQueue.set(id, 0);
    this.metrics.decodeWorkersBusy.set(id, 0);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const scrapeConfig of this.config.scrape_configs) {
      const http = new HttpScraper(scrapeConfig, this.settings.configDir);
      this.clients.push(http);
      const targetLabels = { receiver: this.settings.id, job: scrapeConfig.job_name };
      const pool: ScrapePool = new ScrapePool({
        config: scrapeConfig,
        configDir: this.settings.configDir,
        logger: this.settings.logger,
        telemetry: this.settings.telemetry,
        receiver: this.settings.id,
        scrapePath: `${scrapeConfig.path_prefix === '/' ? '' : scrapeConfig.path_prefix}/`,
        // Every sync, so that targets file_sd adds later count too, not only those at start.
        onSync: (targets) => this.metrics.targets.set(targetLabels, targets.length),
        handler: {
          scrape: (target, startedMs, signal, monotonicMs, handingOff) => this.scrapeOne(pool, http, scrapeConfig, target, startedMs, signal, monotonicMs, handingOff),
          targetGone: (target, timestampMs) => this.targetGone(scrapeConfig, target, timestampMs),
        },
      });
      this.pools.push(pool);
      await pool.start();
    }
  }

  /** Offsets per job and instance, for tests that check spreading. */
  offsets(): Map<string, Map<string, number>> {
    return new Map(this.pools.map((p, i) => [this.config.scrape_configs[i].job_name, p.offsets()]));
  }

  private configRuntime(config: PprofScrapeConfig): ConfigRuntime {
    let known = this.perConfig.get(config);
    if (known !== undefined) return known;
    const labels = { receiver: this.settings.id, job: config.job_name };
    const requests = new Map<string, { inc(): void }>();
    const settings: ScrapeSettings = {
      ...scrapeSettingsOf(config),
      onRequest: (source) => {
        let counter = requests.get(source);
        if (counter === undefined) requests.set(source, (counter = this.metrics.sourceRequests.labels({ ...labels, source })));
        counter.inc();
      },
      decodePool: this.decodePool,
    };
    const limits = { sample_limit: config.sample_limit, label_limit: config.label_limit, label_name_length_limit: config.label_name_length_limit, label_value_length_limit: config.label_value_length_limit };
    known = { settings, limits, success: this.metrics.scrapes.labels({ ...labels, result: 'success' }), failure: this.metrics.scrapes.labels({ ...labels, result: 'failure' }) };
    this.perConfig.set(config, known);
    return known;
  }

  private runtime(config: PprofScrapeConfig, target: Target): TargetRuntime {
    let state = this.targetState.get(target.key);
    if (state === undefined) {
      state = { sources: new TargetSourceState(), cpu: config.profiles.includes('cpu') ? new CpuSchedule(target.key, config.cpu.every) : undefined, failing: new Map() };
      this.targetState.set(target.key, state);
    }
    return state;
  }

  /** `startedMs` stamps the samples; `monotonicMs` (the pool's clock) schedules families and CPU windows. */
  private async scrapeOne(
    pool: ScrapePool,
    http: HttpScraper,
    config: PprofScrapeConfig,
    target: Target,
    startedMs: number,
    signal: AbortSignal,
    monotonicMs: number,
    handingOff: () => void,
  ): Promise<void> {
    const state = this.runtime(config, target);
    const settings = this.configRuntime(config).settings;
    if (state.cpu?.due(startedMs, monotonicMs) === true) this.startCpuWindow(http, config, settings, target, state.cpu, signal);
    const scrape = await scrapeTarget(http, target, settings, startedMs, signal, state.sources, monotonicMs);
    if (signal.aborted) return; // stopped mid-scrape: what came back is partial by our doing, not the target's
    // A scrape's results name two or three sources (the index page serves two families): a list, not a Set.
    const sources: string[] = [];
    for (const r of scrape.results) if (!sources.includes(r.source)) sources.push(r.source);
    // Reported before the hand-off, which under backpressure waits up to block_timeout: the status page
    // shows the scrape as soon as it is done (as the prometheus receiver does). Only a limit pprof_metrics
    // finds while deriving is known after it; it is reported again then.
    let error = '';
    if (state.failing.size > 0 || scrape.results.some((r) => r.ok === false)) {
      const failing = new Map(state.failing);
      applyResults(failing, scrape.results);
      error = failureText(failing);
    }
    pool.report(target, { startedMs, durationSeconds: scrape.durationSeconds, sources, error });
    handingOff();
    const limit = await this.forward(config, target, scrape, pool);
    if (limit === undefined) {
      this.record(config, scrape, state);
    } else {
      // pprof_metrics sent the scrape as failed; count it once, under the limit's reason.
      const labels = { receiver: this.settings.id, job: config.job_name };
      this.metrics.scrapes.inc({ ...labels, result: 'failure' });
      this.metrics.failures.inc({ ...labels, reason: limit.reason });
      this.record(config, failedBy(scrape, limit), state, false);
      pool.report(target, { startedMs, durationSeconds: scrape.durationSeconds, sources, error: failureText(state.failing) });
    }
  }

  /** Every target of every scrape config with its last outcome (core/status.ts). */
  status(): ComponentStatus {
    return { targets: this.pools.flatMap((p) => p.status()) };
  }

  /** A CPU window runs beside the scrape loop (it outlasts scrape intervals), within the receiver's slot limit. */
  private startCpuWindow(http: HttpScraper, config: PprofScrapeConfig, settings: ScrapeSettings, target: Target, schedule: CpuSchedule, signal: AbortSignal): void {
    schedule.active = true;
    const labels = { receiver: this.settings.id, job: config.job_name };
    const job = this.cpuSlots
      .run(async () => {
        if (signal.aborted) return;
        this.metrics.cpuProfilesRunning.set({ receiver: this.settings.id }, this.cpuSlots.inUse());
        const scrape = await scrapeCpu(http, target, settings, config.cpu.window, Date.now(), signal);
        if (signal.aborted) return;
        const result = scrape.results[0];
        this.metrics.cpuProfiles.inc({ ...labels, result: result.ok === true ? 'success' : result.ok === 'busy' ? 'busy' : 'failure' });
        const limit = await this.forward(config, target, scrape);
        if (result.ok === false) this.metrics.failures.inc({ ...labels, reason: result.reason });
        else if (limit !== undefined) this.metrics.failures.inc({ ...labels, reason: limit.reason });
        // Busy counts as answering: it clears an earlier failure of the cpu family from the target's state.
        this.record(config, limit === undefined ? scrape : failedBy(scrape, limit), this.runtime(config, target), false);
      })
      .catch((err: unknown) => this.settings.logger.error({ job: config.job_name, target: target.instance, err: errorMessage(err) }, 'cpu profile window failed'))
      .finally(() => {
        schedule.active = false;
        this.metrics.cpuProfilesRunning.set({ receiver: this.settings.id }, this.cpuSlots.inUse());
        this.cpuJobs.delete(job);
      });
    this.cpuJobs.add(job);
  }

  /**
   * Hands one scrape on with its config's limits, which pprof_metrics enforces after deriving; returns
   * the limit it says the scrape went past (the first, should several stages say so), or undefined.
   */
  private async forward(config: PprofScrapeConfig, target: Target, scrape: TargetScrape, pool?: ScrapePool): Promise<LimitFailure | undefined> {
    let limit: LimitFailure | undefined;
    const limits = this.configRuntime(config).limits;
    const batch: ProfileBatch = {
      signal: 'profiles',
      source: this.settings.id,
      scrapes: [{ ...scrape, limits }],
      ended: [],
      limitExceeded: (_target, reason, message) => void (limit ??= { reason, message }),
      // CPU windows (no pool given) leave the count of the interval's scrape as it is.
      derived: pool === undefined ? undefined : (t, samples) => pool.reportSamples(t.key, samples),
    };
    await this.handOff.run(() => this.next.consume(batch), config.job_name, target);
    return limit;
  }

  private record(config: PprofScrapeConfig, scrape: TargetScrape, runtime: TargetRuntime, count = true): void {
    const job = config.job_name;
    if (count) {
      let failedNow = 0;
      for (const r of scrape.results) {
        if (r.ok !== false) continue;
        failedNow++;
        this.metrics.failures.inc({ receiver: this.settings.id, job, reason: r.reason });
      }
      const counters = this.configRuntime(config);
      (failedNow === 0 ? counters.success : counters.failure).inc();
    }
    // Families have their own intervals: the state is every family's last outcome, not this scrape's alone.
    applyResults(runtime.failing, scrape.results);
    // The common case, a target up as it was: nothing to log, nothing to build.
    if (runtime.failing.size === 0 && this.lastState.get(scrape.target.key) === 'up') return;
    const failed = [...runtime.failing].map(([family, f]) => ({ family, ...f }));
    const state = failed.length === 0 ? 'up' : failed.map((f) => `${f.family}:${f.reason}`).join(',');
    const key = scrape.target.key;
    if (this.lastState.get(key) === state) return;
    const wasKnown = this.lastState.has(key);
    this.lastState.set(key, state);
    const context = { job, target: scrape.target.instance };
    if (failed.length === 0) {
      if (wasKnown) this.settings.logger.info(context, 'target is up again');
      else this.settings.logger.info(context, 'target is up');
    } else {
      this.settings.logger.warn(
        { ...context, failures: failed.map((f) => ({ profile: f.family, reason: f.reason, error: f.message })) },
        'target scrape failing; logged again only when this changes',
      );
    }
  }

  private async targetGone(config: PprofScrapeConfig, target: Target, timestampMs: number): Promise<void> {
    this.lastState.delete(target.key);
    this.targetState.delete(target.key);
    const batch: ProfileBatch = { signal: 'profiles', source: this.settings.id, scrapes: [], ended: [{ target, timestampMs }] };
    await this.next.consume(batch);
  }

  async shutdown(): Promise<void> {
    const pools = this.pools.splice(0);
    await Promise.all(pools.map((p) => p.stop()));
    // Stopping the loops aborted their signals; the CPU windows end with them.
    await Promise.all([...this.cpuJobs]);
    const clients = this.clients.splice(0);
    await Promise.all(clients.map((c) => c.close()));
    await this.decodePool.close();
  }
}
