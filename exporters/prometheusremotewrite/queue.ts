/**
 * The queue manager: one bounded in-memory queue of samples, cut into requests of at most
 * max_samples_per_send (or whatever is queued once batch_send_deadline has passed), sent one request
 * at a time so the samples of a series always reach the receiver in order, with retries on
 * recoverable failures (exponential backoff with full jitter, or the server's Retry-After).
 * It owns what to do with a failure; the client only classifies it (Prometheus's queue_manager.go split).
 */
import type { Logger } from '../../core/logger.js';
import type { MetricFamily, Point } from '../../core/model/metrics.js';
import { errorMessage } from '../../core/errors.js';
import { snappyCompress, WriteRequestEncoder } from '../../core/remotewrite/index.js';
import { RemoteWriteError } from './client.js';
import type { ExporterMetrics } from './metrics.js';

export interface QueueOptions {
  capacity: number;
  maxSamplesPerSend: number;
  batchSendDeadlineMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  /** 0 = off. */
  sampleAgeLimitMs: number;
  metadata: { send: boolean; intervalMs: number; maxPerSend: number };
}

/** What the queue sends through: the client, or a stand-in in tests. */
export interface Sender {
  send(body: Buffer): Promise<void>;
}

/** Clock and randomness, injectable so tests can pin them. */
export interface QueueEnv {
  now(): number;
  random(): number;
}
const REAL_ENV: QueueEnv = { now: Date.now, random: Math.random };

/** A fixed-size ring: O(1) push and take, no per-sample allocation once built. */
class Ring<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  length = 0;
  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }
  push(item: T): boolean {
    if (this.length === this.capacity) return false;
    this.items[(this.head + this.length) % this.capacity] = item;
    this.length++;
    return true;
  }
  /** Moves up to `n` items, oldest first, into `out`. */
  takeInto(out: T[], n: number): void {
    const count = Math.min(n, this.length);
    for (let i = 0; i < count; i++) {
      out.push(this.items[this.head] as T);
      this.items[this.head] = undefined; // let the point be collected once sent
      this.head = (this.head + 1) % this.capacity;
    }
    this.length -= count;
  }
  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.length = 0;
  }
}

/**
 * Exponential backoff with full jitter: attempt k waits a uniform time in [min, min * 2^k], the upper
 * end capped at max. Jitter spreads the retries of many senders after a shared outage.
 */
export class Backoff {
  private ceiling: number;
  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {
    this.ceiling = minMs;
  }
  next(): number {
    const ceiling = this.ceiling;
    this.ceiling = Math.min(this.maxMs, Math.max(1, ceiling * 2));
    return this.minMs + this.random() * (ceiling - this.minMs);
  }
  reset(): void {
    this.ceiling = this.minMs;
  }
}

export class SendQueue {
  private readonly ring: Ring<Point>;
  private readonly encoder: WriteRequestEncoder;
  /** Every family seen, for the periodic metadata request. */
  private readonly families = new Map<string, MetricFamily>();
  private lastFamily: MetricFamily | undefined;
  /** The request being built or retried; reused between requests. */
  private batch: Point[] = [];
  private inFlight = 0;
  /** When the oldest queued sample arrived (or the last request left): the batch deadline counts from here. */
  private oldestAt = 0;
  private readonly backoff: Backoff;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private gaveUp = false;
  private wakeLoop: (() => void) | undefined;
  private interruptSleep: (() => void) | undefined;
  private metadataTimer: NodeJS.Timeout | undefined;
  private metadataDue = false;
  private queueFullLogged = false;
  private readonly loggedStatuses = new Set<number>();

  constructor(
    private readonly options: QueueOptions,
    private readonly sender: Sender,
    encoder: WriteRequestEncoder,
    private readonly metrics: ExporterMetrics,
    private readonly logger: Logger,
    private readonly env: QueueEnv = REAL_ENV,
  ) {
    this.ring = new Ring<Point>(options.capacity);
    this.encoder = encoder;
    this.backoff = new Backoff(options.minBackoffMs, options.maxBackoffMs, env.random);
  }

  start(): void {
    if (this.loop !== undefined || this.stopping) return;
    this.loop = this.run();
    if (this.options.metadata.send) {
      this.metadataTimer = setInterval(() => {
        this.metadataDue = true;
        this.wake();
      }, this.options.metadata.intervalMs);
      this.metadataTimer.unref();
    }
  }

  /** Takes points into the queue; what does not fit is dropped (reason="queue_full"). Never blocks. */
  enqueue(points: readonly Point[]): void {
    if (this.stopping) {
      this.metrics.samplesDropped('shutdown', points.length);
      return;
    }
    const ring = this.ring;
    const wasEmpty = ring.length === 0;
    const trackFamilies = this.options.metadata.send;
    let accepted = 0;
    for (; accepted < points.length; accepted++) {
      const p = points[accepted];
      if (!ring.push(p)) break;
      // Families are shared constants: consecutive points mostly share one, so the map is rarely touched.
      if (trackFamilies && p.family !== this.lastFamily) {
        this.lastFamily = p.family;
        if (!this.families.has(p.family.name)) this.families.set(p.family.name, p.family);
      }
    }
    const overflow = points.length - accepted;
    if (overflow > 0) {
      this.metrics.samplesDropped('queue_full', overflow);
      if (!this.queueFullLogged) {
        this.queueFullLogged = true;
        this.logger.warn({ capacity: this.options.capacity, dropped: overflow }, 'remote-write queue is full; dropping new samples (raise queue_config.capacity or check the remote end)');
      }
    }
    if (wasEmpty && accepted > 0) this.oldestAt = this.env.now();
    this.metrics.queueSamples(ring.length + this.inFlight);
    if (wasEmpty || ring.length >= this.options.maxSamplesPerSend) this.wake();
  }

  /**
   * Sends what is queued, then resolves. A request that fails recoverably during stop is not retried
   * again: its samples and the rest of the queue are dropped (reason="shutdown"). Each request is
   * bounded by the client's timeout, so this never hangs forever. Idempotent.
   */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      if (this.metadataTimer !== undefined) clearInterval(this.metadataTimer);
      this.wake();
      this.interruptSleep?.();
      if (this.loop === undefined && this.ring.length > 0) this.loop = this.run();
    }
    await this.loop;
  }

  private wake(): void {
    this.wakeLoop?.();
  }

  private async run(): Promise<void> {
    const max = this.options.maxSamplesPerSend;
    for (;;) {
      if (this.metadataDue && !this.stopping) {
        this.metadataDue = false;
        await this.sendMetadata();
        continue;
      }
      const queued = this.ring.length;
      if (queued === 0) {
        if (this.stopping) break;
        await this.waitForWork(undefined);
        continue;
      }
      if (!this.stopping && queued < max) {
        const left = this.oldestAt + this.options.batchSendDeadlineMs - this.env.now();
        if (left > 0) {
          await this.waitForWork(left);
          continue;
        }
      }
      const batch = this.batch;
      batch.length = 0;
      this.ring.takeInto(batch, max);
      this.inFlight = batch.length;
      this.oldestAt = this.env.now();
      try {
        await this.sendBatch(batch);
      } catch (err) {
        // Nothing in sendBatch should throw; if it does, the loop must survive it.
        this.metrics.samplesDropped('internal', batch.length);
        this.logger.error({ err: errorMessage(err) }, 'remote-write send failed unexpectedly');
      }
      batch.length = 0;
      this.inFlight = 0;
      if (this.gaveUp) {
        this.metrics.samplesDropped('shutdown', this.ring.length);
        this.ring.clear();
      }
      this.metrics.queueSamples(this.ring.length);
    }
    this.metrics.queueSamples(0);
  }

  /** Resolves on new work, on stop, or after `ms` (undefined = no timer). */
  private waitForWork(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.wakeLoop = undefined;
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      this.wakeLoop = done;
    });
  }

  /** A backoff pause: only stop() cuts it short (new samples do not). */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.interruptSleep = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.interruptSleep = done;
    });
  }

  private encode(points: readonly Point[], metadata: readonly MetricFamily[]): Buffer {
    return snappyCompress(this.encoder.encode(points, metadata));
  }

  /** Sends one batch until it is accepted, rejected for good, too old, or given up at shutdown. */
  private async sendBatch(initial: Point[]): Promise<void> {
    let points = initial;
    const metadata = this.options.metadata.send ? familiesOf(points) : [];
    let body = this.encode(points, metadata);
    this.backoff.reset();
    for (;;) {
      if (this.options.sampleAgeLimitMs > 0) {
        const oldest = this.env.now() - this.options.sampleAgeLimitMs;
        const kept = points.filter((p) => p.timestampMs >= oldest);
        if (kept.length !== points.length) {
          this.metrics.samplesDropped('too_old', points.length - kept.length);
          points = kept;
          if (points.length === 0) return;
          body = this.encode(points, metadata);
        }
      }
      const n = points.length;
      try {
        await this.sender.send(body);
        this.metrics.request('success');
        this.metrics.samplesSent(n);
        this.metrics.metadataSent(metadata.length);
        this.queueFullLogged = false;
        return;
      } catch (err) {
        const e = err instanceof RemoteWriteError ? err : new RemoteWriteError('other', errorMessage(err), { retryable: true, cause: err });
        if (!e.retryable) {
          this.metrics.request('failed');
          this.metrics.samplesDropped(e.reason, n);
          this.logRejected(e, n);
          return;
        }
        this.metrics.request('retry');
        if (this.stopping) {
          // Shutting down: no more waiting. What is queued behind this request goes too (see run()).
          this.gaveUp = true;
          this.metrics.samplesDropped('shutdown', n);
          this.logger.warn({ err: e.message, samples: n + this.ring.length }, 'remote write failed during shutdown; dropping what is queued');
          return;
        }
        const delay = e.retryAfterMs ?? this.backoff.next();
        this.metrics.samplesRetried(n);
        this.logger.warn({ err: e.message, reason: e.reason, samples: n, retry_in_ms: Math.round(delay) }, 'remote write failed; retrying');
        await this.sleep(delay);
      }
    }
  }

  /** A final rejection: logged at error once per distinct status (with the answer's body), then at debug. */
  private logRejected(e: RemoteWriteError, samples: number): void {
    const status = e.status ?? 0;
    const context = { reason: e.reason, status: e.status, samples, body: e.body };
    if (this.loggedStatuses.has(status)) {
      this.logger.debug(context, 'remote write rejected a request; its samples are dropped');
      return;
    }
    this.loggedStatuses.add(status);
    this.logger.error(context, 'remote write rejected a request; its samples are dropped, not retried (logged once per status)');
  }

  /** The metadata-only request(s), as Prometheus sends every metadata_config.send_interval. */
  private async sendMetadata(): Promise<void> {
    const all = [...this.families.values()];
    const per = this.options.metadata.maxPerSend;
    for (let i = 0; i < all.length; i += per) {
      const chunk = all.slice(i, i + per);
      const body = this.encode([], chunk);
      this.backoff.reset();
      for (;;) {
        try {
          await this.sender.send(body);
          this.metrics.request('success');
          this.metrics.metadataSent(chunk.length);
          break;
        } catch (err) {
          const e = err instanceof RemoteWriteError ? err : new RemoteWriteError('other', errorMessage(err), { retryable: true, cause: err });
          if (!e.retryable || this.stopping) {
            this.metrics.request('failed');
            if (!e.retryable) this.logRejected(e, 0);
            return;
          }
          this.metrics.request('retry');
          await this.sleep(e.retryAfterMs ?? this.backoff.next());
        }
      }
    }
  }
}

/** The distinct families of a batch, for the metadata attached to its request. */
function familiesOf(points: readonly Point[]): MetricFamily[] {
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
