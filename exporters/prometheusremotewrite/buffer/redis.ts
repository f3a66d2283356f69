/**
 * buffer.type: redis. A durable outbox on Redis, shared by every pprofcol replica that points at the
 * same Redis with the same exporter id: any replica delivers what another enqueued.
 *
 * - consume() shards the points (the series hash of the memory queue), cuts requests of at most
 *   max_samples_per_send, and adds them as BullMQ jobs, one queue per shard; it resolves once Redis
 *   has them (durability is then Redis's: enable AOF for it to survive a Redis restart).
 * - The shard count is fixed and kept in Redis (`<prefix>:<exporter>:shards`): the first replica
 *   writes it, the others read it; a replica configured with another count logs an error and uses the
 *   stored one, so a series maps to the same queue on every replica.
 * - Each queue has a global concurrency of 1 (Queue.setGlobalConcurrency(1), across all replicas), so
 *   one job per shard is in flight anywhere: requests of a shard leave in the order they were added.
 * - A job's processor retries inside itself (backoff loop, same classification as the other buffers)
 *   rather than failing and letting BullMQ re-queue it behind later jobs. Final answers complete the job
 *   (its samples counted dropped).
 * - A replica that dies mid-job stops renewing the job's lock; after lock_duration another replica's
 *   stalled check moves the job back to the head of the wait list (BullMQ pushes a stalled job onto the
 *   end jobs are taken from) and delivers it. maxStalledCount is effectively unbounded, so a stalled job
 *   is never moved to failed. At shutdown, a job that could not be delivered is left to the same
 *   takeover (the worker closes without completing it).
 */
// Types only: the modules load in open(), when a redis buffer starts. bullmq and ioredis cost the
// daemon ~20 MiB of RSS and ~5.5 MiB of heap once loaded (measured: node --expose-gc, import after the
// daemon's own modules), which every pipeline without a redis buffer (the default is memory) would
// pay for nothing.
import type { Queue, Worker, Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../../../core/logger.js';
import { maskUrl } from '../../../core/redact.js';
import type { Labels, Point } from '../../../core/model/metrics.js';
import { errorMessage, PprofcolError, ShuttingDownError } from '../../../core/errors.js';
import type { WriteRequestEncoder } from '../../../core/remotewrite/index.js';
import { Delivery, REAL_ENV, RejectionLog, type DeliveryControl, type DeliveryOptions, type OutgoingRequest, type QueueEnv, type Sender } from '../send/delivery.js';
import type { ExporterMetrics } from '../metrics.js';
import { ShardedEnqueue } from './enqueue.js';
import type { OutboundQueue } from './outbound.js';
import { cutRequest, SeriesSharder, shardEncoder, StoppableSleeps } from '../request.js';

export interface RedisQueueOptions extends DeliveryOptions {
  url: string;
  prefix: string;
  /** Exporter id: names the queues, so replicas with the same config share them. */
  name: string;
  shards: number;
  lockDurationMs: number;
  externalLabels: Labels;
  sendMetadata: boolean;
  /** How long start() waits for Redis (default REDIS_START_TIMEOUT_MS); tests shorten it. */
  startTimeoutMs?: number;
}

/**
 * How long start() waits for Redis to answer before failing. The client needs
 * maxRetriesPerRequest: null (BullMQ's blocking commands must not time out), so without a bound a
 * Redis that is down at start makes start() wait forever: the service never becomes ready and never
 * installs its signal handlers. 10s covers a Redis that is restarting; longer means a wrong buffer.url
 * or a Redis that is down, which the operator should hear about at once.
 */
export const REDIS_START_TIMEOUT_MS = 10_000;

export class RedisStartError extends PprofcolError {
  constructor(message: string, cause: unknown) {
    super('ERR_REDIS_START', message, { cause, retryable: true });
    this.name = 'RedisStartError';
  }
}

/** A job's data: the compressed request as base64 and what delivery needs without decoding it. */
interface JobData {
  body: string;
  samples: number;
  metadata: number;
  oldestMs: number;
  newestMs: number;
}

/** Stalled recoveries allowed before BullMQ would fail a job: never reached in practice. */
const MAX_STALLED_COUNT = 1_000_000_000;

function sanitize(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export class RedisQueue implements OutboundQueue, DeliveryControl {
  readonly keepsOnGiveUp = true;
  private redis: Redis | undefined;
  private queues: Queue[] = [];
  private workers: Worker[] = [];
  private encoders: WriteRequestEncoder[] = [];
  private shardCount = 0;
  private opened: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  /** Backoff pauses, cut short by stop(). */
  private readonly sleeps = new StoppableSleeps();
  /** Per-shard chain so the jobs of concurrent consume() calls are added in call order. */
  private chains: Promise<unknown>[] = [];
  private gaugeTimer: NodeJS.Timeout | undefined;
  private readonly split: ShardedEnqueue;
  private readonly base: string;
  private readonly rejections = new RejectionLog();

  constructor(
    private readonly options: RedisQueueOptions,
    private readonly sender: Sender,
    private readonly metrics: ExporterMetrics,
    private readonly logger: Logger,
    private readonly env: QueueEnv = REAL_ENV,
  ) {
    this.split = new ShardedEnqueue(new SeriesSharder(options.externalLabels), options.maxSamplesPerSend, metrics, logger, 'redis buffer');
    this.base = sanitize(options.name);
  }

  stopping(): boolean {
    return this.sleeps.stopping;
  }

  sleep(ms: number): Promise<void> {
    return this.sleeps.sleep(ms);
  }

  start(): Promise<void> {
    this.opened ??= this.open();
    return this.opened;
  }

  private async open(): Promise<void> {
    const o = this.options;
    const [{ Redis }, bullmq] = await Promise.all([import('ioredis'), import('bullmq')]);
    // BullMQ needs maxRetriesPerRequest: null (its blocking commands must not time out).
    // retryStrategy: ioredis's default pacing (50ms more per attempt, at most 2s), until we give up.
    const redis = new Redis(o.url, { maxRetriesPerRequest: null, lazyConnect: false, retryStrategy: (times: number) => (this.givingUp ? null : Math.min(times * 50, 2000)) });
    this.redis = redis;
    this.watchConnection(redis);
    const timeoutMs = o.startTimeoutMs ?? REDIS_START_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const setup = this.setUp(redis, bullmq.Queue);
    setup.catch(() => undefined); // when the timeout wins, its rejection (connection closed) is expected
    let outcome: void | 'timeout';
    try {
      outcome = await Promise.race([setup, timeout]);
    } catch (err) {
      this.giveUp(redis);
      throw new RedisStartError(`buffer.url ${maskUrl(o.url)}: cannot set up the redis buffer: ${errorMessage(err)}`, err);
    } finally {
      clearTimeout(timer);
    }
    if (outcome === 'timeout') {
      // Stops the reconnect attempts; the queues made so far share this connection.
      this.giveUp(redis);
      this.queues = [];
      const last = this.lastConnectionError === undefined ? '' : ` (last error: ${this.lastConnectionError})`;
      throw new RedisStartError(`buffer.url ${maskUrl(o.url)}: Redis did not answer within ${timeoutMs}ms${last}`, undefined);
    }
    this.startWorkers(redis, bullmq.Worker);
  }

  /**
   * Ends the connection for good, also while it waits to reconnect: disconnect() then only clears the
   * reconnect timer, leaving queued commands (and quit()) pending forever (ioredis 5 and 6), so the
   * retry strategy declines the next attempt instead, which ends the client and rejects them.
   */
  private givingUp = false;
  private giveUp(redis: Redis): void {
    this.givingUp = true;
    if (redis.status !== 'reconnecting') redis.disconnect();
  }

  /** Connection state, logged once per change: down (warn, with the first error) and back (info). */
  private lastConnectionError: string | undefined;
  private connectionDown = false;
  private watchConnection(redis: Redis): void {
    const url = maskUrl(this.options.url);
    redis.on('error', (err: Error) => this.connectionError('connection', err, url));
    redis.on('ready', () => {
      if (!this.connectionDown) return;
      this.connectionDown = false;
      this.logger.info({ url }, 'redis buffer: connection to Redis is back');
    });
  }

  private connectionError(source: string, err: Error, url: string): void {
    this.lastConnectionError = err.message;
    if (this.connectionDown) {
      this.logger.debug({ err: err.message, source, url }, 'redis buffer: still cannot reach Redis');
      return;
    }
    this.connectionDown = true;
    this.logger.warn({ err: err.message, source, url }, 'redis buffer: cannot reach Redis; reconnecting (logged again once it answers)');
  }

  /** Shard count and queues: everything start() waits for. */
  private async setUp(redis: Redis, QueueClass: typeof Queue): Promise<void> {
    const o = this.options;
    const key = `${o.prefix}:${this.base}:shards`;
    await redis.set(key, String(o.shards), 'NX');
    const stored = Number(await redis.get(key));
    this.shardCount = Number.isInteger(stored) && stored > 0 ? stored : o.shards;
    if (this.shardCount !== o.shards) {
      this.logger.error(
        { configured: o.shards, stored: this.shardCount, key },
        'buffer.shards differs from the shard count stored in Redis by the first replica; using the stored one so every replica maps a series to the same queue',
      );
    }
    this.metrics.shards(this.shardCount);
    this.metrics.shardsDesired(this.shardCount);
    for (let i = 0; i < this.shardCount; i++) {
      const name = `${this.base}-${i}`;
      const queue = new QueueClass(name, { connection: redis, prefix: o.prefix });
      await queue.setGlobalConcurrency(1);
      this.queues.push(queue);
      this.encoders.push(shardEncoder(o.externalLabels, this.metrics, this.shardCount));
      this.chains.push(Promise.resolve());
    }
  }

  private startWorkers(redis: Redis, WorkerClass: typeof Worker): void {
    const o = this.options;
    for (let i = 0; i < this.shardCount; i++) {
      const delivery = new Delivery(this.sender, o, this.metrics, this.logger, this.env, this.rejections);
      const worker = new WorkerClass(`${this.base}-${i}`, (job: Job) => this.process(delivery, job), {
        connection: redis,
        prefix: o.prefix,
        concurrency: 1,
        lockDuration: o.lockDurationMs,
        stalledInterval: o.lockDurationMs,
        maxStalledCount: MAX_STALLED_COUNT,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 10_000 },
      });
      worker.on('stalled', (jobId: string) => this.logger.warn({ job: jobId, shard: i }, 'redis buffer: a job whose replica stopped renewing its lock is taken over'));
      worker.on('failed', (job: Job | undefined, err: Error) => this.logger.error({ job: job?.id, err: err.message }, 'redis buffer: job failed'));
      // A worker's connection fails along with the main one: one state, logged once per change.
      worker.on('error', (err: Error) => this.connectionError(`worker ${i}`, err, maskUrl(o.url)));
      this.workers.push(worker);
    }
    this.gaugeTimer = setInterval(() => void this.updateGauge(), 1000);
    this.gaugeTimer.unref();
  }

  private async updateGauge(): Promise<void> {
    const redis = this.redis;
    if (redis === undefined) return;
    try {
      this.metrics.queueSamples(Number((await redis.get(`${this.options.prefix}:${this.base}:queued`)) ?? 0));
    } catch {
      // the connection's error handler logs
    }
  }

  private async process(delivery: Delivery, job: Job): Promise<void> {
    const d = job.data as JobData;
    const req: OutgoingRequest = { body: Buffer.from(d.body, 'base64'), samples: d.samples, metadata: d.metadata, oldestMs: d.oldestMs, newestMs: d.newestMs };
    const outcome = await delivery.deliver(req, this);
    if (outcome === 'gave_up') {
      // Shutting down: leave the job active without completing it. The worker closes without waiting
      // and the job is taken over (by another replica, or this one after a restart) once its lock lapses.
      await new Promise<void>(() => undefined);
    }
    await this.redis?.decrby(`${this.options.prefix}:${this.base}:queued`, d.samples).catch(() => undefined);
  }

  /** Cuts requests per shard and adds them as jobs; resolves once Redis has them. */
  async enqueue(points: Point[]): Promise<void> {
    if (this.sleeps.stopping) {
      this.metrics.samplesDropped('shutdown', points.length);
      throw new ShuttingDownError(points.length);
    }
    await (this.opened ??= this.open());
    await this.split.enqueue(
      points,
      this.shardCount,
      (shard, chunks) => {
        const jobs = chunks.map((chunk) => ({ name: 'write', data: this.cut(shard, chunk), opts: { removeOnComplete: true } }));
        const queue = this.queues[shard];
        const run = this.chains[shard].then(() => queue.addBulk(jobs));
        this.chains[shard] = run.catch(() => undefined);
        return run;
      },
      // The shared count of queued samples follows what Redis holds (a failed shard's jobs are not there).
      async (added) => {
        if (added > 0) await this.redis?.incrby(`${this.options.prefix}:${this.base}:queued`, added).catch(() => undefined);
      },
    );
  }

  private cut(shard: number, points: Point[]): JobData {
    const request = cutRequest(this.encoders[shard], points, this.options.sendMetadata);
    // BullMQ job data is JSON: the compressed bytes travel as base64.
    return { ...request, body: request.body.toString('base64') };
  }


  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.sleeps.stop();
      await this.opened?.catch(() => undefined);
      if (this.gaugeTimer !== undefined) clearInterval(this.gaugeTimer);
      // Stop taking jobs; a job in flight finishes its current attempt (delivery gives up on a
      // recoverable failure at once), a job given up stays for takeover.
      await Promise.all(
        this.workers.map(async (w) => {
          const closing = w.close();
          const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 2000).unref());
          if ((await Promise.race([closing.then(() => 'closed' as const), timer])) === 'timeout') await w.close(true);
        }),
      );
      await Promise.all(this.chains);
      await Promise.all(this.queues.map((q) => q.close()));
      const redis = this.redis;
      // quit() is a command: with the connection down it would wait for a reconnect that may never come.
      if (redis?.status === 'ready') await redis.quit().catch(() => undefined);
      else if (redis !== undefined) this.giveUp(redis);
    })();
    return this.stopped;
  }
}
