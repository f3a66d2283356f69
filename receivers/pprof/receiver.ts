/**
 * The pprof receiver: one scrape pool per scrape config; each scrape of a target becomes one
 * ProfileBatch for the next stage. Logs a target's state once per change, not every interval.
 */
import type { Consumer, CreateSettings, Receiver } from '../../core/component.js';
import { errorMessage } from '../../core/errors.js';
import type { ProfileBatch, TargetScrape } from '../../core/model/profiles.js';
import { HttpScraper } from '../../core/scrape/http.js';
import { ScrapePool } from '../../core/scrape/pool.js';
import type { Target } from '../../core/scrape/targets.js';
import type { PprofReceiverConfig, PprofScrapeConfig } from './config.js';
import { receiverMetrics, type ReceiverMetrics } from './metrics.js';
import { scrapeTarget } from './scrape.js';

export class PprofReceiver implements Receiver {
  private readonly pools: ScrapePool[] = [];
  private readonly clients: HttpScraper[] = [];
  private readonly metrics: ReceiverMetrics;
  /** Last logged state per target key: 'up' or the failure summary. */
  private readonly lastState = new Map<string, string>();
  private started = false;

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: PprofReceiverConfig,
    private readonly next: Consumer,
  ) {
    this.metrics = receiverMetrics(settings.telemetry);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const scrapeConfig of this.config.scrape_configs) {
      const http = new HttpScraper(scrapeConfig, this.settings.configDir);
      this.clients.push(http);
      const pool = new ScrapePool({
        config: scrapeConfig,
        configDir: this.settings.configDir,
        logger: this.settings.logger,
        handler: {
          scrape: (target, startedMs, signal) => this.scrapeOne(http, scrapeConfig, target, startedMs, signal),
          targetGone: (target, timestampMs) => this.targetGone(scrapeConfig, target, timestampMs),
        },
      });
      this.pools.push(pool);
      await pool.start();
      this.metrics.targets.set({ receiver: this.settings.id, job: scrapeConfig.job_name }, pool.targets().length);
    }
  }

  /** Offsets per job and instance, for tests that check spreading. */
  offsets(): Map<string, Map<string, number>> {
    return new Map(this.pools.map((p, i) => [this.config.scrape_configs[i].job_name, p.offsets()]));
  }

  private async scrapeOne(http: HttpScraper, config: PprofScrapeConfig, target: Target, startedMs: number, signal: AbortSignal): Promise<void> {
    const scrape = await scrapeTarget(
      http,
      target,
      { pathPrefix: config.path_prefix, profiles: config.profiles, timeoutMs: config.scrape_timeout, bodySizeLimit: config.body_size_limit },
      startedMs,
      signal,
    );
    if (signal.aborted) return; // stopped mid-scrape: what came back is partial by our doing, not the target's
    this.record(config.job_name, scrape);
    const batch: ProfileBatch = { signal: 'profiles', source: this.settings.id, scrapes: [scrape], ended: [] };
    try {
      await this.next.consume(batch);
    } catch (err) {
      this.settings.logger.error({ job: config.job_name, target: target.instance, err: errorMessage(err) }, 'next stage rejected a scrape');
    }
  }

  private record(job: string, scrape: TargetScrape): void {
    const failed = scrape.results.filter((r) => !r.ok);
    const labels = { receiver: this.settings.id, job };
    this.metrics.scrapes.inc({ ...labels, result: failed.length === 0 ? 'success' : 'failure' });
    for (const f of failed) if (!f.ok) this.metrics.failures.inc({ ...labels, reason: f.reason });

    const state = failed.length === 0 ? 'up' : failed.map((f) => (f.ok ? '' : `${f.family}:${f.reason}`)).join(',');
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
        { ...context, failures: failed.map((f) => (f.ok ? undefined : { profile: f.family, reason: f.reason, error: f.message })) },
        'target scrape failing; logged again only when this changes',
      );
    }
  }

  private async targetGone(config: PprofScrapeConfig, target: Target, timestampMs: number): Promise<void> {
    this.lastState.delete(target.key);
    const pool = this.pools[this.config.scrape_configs.indexOf(config)];
    if (pool !== undefined) this.metrics.targets.set({ receiver: this.settings.id, job: config.job_name }, pool.targets().length);
    const batch: ProfileBatch = { signal: 'profiles', source: this.settings.id, scrapes: [], ended: [{ target, timestampMs }] };
    await this.next.consume(batch);
  }

  async shutdown(): Promise<void> {
    const pools = this.pools.splice(0);
    await Promise.all(pools.map((p) => p.stop()));
    const clients = this.clients.splice(0);
    await Promise.all(clients.map((c) => c.close()));
  }
}
