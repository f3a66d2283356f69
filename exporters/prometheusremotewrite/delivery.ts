/**
 * Delivery of one cut request: send, and on a recoverable failure back off and send again, until the
 * receiver takes it, rejects it for good, its samples grow too old, or shutdown gives up. Shared by
 * every buffer type (a memory shard, a disk shard, a Redis job's processor), so all of them classify
 * and count the same way. The client only classifies answers; what to do with them is decided here.
 *
 * isolate_rejected: a 400 on a request of several samples splits it in halves, sent left then right
 * (so each series stays in timestamp order), and each half that is rejected again is split again,
 * down to single samples. Bounded: at most `isolationDepth` levels (log2(max_samples_per_send) + 1,
 * enough to reach one sample) and at most ISOLATION_REQUESTS_PER_LEVEL * depth extra requests per
 * request (192 at the default 2000 samples: enough to isolate about eight bad samples). A piece left
 * when a bound is hit is dropped whole with reason "http_400".
 */
import type { Logger } from '../../core/logger.js';
import { retryDelayMs } from '../../core/httpclient.js';
import { snappyCompress, snappyUncompress } from '../../core/remotewrite/index.js';
import { RemoteWriteError, type SendResult } from './client.js';
import type { ExporterMetrics } from './metrics.js';
import { buildRequest, countSamples, dropOlderThan, parseRequest, splitRequest, type WireRequest } from './wire.js';

/** Extra requests isolation may spend per level of depth (see the file comment). */
export const ISOLATION_REQUESTS_PER_LEVEL = 16;

/** The pause before a retry: the backoff's next delay, or a longer Retry-After (bounded; see retryDelayMs). */
export function retryDelay(retryAfterMs: number | undefined, backoff: Backoff, maxBackoffMs: number): number {
  return retryDelayMs(retryAfterMs, backoff.next(), maxBackoffMs);
}

/** A request as cut by a shard: compressed bytes plus what the queue needs without decoding them. */
export interface OutgoingRequest {
  /** Snappy-compressed remote-write 1.0 WriteRequest. */
  body: Buffer;
  samples: number;
  /** Metadata entries it carries (counted as sent with it). */
  metadata: number;
  /** Oldest and newest sample timestamp (ms): sample_age_limit and the resharding delay use them. */
  oldestMs: number;
  newestMs: number;
}

/** What the queue sends through: the client, or a stand-in in tests. */
export interface Sender {
  /** `signal` aborts the request (shutdown); the result is then a recoverable failure. */
  send(body: Buffer, signal?: AbortSignal): Promise<SendResult>;
}

/** Clock and randomness, injectable so tests can pin them. */
export interface QueueEnv {
  now(): number;
  random(): number;
}
export const REAL_ENV: QueueEnv = { now: Date.now, random: Math.random };

export interface DeliveryOptions {
  minBackoffMs: number;
  maxBackoffMs: number;
  /** 0 = off. */
  sampleAgeLimitMs: number;
  isolateRejected: boolean;
  maxSamplesPerSend: number;
}

/** How the caller lets delivery wait and tells it to give up. */
export interface DeliveryControl {
  /** True once shutdown has begun: a recoverable failure then gives up instead of waiting. */
  stopping(): boolean;
  /** A backoff pause that shutdown cuts short. */
  sleep(ms: number): Promise<void>;
  /**
   * True for durable buffers: giving up at shutdown keeps the request for the next run, so nothing is
   * counted dropped (the caller does not acknowledge it).
   */
  readonly keepsOnGiveUp?: boolean;
}

export type Outcome = 'sent' | 'partly_sent' | 'dropped' | 'gave_up';

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

export function asRemoteWriteError(err: unknown): RemoteWriteError {
  if (err instanceof RemoteWriteError) return err;
  return new RemoteWriteError('other', err instanceof Error ? err.message : String(err), { retryable: true, cause: err });
}

/**
 * Final statuses already logged at error, shared by every Delivery of one exporter (its shards, a
 * reshard's new shards, the disk and Redis senders): a receiver that answers 404 to everything is one
 * error line per exporter, not one per shard, nor one more per reshard.
 */
export class RejectionLog {
  private readonly statuses = new Set<number>();
  /** True the first time `status` is seen. */
  first(status: number): boolean {
    if (this.statuses.has(status)) return false;
    this.statuses.add(status);
    return true;
  }
}

interface Piece {
  request: WireRequest;
  samples: number;
  depth: number;
}

export class Delivery {
  private readonly backoff: Backoff;
  readonly isolationDepth: number;
  /** Reason of the failures the current retry streak is made of; undefined while sends succeed. */
  private failing: string | undefined;
  private failedAttempts = 0;

  constructor(
    private readonly sender: Sender,
    private readonly options: DeliveryOptions,
    private readonly metrics: ExporterMetrics,
    private readonly logger: Logger,
    private readonly env: QueueEnv = REAL_ENV,
    private readonly rejections: RejectionLog = new RejectionLog(),
  ) {
    this.backoff = new Backoff(options.minBackoffMs, options.maxBackoffMs, env.random);
    this.isolationDepth = Math.ceil(Math.log2(Math.max(2, options.maxSamplesPerSend))) + 1;
  }

  /** Sends one request to its end. Never throws. */
  async deliver(req: OutgoingRequest, control: DeliveryControl): Promise<Outcome> {
    let body = req.body;
    let samples = req.samples;
    const limit = this.options.sampleAgeLimitMs;
    this.backoff.reset();
    for (;;) {
      if (limit > 0 && req.oldestMs < this.env.now() - limit) {
        const cut = this.withoutOld(body, this.env.now() - limit);
        if (cut !== undefined) {
          this.metrics.samplesDropped('too_old', cut.dropped);
          if (cut.samples === 0) return 'dropped';
          body = cut.body;
          samples = cut.samples;
        }
      }
      const result = await this.send(body);
      if (result.ok) {
        this.recovered();
        this.metrics.request('success');
        this.accepted(result.samplesWritten, samples);
        this.metrics.metadataSent(req.metadata);
        return 'sent';
      }
      const e = result.error;
      if (e.retryable) {
        this.metrics.request('retry');
        if (control.stopping()) {
          if (control.keepsOnGiveUp === true) return 'gave_up';
          this.metrics.samplesDropped('shutdown', samples);
          // The queue logs the total it could not send at the end of its stop; this is one request of it.
          this.logger.debug({ err: e.message, samples }, 'remote write failed during shutdown; giving up on this request');
          return 'gave_up';
        }
        const delay = retryDelay(e.retryAfterMs, this.backoff, this.options.maxBackoffMs);
        this.metrics.samplesRetried(samples);
        this.retrying(e, samples, delay);
        await control.sleep(delay);
        continue;
      }
      this.metrics.request('failed');
      if (e.status === 400 && this.options.isolateRejected && samples > 1) {
        return this.isolate(body, samples, control);
      }
      this.metrics.samplesDropped(e.reason, samples);
      this.logRejected(e, samples);
      return 'dropped';
    }
  }

  private async send(body: Buffer): Promise<SendResult> {
    try {
      return await this.sender.send(body);
    } catch (err) {
      return { ok: false, error: asRemoteWriteError(err) };
    }
  }

  private withoutOld(body: Buffer, minTs: number): { body: Buffer; samples: number; dropped: number } | undefined {
    try {
      const { request, dropped } = dropOlderThan(parseRequest(snappyUncompress(body)), minTs);
      if (dropped === 0) return undefined;
      return { body: snappyCompress(buildRequest(request)), samples: countSamples(request), dropped };
    } catch (err) {
      this.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'cannot read a queued request to apply sample_age_limit; sending it as it is');
      return undefined;
    }
  }

  /**
   * Splits a request the receiver answered 400 until the rejected samples are alone; sends the rest.
   * Depth first, left before right: the samples of a series leave in timestamp order.
   */
  private async isolate(body: Buffer, samples: number, control: DeliveryControl): Promise<Outcome> {
    let parsed: WireRequest;
    try {
      parsed = parseRequest(snappyUncompress(body));
    } catch (err) {
      this.metrics.samplesDropped('http_400', samples);
      this.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'cannot split a rejected request; its samples are dropped');
      return 'dropped';
    }
    let budget = ISOLATION_REQUESTS_PER_LEVEL * this.isolationDepth;
    let sent = 0;
    let rejected = 0;
    const stack: Piece[] = [];
    const pushHalves = (p: WireRequest, depth: number): void => {
      const halves = splitRequest(p);
      if (halves === undefined) return;
      // Right half below left, so the left one is sent first.
      stack.push({ request: halves[1], samples: countSamples(halves[1]), depth });
      stack.push({ request: halves[0], samples: countSamples(halves[0]), depth });
    };
    pushHalves(parsed, 1);
    while (stack.length > 0) {
      const piece = stack.pop() as Piece;
      if (piece.samples === 0) continue;
      if (budget <= 0) {
        this.metrics.samplesDropped('http_400', piece.samples);
        continue;
      }
      budget--;
      const pieceBody = snappyCompress(buildRequest(piece.request));
      let result: SendResult;
      this.backoff.reset();
      for (;;) {
        result = await this.send(pieceBody);
        if (result.ok || !result.error.retryable) break;
        this.metrics.request('retry');
        if (control.stopping()) {
          // Durable: the whole request stays and is resent next run (what went already arrives twice).
          if (control.keepsOnGiveUp === true) return 'gave_up';
          let left = piece.samples;
          for (const p of stack) left += p.samples;
          this.metrics.samplesDropped('shutdown', left);
          return sent > 0 ? 'partly_sent' : 'gave_up';
        }
        this.metrics.samplesRetried(piece.samples);
        const delay = retryDelay(result.error.retryAfterMs, this.backoff, this.options.maxBackoffMs);
        this.retrying(result.error, piece.samples, delay);
        await control.sleep(delay);
      }
      if (result.ok) {
        this.recovered();
        this.metrics.request('success');
        this.accepted(result.samplesWritten, piece.samples);
        sent += piece.samples;
        continue;
      }
      this.metrics.request('failed');
      const e = result.error;
      if (e.status !== 400) {
        this.metrics.samplesDropped(e.reason, piece.samples);
        this.logRejected(e, piece.samples);
        continue;
      }
      if (piece.samples === 1) {
        rejected++;
        this.metrics.samplesDropped('rejected', 1);
        this.logRejected(e, 1);
        continue;
      }
      if (piece.depth >= this.isolationDepth) {
        this.metrics.samplesDropped('http_400', piece.samples);
        continue;
      }
      pushHalves(piece.request, piece.depth + 1);
    }
    this.logger.info({ samples, sent, rejected }, 'isolated the samples a 400 rejected; the others were delivered');
    return sent > 0 ? 'partly_sent' : 'dropped';
  }

  /**
   * A 2xx: its samples counted sent, except those a 2.0 receiver's Written header says it did not
   * write (counted dropped, reason not_written; a 2xx is never resent). A 1.0 answer says nothing: all sent.
   */
  private accepted(written: number | undefined, samples: number): void {
    const n = written === undefined ? samples : Math.min(samples, written);
    this.metrics.samplesSent(n);
    this.metrics.samplesDropped('not_written', samples - n);
  }

  /**
   * A recoverable failure, about to be retried. Logged at warn when the shard starts failing or fails
   * for another reason (503 -> connection refused), at debug otherwise: a receiver down for an hour is
   * one warning per shard, not one per attempt.
   */
  private retrying(e: RemoteWriteError, samples: number, delayMs: number): void {
    this.failedAttempts++;
    this.metrics.failure(`${e.message} (retrying)`);
    const context = { err: e.message, reason: e.reason, samples, retry_in_ms: Math.round(delayMs), failed_attempts: this.failedAttempts };
    if (this.failing === e.reason) {
      this.logger.debug(context, 'remote write failed again; retrying');
      return;
    }
    this.failing = e.reason;
    this.logger.warn(context, 'remote write failed; retrying (further failures for the same reason are logged at debug)');
  }

  /** A send succeeded: ends a retry streak, logged once. */
  private recovered(): void {
    if (this.failing === undefined) return;
    this.logger.info({ reason: this.failing, failed_attempts: this.failedAttempts }, 'remote write recovered');
    this.failing = undefined;
    this.failedAttempts = 0;
  }

  /** A final rejection: logged at error once per distinct status (with the answer's body), then at debug. */
  logRejected(e: RemoteWriteError, samples: number): void {
    this.metrics.failure(`${e.message} (${samples} samples dropped)`);
    const status = e.status ?? 0;
    const context = { reason: e.reason, status: e.status, samples, body: e.body };
    if (!this.rejections.first(status)) {
      this.logger.debug(context, 'remote write rejected a request; its samples are dropped');
      return;
    }
    this.logger.error(context, 'remote write rejected a request; its samples are dropped, not retried (logged once per status)');
  }
}
