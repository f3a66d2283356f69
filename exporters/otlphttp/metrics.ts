/**
 * The exporter's own metrics, declared in one place. The names are the ones every exporter shares
 * (design.md); Telemetry hands back the existing metric when the remote-write exporter declared it
 * first, so both exporters' series sit in one family, told apart by `exporter` = the component id.
 */
import type { Counter, Gauge } from 'prom-client';
import { ExporterTally } from '../../core/status.js';
import type { Telemetry } from '../../core/telemetry/metrics.js';

export type RequestResult = 'success' | 'retry' | 'failed';

export class OtlpExporterMetrics {
  /** The same counts, for the exporter's status() (the status page). */
  readonly tally = new ExporterTally();
  private readonly sent: Counter<'exporter'>;
  private readonly retried: Counter<'exporter'>;
  private readonly dropped: Counter<'exporter' | 'reason'>;
  private readonly queue: Gauge<'exporter'>;
  private readonly requests: Counter<'exporter' | 'result'>;

  constructor(telemetry: Telemetry, private readonly exporter: string) {
    this.sent = telemetry.counter('pprofcol_exporter_samples_sent_total', 'Samples the remote end accepted (2xx).', ['exporter']);
    this.retried = telemetry.counter('pprofcol_exporter_samples_retried_total', 'Samples sent again after a recoverable failure (network, timeout, 5xx, 429).', ['exporter']);
    this.dropped = telemetry.counter('pprofcol_exporter_samples_dropped_total', 'Samples given up on, by reason.', ['exporter', 'reason']);
    this.queue = telemetry.gauge('pprofcol_exporter_queue_samples', 'Samples waiting in the queue or in the request in flight.', ['exporter']);
    this.requests = telemetry.counter('pprofcol_exporter_requests_total', 'Requests by result: success, retry (recoverable failure), failed (final).', ['exporter', 'result']);
    // Present at 0 from the start, so rate() works from the first scrape.
    this.sent.inc({ exporter }, 0);
    this.retried.inc({ exporter }, 0);
    this.queue.set({ exporter }, 0);
  }

  samplesSent(n: number): void {
    this.sent.inc({ exporter: this.exporter }, n);
    this.tally.sent(n);
  }
  samplesRetried(n: number): void {
    this.retried.inc({ exporter: this.exporter }, n);
    this.tally.samplesRetried += n;
  }
  /** Reasons: queue_full, shutdown, stale (no stale marker in OTLP), http_<status>, retries_exhausted, partial_success. */
  samplesDropped(reason: string, n: number): void {
    if (n <= 0) return;
    this.dropped.inc({ exporter: this.exporter, reason }, n);
    this.tally.drop(reason, n);
  }
  queueSamples(n: number): void {
    this.queue.set({ exporter: this.exporter }, n);
    this.tally.queueSamples = n;
  }
  /** A failed send (retried or final), for the status page's last error. */
  failure(message: string): void {
    this.tally.error(message);
  }
  request(result: RequestResult): void {
    this.requests.inc({ exporter: this.exporter, result });
  }
}
