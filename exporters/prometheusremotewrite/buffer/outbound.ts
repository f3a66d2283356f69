/**
 * What every buffer type offers the exporter: memory (queue.ts, sharded with resharding), disk
 * (disk.ts, a write-ahead log) and redis (redis.ts, BullMQ). Its own file, so the exporter depends on
 * the interface and each buffer implements it without importing the exporter.
 */
import type { Point } from '../../../core/model/metrics.js';

export interface OutboundQueue {
  start(): Promise<void> | void;
  /**
   * Takes the points of one source (a receiver id); resolves once they are held: queued in memory (waiting
   * for room up to block_timeout, else QueueFullError), or written and synced with a durable buffer.
   */
  enqueue(points: Point[], source: string): Promise<void> | void;
  stop(): Promise<void>;
  /**
   * stop() did not finish within shutdown_timeout: counts what is lost and returns how many samples
   * (the memory queue's; a durable buffer keeps what it holds for the next run and has none).
   */
  abandon?(): number;
  /** Shutdown has begun: end the waits for room (those callers get ShuttingDownError). */
  beginShutdown?(): void;
}
