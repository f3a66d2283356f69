/**
 * The metrics every exporter's send path shares, declared once (design.md's names): every series carries
 * `exporter` = the component id, so two exporters' series sit in one family. An exporter with more of
 * its own (the remote-write exporter's shards, buffer bytes, metadata) extends this class.
 */
import type { Counter, Gauge } from 'prom-client';
import { ExporterTally } from '../status.js';
import type { Telemetry } from '../telemetry/metrics.js';

export type RequestResult = 'success' | 'retry' | 'failed';

export class SendMetrics {
  /** The same counts, for the exporter's status() (the status page). */
  readonly tally = new ExporterTally();
  private readonly sent: Counter<'exporter'>;
  private readonly retried: Counter<'exporter'>;
  private readonly dropped: Counter<'exporter' | 'reason'>;
  private readonly queue: Gauge<'exporter'>;
  private readonly requests: Counter<'exporter' | 'result'>;

  /** Samples counted dropped with reason shutdown so far: the total stop() logs. */
  shutdownDropped = 0;
  /**
   * Set once shutdown_timeout has cut shutdown short and what was left is counted lost (abandon()):
   * a request still in flight that ends afterwards must not count its samples a second time.
   */
  private frozen = false;

  constructor(telemetry: Telemetry, protected readonly exporter: string) {
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
    if (this.frozen) return;
    this.sent.inc({ exporter: this.exporter }, n);
    this.tally.sent(n);
  }
  samplesRetried(n: number): void {
    this.retried.inc({ exporter: this.exporter }, n);
    this.tally.samplesRetried += n;
  }
  /** Each exporter's README lists its reasons (queue_full, shutdown, http_<status>, ...). */
  samplesDropped(reason: string, n: number): void {
    if (n <= 0 || this.frozen) return;
    this.dropped.inc({ exporter: this.exporter, reason }, n);
    this.tally.drop(reason, n);
    if (reason === 'shutdown') this.shutdownDropped += n;
  }
  /** Counts of sent and dropped samples stay as they are from now on (see `frozen`). */
  freeze(): void {
    this.frozen = true;
  }
  queueSamples(n: number): void {
    this.queue.set({ exporter: this.exporter }, n);
    this.tally.queueSamples = n;
  }
  request(result: RequestResult): void {
    this.requests.inc({ exporter: this.exporter, result });
  }
  /** A failed send (retried or final), for the status page's last error. */
  failure(message: string): void {
    this.tally.error(message);
  }
}
