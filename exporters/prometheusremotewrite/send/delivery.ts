/**
 * Delivery of one cut request: send through the sender chain (core/send/retry.ts: back off and send
 * again on a recoverable failure) until the receiver takes it, rejects it for good, its samples grow
 * too old, or shutdown gives up. Shared by every buffer type (a memory shard, a disk shard, a Redis
 * job's processor), so all of them classify and count the same way. The client only classifies
 * answers; the chain decides when to resend; what an outcome means for the samples is decided here.
 *
 * sample_age_limit: the request is cut again before a retry only when its oldest sample has crossed
 * the limit since the last cut (tracked, not re-read), so a retry of a fresh request parses nothing.
 *
 * isolate_rejected: a 400 on a request of several samples splits it in halves, sent left then right
 * (so each series stays in timestamp order), and each half that is rejected again is split again,
 * down to single samples. Bounded: at most `isolationDepth` levels (log2(max_samples_per_send) + 1,
 * enough to reach one sample) and at most ISOLATION_REQUESTS_PER_LEVEL * depth extra requests per
 * request (192 at the default 2000 samples: enough to isolate about eight bad samples). A piece left
 * when a bound is hit is dropped whole with reason "http_400".
 */
import type { Logger } from '../../../core/logger.js';
import { snappyCompress, snappyUncompress } from '../../../core/remotewrite/index.js';
import { RejectionLog } from '../../../core/send/rejections.js';
import { asSendError, ExponentialBackoff, sendWithRetry, type RetryHooks } from '../../../core/send/retry.js';
import { RemoteWriteError, type SendResult } from './client.js';
import type { ExporterMetrics } from '../metrics.js';
import { buildRequest, countSamples, dropOlderThan, parseRequest, splitRequest, type WireRequest } from './wire.js';

/** Extra requests isolation may spend per level of depth (see the file comment). */
export const ISOLATION_REQUESTS_PER_LEVEL = 16;

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

/** The remote-write backoff (queue_config.min_backoff, max_backoff): the chain's full-jitter exponential one. */
export { ExponentialBackoff as Backoff } from '../../../core/send/retry.js';

export function asRemoteWriteError(err: unknown): RemoteWriteError {
  return asSendError(err, (reason, message, options) => new RemoteWriteError(reason, message, options)) as RemoteWriteError;
}

/** A send that succeeded, or the sentinel for a request whose samples all grew too old before it left. */
type Sent = Extract<SendResult, { ok: true }> | { ok: true; tooOld: true };

/**
 * Final statuses already logged at error, shared by every Delivery of one exporter (its shards, a
 * reshard's new shards, the disk and Redis senders).
 */
export { RejectionLog } from '../../../core/send/rejections.js';

interface Piece {
  request: WireRequest;
  samples: number;
  depth: number;
}

export class Delivery {
  private readonly backoff: ExponentialBackoff;
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
    this.backoff = new ExponentialBackoff(options.minBackoffMs, options.maxBackoffMs, env.random);
    this.isolationDepth = Math.ceil(Math.log2(Math.max(2, options.maxSamplesPerSend))) + 1;
  }

  /** Sends one request to its end. Never throws. */
  async deliver(req: OutgoingRequest, control: DeliveryControl): Promise<Outcome> {
    let body = req.body;
    let samples = req.samples;
    let oldestMs = req.oldestMs;
    const limit = this.options.sampleAgeLimitMs;
    this.backoff.reset();
    const outcome = await sendWithRetry<Sent>(
      async () => {
        if (limit > 0 && oldestMs < this.env.now() - limit) {
          const cut = this.withoutOld(body, this.env.now() - limit);
          if (cut !== undefined && cut.dropped > 0) {
            this.metrics.samplesDropped('too_old', cut.dropped);
            if (cut.samples === 0) return { ok: true, tooOld: true };
            body = cut.body;
            samples = cut.samples;
          }
          // Cut or not, every sample left is at least this new: the next retry reads the request again only past it.
          oldestMs = cut?.oldestMs ?? this.env.now() - limit;
        }
        return this.send(body);
      },
      { backoff: this.backoff, maxBackoffMs: this.options.maxBackoffMs },
      this.retryHooks(control, () => samples),
    );
    switch (outcome.kind) {
      case 'sent': {
        if ('tooOld' in outcome.result) return 'dropped';
        this.recovered();
        this.metrics.request('success');
        this.accepted(outcome.result.samplesWritten, samples);
        this.metrics.metadataSent(req.metadata);
        return 'sent';
      }
      case 'stopped': {
        if (control.keepsOnGiveUp === true) return 'gave_up';
        this.metrics.samplesDropped('shutdown', samples);
        // The queue logs the total it could not send at the end of its stop; this is one request of it.
        this.logger.debug({ err: outcome.error.message, samples }, 'remote write failed during shutdown; giving up on this request');
        return 'gave_up';
      }
      case 'exhausted': // no budget is set here; counted as final
      case 'final': {
        const e = outcome.error as RemoteWriteError;
        this.metrics.request('failed');
        if (e.status === 400 && this.options.isolateRejected && samples > 1) {
          return this.isolate(body, samples, control);
        }
        this.metrics.samplesDropped(e.reason, samples);
        this.logRejected(e, samples);
        return 'dropped';
      }
    }
  }

  /** The chain's hooks for one request (or piece) of `samples()` samples: counted and logged the same for both. */
  private retryHooks(control: DeliveryControl, samples: () => number): RetryHooks {
    return {
      stopping: () => control.stopping(),
      sleep: (ms) => control.sleep(ms),
      recoverable: () => this.metrics.request('retry'),
      retrying: (e, delayMs) => {
        this.metrics.samplesRetried(samples());
        this.retrying(e as RemoteWriteError, samples(), delayMs);
      },
    };
  }

  private async send(body: Buffer): Promise<SendResult> {
    try {
      return await this.sender.send(body);
    } catch (err) {
      return { ok: false, error: asRemoteWriteError(err) };
    }
  }

  private withoutOld(body: Buffer, minTs: number): { body: Buffer; samples: number; dropped: number; oldestMs: number } | undefined {
    try {
      const { request, dropped, oldestMs } = dropOlderThan(parseRequest(snappyUncompress(body)), minTs);
      if (dropped === 0) return { body, samples: countSamples(request), dropped: 0, oldestMs };
      return { body: snappyCompress(buildRequest(request)), samples: countSamples(request), dropped, oldestMs };
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
      this.backoff.reset();
      const outcome = await sendWithRetry(() => this.send(pieceBody), { backoff: this.backoff, maxBackoffMs: this.options.maxBackoffMs }, this.retryHooks(control, () => piece.samples));
      if (outcome.kind === 'stopped') {
        // Durable: the whole request stays and is resent next run (what went already arrives twice).
        if (control.keepsOnGiveUp === true) return 'gave_up';
        let left = piece.samples;
        for (const p of stack) left += p.samples;
        this.metrics.samplesDropped('shutdown', left);
        return sent > 0 ? 'partly_sent' : 'gave_up';
      }
      if (outcome.kind === 'sent') {
        this.recovered();
        this.metrics.request('success');
        this.accepted(outcome.result.samplesWritten, piece.samples);
        sent += piece.samples;
        continue;
      }
      this.metrics.request('failed');
      const e = outcome.error as RemoteWriteError;
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
    this.rejections.log(this.logger, e, samples, {
      first: 'remote write rejected a request; its samples are dropped, not retried (logged once per status)',
      again: 'remote write rejected a request; its samples are dropped',
    });
  }

}
