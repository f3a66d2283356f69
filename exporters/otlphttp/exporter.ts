/**
 * otlphttp: pushes metric batches to an OTLP/HTTP receiver (`<endpoint>/v1/metrics`), protobuf or JSON.
 * Three parts kept apart: the converter (points -> SDK ResourceMetrics, pure but for the counters'
 * start times), the transport (HTTP, classifies answers) and this sending loop (bounded queue, one
 * request at a time so a series' points arrive in order, retries with backoff). consume() only enqueues;
 * when the queue is full it waits for room up to sending_queue.block_timeout, fairly between sources
 * (core/buffer/admission.ts, as the remote-write exporter's memory queue), then drops what is left
 * (reason="queue_full") and fails with QueueFullError, so a push receiver answers 503 and a pull
 * receiver skips its next slot instead of piling scrapes up behind a stalled endpoint.
 */
import { RejectionLog } from '../../core/send/rejections.js';
import { asSendError, IntervalBackoff, sendWithRetry } from '../../core/send/retry.js';
import type { Batch, CreateSettings, Exporter } from '../../core/component.js';
import type { ComponentStatus, StatusProvider } from '../../core/status.js';
import { FairAdmission, type EnterWait } from '../../core/buffer/admission.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Point } from '../../core/model/metrics.js';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { metricsUrl, type OtlpHttpExporterConfig } from './config.js';
import { OtlpConverter } from './convert.js';
import { OtlpExporterMetrics } from './metrics.js';
import { JsonTransport, OtlpSendError, ProtoTransport, type OtlpTransport, type SendOutcome } from './transport.js';

/** Clock and randomness, injectable so tests can pin them. */
export interface ExporterEnv {
  now(): number;
  random(): number;
}
const REAL_ENV: ExporterEnv = { now: Date.now, random: Math.random };

export class OtlpHttpExporter implements Exporter, StatusProvider {
  private readonly transport: OtlpTransport;
  private readonly converter: OtlpConverter;
  private readonly metrics: OtlpExporterMetrics;
  private readonly logger: Logger;
  private readonly env: ExporterEnv;
  /**
   * Queued parts of batches (oldest first), each with the source it came from so that what leaves is
   * released to that source's share, and their total point count. Bounded by sending_queue.queue_size
   * points (plus one request's in flight): consume() waits, and then drops, rather than grow it.
   */
  private readonly queue: { points: readonly Point[]; source: string }[] = [];
  private queued = 0;
  private readonly admission: FairAdmission;
  /** How consume() waits for room (admission.enter). */
  private readonly wait: EnterWait;
  private inFlight = 0;
  private loop: Promise<void> | undefined;
  private wakeLoop: (() => void) | undefined;
  private interruptSleep: (() => void) | undefined;
  private started = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private queueFullLogged = false;
  /** Final statuses logged once each (core/send/rejections.ts). */
  private readonly rejections = new RejectionLog();

  constructor(
    settings: CreateSettings,
    private readonly config: OtlpHttpExporterConfig,
    options: { transport?: OtlpTransport; env?: ExporterEnv } = {},
  ) {
    this.env = options.env ?? REAL_ENV;
    this.logger = settings.logger.child({ exporter: settings.id });
    const transportOptions = {
      url: metricsUrl(config.endpoint),
      headers: config.headers,
      timeoutMs: config.timeout,
      compression: config.compression,
      basic_auth: config.basic_auth,
      authorization: config.authorization,
      tls_config: config.tls_config,
      configDir: settings.configDir,
    };
    this.transport = options.transport ?? (config.encoding === 'json' ? new JsonTransport(transportOptions) : new ProtoTransport(transportOptions));
    this.converter = new OtlpConverter(config.external_labels, () => this.env.now());
    this.metrics = new OtlpExporterMetrics(settings.telemetry, settings.id);
    const queueSize = config.sending_queue.queue_size;
    this.admission = new FairAdmission(() => queueSize);
    this.wait = {
      blockTimeoutMs: config.sending_queue.block_timeout,
      now: () => this.env.now(),
      stopping: () => this.stopping,
      dropped: (reason, n, source) => this.dropped(reason, n, source),
    };
  }

  /** Endpoint, queue and counts for the status page (core/status.ts). One request at a time: one shard. */
  status(): ComponentStatus {
    return {
      exporter: this.metrics.tally.snapshot({
        endpoint: metricsUrl(this.config.endpoint),
        protocol: `OTLP/HTTP ${this.config.encoding === 'json' ? 'JSON' : 'protobuf'}`,
        shards: 1,
        buffer: { type: 'memory', capacity: this.config.sending_queue.queue_size, capacityUnit: 'samples', bytes: 0 },
      }),
    };
  }

  async start(): Promise<void> {
    if (this.started || this.stopping) return;
    this.started = true;
    this.loop = this.run();
  }

  /**
   * Queues the batch's points, in order. A full queue (or a source over its fair share while another
   * waits) makes the call wait for room, up to block_timeout from the call; what is still out then is
   * dropped (reason="queue_full") and the call fails with QueueFullError. Resolves once every point is queued.
   */
  async consume(batch: Batch): Promise<void> {
    if (batch.signal !== 'metrics' || batch.points.length === 0) return;
    // The batch is ours now: its points are queued as they are, copied only where a wait splits it.
    const points = batch.points;
    const source = batch.source;
    await this.admission.enter(source, points.length, (from) => this.admit(points, from, source), this.wait);
  }

  /** Points a wait for room left out (admission.enter): counted, and a full queue logged once per run. */
  private dropped(reason: 'shutdown' | 'queue_full', dropped: number, source: string): void {
    this.metrics.samplesDropped(reason, dropped);
    if (reason === 'shutdown' || this.queueFullLogged) return;
    this.queueFullLogged = true;
    this.logger.warn(
      { queue_size: this.config.sending_queue.queue_size, block_timeout_ms: this.config.sending_queue.block_timeout, dropped, source },
      'otlphttp queue stayed full for block_timeout; dropping points (the receiver takes less than comes in: check it, or raise sending_queue.queue_size)',
    );
  }

  /** Queues points from `from` on, as many as there is room for and the source's share allows; returns the index of the first left out. */
  private admit(points: readonly Point[], from: number, source: string): number {
    const n = Math.min(points.length - from, this.config.sending_queue.queue_size - this.queued, this.admission.allowance(source));
    if (n <= 0) return from;
    this.queue.push({ points: from === 0 && n === points.length ? points : points.slice(from, from + n), source });
    this.queued += n;
    this.admission.took(source, n);
    this.metrics.queueSamples(this.queued + this.inFlight);
    this.wakeLoop?.();
    return from + n;
  }

  /** Ends every wait for room (callers get ShuttingDownError at once); what is queued is still sent by shutdown(). */
  beginShutdown(): void {
    this.admission.stop();
  }

  /** Sends what is queued (a failure during shutdown is not retried again), then closes. Idempotent. */
  shutdown(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.admission.stop();
      this.wakeLoop?.();
      this.interruptSleep?.();
      if (this.loop === undefined && this.queued > 0) this.loop = this.run();
      await this.loop;
      await this.transport.close();
    })();
    return this.stopped;
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.queued === 0) {
        if (this.stopping) break;
        await new Promise<void>((resolve) => {
          this.wakeLoop = () => {
            this.wakeLoop = undefined;
            resolve();
          };
        });
        continue;
      }
      const points = this.take(this.config.sending_queue.max_points_per_request);
      this.inFlight = points.length;
      try {
        await this.sendPoints(points);
      } catch (err) {
        this.metrics.samplesDropped('internal', points.length);
        this.logger.error({ err: errorMessage(err) }, 'otlphttp send failed unexpectedly');
      }
      this.inFlight = 0;
      this.metrics.queueSamples(this.queued);
    }
    this.metrics.queueSamples(0);
  }

  /**
   * Takes up to `max` points, oldest first, splitting a queued batch if needed. What leaves is released
   * to its source's share, which wakes the callers waiting for room.
   */
  private take(max: number): Point[] {
    const out: Point[] = [];
    while (this.queue.length > 0 && out.length < max) {
      const head = this.queue[0];
      const points = head.points;
      const n = Math.min(points.length, max - out.length);
      if (n === points.length) {
        this.queue.shift();
        for (let i = 0; i < points.length; i++) out.push(points[i]);
      } else {
        for (let i = 0; i < n; i++) out.push(points[i]);
        head.points = points.slice(n);
      }
      this.queued -= n;
      this.admission.released(head.source, n);
    }
    return out;
  }

  private async sendPoints(points: Point[]): Promise<void> {
    const { resources, stale } = this.converter.convert(points);
    // OTLP has no stale marker: a series that ends simply stops (see README).
    this.metrics.samplesDropped('stale', stale);
    const per = this.transport.resourcesPerRequest;
    for (let i = 0; i < resources.length; i += per) {
      const request = per === Number.POSITIVE_INFINITY ? resources : resources.slice(i, i + per);
      await this.sendRequest(request, countPoints(request));
      if (per === Number.POSITIVE_INFINITY) break;
    }
  }

  /** One request until it is accepted, rejected for good, retried past max_elapsed_time, or given up at shutdown. */
  private async sendRequest(request: readonly ResourceMetrics[], n: number): Promise<void> {
    if (n === 0) return;
    const retry = this.config.retry_on_failure;
    const began = this.env.now();
    const outcome = await sendWithRetry<{ ok: true; outcome: SendOutcome }>(
      async () => {
        try {
          return { ok: true, outcome: await this.transport.send(request) };
        } catch (err) {
          const error = asSendError(err, (reason, message, options) => new OtlpSendError(reason, message, options));
          this.metrics.failure(error.message);
          return { ok: false, error };
        }
      },
      { backoff: new IntervalBackoff(retry.initial_interval, retry.max_interval, this.env.random), maxBackoffMs: retry.max_interval, enabled: retry.enabled },
      {
        stopping: () => this.stopping,
        sleep: (ms) => this.sleep(ms),
        recoverable: () => this.metrics.request('retry'),
        retrying: (e, delay) => {
          if (retry.max_elapsed_time > 0 && this.env.now() + delay - began > retry.max_elapsed_time) return false;
          this.metrics.samplesRetried(n);
          this.logger.warn({ err: e.message, reason: e.reason, samples: n, retry_in_ms: Math.round(delay) }, 'otlphttp send failed; retrying');
          return true;
        },
      },
    );
    switch (outcome.kind) {
      case 'sent': {
        const { rejected, message } = outcome.result.outcome;
        this.metrics.request('success');
        this.metrics.samplesSent(n - rejected);
        if (rejected > 0) {
          this.metrics.samplesDropped('partial_success', rejected);
          this.logger.warn({ rejected, message }, 'the OTLP receiver rejected some data points (partial success)');
        }
        this.queueFullLogged = false;
        return;
      }
      case 'final':
        this.metrics.request('failed');
        this.metrics.samplesDropped(outcome.error.reason, n);
        this.logRejected(outcome.error as OtlpSendError, n);
        return;
      case 'stopped':
        this.metrics.samplesDropped('shutdown', n);
        this.logger.warn({ err: outcome.error.message, samples: n }, 'otlphttp send failed during shutdown; dropping its points');
        return;
      case 'exhausted':
        this.metrics.request('failed');
        this.metrics.samplesDropped('retries_exhausted', n);
        this.logger.error({ err: outcome.error.message, samples: n, max_elapsed_time_ms: retry.max_elapsed_time }, 'otlphttp gave up on a request after retry_on_failure.max_elapsed_time');
        return;
    }
  }

  /** A backoff pause: only shutdown cuts it short. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.interruptSleep = undefined;
        resolve();
      }
      this.interruptSleep = done;
    });
  }

  /** A final rejection: logged at error once per distinct status (with the answer's body), then at debug. */
  private logRejected(e: OtlpSendError, samples: number): void {
    this.rejections.log(this.logger, e, samples, {
      first: 'the OTLP receiver rejected a request; its points are dropped, not retried (logged once per status)',
      again: 'the OTLP receiver rejected a request; its points are dropped',
    });
  }

}

function countPoints(resources: readonly ResourceMetrics[]): number {
  let n = 0;
  for (const r of resources) for (const s of r.scopeMetrics) for (const m of s.metrics) n += m.dataPoints.length;
  return n;
}
