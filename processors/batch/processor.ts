/**
 * batch: gathers metric points into larger batches before the next stage (fewer, fuller remote-write
 * requests). A batch leaves when it reaches send_batch_size points, or `timeout` after its first point
 * arrived; send_batch_max_size splits what is bigger. Points are merged only with points from the same
 * `source` (receiver id), so every batch still says where its data came from. Profile batches pass through.
 * A caller's consume() settles when its points have been taken by the next stage (see BatchProcessor).
 */
import type { Batch, CreateSettings, Consumer, Processor } from '../../core/component.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { metricBatch, type Point } from '../../core/model/metrics.js';
import type { BatchProcessorConfig } from './config.js';

/** A consume() call whose points wait in a pending batch: settled when that batch has been handed on. */
interface Caller {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** What is pending for one source. */
interface Pending {
  points: Point[];
  callers: Caller[];
  timer: NodeJS.Timeout | undefined;
}

/**
 * consume() resolves only once the points it brought have been handed on and the next stage has taken
 * them (for an exporter: queued, or written and synced with a durable buffer), and rejects when that
 * failed: holding points must not turn "taken" into "acknowledged" earlier than the stages behind it
 * would. Memory: the points pending per source (send_batch_size, or what `timeout` gathers) and one
 * caller entry per consume() call waiting on them.
 */
export class BatchProcessor implements Processor {
  private readonly pending = new Map<string, Pending>();
  /** Per source, the last flush handed on and not yet settled: the next one waits for it. */
  private readonly sending = new Map<string, Promise<void>>();
  private readonly logger: Logger;
  private stopped = false;

  constructor(
    settings: CreateSettings,
    private readonly config: BatchProcessorConfig,
    private readonly next: Consumer,
  ) {
    this.logger = settings.logger.child({ processor: settings.id });
  }

  async start(): Promise<void> {}

  consume(batch: Batch): Promise<void> {
    if (batch.signal !== 'metrics') return this.next.consume(batch);
    if (this.stopped) {
      // After shutdown began, batches pass straight on, still behind a flush of their source in progress.
      const before = this.sending.get(batch.source);
      return before === undefined ? this.next.consume(batch) : before.then(() => this.next.consume(batch));
    }
    if (batch.points.length === 0) return Promise.resolve();
    const { send_batch_size: size, timeout } = this.config;
    const source = batch.source;
    let p = this.pending.get(source);
    if (p === undefined) {
      p = { points: [], callers: [], timer: undefined };
      this.pending.set(source, p);
    }
    const points = p.points;
    for (let i = 0; i < batch.points.length; i++) points.push(batch.points[i]);
    const done = new Promise<void>((resolve, reject) => p.callers.push({ resolve, reject }));
    if (timeout === 0 || (size > 0 && points.length >= size)) {
      void this.flush(source);
    } else if (p.timer === undefined) {
      p.timer = setTimeout(() => void this.flush(source), timeout);
    }
    return done;
  }

  /**
   * Hands on everything pending for `source`. Flushes of one source run one after another (each waits
   * for the one before it): a flush split into chunks, or one waiting for room downstream, must not be
   * overtaken by a newer flush, or a series' samples would leave out of order.
   */
  private flush(source: string): Promise<void> {
    const p = this.pending.get(source);
    const before = this.sending.get(source);
    if (p === undefined) return before ?? Promise.resolve();
    this.pending.delete(source);
    if (p.timer !== undefined) clearTimeout(p.timer);
    const run = before === undefined ? this.send(source, p) : before.then(() => this.send(source, p));
    this.sending.set(source, run);
    void run.then(() => {
      if (this.sending.get(source) === run) this.sending.delete(source);
    });
    return run;
  }

  /**
   * Sends one flush, in chunks of at most send_batch_max_size, then settles its callers: a failure
   * reaches every caller whose points were in it. Never rejects (the chain of flushes goes on).
   */
  private async send(source: string, p: Pending): Promise<void> {
    const max = this.config.send_batch_max_size;
    const all = p.points;
    try {
      if (max === 0 || all.length <= max) await this.next.consume(metricBatch(source, all));
      else for (let i = 0; i < all.length; i += max) await this.next.consume(metricBatch(source, all.slice(i, i + max)));
    } catch (err) {
      // The callers hear it; the stage that failed has logged it (once per run of failures).
      this.logger.debug({ err: errorMessage(err), source, points: all.length, callers: p.callers.length }, 'batch: next stage failed');
      for (const c of p.callers) c.reject(err);
      return;
    }
    for (const c of p.callers) c.resolve();
  }

  /** Flushes every source. Idempotent; safe before start. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    const flushes = [...this.pending.values()].map((p) => new Promise<void>((resolve, reject) => p.callers.push({ resolve, reject })));
    for (const source of [...this.pending.keys()]) void this.flush(source);
    const results = await Promise.allSettled(flushes);
    await Promise.all([...this.sending.values()]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}
