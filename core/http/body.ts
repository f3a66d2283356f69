/**
 * Reading a request body under the listener's bounds: at most `limitBytes`, within `timeoutMs` of
 * the headers, seen chunk by chunk as it arrives (`onChunk` may refuse a chunk by throwing), and
 * cut short when the connection is evicted. Memory: at most `limitBytes` held, plus one socket chunk
 * (64 KiB) past it before the refusal.
 */
import type http from 'node:http';
import { PprofcolError } from '../errors.js';

export type BodyFailure = 'timeout' | 'too_large' | 'client_aborted' | 'evicted';

export class BodyError extends PprofcolError {
  constructor(
    readonly failure: BodyFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`ERR_BODY_${failure.toUpperCase()}`, message, options);
    this.name = 'BodyError';
  }
}

export interface ReadBodyOptions {
  /** Largest body taken; past it the read fails with 'too_large'. */
  limitBytes: number;
  /** Time from the call (the end of the headers) to the body's last byte. */
  timeoutMs: number;
  /** Called with each chunk before it is kept; an error it throws ends the read with that error. */
  onChunk?: (chunk: Buffer) => void;
  /** GuardedServer.evictionSignal: the connection was closed to make room. */
  signal?: AbortSignal;
}

export function readRequestBody(req: http.IncomingMessage, options: ReadBodyOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: unknown, body?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      options.signal?.removeEventListener('abort', onEvicted);
      if (err === undefined) resolve(body!);
      else {
        // Stop taking bytes; the caller answers (with Connection: close) and drains or closes.
        req.pause();
        reject(err);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.limitBytes) return finish(new BodyError('too_large', `body is over ${options.limitBytes} bytes`));
      try {
        options.onChunk?.(chunk);
      } catch (err) {
        return finish(err);
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      // A stream that ends quietly short of its Content-Length is a client that went away.
      if (!req.complete) return finish(new BodyError('client_aborted', `body ended after ${size} bytes`));
      finish(undefined, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => finish(new BodyError('client_aborted', `body ended after ${size} bytes: ${err.message}`, { cause: err }));
    const onClose = () => finish(new BodyError('client_aborted', `connection closed after ${size} bytes of body`));
    const onEvicted = () => finish(new BodyError('evicted', 'connection closed to make room for others (max_connections)'));
    const timer = setTimeout(
      () => finish(new BodyError('timeout', `body not complete within ${options.timeoutMs}ms of the headers (${size} bytes arrived; body_timeout)`)),
      options.timeoutMs,
    );
    if (options.signal?.aborted) return onEvicted();
    options.signal?.addEventListener('abort', onEvicted);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
