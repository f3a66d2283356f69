/**
 * batch: gathers metric points into larger batches before the next stage (fewer, fuller remote-write
 * requests). A batch leaves when it reaches send_batch_size points, or `timeout` after its first point
 * arrived; send_batch_max_size splits what is bigger. Points are merged only with points from the same
 * `source` (receiver id), so every batch still says where its data came from. Profile batches pass through.
 */
import type { Batch, CreateSettings, Consumer, Processor } from '../../core/component.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { metricBatch, type Point } from '../../core/model/metrics.js';
import type { BatchProcessorConfig } from './config.js';

/** What is pending for one source. */
interface Pending {
  points: Point[];
  timer: NodeJS.Timeout | undefined;
}

export class BatchProcessor implements Processor {
  private readonly pending = new Map<string, Pending>();
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

  async consume(batch: Batch): Promise<void> {
    if (batch.signal !== 'metrics' || this.stopped) {
      await this.next.consume(batch);
      return;
    }
    if (batch.points.length === 0) return;
    const { send_batch_size: size, timeout } = this.config;
    let p = this.pending.get(batch.source);
    if (p === undefined) {
      p = { points: [], timer: undefined };
      this.pending.set(batch.source, p);
    }
    const points = p.points;
    for (let i = 0; i < batch.points.length; i++) points.push(batch.points[i]);
    if (timeout === 0 || (size > 0 && points.length >= size)) {
      await this.flush(batch.source);
      return;
    }
    if (p.timer === undefined) {
      const source = batch.source;
      p.timer = setTimeout(() => {
        this.flush(source).catch((err: unknown) => this.logger.error({ err: errorMessage(err), source }, 'batch: next stage failed'));
      }, timeout);
    }
  }

  /** Sends everything pending for `source`, in chunks of at most send_batch_max_size. */
  private async flush(source: string): Promise<void> {
    const p = this.pending.get(source);
    if (p === undefined) return;
    this.pending.delete(source);
    if (p.timer !== undefined) clearTimeout(p.timer);
    const max = this.config.send_batch_max_size;
    const all = p.points;
    if (max === 0 || all.length <= max) {
      await this.next.consume(metricBatch(source, all));
      return;
    }
    for (let i = 0; i < all.length; i += max) await this.next.consume(metricBatch(source, all.slice(i, i + max)));
  }

  /** Flushes every source. Idempotent; safe before start. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    const sources = [...this.pending.keys()];
    const results = await Promise.allSettled(sources.map((s) => this.flush(s)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}
