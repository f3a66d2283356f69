/**
 * The prometheus receiver: scrapes Prometheus text exposition 0.0.4 and OpenMetrics 1.0 pages with the
 * shared scrape machinery (one pool per scrape config, a loop per target at its own offset). Each scrape
 * becomes one MetricBatch: the samples, stale markers for series that vanished, and the report series
 * (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`, ...). A target's state is logged once per
 * change, not every interval.
 */
import type { Consumer, CreateSettings, Receiver } from '../../core/component.js';
import type { ComponentStatus, StatusProvider } from '../../core/status.js';
import { errorMessage } from '../../core/errors.js';
import { metricBatch, type Point } from '../../core/model/metrics.js';
import { HttpScraper, ScrapeError } from '../../core/scrape/http.js';
import { ScrapeLimitError } from '../../core/scrape/limits.js';
import { HandOff } from '../../core/scrape/handoff.js';
import { ScrapePool } from '../../core/scrape/pool.js';
import type { Target } from '../../core/scrape/targets.js';
import { formatOf, parseExposition, SCRAPE_ACCEPT_HEADER, TextParseError } from '../../core/textparse/index.js';
import type { PrometheusReceiverConfig, PrometheusScrapeConfig } from './config.js';
import { scrapeMetrics, type ScrapeMetrics } from '../../core/scrape/metrics.js';
import { TargetSeries } from './scrape.js';

/** What to check, by failure reason: goes into the note on `up` 0 and into the log. */
const HINTS: Record<string, string> = {
  timeout: 'the target is slow or unreachable; check scrape_timeout',
  connect: 'is the target listening on that address?',
  http_status: 'check metrics_path and the target\'s auth',
  too_large: 'raise body_size_limit or trim the page',
  decode: 'the page is not valid text exposition or OpenMetrics',
  sample_limit: 'raise sample_limit or drop series at the target',
  label_limit: 'raise label_limit or drop labels at the target',
  label_name_length_limit: 'raise label_name_length_limit or shorten label names at the target',
  label_value_length_limit: 'raise label_value_length_limit or shorten label values at the target',
  tls: 'check tls_config',
  other: 'see the error',
};

export class PrometheusReceiver implements Receiver, StatusProvider {
  private readonly pools: ScrapePool[] = [];
  private readonly clients: HttpScraper[] = [];
  private readonly metrics: ScrapeMetrics;
  private readonly state = new Map<string, TargetSeries>();
  /** Last logged state per target key: 'up' or the failure reason. */
  private readonly lastState = new Map<string, string>();
  private started = false;
  private readonly handOff: HandOff;

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: PrometheusReceiverConfig,
    private readonly next: Consumer,
  ) {
    this.metrics = scrapeMetrics(settings.telemetry);
    this.handOff = new HandOff(settings.logger);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const scrapeConfig of this.config.scrape_configs) {
      const http = new HttpScraper(scrapeConfig, this.settings.configDir);
      this.clients.push(http);
      const pool: ScrapePool = new ScrapePool({
        config: scrapeConfig,
        configDir: this.settings.configDir,
        logger: this.settings.logger,
        telemetry: this.settings.telemetry,
        receiver: this.settings.id,
        scrapePath: scrapeConfig.metrics_path,
        handler: {
          scrape: (target, startedMs, signal, _monotonicMs, handingOff) => this.scrapeOne(pool, http, scrapeConfig, target, startedMs, signal, handingOff),
          targetGone: (target, timestampMs): Promise<void> => this.targetGone(scrapeConfig, target, timestampMs),
        },
        // Every discovery change, file_sd's later ones included.
        onSync: (targets) => this.metrics.targets.set({ receiver: this.settings.id, job: scrapeConfig.job_name }, targets.length),
      });
      this.pools.push(pool);
      await pool.start();
    }
  }

  private seriesOf(config: PrometheusScrapeConfig, target: Target): TargetSeries {
    let s = this.state.get(target.key);
    if (s === undefined) {
      s = new TargetSeries(target, { honorLabels: config.honor_labels, honorTimestamps: config.honor_timestamps });
      this.state.set(target.key, s);
    }
    return s;
  }

  private async scrapeOne(pool: ScrapePool, http: HttpScraper, config: PrometheusScrapeConfig, target: Target, startedMs: number, signal: AbortSignal, handingOff: () => void): Promise<void> {
    const series = this.seriesOf(config, target);
    const t0 = performance.now();
    const points: Point[] = [];
    let failure: { reason: string; message: string } | undefined;
    let scraped = 0;
    try {
      const { body, contentType } = await http.fetch(target.baseUrl + config.metrics_path, {
        timeoutMs: config.scrape_timeout,
        limitBytes: config.body_size_limit,
        accept: SCRAPE_ACCEPT_HEADER,
        signal,
      });
      // The parser stops at sample_limit: a page of a million series fails after sample_limit + 1 samples.
      const samples = parseExposition(body.toString('utf8'), formatOf(contentType), series.families, series, config.sample_limit);
      scraped = samples.length;
      const duplicates = series.scraped(samples, startedMs, (performance.now() - t0) / 1000, points, config);
      if (duplicates > 0) this.metrics.samplesDropped.inc({ receiver: this.settings.id, job: config.job_name, reason: 'duplicate' }, duplicates);
    } catch (err) {
      const reason = err instanceof ScrapeError || err instanceof ScrapeLimitError ? err.reason : err instanceof TextParseError ? 'decode' : 'other';
      failure = { reason, message: errorMessage(err) };
    }
    if (signal.aborted) return; // stopped mid-scrape: the failure is ours, not the target's
    if (failure !== undefined) {
      series.failed(startedMs, (performance.now() - t0) / 1000, points, `scrape failed: ${failure.reason}: ${failure.message} (${HINTS[failure.reason] ?? ''})`);
    }
    this.record(config.job_name, target, failure);
    pool.report(target, {
      startedMs,
      durationSeconds: (performance.now() - t0) / 1000,
      error: failure === undefined ? '' : `${failure.message} (${HINTS[failure.reason] ?? HINTS.other})`,
      samples: scraped,
      sources: [target.baseUrl + config.metrics_path],
    });
    handingOff();
    await this.handOff.run(() => this.next.consume(metricBatch(this.settings.id, points)), config.job_name, target);
  }

  private record(job: string, target: Target, failure: { reason: string; message: string } | undefined): void {
    const labels = { receiver: this.settings.id, job };
    this.metrics.scrapes.inc({ ...labels, result: failure === undefined ? 'success' : 'failure' });
    if (failure !== undefined) this.metrics.failures.inc({ ...labels, reason: failure.reason });
    const state = failure === undefined ? 'up' : failure.reason;
    if (this.lastState.get(target.key) === state) return;
    const wasKnown = this.lastState.has(target.key);
    this.lastState.set(target.key, state);
    const context = { job, target: target.instance };
    if (failure === undefined) this.settings.logger.info(context, wasKnown ? 'target is up again' : 'target is up');
    else {
      this.settings.logger.warn(
        { ...context, reason: failure.reason, error: failure.message, hint: HINTS[failure.reason] },
        'target scrape failing; logged again only when this changes',
      );
    }
  }

  private async targetGone(config: PrometheusScrapeConfig, target: Target, timestampMs: number): Promise<void> {
    this.lastState.delete(target.key);
    const series = this.state.get(target.key);
    this.state.delete(target.key);
    if (series === undefined) return;
    const points: Point[] = [];
    series.gone(timestampMs, points);
    await this.next.consume(metricBatch(this.settings.id, points));
  }

  /** Every target of every scrape config with its last outcome (core/status.ts). */
  status(): ComponentStatus {
    return { targets: this.pools.flatMap((p) => p.status()) };
  }

  async shutdown(): Promise<void> {
    const pools = this.pools.splice(0);
    await Promise.all(pools.map((p) => p.stop()));
    const clients = this.clients.splice(0);
    await Promise.all(clients.map((c) => c.close()));
  }
}
