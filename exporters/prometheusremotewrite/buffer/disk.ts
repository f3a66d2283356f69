/**
 * buffer.type: disk. consume() shards the points (the same series hash as the memory queue), cuts
 * each shard's points into requests of at most max_samples_per_send, encodes and compresses them with
 * the shard's own encoder and appends them to the write-ahead log (core/buffer/wal.ts); it resolves once
 * they are written (and fdatasync'ed with `fsync: always`). A request is cut from one consume() call:
 * put the batch processor in front to get full requests.
 *
 * One sender loop per shard reads its records in order and delivers each exactly as it was cut (after a
 * crash, a request in flight is resent byte for byte: Prometheus takes an identical duplicate of a
 * series' newest sample silently). The shard count is fixed (buffer.shards) and recorded in the log; a
 * restart with another count drains the old generation before the new one sends, so order per series
 * holds. Shutdown sends what it can until the first recoverable failure and keeps the rest on disk: no
 * drops at shutdown.
 */
import type { Logger } from '../../../core/logger.js';
import type { Labels, Point } from '../../../core/model/metrics.js';
import { errorMessage, ShuttingDownError } from '../../../core/errors.js';
import type { WriteRequestEncoder } from '../../../core/remotewrite/index.js';
import { WriteAheadLog, type ShardLog } from '../../../core/buffer/wal.js';
import { Backoff, Delivery, REAL_ENV, RejectionLog, type DeliveryControl, type DeliveryOptions, type OutgoingRequest, type QueueEnv, type Sender } from '../send/delivery.js';
import type { ExporterMetrics } from '../metrics.js';
import { ShardedEnqueue } from './enqueue.js';
import type { OutboundQueue } from './outbound.js';
import { cutRequest, SeriesSharder, shardEncoder, StoppableSleeps } from '../request.js';

export { BufferWriteError } from '../request.js';

export interface DiskQueueOptions extends DeliveryOptions {
  directory: string;
  maxBytes: number;
  fsync: boolean;
  shards: number;
  externalLabels: Labels;
  sendMetadata: boolean;
  /** Overrides the WAL's segment size (tests). */
  segmentBytes?: number;
}

/** Bytes before the compressed request in a record: oldest (f64), newest (f64), metadata entries (u32). */
const RECORD_HEAD = 20;

export function encodeRecord(req: OutgoingRequest): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEAD + req.body.length);
  out.writeDoubleLE(req.oldestMs, 0);
  out.writeDoubleLE(req.newestMs, 8);
  out.writeUInt32LE(req.metadata, 16);
  req.body.copy(out, RECORD_HEAD);
  return out;
}

export function decodeRecord(payload: Buffer, samples: number): OutgoingRequest {
  return {
    oldestMs: payload.readDoubleLE(0),
    newestMs: payload.readDoubleLE(8),
    metadata: payload.readUInt32LE(16),
    body: payload.subarray(RECORD_HEAD),
    samples,
  };
}

/** Longest pause between retries of a failing file-system operation (when max_backoff is shorter). */
const FS_RETRY_MAX_MS = 5000;

/**
 * A shard's run of file-system failures (EIO, ENOSPC, a folder removed under it): logged at error
 * when it begins, at debug while it lasts, at info when it ends; paced by a backoff.
 */
class FsTrouble {
  private failures = 0;
  constructor(
    private readonly logger: Logger,
    private readonly shard: number,
    private readonly backoff: Backoff,
  ) {}

  /** Notes a failure; returns the pause before the retry. */
  failed(what: string, err: unknown): number {
    this.failures++;
    const delay = this.backoff.next();
    const context = { err: errorMessage(err), shard: this.shard, failures: this.failures, retry_in_ms: Math.round(delay) };
    if (this.failures === 1) this.logger.error(context, `disk buffer: ${what}; retrying (logged once until it succeeds)`);
    else this.logger.debug(context, `disk buffer: ${what}; retrying`);
    return delay;
  }

  ok(): void {
    if (this.failures === 0) return;
    this.logger.info({ shard: this.shard, failures: this.failures }, 'disk buffer: the file system works again');
    this.failures = 0;
    this.backoff.reset();
  }
}

export class DiskQueue implements OutboundQueue, DeliveryControl {
  readonly keepsOnGiveUp = true;
  private wal: WriteAheadLog | undefined;
  private opened: Promise<WriteAheadLog> | undefined;
  private readonly encoders: WriteRequestEncoder[] = [];
  private readonly split: ShardedEnqueue;
  private loops: Promise<void>[] = [];
  private stopped: Promise<void> | undefined;
  /** Backoff pauses, cut short by stop(). */
  private readonly sleeps = new StoppableSleeps();
  private gaugeTimer: NodeJS.Timeout | undefined;
  private readonly rejections = new RejectionLog();

  constructor(
    private readonly options: DiskQueueOptions,
    private readonly sender: Sender,
    private readonly metrics: ExporterMetrics,
    private readonly logger: Logger,
    private readonly env: QueueEnv = REAL_ENV,
  ) {
    for (let i = 0; i < options.shards; i++) {
      this.encoders.push(shardEncoder(options.externalLabels, metrics, options.shards));
    }
    this.split = new ShardedEnqueue(new SeriesSharder(options.externalLabels), options.maxSamplesPerSend, metrics, logger, 'disk buffer');
    metrics.shards(options.shards);
    metrics.shardsDesired(options.shards);
  }

  stopping(): boolean {
    return this.sleeps.stopping;
  }

  sleep(ms: number): Promise<void> {
    return this.sleeps.sleep(ms);
  }

  start(): Promise<void> {
    this.opened ??= this.open();
    return this.opened.then(() => undefined);
  }

  private async open(): Promise<WriteAheadLog> {
    const o = this.options;
    const wal = await WriteAheadLog.open({
      directory: o.directory,
      shards: o.shards,
      maxBytes: o.maxBytes,
      fsync: o.fsync,
      segmentBytes: o.segmentBytes,
      onDrop: (count, reason) => {
        this.metrics.samplesDropped(reason, count);
        this.logger.warn({ samples: count, reason, max_size: o.maxBytes }, reason === 'buffer_full' ? 'disk buffer full: dropped its oldest segment' : 'disk buffer record failed its CRC; dropped the rest of its segment');
      },
      onEvictError: (err) => {
        // Retried by the next append that finds the log over max_size: logged at error once, then debug.
        const first = this.wal === undefined || this.wal.evictFailures <= 1;
        this.logger[first ? 'error' : 'debug']({ err: errorMessage(err), failures: this.wal?.evictFailures ?? 1, directory: o.directory }, 'disk buffer: cannot delete its oldest segment; over max_size until a later write retries');
      },
    });
    this.wal = wal;
    for (const c of wal.corruptions) this.logger.warn({ file: c.file, offset: c.offset }, 'disk buffer: truncated a segment after its last intact record');
    const pending = wal.undelivered();
    if (pending > 0) this.logger.info({ samples: pending, directory: o.directory, old_generations: wal.old.length }, 'disk buffer: resending what a previous run left');
    this.updateGauges();
    this.gaugeTimer = setInterval(() => this.updateGauges(), 1000);
    this.gaugeTimer.unref();
    // Nothing awaits the loops before stop(): a rejection would be unhandled and end the process.
    // runAll and runShard catch file-system errors themselves; this is the last resort.
    this.loops = [this.runAll(wal).catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'disk buffer: sending stopped on an unexpected error; what is on disk is sent after a restart'))];
    return wal;
  }

  private updateGauges(): void {
    if (this.wal === undefined) return;
    this.metrics.bufferBytes(this.wal.bytes());
    this.metrics.queueSamples(this.wal.undelivered());
  }

  /** Old generations first (each drained completely, shards in parallel), then the current one. */
  private async runAll(wal: WriteAheadLog): Promise<void> {
    while (wal.old.length > 0 && !this.sleeps.stopping) {
      const g = wal.old[0];
      await Promise.all(g.shards.map((s) => this.runShard(s, true)));
      if (g.shards.some((s) => s.undelivered > 0)) return; // stopped while draining
      this.logger.info({ shards: g.shards.length }, 'disk buffer: drained a generation written with another shard count');
      try {
        await wal.removeGeneration(g);
      } catch (err) {
        // It is out of the log already (nothing of it is read again); its folder, fully acknowledged,
        // is deleted by the next start. Holding the current generation back for it would stop sending.
        this.logger.error({ err: errorMessage(err), directory: g.dir }, 'disk buffer: cannot delete a drained generation; the next start deletes it');
      }
    }
    if (this.sleeps.stopping && wal.old.length > 0) return;
    await Promise.all(wal.current.shards.map((s) => this.runShard(s, false)));
  }

  private async runShard(log: ShardLog, untilEmpty: boolean): Promise<void> {
    const delivery = new Delivery(this.sender, this.options, this.metrics, this.logger, this.env, this.rejections);
    const trouble = new FsTrouble(this.logger, log.index, new Backoff(this.options.minBackoffMs, Math.max(this.options.maxBackoffMs, FS_RETRY_MAX_MS), this.env.random));
    for (;;) {
      let record;
      try {
        record = await log.next();
        trouble.ok();
      } catch (err) {
        await this.sleep(trouble.failed('cannot read a record', err));
        if (this.sleeps.stopping) return;
        continue;
      }
      if (record === undefined) {
        if (untilEmpty || this.sleeps.stopping) return;
        await log.waitForAppend();
        continue;
      }
      const outcome = await delivery.deliver(decodeRecord(record.payload, record.count), this);
      // gave_up: shutdown hit a recoverable failure. The record stays for the next run.
      if (outcome === 'gave_up') return;
      // Delivered: only the acknowledgement is retried (ack is idempotent), never the send. Given up
      // at shutdown, the record is sent again by the next run (at least once).
      for (;;) {
        try {
          await log.ack(record);
          trouble.ok();
          break;
        } catch (err) {
          await this.sleep(trouble.failed('cannot record a delivery', err));
          if (this.sleeps.stopping) return;
        }
      }
      this.updateGauges();
    }
  }

  /** Cuts, encodes and appends; resolves once durable. Throws BufferWriteError when the write fails. */
  async enqueue(points: Point[]): Promise<void> {
    if (this.sleeps.stopping) {
      this.metrics.samplesDropped('shutdown', points.length);
      throw new ShuttingDownError(points.length);
    }
    const wal = await (this.opened ??= this.open());
    await this.split.enqueue(
      points,
      this.options.shards,
      (shard, chunks) => wal.current.shards[shard].append(chunks.map((chunk) => ({ count: chunk.length, payload: encodeRecord(this.cut(shard, chunk)) }))),
      () => this.updateGauges(),
    );
  }

  private cut(shard: number, points: Point[]): OutgoingRequest {
    return cutRequest(this.encoders[shard], points, this.options.sendMetadata);
  }


  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.sleeps.stop();
      const wal = await this.opened?.catch(() => undefined);
      if (wal === undefined) return;
      for (const g of [...wal.old, wal.current]) for (const s of g.shards) s.interrupt();
      await Promise.all(this.loops);
      if (this.gaugeTimer !== undefined) clearInterval(this.gaugeTimer);
      this.updateGauges();
      await wal.close();
    })();
    return this.stopped;
  }
}
