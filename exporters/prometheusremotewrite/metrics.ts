/** The exporter's own metrics, declared in one place. Every series carries `exporter` = the component id. */
import type { Counter, Gauge } from 'prom-client';
import { ExporterTally } from '../../core/status.js';
import type { Telemetry } from '../../core/telemetry/metrics.js';

/**
 * Why samples were dropped: `queue_full`, `too_old`, `shutdown`, `http_400` (and each other final
 * status), `rejected` (isolated by isolate_rejected), `buffer_full` (disk buffer over max_size),
 * `corrupt` (a disk record that fails its CRC), `invalid_timestamp` (not an integer of at most 53
 * bits of ms: NaN, a fraction, past 2^53), `not_written` (a 2.0 receiver's Written headers fell
 * short), `buffer_write` (a durable buffer's append failed), `internal`.
 */
export type DropReason = string;
export type RequestResult = 'success' | 'retry' | 'failed';

export class ExporterMetrics {
  /** The same counts, for the exporter's status() (the status page). */
  readonly tally = new ExporterTally();
  private readonly sent: Counter<'exporter'>;
  private readonly retried: Counter<'exporter'>;
  private readonly dropped: Counter<'exporter' | 'reason'>;
  private readonly queue: Gauge<'exporter'>;
  private readonly requests: Counter<'exporter' | 'result'>;
  private readonly metadata: Counter<'exporter'>;
  private readonly shardsGauge: Gauge<'exporter'>;
  private readonly shardsDesiredGauge: Gauge<'exporter'>;
  private readonly bufferBytesGauge: Gauge<'exporter'>;
  private readonly cacheEvictions: Counter<'exporter' | 'cache'>;

  /** Samples counted dropped with reason shutdown so far: the total stop() logs. */
  shutdownDropped = 0;
  /**
   * Set once shutdown_timeout has cut shutdown short and what was left is counted lost (abandon()):
   * a request still in flight that ends afterwards must not count its samples a second time.
   */
  private frozen = false;

  constructor(telemetry: Telemetry, private readonly exporter: string) {
    this.sent = telemetry.counter('pprofcol_exporter_samples_sent_total', 'Samples the remote end accepted (2xx).', ['exporter']);
    this.retried = telemetry.counter('pprofcol_exporter_samples_retried_total', 'Samples sent again after a recoverable failure (network, timeout, 5xx, 429).', ['exporter']);
    this.dropped = telemetry.counter('pprofcol_exporter_samples_dropped_total', 'Samples given up on, by reason.', ['exporter', 'reason']);
    this.queue = telemetry.gauge('pprofcol_exporter_queue_samples', 'Samples waiting in the queue or in the request in flight.', ['exporter']);
    this.requests = telemetry.counter('pprofcol_exporter_requests_total', 'Remote-write requests by result: success, retry (recoverable failure), failed (final).', ['exporter', 'result']);
    this.metadata = telemetry.counter('pprofcol_exporter_metadata_sent_total', 'Metadata entries (type, help, unit of a family) the remote end accepted.', ['exporter']);
    this.shardsGauge = telemetry.gauge('pprofcol_exporter_shards', 'Shards sending in parallel (each sends one request at a time).', ['exporter']);
    this.shardsDesiredGauge = telemetry.gauge('pprofcol_exporter_shards_desired', 'Shards the resharding rule computed from observed throughput, before bounds and tolerance.', ['exporter']);
    this.bufferBytesGauge = telemetry.gauge('pprofcol_exporter_buffer_bytes', 'Bytes the durable buffer holds (disk: segment files).', ['exporter']);
    this.cacheEvictions = telemetry.counter(
      'pprofcol_exporter_cache_evictions_total',
      'Entries pushed out of a bounded cache to make room, by cache (metadata: families for the periodic metadata request; shapes: label-name sets of the encoders).',
      ['exporter', 'cache'],
    );
    // Present at 0 from the start, so rate() works from the first scrape.
    this.sent.inc({ exporter }, 0);
    this.retried.inc({ exporter }, 0);
    this.queue.set({ exporter }, 0);
    this.metadata.inc({ exporter }, 0);
    this.cacheEvictions.inc({ exporter, cache: 'metadata' }, 0);
    this.cacheEvictions.inc({ exporter, cache: 'shapes' }, 0);
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
  samplesDropped(reason: DropReason, n: number): void {
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
  shards(n: number): void {
    this.shardsGauge.set({ exporter: this.exporter }, n);
    this.tally.shards = n;
  }
  shardsDesired(n: number): void {
    this.shardsDesiredGauge.set({ exporter: this.exporter }, n);
  }
  bufferBytes(n: number): void {
    this.bufferBytesGauge.set({ exporter: this.exporter }, n);
    this.tally.bufferBytes = n;
  }
  cacheEvicted(cache: 'metadata' | 'shapes'): void {
    this.cacheEvictions.inc({ exporter: this.exporter, cache });
  }
  /** A failed send (retried or final), for the status page's last error. */
  failure(message: string): void {
    this.tally.error(message);
  }
  metadataSent(n: number): void {
    this.metadata.inc({ exporter: this.exporter }, n);
  }
}
