/**
 * The enqueue the durable buffers share (disk and redis): points split by series onto a fixed number
 * of shards (a series keeps its shard across restarts and replicas), each shard's points cut into
 * requests of at most max_samples_per_send, every shard's write started at once, and what the failed
 * writes lost counted and thrown (settleAppends). The buffer says only how one shard writes its chunks.
 */
import type { Logger } from '../../../core/logger.js';
import type { Point } from '../../../core/model/metrics.js';
import type { ExporterMetrics } from '../metrics.js';
import { settleAppends, type SeriesSharder } from '../request.js';

/**
 * Starts writing one shard's chunks (each at most max_samples_per_send points, in arrival order). It must
 * take what it needs of `chunks` before it returns: the arrays are reused by the next enqueue.
 */
export type AppendShard = (shard: number, chunks: readonly Point[][]) => Promise<unknown>;

export class ShardedEnqueue {
  /** One array per shard, reused: the points of one enqueue, emptied once the shard's write has started. */
  private readonly parts: Point[][] = [];

  constructor(
    private readonly sharder: SeriesSharder,
    private readonly maxPerSend: number,
    private readonly metrics: ExporterMetrics,
    private readonly logger: Logger,
    /** How the log and the error name the buffer (`disk buffer`). */
    private readonly what: string,
  ) {}

  /**
   * Splits `points` over `shards` and appends; resolves once every write settled. `settled` runs before
   * the failures are counted (a buffer updating its gauges or shared counts from what was added).
   * Throws BufferWriteError when any shard's write failed.
   */
  async enqueue(points: readonly Point[], shards: number, append: AppendShard, settled?: (added: number) => Promise<void> | void): Promise<void> {
    const parts = this.parts;
    while (parts.length < shards) parts.push([]);
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      parts[this.sharder.shardOf(p, shards)].push(p);
    }
    const max = this.maxPerSend;
    const writes: Promise<unknown>[] = [];
    /** Samples of each write in `writes`, for counting what a failed one lost. */
    const counts: number[] = [];
    try {
      for (let shard = 0; shard < shards; shard++) {
        const mine = parts[shard];
        if (mine.length === 0) continue;
        const chunks: Point[][] = [];
        if (mine.length <= max) chunks.push(mine);
        else for (let at = 0; at < mine.length; at += max) chunks.push(mine.slice(at, at + max));
        counts.push(mine.length);
        writes.push(append(shard, chunks));
        mine.length = 0;
      }
    } finally {
      // A cut that threw leaves nothing behind for the next enqueue.
      for (let shard = 0; shard < shards; shard++) parts[shard].length = 0;
    }
    const results = await Promise.allSettled(writes);
    let added = 0;
    for (let i = 0; i < results.length; i++) if (results[i].status === 'fulfilled') added += counts[i];
    await settled?.(added);
    settleAppends(results, counts, points.length, this.metrics, this.logger, this.what);
  }
}
