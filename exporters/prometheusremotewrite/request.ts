/**
 * Cutting a request and pausing between attempts: the same for the memory queue and the disk and
 * redis buffers, so they live here once.
 */
import type { MetricFamily, Point } from '../../core/model/metrics.js';
import type { WriteRequestEncoder } from '../../core/remotewrite/index.js';
import type { OutgoingRequest } from './delivery.js';

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
