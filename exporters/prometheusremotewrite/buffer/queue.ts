/**
 * The in-memory queue manager (buffer.type: memory), after Prometheus's storage/remote/queue_manager.go.
 *
 * Points are sharded by a hash of their series (name + labels, external labels applied), so all the
 * samples of a series pass through one shard, which sends one request at a time: each series reaches
 * the receiver in timestamp order while the shards send in parallel. Each shard owns a ring of points
 * (`capacity` slots, grown when needed), one reused encoder and one reused batch array.
 *
 * The bound is the queue's, not a shard's: capacity x max_shards points in all the rings together,
 * whatever the shard count now (Prometheus bounds each shard at capacity, so its queue holds
 * capacity x current shards). While the receiver is down the manager does not reshard (below), so a
 * bound that followed the shard count would hold one shard's capacity, 2-18 s of a busy exporter,
 * and drop after block_timeout; this holds what max_shards could, ~100 s at 5,000 samples/s with the
 * defaults. Shards decide only how many requests are in flight at once. A ring grows by doubling past
 * capacity as its backlog needs and returns to capacity slots once empty, so an exporter that keeps up
 * holds what it held before, and the memory an outage took is given back once the backlog is sent.
 * A request leaves when max_samples_per_send points are queued or batch_send_deadline has passed.
 *
 * Resharding, as Prometheus does it: every shard update interval (10s) the manager computes
 *   desired = timePerSample * (inRate * keptRatio + 0.05 * pending)
 * from EWMA rates (weight 0.2) of samples in, samples out, drops and send duration, with
 * pending = delay(s) * inRate * keptRatio and delay = newest timestamp queued - newest sent. It keeps
 * the count while desired lies within 30% of it, does not shard down while more than 10s behind,
 * clamps to [min_shards, max_shards], and does not reshard when the last batch to leave the queue left
 * more than 2 * batch_send_deadline ago (the receiver is down; more shards would not help), unless
 * nothing is queued. "Sent" means left the queue: delivered, or dropped on a final answer.
 * Resharding drains: the old shards send everything they hold while the new ones only queue, and the
 * new ones start sending once the old ones are empty, so order per series holds across a reshard.
 */
import type { Logger } from '../../../core/logger.js';
import type { Labels, MetricFamily, Point } from '../../../core/model/metrics.js';
import { errorMessage } from '../../../core/errors.js';
import { snappyCompress, WriteRequestEncoder } from '../../../core/remotewrite/index.js';
import { familyBytes } from '../../../core/remotewrite/families.js';
import { ByteLru } from '../../../core/lru.js';
import { cutRequest, SeriesSharder, shardEncoder, StoppableSleeps } from '../request.js';
import { Backoff, Delivery, REAL_ENV, RejectionLog, type DeliveryControl, type DeliveryOptions, type OutgoingRequest, type QueueEnv, type Sender } from '../send/delivery.js';
import type { ExporterMetrics } from '../metrics.js';
import type { OutboundQueue } from './outbound.js';
import { FairAdmission, type EnterWait } from '../../../core/buffer/admission.js';
import { sendWithRetry } from '../../../core/send/retry.js';
import type { SendResult } from '../send/client.js';

export { Backoff, type QueueEnv, type Sender } from '../send/delivery.js';

export interface QueueOptions extends DeliveryOptions {
  /**
   * Points a shard's ring holds before it grows; capacity x maxShards is the bound of the whole queue,
   * which makes consume() wait when reached (blockTimeoutMs).
   */
  capacity: number;
  /** How long enqueue() waits for room before dropping what is left (queue_config.block_timeout; 0: no wait). */
  blockTimeoutMs: number;
  batchSendDeadlineMs: number;
  minShards: number;
  maxShards: number;
  /** How often the shard count is reconsidered (Prometheus: 10s). */
  shardUpdateIntervalMs: number;
  externalLabels: Labels;
  /** cacheBytes: the bound of the families kept for the periodic request (metadata_config.cache_size). */
  metadata: { send: boolean; intervalMs: number; maxPerSend: number; cacheBytes: number };
}

/** Prometheus's shardUpdateDuration. */
export const SHARD_UPDATE_INTERVAL_MS = 10_000;
/** Prometheus's shardToleranceFraction: changes within 30% of the current count are ignored. */
const SHARD_TOLERANCE = 0.3;
/** Weight of the newest interval in the EWMA rates (Prometheus's ewmaWeight). */
const EWMA_WEIGHT = 0.2;
/** Fraction of the backlog to catch up on per second when behind. */
const BACKLOG_CATCHUP = 0.05;
/** No sharding down while the newest sent sample is more than this far behind the newest queued (s). */
const MAX_DELAY_FOR_DOWNSHARD_S = 10;

/**
 * A ring that grows: O(1) push and take, no per-sample allocation between growths. It starts at
 * `initial` slots (queue_config.capacity: what a shard needs while the receiver keeps up, as before),
 * doubles when full up to `max` (the whole queue's bound, capacity x max_shards: one shard may hold all
 * of it when the receiver is down and every series waits there), and goes back to `initial` slots once
 * it empties, so the memory an outage took is given back when the backlog has been sent. Each item
 * carries the source it came from, so that what leaves is released to that source's share (admission.ts).
 * Memory: two arrays of at most `max` slots (8 bytes each) besides the points.
 */
export class Ring<T> {
  private items: (T | undefined)[];
  private sources: (string | undefined)[];
  private head = 0;
  length = 0;
  constructor(
    readonly initial: number,
    readonly max = initial,
  ) {
    this.items = new Array<T | undefined>(initial);
    this.sources = new Array<string | undefined>(initial);
  }
  /** Slots allocated now (initial <= size <= max). */
  get size(): number {
    return this.items.length;
  }
  push(item: T, source = ''): boolean {
    if (this.length === this.items.length && !this.grow()) return false;
    const size = this.items.length;
    const at = (this.head + this.length) % size;
    this.items[at] = item;
    this.sources[at] = source;
    this.length++;
    return true;
  }
  /** Doubles the slots (at most to max), oldest item first at 0; false when already at max. */
  private grow(): boolean {
    const size = this.items.length;
    if (size >= this.max) return false;
    const next = Math.min(this.max, size * 2);
    const items = new Array<T | undefined>(next);
    const sources = new Array<string | undefined>(next);
    for (let i = 0; i < this.length; i++) {
      const from = (this.head + i) % size;
      items[i] = this.items[from];
      sources[i] = this.sources[from];
    }
    this.items = items;
    this.sources = sources;
    this.head = 0;
    return true;
  }
  /**
   * Moves up to `n` items, oldest first, into `out`; `released` hears how many left per source, once
   * per run of one source (a batch's points come together, so that is about once per batch).
   */
  takeInto(out: T[], n: number, released?: (source: string, count: number) => void): void {
    const count = Math.min(n, this.length);
    const size = this.items.length;
    let run = 0;
    let runSource: string | undefined;
    for (let i = 0; i < count; i++) {
      const source = this.sources[this.head];
      if (source !== runSource) {
        if (run > 0) released?.(runSource as string, run);
        runSource = source;
        run = 0;
      }
      run++;
      out.push(this.items[this.head] as T);
      this.items[this.head] = undefined; // let the point be collected once sent
      this.sources[this.head] = undefined;
      this.head = (this.head + 1) % size;
    }
    this.length -= count;
    if (this.length === 0) this.shrink();
    if (run > 0) released?.(runSource as string, run);
  }
  /** Empty and grown: back to `initial` slots, the big arrays left to the collector. */
  private shrink(): void {
    this.head = 0;
    if (this.items.length === this.initial) return;
    this.items = new Array<T | undefined>(this.initial);
    this.sources = new Array<string | undefined>(this.initial);
  }
  /** Empties the ring, releasing what it held. */
  clear(released?: (source: string, count: number) => void): void {
    const dropped: T[] = [];
    this.takeInto(dropped, this.length, released);
    this.shrink();
  }
}

// ---------------------------------------------------------------------------------------------------
// Rates

/** Prometheus's ewmaRate: events per second, smoothed over ticks of a fixed interval. */
export class EwmaRate {
  private pending = 0;
  private rateValue = 0;
  private init = false;
  constructor(private readonly intervalS: number) {}
  add(n: number): void {
    this.pending += n;
  }
  tick(): void {
    const instant = this.pending / this.intervalS;
    if (this.init) this.rateValue += EWMA_WEIGHT * (instant - this.rateValue);
    else if (this.pending > 0) {
      this.init = true;
      this.rateValue = instant;
    }
    this.pending = 0;
  }
  rate(): number {
    return this.rateValue;
  }
}

// ---------------------------------------------------------------------------------------------------
// Shard

interface ShardHost {
  readonly options: QueueOptions;
  readonly metrics: ExporterMetrics;
  readonly logger: Logger;
  readonly env: QueueEnv;
  readonly delivery: (shard: Shard) => Delivery;
  /** The most points all the rings hold together (capacity x max_shards); one ring may hold them all. */
  readonly bound: number;
  /**
   * Called after each request with how it went, for the resharding rates. `left`: the batch left the
   * queue (delivered, or dropped on a final answer); false only when shutdown gave up on it.
   */
  sent(samples: number, durationMs: number, newestMs: number, left: boolean): void;
  queueChanged(): void;
  /** Points left this shard's ring: room for the sources that wait. */
  released(source: string, count: number): void;
}

export class Shard implements DeliveryControl {
  readonly ring: Ring<Point>;
  private readonly encoder: WriteRequestEncoder;
  private readonly delivery: Delivery;
  /** The request being built; reused between requests. */
  private readonly batch: Point[] = [];
  inFlight = 0;
  private oldestAt = 0;
  private loop: Promise<void> | undefined;
  /** No sending until released (a new shard while the old ones drain). */
  private held: boolean;
  private draining = false;
  private stoppingFlag = false;
  private gaveUp = false;
  private wakeLoop: (() => void) | undefined;
  private interruptSleep: (() => void) | undefined;
  private readonly released: (source: string, count: number) => void;

  constructor(
    private readonly host: ShardHost,
    readonly index: number,
    held: boolean,
    /** Shards made with it: the encoder's share of the series cache bound. */
    siblings: number,
  ) {
    this.ring = new Ring<Point>(host.options.capacity, host.bound);
    this.encoder = shardEncoder(host.options.externalLabels, host.metrics, siblings);
    this.delivery = host.delivery(this);
    this.held = held;
    this.released = (source, count) => host.released(source, count);
  }

  stopping(): boolean {
    return this.stoppingFlag;
  }

  start(): void {
    this.loop ??= this.run();
  }

  push(p: Point, source: string): boolean {
    const ring = this.ring;
    if (!ring.push(p, source)) return false;
    if (ring.length === 1) {
      this.oldestAt = this.host.env.now();
      this.wake();
    } else if (ring.length >= this.host.options.maxSamplesPerSend) this.wake();
    return true;
  }

  /** Empties the ring (shutdown_timeout passed): room for the sources that wait. Returns the points dropped. */
  discard(): number {
    const n = this.ring.length;
    this.ring.clear(this.released);
    return n;
  }

  release(): void {
    this.held = false;
    this.wake();
  }

  /** Sends everything queued without waiting for deadlines, then ends the loop (resharding). */
  drain(): Promise<void> {
    this.draining = true;
    this.held = false;
    this.wake();
    this.start();
    return this.loop as Promise<void>;
  }

  /** Like drain, and a recoverable failure gives up instead of retrying (shutdown). */
  stop(): Promise<void> {
    this.stoppingFlag = true;
    this.interruptSleep?.();
    return this.drain();
  }

  private wake(): void {
    this.wakeLoop?.();
  }

  private async run(): Promise<void> {
    const opts = this.host.options;
    const max = opts.maxSamplesPerSend;
    for (;;) {
      const queued = this.ring.length;
      if (this.held) {
        await this.waitForWork(undefined);
        continue;
      }
      if (queued === 0) {
        if (this.draining) break;
        await this.waitForWork(undefined);
        continue;
      }
      if (!this.draining && queued < max) {
        const left = this.oldestAt + opts.batchSendDeadlineMs - this.host.env.now();
        if (left > 0) {
          await this.waitForWork(left);
          continue;
        }
      }
      const batch = this.batch;
      batch.length = 0;
      this.ring.takeInto(batch, max, this.released);
      this.inFlight = batch.length;
      this.oldestAt = this.host.env.now();
      const started = this.host.env.now();
      let newest = 0;
      try {
        const req = this.cut(batch);
        newest = req.newestMs;
        const outcome = await this.delivery.deliver(req, this);
        if (outcome === 'gave_up') this.gaveUp = true;
      } catch (err) {
        // Nothing in deliver should throw; if it does, the loop must survive it (the batch is gone).
        this.host.metrics.samplesDropped('internal', batch.length);
        this.host.logger.error({ err: errorMessage(err) }, 'remote-write send failed unexpectedly');
      }
      this.host.sent(batch.length, this.host.env.now() - started, newest, !this.gaveUp);
      batch.length = 0;
      this.inFlight = 0;
      if (this.gaveUp) {
        this.host.metrics.samplesDropped('shutdown', this.ring.length);
        this.ring.clear(this.released);
      }
      this.host.queueChanged();
    }
  }

  /** Encodes a batch with this shard's encoder (its buffer reused) and compresses it. */
  private cut(points: Point[]): OutgoingRequest {
    return cutRequest(this.encoder, points, this.host.options.metadata.send);
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
  sleep(ms: number): Promise<void> {
    if (this.stoppingFlag) return Promise.resolve();
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
}

// ---------------------------------------------------------------------------------------------------
// Queue manager

export class QueueManager implements OutboundQueue, ShardHost {
  private shards: Shard[] = [];
  /** The shards being drained by a reshard in progress. */
  private draining: Shard[] = [];
  private resharding: Promise<void> | undefined;
  private readonly sharder: SeriesSharder;
  /**
   * Families seen, by name, for the periodic metadata request: the most recently seen within
   * metadata_config.cache_size. One evicted is sent again once seen again (it re-enters the cache),
   * and one whose metadata changed replaces the old, so the periodic request never repeats stale HELP.
   */
  private readonly families: ByteLru<string, MetricFamily>;
  private lastFamily: MetricFamily | undefined;
  private started = false;
  private stopped: Promise<void> | undefined;
  private metadataTimer: NodeJS.Timeout | undefined;
  private metadataLoop: Promise<void> = Promise.resolve();
  /** A metadata run is in progress: send_interval ticks meanwhile are skipped (not queued behind it). */
  private metadataPending = false;
  /** The metadata run's retry pauses, cut short by stop(). */
  private readonly metadataSleeps = new StoppableSleeps();
  /** Aborts the metadata request in flight at stop(): it is never worth waiting `timeout` for. */
  private readonly metadataAbort = new AbortController();
  private metadataEncoder: WriteRequestEncoder | undefined;
  private shardTimer: NodeJS.Timeout | undefined;
  private queueFullLogged = false;
  private readonly admission: FairAdmission;
  /** The most points all rings hold together, draining shards' included: capacity x max_shards. */
  readonly bound: number;
  /** Points in the rings now (current and draining shards; a batch in flight has left its ring). */
  private queued = 0;
  /** How enqueue() waits for room (admission.enter). */
  private readonly wait: EnterWait;
  private stoppingFlag = false;
  private lossLogged = false;

  // Resharding inputs.
  private readonly dataIn: EwmaRate;
  private readonly dataOut: EwmaRate;
  private readonly dataDropped: EwmaRate;
  private readonly dataOutDuration: EwmaRate;
  private highestRecvMs = 0;
  /** Newest timestamp of the batches that left the queue (delivered or dropped on a final answer). */
  private highestSentMs = 0;
  /** When a batch last left the queue: a receiver that answers, even with a final error, is up. */
  private lastSendAt: number;
  /** "Skipping resharding" was logged since the last batch left: the next ones go at debug. */
  private reshardSkipLogged = false;

  readonly delivery: (shard: Shard) => Delivery;

  constructor(
    readonly options: QueueOptions,
    private readonly sender: Sender,
    readonly metrics: ExporterMetrics,
    readonly logger: Logger,
    readonly env: QueueEnv = REAL_ENV,
  ) {
    this.sharder = new SeriesSharder(options.externalLabels);
    // capacity x max_shards whatever the shard count now (file comment): at the defaults 500,000 points,
    // ~160 bytes of heap each, 80 MB at most.
    this.bound = options.capacity * options.maxShards;
    this.admission = new FairAdmission(() => this.bound);
    this.wait = {
      blockTimeoutMs: options.blockTimeoutMs,
      now: () => this.env.now(),
      stopping: () => this.stoppingFlag,
      dropped: (reason, n, source) => this.dropped(reason, n, source),
    };
    this.families = new ByteLru({ maxBytes: options.metadata.cacheBytes, onEvict: () => metrics.cacheEvicted('metadata') });
    const intervalS = options.shardUpdateIntervalMs / 1000;
    this.dataIn = new EwmaRate(intervalS);
    this.dataOut = new EwmaRate(intervalS);
    this.dataDropped = new EwmaRate(intervalS);
    this.dataOutDuration = new EwmaRate(intervalS);
    this.lastSendAt = env.now();
    const rejections = new RejectionLog();
    this.delivery = () => new Delivery(sender, options, metrics, logger, env, rejections);
    this.shards = this.makeShards(options.minShards, false);
    this.metrics.shards(this.shards.length);
    this.metrics.shardsDesired(this.shards.length);
  }

  get shardCount(): number {
    return this.shards.length;
  }

  private makeShards(n: number, held: boolean): Shard[] {
    const out: Shard[] = [];
    for (let i = 0; i < n; i++) out.push(new Shard(this, i, held, n));
    return out;
  }

  start(): void {
    if (this.started || this.stoppingFlag) return;
    this.started = true;
    for (const s of this.shards) s.start();
    if (this.options.metadata.send) {
      this.metadataTimer = setInterval(() => this.metadataTick(), this.options.metadata.intervalMs);
      this.metadataTimer.unref();
    }
    if (this.options.maxShards > this.options.minShards) {
      this.shardTimer = setInterval(() => this.updateShards(), this.options.shardUpdateIntervalMs);
      this.shardTimer.unref();
    }
  }

  /**
   * One send_interval tick. While the previous run still waits on the receiver the tick is skipped:
   * queued runs would all be sent back to back once it answers, each with the same families.
   */
  private metadataTick(): void {
    if (this.metadataPending || this.stoppingFlag) return;
    this.metadataPending = true;
    this.metadataLoop = this.sendMetadata()
      .catch((err: unknown) => this.logger.debug({ err: errorMessage(err) }, 'metadata send failed unexpectedly'))
      .finally(() => {
        this.metadataPending = false;
      });
  }

  /**
   * Takes points into their shards, in order. A full queue (capacity x max_shards points in all the
   * rings, or a source over its fair share of that while another waits) makes the call wait for room, up to block_timeout from the call; what is still out
   * then is dropped (reason="queue_full") and the call fails with QueueFullError, so that a receiver
   * that can tell its sender to retry (remote write: 503) does. Resolves once every point is queued.
   */
  enqueue(points: readonly Point[], source = ''): Promise<void> {
    return this.admission.enter(source, points.length, (from) => this.admit(points, from, source), this.wait);
  }

  /** Points a wait for room left out (admission.enter): counted, and a full queue logged once per run. */
  private dropped(reason: 'shutdown' | 'queue_full', dropped: number, source: string): void {
    this.metrics.samplesDropped(reason, dropped);
    if (reason === 'shutdown') return;
    this.dataDropped.add(dropped);
    if (this.queueFullLogged) return;
    this.queueFullLogged = true;
    this.logger.warn(
      { bound: this.bound, capacity: this.options.capacity, max_shards: this.options.maxShards, shards: this.shards.length, block_timeout_ms: this.options.blockTimeoutMs, dropped, source },
      'remote-write queue stayed full for block_timeout; dropping samples (the remote end takes less than comes in: check it, or raise max_shards)',
    );
  }

  /** Pushes points from `from` on until one does not fit; returns the index of the first left out. */
  private admit(points: readonly Point[], from: number, source: string): number {
    const shards = this.shards;
    const n = shards.length;
    const trackFamilies = this.options.metadata.send;
    const room = Math.min(this.admission.allowance(source), this.bound - this.queued);
    const end = room >= points.length - from ? points.length : from + room;
    let highest = this.highestRecvMs;
    let i = from;
    for (; i < end; i++) {
      const p = points[i];
      if (!shards[this.sharder.shardOf(p, n)].push(p, source)) break;
      if (p.timestampMs > highest) highest = p.timestampMs;
      // Families are shared constants: consecutive points mostly share one, so the cache is rarely touched.
      if (trackFamilies && p.family !== this.lastFamily) {
        this.lastFamily = p.family;
        this.noteFamily(p.family);
      }
    }
    this.highestRecvMs = highest;
    this.queued += i - from;
    this.dataIn.add(i - from);
    this.admission.took(source, i - from);
    this.queueChanged();
    return i;
  }

  released(source: string, count: number): void {
    this.queued -= count;
    this.admission.released(source, count);
  }

  /** Keeps a family for the periodic request: new, evicted before, or changed (type, HELP, unit). */
  private noteFamily(f: MetricFamily): void {
    const known = this.families.get(f.name);
    if (known === f || (known !== undefined && known.type === f.type && known.help === f.help && known.unit === f.unit)) return;
    this.families.set(f.name, f, familyBytes(f.name, f.help, f.unit));
  }

  queueChanged(): void {
    let n = 0;
    for (const s of this.shards) n += s.ring.length + s.inFlight;
    for (const s of this.draining) n += s.ring.length + s.inFlight;
    this.metrics.queueSamples(n);
  }

  /**
   * A batch that left the queue, delivered or dropped on a final answer (a 404, a 400), advances the
   * newest sent timestamp and the last send, as Prometheus does since its issue 9604: counting only
   * successes made the delay grow without end behind a receiver that answers 404, so the desired shard
   * count ran away (to ~200,000) and the exporter resharded to max_shards for nothing. Only recoverable
   * failures, which keep the batch, hold them back; deliver() retries those inside, so they never get here.
   */
  sent(samples: number, durationMs: number, newestMs: number, left: boolean): void {
    this.dataOut.add(samples);
    this.dataOutDuration.add(durationMs / 1000);
    if (!left) return;
    this.lastSendAt = this.env.now();
    this.queueFullLogged = false;
    this.reshardSkipLogged = false;
    if (newestMs > this.highestSentMs) this.highestSentMs = newestMs;
  }

  /** Prometheus's calculateDesiredShards; see the file comment. Returns the count to run. */
  calculateDesiredShards(): number {
    this.dataIn.tick();
    this.dataOut.tick();
    this.dataDropped.tick();
    this.dataOutDuration.tick();
    const current = this.shards.length;
    const inRate = this.dataIn.rate();
    const outRate = this.dataOut.rate();
    if (outRate <= 0) return current;
    const keptRatio = outRate / (this.dataDropped.rate() + outRate);
    const outDuration = this.dataOutDuration.rate();
    const delayS = Math.max(0, (this.highestRecvMs - this.highestSentMs) / 1000);
    const pending = delayS * inRate * keptRatio;
    const timePerSample = outDuration / outRate;
    const desired = timePerSample * (inRate * keptRatio + BACKLOG_CATCHUP * pending);
    this.metrics.shardsDesired(desired);
    const rounded = Math.ceil(desired);
    if (current * (1 - SHARD_TOLERANCE) <= rounded && rounded <= current * (1 + SHARD_TOLERANCE)) return current;
    if (rounded < current && delayS > MAX_DELAY_FOR_DOWNSHARD_S) return current;
    return Math.min(this.options.maxShards, Math.max(this.options.minShards, rounded));
  }

  private updateShards(): void {
    const desired = this.calculateDesiredShards();
    if (desired === this.shards.length || this.resharding !== undefined || this.stoppingFlag) return;
    let queued = 0;
    for (const s of this.shards) queued += s.ring.length + s.inFlight;
    if (queued > 0 && this.lastSendAt < this.env.now() - 2 * this.options.batchSendDeadlineMs) {
      // Every interval while the receiver is down: one warning per outage, the rest at debug.
      const context = { from: this.shards.length, to: desired };
      if (this.reshardSkipLogged) this.logger.debug(context, 'skipping resharding: no request has left the queue recently');
      else this.logger.warn(context, 'skipping resharding: no request has left the queue recently (logged once until one does)');
      this.reshardSkipLogged = true;
      return;
    }
    this.reshard(desired);
  }

  /** Drains the current shards into the receiver while new ones take (and hold) new points. */
  reshard(n: number): Promise<void> {
    if (this.resharding !== undefined) return this.resharding;
    this.logger.info({ from: this.shards.length, to: n }, 'remote-write resharding');
    const old = this.shards;
    const fresh = this.makeShards(n, true);
    for (const s of fresh) s.start();
    this.shards = fresh;
    this.draining = old;
    this.metrics.shards(n);
    this.resharding = (async () => {
      await Promise.all(old.map((s) => (this.stoppingFlag ? s.stop() : s.drain())));
      this.draining = [];
      for (const s of fresh) s.release();
      this.resharding = undefined;
      this.queueChanged();
    })();
    return this.resharding;
  }

  /**
   * Sends what is queued, then resolves. A request that fails recoverably during stop is not retried
   * again: its samples and the rest of its shard are dropped (reason="shutdown"). Idempotent.
   */
  /** Ends every wait for room; points that fit are still taken until stop(). */
  beginShutdown(): void {
    this.admission.stop();
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stoppingFlag = true;
      this.admission.stop();
      if (this.metadataTimer !== undefined) clearInterval(this.metadataTimer);
      // The metadata run is not flushed: every request of samples carries its own families' metadata.
      this.metadataSleeps.stop();
      this.metadataAbort.abort();
      if (this.shardTimer !== undefined) clearInterval(this.shardTimer);
      await Promise.all(this.draining.map((s) => s.stop()));
      await this.resharding;
      await Promise.all(this.shards.map((s) => s.stop()));
      await this.metadataLoop;
      this.metrics.queueSamples(0);
      this.logShutdownLoss();
    })();
    return this.stopped;
  }

  /** What shutdown could not send, all shards and requests together: one line with the total. */
  private logShutdownLoss(): void {
    const lost = this.metrics.shutdownDropped;
    if (lost === 0 || this.lossLogged) return;
    this.lossLogged = true;
    this.logger.warn({ samples: lost }, 'remote write: samples queued at shutdown could not be sent; counted as dropped{reason="shutdown"}');
  }

  /**
   * shutdown_timeout cut stop() short: everything still queued or in flight is counted lost (reason
   * shutdown) and logged with its total, while the telemetry listener still serves it, and the counts
   * are frozen so a request that ends afterwards does not count its samples twice. Returns the samples.
   */
  abandon(): number {
    let left = 0;
    for (const s of [...this.draining, ...this.shards]) left += s.inFlight + s.discard();
    this.metrics.samplesDropped('shutdown', left);
    this.metrics.freeze();
    this.metrics.queueSamples(0);
    this.logShutdownLoss();
    return this.metrics.shutdownDropped;
  }

  /** The metadata-only request(s), as Prometheus sends every metadata_config.send_interval. */
  private async sendMetadata(): Promise<void> {
    if (this.stoppingFlag) return;
    this.metadataEncoder ??= new WriteRequestEncoder();
    const all = [...this.families.values()];
    const per = this.options.metadata.maxPerSend;
    const backoff = new Backoff(this.options.minBackoffMs, this.options.maxBackoffMs, this.env.random);
    for (let i = 0; i < all.length; i += per) {
      const chunk = all.slice(i, i + per);
      const body = snappyCompress(this.metadataEncoder.encode([], chunk));
      // Not resent once stop() has begun (the request already aborted by metadataAbort is not counted).
      let outcome;
      try {
        outcome = await sendWithRetry<Extract<SendResult, { ok: true }> | { ok: true; stopped: true }>(
          async () => (this.stoppingFlag ? { ok: true, stopped: true } : this.sender.send(body, this.metadataAbort.signal)),
          { backoff, maxBackoffMs: this.options.maxBackoffMs },
          { stopping: () => this.stoppingFlag, sleep: (ms) => this.metadataSleeps.sleep(ms), retrying: () => this.metrics.request('retry') },
        );
      } catch (err) {
        this.logger.debug({ err: errorMessage(err) }, 'metadata send threw');
        return;
      }
      if (outcome.kind !== 'sent') {
        this.metrics.request('failed');
        return;
      }
      if ('stopped' in outcome.result) return;
      this.metrics.request('success');
      this.metrics.metadataSent(chunk.length);
    }
  }
}

