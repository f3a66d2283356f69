/**
 * The sender chain every exporter sends through, as the OTel Collector's exporterhelper chains its
 * senders: queue (the exporter's own buffer) -> retry (here) -> timeout (the client's per-request
 * deadline, so one hung answer costs one attempt) -> send (the exporter's client, which posts bytes
 * and classifies the answer into a SendError, recoverable or final). This is the only retry loop:
 * the remote-write shards, its isolation of rejected samples, its metadata loop and the otlphttp
 * exporter all call sendWithRetry.
 *
 * What a failure means is decided once, here:
 *   - final (`retryable: false`): returned at once, never resent;
 *   - recoverable: the pause is the backoff's next delay, or a longer Retry-After (retryDelayMs,
 *     bounded); shutdown (`stopping()`) ends the wait and the request ('stopped'); the caller may
 *     refuse a retry past its own budget (otlphttp's max_elapsed_time: 'exhausted').
 */
import { errorMessage } from '../errors.js';
import { retryDelayMs } from '../httpclient.js';
import { SendError } from './errors.js';

/** A backoff strategy: the delay before the next retry, and back to the first delay on success. */
export interface Backoff {
  next(): number;
  reset(): void;
}

/**
 * Exponential backoff with full jitter: attempt k waits a uniform time in [min, min * 2^k], the upper
 * end capped at max. Jitter spreads the retries of many senders after a shared outage (Prometheus's
 * min_backoff / max_backoff).
 */
export class ExponentialBackoff implements Backoff {
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

/**
 * The OTel Collector's retry_on_failure: an interval starting at `initialMs` that doubles up to
 * `maxMs`, each delay jittered to [interval/2, interval*1.5) and capped at `maxMs`.
 */
export class IntervalBackoff implements Backoff {
  private interval: number;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {
    this.interval = initialMs;
  }
  next(): number {
    const delay = Math.min(this.maxMs, this.interval * (0.5 + this.random()));
    this.interval = Math.min(this.maxMs, this.interval * 2);
    return delay;
  }
  reset(): void {
    this.interval = this.initialMs;
  }
}

/** One attempt: the client's success (any `ok: true` shape), or its classified failure. */
export type Attempt<T extends { ok: true }> = T | { ok: false; error: SendError };

export type RetryOutcome<T extends { ok: true }> =
  /** The attempt succeeded (its value may still say the request ended otherwise, e.g. all samples too old). */
  | { kind: 'sent'; result: T }
  /** A final failure (or a recoverable one with retries off): not resent. */
  | { kind: 'final'; error: SendError }
  /** A recoverable failure once shutdown had begun: given up without waiting. */
  | { kind: 'stopped'; error: SendError }
  /** A recoverable failure the caller's budget refused to retry (`retrying` returned false). */
  | { kind: 'exhausted'; error: SendError; delayMs: number };

export interface RetryPolicy {
  backoff: Backoff;
  /** The exporter's longest backoff: with RETRY_AFTER_CAP_MS, it bounds how long a Retry-After is obeyed. */
  maxBackoffMs: number;
  /** false: a recoverable failure is final too (otlphttp's retry_on_failure.enabled: false). */
  enabled?: boolean;
}

export interface RetryHooks {
  /** True once shutdown has begun: a recoverable failure then ends the request instead of waiting. */
  stopping(): boolean;
  /** A backoff pause that shutdown cuts short. */
  sleep(ms: number): Promise<void>;
  /** Every recoverable failure, before the stop check (the caller counts it). */
  recoverable?(error: SendError): void;
  /** About to wait `delayMs` and send again: the caller counts and logs; false refuses the retry. */
  retrying?(error: SendError, delayMs: number): boolean | void;
}

/** An exception from a send (a bug or an unforeseen error) as a recoverable failure. */
export function asSendError(err: unknown, make: (reason: string, message: string, options: { retryable: boolean; cause: unknown }) => SendError): SendError {
  if (err instanceof SendError) return err;
  return make('other', errorMessage(err), { retryable: true, cause: err });
}

/**
 * Sends with `attempt` until it succeeds, fails for good, shutdown begins or the caller's budget ends.
 * The backoff is the caller's to reset (a request, a piece of one, a run of metadata requests). Never
 * throws unless `attempt` or a hook does.
 */
export async function sendWithRetry<T extends { ok: true }>(attempt: () => Promise<Attempt<T>>, policy: RetryPolicy, hooks: RetryHooks): Promise<RetryOutcome<T>> {
  for (;;) {
    const result = await attempt();
    if (result.ok) return { kind: 'sent', result };
    const error = result.error;
    if (!error.retryable || policy.enabled === false) return { kind: 'final', error };
    hooks.recoverable?.(error);
    if (hooks.stopping()) return { kind: 'stopped', error };
    const delayMs = retryDelayMs(error.retryAfterMs, policy.backoff.next(), policy.maxBackoffMs);
    if (hooks.retrying?.(error, delayMs) === false) return { kind: 'exhausted', error, delayMs };
    await hooks.sleep(delayMs);
  }
}
