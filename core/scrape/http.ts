/**
 * The HTTP side of scraping: one keep-alive pool (origin-pool.ts, our own HTTP/1.1 connections) per
 * scrape config, a deadline per request, and `body_size_limit` enforced while reading (no trust in Content-Length) and again on
 * what a gzip body inflates to, so a hostile target costs at most `limit` bytes of memory.
 */
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { HttpClientConfig } from '../config/types.js';
import { errorMessage, PprofcolError } from '../errors.js';
import { authorizationHeader, loadTlsOptions } from '../httpclient.js';
import type { FailureReason } from '../model/targets.js';
import { USER_AGENT } from '../version.js';
import type { ResponseHandler } from './h1-connection.js';
import { OriginPools } from './origin-pool.js';

const gunzipAsync = promisify(gunzip);

/** How many bytes of an error body go into a failure message. */
const ERROR_BODY_EXCERPT = 200;

export class ScrapeError extends PprofcolError {
  readonly reason: FailureReason;
  readonly status: number | undefined;
  constructor(reason: FailureReason, message: string, options?: { cause?: unknown; status?: number }) {
    super(`ERR_SCRAPE_${reason.toUpperCase()}`, message, { cause: options?.cause, retryable: true });
    this.name = 'ScrapeError';
    this.reason = reason;
    this.status = options?.status;
  }
}

export interface FetchOptions {
  timeoutMs: number;
  /** Largest body accepted, before and after inflating; 0 = unlimited. */
  limitBytes: number;
  accept?: string;
  /** Aborts the request early (receiver shutdown). */
  signal?: AbortSignal;
}

export class HttpScraper {
  /** Resolves once TLS files are read; every request waits on it. */
  private readonly agent: Promise<OriginPools>;
  /** The agent once `agent` resolved: a scrape then waits on no promise for it. */
  private ready: OriginPools | undefined;

  constructor(
    private readonly client: HttpClientConfig,
    private readonly configDir: string,
  ) {
    this.agent = this.createAgent();
    // A bad TLS file surfaces on the first request as a tls failure; keep it from being unhandled.
    this.agent.catch(() => undefined);
  }

  private async createAgent(): Promise<OriginPools> {
    const tls = await loadTlsOptions(this.client.tls_config, this.configDir);
    return new OriginPools({
      keepAliveTimeout: 60_000,
      // Bounded per origin so a burst of profile requests to one target queues instead of opening many sockets.
      connections: 4,
      tls,
    });
  }

  /** GETs `url` and returns the (inflated) body; every failure is a ScrapeError with its reason. */
  async get(url: string, options: FetchOptions): Promise<Buffer> {
    return (await this.fetch(url, options)).body;
  }

  /** As `get`, with the response's Content-Type (receivers that read several formats need it). */
  async fetch(url: string, options: FetchOptions): Promise<{ body: Buffer; contentType: string | undefined }> {
    let agent = this.ready;
    if (agent === undefined) {
      try {
        agent = this.ready = await this.agent;
      } catch (err) {
        throw new ScrapeError('tls', `tls_config: cannot read a file: ${errorMessage(err)}`, { cause: err });
      }
    }
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'gzip', accept: options.accept ?? '*/*' };
    let origin: string;
    let path: string;
    try {
      // Secrets re-read from their files on every request: they rotate.
      if (this.client.basic_auth !== undefined || this.client.authorization !== undefined) {
        const auth = await authorizationHeader(this.client, this.configDir);
        if (auth !== undefined) headers.authorization = auth;
      }
      ({ origin, path } = splitUrl(url));
    } catch (err) {
      throw classify(err, false, options.timeoutMs, url);
    }
    let raw: Response;
    try {
      raw = await new Promise<Response>((resolve, reject) => {
        agent.dispatch({ origin, path, headers }, new GetHandler(options, resolve, reject));
      });
    } catch (err) {
      if (err instanceof ScrapeError) throw err;
      throw classify(err, err instanceof DeadlineError, options.timeoutMs, url);
    }
    if (raw.status !== 200) {
      const excerpt = raw.body.toString('utf8').trim();
      throw new ScrapeError('http_status', `${url} answered HTTP ${raw.status}${excerpt ? `: ${excerpt}` : ''}`, { status: raw.status });
    }
    if (raw.body === TOO_LARGE) {
      if (raw.declared >= 0) throw new ScrapeError('too_large', `${url} declares ${raw.declared} bytes, over body_size_limit ${options.limitBytes}`);
      throw new ScrapeError('too_large', `${url} sent more than body_size_limit (${options.limitBytes} bytes)`);
    }
    if (raw.gzip) {
      const limit = options.limitBytes;
      try {
        return { body: await gunzipAsync(raw.body, limit > 0 ? { maxOutputLength: limit } : {}), contentType: raw.contentType };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new ScrapeError('too_large', `${url}: gzip body inflates past body_size_limit (${limit} bytes)`, { cause: err });
        }
        throw new ScrapeError('decode', `${url}: bad gzip body: ${errorMessage(err)}`, { cause: err });
      }
    }
    return { body: raw.body, contentType: raw.contentType };
  }

  async close(): Promise<void> {
    const agent = await this.agent.catch(() => undefined);
    await agent?.close();
  }
}

const TOO_LARGE = Buffer.alloc(0);

/** What GetHandler hands back: the body read (or TOO_LARGE), before any inflating. */
interface Response {
  status: number;
  body: Buffer;
  /** Content-Length as declared; -1 when absent. */
  declared: number;
  gzip: boolean;
  contentType: string | undefined;
}

/** The scrape deadline passed (told apart from other aborts for classify). */
class DeadlineError extends Error {
  readonly code = 'ERR_SCRAPE_DEADLINE';
}

/**
 * One GET's answer, heard as callbacks (ResponseHandler): no Readable stream, async iterator or
 * AbortSignal per request (measured in bench/many-targets.ts: those were most of a small request's CPU). The deadline is one timer; the caller's signal one listener.
 * A body of a declared length (already checked against body_size_limit) goes into one buffer of that
 * size as its chunks arrive: joining them at the end would copy a 60 MiB body in one go, a stall of
 * tens of ms that delays every other target's timers. One without a length is kept as chunks, at most
 * `limitBytes`; past it the request is aborted. An error page keeps its first ERROR_BODY_EXCERPT bytes.
 */
class GetHandler implements ResponseHandler {
  private abortRequest: ((err: Error) => void) | undefined;
  private done = false;
  private readonly timer: NodeJS.Timeout;
  private status = 0;
  private declared = -1;
  private gzip = false;
  private contentType: string | undefined;
  private out: Buffer | undefined;
  private chunks: Buffer[] | undefined;
  private size = 0;
  private readonly onSignal: (() => void) | undefined;

  constructor(
    private readonly options: FetchOptions,
    private readonly resolve: (r: Response) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.timer = setTimeout(() => this.fail(new DeadlineError(`no complete answer within ${options.timeoutMs}ms`)), options.timeoutMs);
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.onSignal = undefined;
        queueMicrotask(() => this.fail(abortError()));
      } else {
        this.onSignal = () => this.fail(abortError());
        signal.addEventListener('abort', this.onSignal, { once: true });
      }
    }
  }

  /** Ends the request with `err`: rejects now, and aborts the connection's side when it has one. */
  private fail(err: Error): void {
    if (this.done) return;
    this.finish();
    this.abortRequest?.(err);
    this.reject(err);
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.timer);
    if (this.onSignal !== undefined) this.options.signal?.removeEventListener('abort', this.onSignal);
  }

  onConnect(abort: (err?: Error) => void): void {
    // Failed before the request was on a connection (deadline while it waited): it is never written.
    if (this.done) abort(new DeadlineError('request ended before it was sent'));
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number, headers: string[]): boolean {
    if (this.done) return false;
    this.status = statusCode;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i];
      if (name === 'content-length') this.declared = Number(headers[i + 1]);
      else if (name === 'content-encoding') this.gzip = headers[i + 1].toLowerCase() === 'gzip';
      else if (name === 'content-type') this.contentType ??= headers[i + 1];
    }
    if (!Number.isSafeInteger(this.declared) || this.declared < 0) this.declared = -1;
    const limit = this.options.limitBytes;
    if (statusCode !== 200) {
      this.chunks = [];
    } else if (limit > 0 && this.declared > limit) {
      this.complete(TOO_LARGE);
      return false;
    } else if (this.declared > 0) {
      this.out = Buffer.allocUnsafe(this.declared);
    } else {
      this.chunks = [];
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    const out = this.out;
    if (out !== undefined) {
      if (this.size + chunk.length > out.length) {
        this.fail(new ScrapeError('decode', `body runs past its Content-Length (${out.length} bytes)`));
        return false;
      }
      chunk.copy(out, this.size);
      this.size += chunk.length;
      return true;
    }
    // Copied: the chunk is valid only during the call (a shared read buffer).
    this.chunks!.push(Buffer.from(chunk));
    this.size += chunk.length;
    if (this.status !== 200) {
      if (this.size >= ERROR_BODY_EXCERPT) this.complete(Buffer.concat(this.chunks!).subarray(0, ERROR_BODY_EXCERPT));
    } else if (this.options.limitBytes > 0 && this.size > this.options.limitBytes) {
      this.declared = -1;
      this.complete(TOO_LARGE);
    }
    return !this.done;
  }

  onComplete(): void {
    if (this.done) return;
    const out = this.out;
    this.abortRequest = undefined; // the connection is done with it: nothing to abort
    if (out !== undefined) this.complete(this.size === out.length ? out : out.subarray(0, this.size));
    else {
      const chunks = this.chunks ?? [];
      this.complete(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.size));
    }
  }

  onError(err: Error): void {
    if (this.done) return;
    this.finish();
    this.reject(err);
  }

  /** Resolves with `body`; a request still running (called from onHeaders or onData: the rest not wanted) is aborted. */
  private complete(body: Buffer): void {
    const running = this.abortRequest;
    this.finish();
    this.resolve({ status: this.status, body, declared: this.declared, gzip: this.gzip, contentType: this.contentType });
    // Closes its connection: the rest of the body is not read.
    if (running !== undefined) running(new DeadlineError('body not read further'));
  }
}

function abortError(): Error {
  const err = new Error('aborted');
  err.name = 'AbortError';
  return err;
}

/** `http://host:port/path?q` -> origin and path, without a URL object per request. */
function splitUrl(url: string): { origin: string; path: string } {
  const scheme = url.indexOf('://');
  if (scheme === -1) throw new TypeError(`invalid URL ${url}`);
  const slash = url.indexOf('/', scheme + 3);
  if (slash === -1) return { origin: url, path: '/' };
  return { origin: url.slice(0, slash), path: url.slice(slash) };
}

function classify(err: unknown, timedOut: boolean, timeoutMs: number, url: string): ScrapeError {
  const code = (err as { code?: string }).code ?? '';
  const causeCode = ((err as { cause?: { code?: string } }).cause?.code) ?? '';
  const message = errorMessage(err);
  if (timedOut) {
    return new ScrapeError('timeout', `${url}: no complete answer within scrape_timeout (${timeoutMs}ms)`, { cause: err });
  }
  const any = `${code} ${causeCode}`;
  // UNABLE_TO_VERIFY_LEAF_SIGNATURE: a Go server (Prometheus) sends its leaf alone, signed by a CA not trusted.
  if (/ERR_TLS|CERT|SSL|DEPTH_ZERO|UNABLE_TO_VERIFY/.test(any)) return new ScrapeError('tls', `${url}: TLS: ${message}`, { cause: err });
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EAI_AGAIN|EPIPE|ETIMEDOUT|ERR_SCRAPE_CONNECTION_CLOSED/.test(any)) {
    return new ScrapeError('connect', `${url}: cannot connect: ${causeCode || code || message}`, { cause: err });
  }
  if ((err as { name?: string }).name === 'AbortError') return new ScrapeError('other', `${url}: aborted`, { cause: err });
  return new ScrapeError('other', `${url}: ${message}`, { cause: err });
}
