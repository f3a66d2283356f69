/**
 * The HTTP side of scraping: one keep-alive pool (undici) per scrape config, a deadline per
 * request, and `body_size_limit` enforced while reading (no trust in Content-Length) and again on
 * what a gzip body inflates to, so a hostile target costs at most `limit` bytes of memory.
 */
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { Agent, type Dispatcher } from 'undici';
import type { HttpClientConfig } from '../config/types.js';
import { errorMessage, PprofcolError } from '../errors.js';
import { authorizationHeader, discardBody, loadTlsOptions, TlsErrorTracker } from '../httpclient.js';
import type { FailureReason } from '../model/profiles.js';
import { USER_AGENT } from '../version.js';

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
  private readonly agent: Promise<Agent>;
  /** Names the TLS alert behind undici's "other side closed" (a refused client certificate). */
  private readonly tlsErrors = new TlsErrorTracker();

  constructor(
    private readonly client: HttpClientConfig,
    private readonly configDir: string,
  ) {
    this.agent = this.createAgent();
    // A bad TLS file surfaces on the first request as a tls failure; keep it from being unhandled.
    this.agent.catch(() => undefined);
  }

  private async createAgent(): Promise<Agent> {
    const tls = await loadTlsOptions(this.client.tls_config, this.configDir);
    return new Agent({
      keepAliveTimeout: 60_000,
      // Bounded per origin so a burst of profile requests to one target queues instead of opening many sockets.
      connections: 4,
      connect: this.tlsErrors.connector(tls),
    });
  }

  /** GETs `url` and returns the (inflated) body; every failure is a ScrapeError with its reason. */
  async get(url: string, options: FetchOptions): Promise<Buffer> {
    return (await this.fetch(url, options)).body;
  }

  /** As `get`, with the response's Content-Type (receivers that read several formats need it). */
  async fetch(url: string, options: FetchOptions): Promise<{ body: Buffer; contentType: string | undefined }> {
    let agent: Agent;
    try {
      agent = await this.agent;
    } catch (err) {
      throw new ScrapeError('tls', `tls_config: cannot read a file: ${errorMessage(err)}`, { cause: err });
    }
    const deadline = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal]);
    const headers: Record<string, string> = {
      'user-agent': USER_AGENT,
      'accept-encoding': 'gzip',
      accept: options.accept ?? '*/*',
    };
    let response: Dispatcher.ResponseData;
    try {
      // Secrets re-read from their files on every request: they rotate.
      const auth = await authorizationHeader(this.client, this.configDir);
      if (auth !== undefined) headers.authorization = auth;
      response = await agent.request({
        origin: new URL(url).origin,
        path: url.slice(new URL(url).origin.length) || '/',
        method: 'GET',
        headers,
        signal,
      });
    } catch (err) {
      throw classify((await this.tlsErrors.explain(err)) ?? err, deadline, options.timeoutMs, url);
    }
    try {
      const limit = options.limitBytes;
      if (response.statusCode !== 200) {
        const excerpt = (await readLimited(response.body, ERROR_BODY_EXCERPT, true)).toString('utf8').trim();
        throw new ScrapeError('http_status', `${url} answered HTTP ${response.statusCode}${excerpt ? `: ${excerpt}` : ''}`, {
          status: response.statusCode,
        });
      }
      const declared = Number(response.headers['content-length']);
      if (limit > 0 && Number.isFinite(declared) && declared > limit) {
        discardBody(response.body);
        throw new ScrapeError('too_large', `${url} declares ${declared} bytes, over body_size_limit ${limit}`);
      }
      const raw = Number.isSafeInteger(declared) && declared > 0 ? await readDeclared(response.body, declared) : await readLimited(response.body, limit, false);
      if (raw === TOO_LARGE) throw new ScrapeError('too_large', `${url} sent more than body_size_limit (${limit} bytes)`);
      const encoding = String(response.headers['content-encoding'] ?? '').toLowerCase();
      const type = response.headers['content-type'];
      const contentType = Array.isArray(type) ? type[0] : type;
      if (encoding === 'gzip') {
        try {
          return { body: await gunzipAsync(raw, limit > 0 ? { maxOutputLength: limit } : {}), contentType };
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
            throw new ScrapeError('too_large', `${url}: gzip body inflates past body_size_limit (${limit} bytes)`, { cause: err });
          }
          throw new ScrapeError('decode', `${url}: bad gzip body: ${errorMessage(err)}`, { cause: err });
        }
      }
      return { body: raw, contentType };
    } catch (err) {
      if (err instanceof ScrapeError) throw err;
      throw classify((await this.tlsErrors.explain(err)) ?? err, deadline, options.timeoutMs, url);
    }
  }

  async close(): Promise<void> {
    const agent = await this.agent.catch(() => undefined);
    await agent?.close();
  }
}

const TOO_LARGE = Buffer.alloc(0);

/**
 * Reads a body of a declared length (already checked against body_size_limit) into one buffer of that
 * size as its chunks arrive: the copying is spread over the chunks (64 KiB each), where joining them at
 * the end would copy the whole body in one go, a stall of tens of ms on the main thread for a 60 MiB
 * body, which delays every other target's timers. undici fails a body that runs past its
 * Content-Length; one that ends short is cut to what came.
 */
async function readDeclared(body: Dispatcher.ResponseData['body'], declared: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(declared);
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size + chunk.length > declared) {
      discardBody(body);
      throw new ScrapeError('decode', `body runs past its Content-Length (${declared} bytes)`);
    }
    chunk.copy(out, size);
    size += chunk.length;
  }
  return size === declared ? out : out.subarray(0, size);
}

/** Reads at most `limit` bytes; past it, stops reading and returns TOO_LARGE (or the head, when `truncate`). */
async function readLimited(body: Dispatcher.ResponseData['body'], limit: number, truncate: boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    chunks.push(chunk);
    if (limit > 0 && size > limit) {
      discardBody(body);
      if (truncate) return Buffer.concat(chunks).subarray(0, limit);
      return TOO_LARGE;
    }
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}

function classify(err: unknown, deadline: AbortSignal, timeoutMs: number, url: string): ScrapeError {
  const code = (err as { code?: string }).code ?? '';
  const causeCode = ((err as { cause?: { code?: string } }).cause?.code) ?? '';
  const message = errorMessage(err);
  if (deadline.aborted || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new ScrapeError('timeout', `${url}: no complete answer within scrape_timeout (${timeoutMs}ms)`, { cause: err });
  }
  const any = `${code} ${causeCode}`;
  // UNABLE_TO_VERIFY_LEAF_SIGNATURE: a Go server (Prometheus) sends its leaf alone, signed by a CA not trusted.
  if (/ERR_TLS|CERT|SSL|DEPTH_ZERO|UNABLE_TO_VERIFY/.test(any)) return new ScrapeError('tls', `${url}: TLS: ${message}`, { cause: err });
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EAI_AGAIN|UND_ERR_SOCKET|EPIPE/.test(any)) {
    return new ScrapeError('connect', `${url}: cannot connect: ${causeCode || code || message}`, { cause: err });
  }
  if ((err as { name?: string }).name === 'AbortError') return new ScrapeError('other', `${url}: aborted`, { cause: err });
  return new ScrapeError('other', `${url}: ${message}`, { cause: err });
}
