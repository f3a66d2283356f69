/**
 * The exporter's own metrics: the send path's shared ones (core/send/metrics.ts, declared once for every
 * exporter) and this exporter's own, declared here. Every series carries `exporter` = the component id.
 */
import type { Counter, Gauge } from 'prom-client';
import { SendMetrics } from '../../core/send/metrics.js';
import type { Telemetry } from '../../core/telemetry/metrics.js';

export type { RequestResult } from '../../core/send/metrics.js';

/**
 * Why samples were dropped: `queue_full`, `too_old`, `shutdown`, `http_400` (and each other final
 * status), `rejected` (isolated by isolate_rejected), `buffer_full` (disk buffer over max_size),
 * `corrupt` (a disk record that fails its CRC), `invalid_timestamp` (not an integer of at most 53
 * bits of ms: NaN, a fraction, past 2^53), `not_written` (a 2.0 receiver's Written headers fell
 * short), `buffer_write` (a durable buffer's append failed), `internal`.
 */
export type DropReason = string;

export class ExporterMetrics extends SendMetrics {
  private readonly metadata: Counter<'exporter'>;
  private readonly shardsGauge: Gauge<'exporter'>;
  private readonly shardsDesiredGauge: Gauge<'exporter'>;
  private readonly bufferBytesGauge: Gauge<'exporter'>;
  private readonly cacheEvictions: Counter<'exporter' | 'cache'>;

  constructor(telemetry: Telemetry, exporter: string) {
    super(telemetry, exporter);
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
    this.metadata.inc({ exporter }, 0);
    this.cacheEvictions.inc({ exporter, cache: 'metadata' }, 0);
    this.cacheEvictions.inc({ exporter, cache: 'shapes' }, 0);
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
  metadataSent(n: number): void {
    this.metadata.inc({ exporter: this.exporter }, n);
  }
}
