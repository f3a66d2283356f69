/**
 * The one error family of every exporter's send path: what a failed send came to, classified once by
 * the exporter's client (recoverable or final) and read by the sender chain (core/send/retry.ts) and
 * the drop counters. An exporter names its code prefix (ERR_REMOTE_WRITE, ERR_OTLP) so codes stay
 * stable per exporter: `${prefix}_${reason}` upper-cased, e.g. ERR_REMOTE_WRITE_HTTP_503.
 */
import { PprofcolError } from '../errors.js';

export interface SendErrorOptions {
  /** Whether the same request may be sent again (network, timeout, 5xx, 429 when allowed). */
  retryable: boolean;
  cause?: unknown;
  status?: number;
  /** From Retry-After on a 429 or 5xx, in milliseconds. */
  retryAfterMs?: number;
  /** The first bytes of the answer (the exporter's ERROR_BODY_LIMIT), for the log. */
  body?: string;
}

/** A failed send. `retryable` says whether the same request may be sent again. */
export class SendError extends PprofcolError {
  /** For drop counters: `timeout`, `connect`, `http_500`, `http_400`, ... */
  readonly reason: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly body: string;
  constructor(reason: string, message: string, options: SendErrorOptions, codePrefix = 'ERR_SEND') {
    super(`${codePrefix}_${reason.toUpperCase()}`, message, { cause: options.cause, retryable: options.retryable });
    this.name = 'SendError';
    this.reason = reason;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.body = options.body ?? '';
  }
}
