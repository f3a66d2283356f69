/**
 * Sharding by series, cutting a request, pausing between attempts and settling a batch's appends: the
 * same for the memory queue and the disk and redis buffers, so they live here once.
 */
import { labelPairHash, labelsIdentity, nameHash, type Labels, type MetricFamily, type Point } from '../../core/model/metrics.js';
import { WriteRequestEncoder } from '../../core/remotewrite/index.js';
import type { OutgoingRequest } from './send/delivery.js';
import type { ExporterMetrics } from './metrics.js';
import { errorMessage, PprofcolError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

/**
 * Bytes (estimated, core/remotewrite/encode.ts seriesBytes) of series the encoders of one exporter
 * keep, shared out among its shards: ~1,000 bytes a series of four labels (measured), so ~130k series.
 * It binds alone: the exporter's encoders have no count bound (maxCachedSeries), so the cache holds
 * what its bytes hold. Sized for 3,000 pprof targets (99,000 series): at 64 MiB and 50,000 series a
 * shard a third of them missed every cycle and paid a new series' encoding (~5 us each): ~5% of the
 * daemon's CPU per target-scrape side by side (bench/many-targets.ts MT_AB_DIST; inside that method's
 * +-10%, so kept on the arithmetic: ~33,000 x 5 us every 15 s), for ~20 MiB of RSS.
 * Without a byte bound each shard's encoder kept up to its count bound, and a sender inventing names
 * filled every shard's. A working set larger than this keeps the part it caches hitting (the encoder
 * refuses new series rather than evict the ones met since its last turn); a series not cached only
 * costs encoding its labels again.
 */
export const SERIES_CACHE_BYTES = 128 * 1024 * 1024;

/**
 * A shard's encoder (memory queue, disk and redis buffers alike): external labels, its share of
 * SERIES_CACHE_BYTES, shape evictions counted. While a reshard drains, old and new shards hold their
 * shares side by side, so up to twice the bound for that while.
 */
export function shardEncoder(externalLabels: Labels, metrics: ExporterMetrics, shards: number): WriteRequestEncoder {
  return new WriteRequestEncoder({ externalLabels, maxCachedSeries: Infinity, maxSeriesBytes: SERIES_CACHE_BYTES / shards, onShapeEvicted: () => metrics.cacheEvicted('shapes') });
}

/** The distinct families of a batch, for the metadata attached to its request. */
export function familiesOf(points: readonly Point[]): MetricFamily[] {
  const out: MetricFamily[] = [];
  const seen = new Set<string>();
  let last: MetricFamily | undefined;
  for (let i = 0; i < points.length; i++) {
    const f = points[i].family;
    if (f === last) continue;
    last = f;
    if (!seen.has(f.name)) {
      seen.add(f.name);
      out.push(f);
    }
  }
  return out;
}

/**
 * Encodes a batch with a shard's encoder (its buffer reused) and compresses it, noting its oldest
 * and newest timestamps, which sample_age_limit and the resharding delay read without decoding.
 */
export function cutRequest(encoder: WriteRequestEncoder, points: Point[], sendMetadata: boolean): OutgoingRequest {
  let oldest = Infinity;
  let newest = -Infinity;
  for (let i = 0; i < points.length; i++) {
    const ts = points[i].timestampMs;
    if (ts < oldest) oldest = ts;
    if (ts > newest) newest = ts;
  }
  const metadata = sendMetadata ? familiesOf(points) : [];
  const body = encoder.encodeCompressed(points, metadata);
  return { body, samples: points.length, metadata: metadata.length, oldestMs: oldest, newestMs: newest };
}

/**
 * A durable buffer could not take all of a batch. `lost` samples (those of the shards whose append
 * failed) are not in it; the others are durable and will be delivered. The caller may send the whole
 * batch again (the remote-write receiver answers 503): what was written then goes twice, which a
 * receiver takes as an identical duplicate.
 */
export class BufferWriteError extends PprofcolError {
  constructor(
    message: string,
    cause: unknown,
    readonly lost: number,
  ) {
    super('ERR_BUFFER_WRITE', message, { cause, retryable: true });
    this.name = 'BufferWriteError';
  }
}

/**
 * Counts what the failed appends of one batch lost (only their shards' samples: the other shards'
 * records are durable and get delivered), logs it, and throws BufferWriteError when any failed.
 * `counts[i]` is the samples of `results[i]`. Shared by the disk and Redis buffers.
 */
export function settleAppends(results: readonly PromiseSettledResult<unknown>[], counts: readonly number[], total: number, metrics: ExporterMetrics, logger: Logger, what: string): void {
  let lost = 0;
  let first: unknown;
  let failedShards = 0;
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    if (r.status === 'fulfilled') continue;
    lost += counts[i];
    failedShards++;
    first ??= r.reason;
  }
  if (failedShards === 0) return;
  metrics.samplesDropped('buffer_write', lost);
  logger.error(
    { err: errorMessage(first), samples: lost, of: total, shards_failed: failedShards },
    `${what}: cannot write; the failed shards' samples are not accepted (the others are durable and will be sent)`,
  );
  throw new BufferWriteError(`${what} write failed for ${lost} of ${total} samples: ${errorMessage(first)}`, first, lost);
}

/** Backoff pauses that stop() cuts short, so shutdown never waits out a max_backoff. */
export class StoppableSleeps {
  private stopped = false;
  private readonly pending = new Set<() => void>();

  get stopping(): boolean {
    return this.stopped;
  }

  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.pending.add(done);
    });
  }

  /** Marks stopping and wakes every pause in progress. */
  stop(): void {
    this.stopped = true;
    for (const wake of [...this.pending]) wake();
  }
}

/**
 * A 32-bit hash of a series: its name and its non-empty labels, with external labels filling the
 * ones it lacks (as the encoder does). The labels' part is the identity the point carries
 * (labelsIdentity: an order-independent sum of per-label hashes, computed once where the labels were
 * made), so the sharder neither sorts nor hashes a point's labels; only external labels the point
 * lacks are added to it.
 */
export function seriesHash(name: string, labels: Labels, external: Labels, externalNames: readonly string[]): number {
  let sum = labelsIdentity(labels).pairHash;
  for (let i = 0; i < externalNames.length; i++) {
    const k = externalNames[i];
    const own = labels[k];
    if (own !== undefined && own !== '') continue;
    sum = (sum + labelPairHash(k, external[k])) | 0;
  }
  let h = nameHash(name) ^ sum;
  // murmur3's finaliser: spreads the bits so `h % shards` is even.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Which shard a point's series goes to: every sample of a series lands in the same shard, so it
 * stays in timestamp order while shards send in parallel.
 */
export class SeriesSharder {
  /** External labels that can fill a series' missing label, computed once. */
  private readonly externalNames: readonly string[];

  constructor(private readonly externalLabels: Labels) {
    this.externalNames = Object.keys(externalLabels).filter((k) => externalLabels[k] !== '');
  }

  shardOf(point: Point, shards: number): number {
    return shards === 1 ? 0 : seriesHash(point.name, point.labels, this.externalLabels, this.externalNames) % shards;
  }
}
