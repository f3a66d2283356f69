/**
 * The HTTP side of remote write: posts one compressed request and classifies the answer. It never
 * retries or sleeps itself; the queue decides what a failure means (Prometheus's client.go split).
 *   recoverable: network error, timeout, 5xx, 429 when retry_on_http_429 (with Retry-After if given)
 *   final:       any other non-2xx, and 429 when retry_on_http_429 is off
 */
import { Agent, type Dispatcher } from 'undici';
import type { HttpClientConfig } from '../../../core/config/types.js';
import { errorMessage } from '../../../core/errors.js';
import { SendError, type SendErrorOptions } from '../../../core/send/errors.js';
import { authorizationHeader, loadTlsOptions, parseRetryAfter, readBodyHead } from '../../../core/httpclient.js';
import { maskUrl } from '../../../core/redact.js';
import { USER_AGENT } from '../../../core/version.js';

/** How much of an error answer's body is kept for the log. */
export const ERROR_BODY_LIMIT = 512;

export interface ClientOptions extends HttpClientConfig {
  endpoint: string;
  headers: Record<string, string>;
  timeoutMs: number;
  retryOnHttp429: boolean;
  configDir: string;
  /** Most connections open at once: one per shard plus one for metadata (default 2). */
  connections?: number;
}

/**
 * What one send came to. The client classifies, the queue decides: `recoverable` failures may be
 * sent again (network, timeout, 5xx, 429 when retry_on_http_429), the others never.
 */
export type SendResult =
  | {
      ok: true;
      headers?: Dispatcher.ResponseData['headers'];
      /**
       * Samples the receiver says it wrote, when it says (remote write 2.0's
       * X-Prometheus-Remote-Write-Samples-Written): fewer than sent means the rest was not written.
       */
      samplesWritten?: number;
    }
  | { ok: false; error: RemoteWriteError };

/** A failed send of this exporter: the send path's one error class, with this exporter's code prefix. */
export class RemoteWriteError extends SendError {
  constructor(reason: string, message: string, options: SendErrorOptions) {
    super(reason, message, options, 'ERR_REMOTE_WRITE');
    this.name = 'RemoteWriteError';
  }
}

export class RemoteWriteClient {
  private readonly agent: Promise<Agent>;
  private readonly origin: string;
  private readonly path: string;
  /** Headers that never change, built once. */
  private readonly fixedHeaders: Record<string, string>;
  /** The endpoint as errors and logs show it: userinfo masked (its password goes in the header only). */
  private readonly shown: string;

  constructor(private readonly options: ClientOptions) {
    const url = new URL(options.endpoint);
    this.shown = maskUrl(options.endpoint);
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}` || '/';
    this.fixedHeaders = {
      ...lowerKeys(options.headers),
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': USER_AGENT,
    };
    if (url.username !== '' && options.basic_auth === undefined && options.authorization === undefined) {
      this.fixedHeaders.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    }
    this.agent = this.createAgent();
    this.agent.catch(() => undefined); // surfaces on the first send
  }

  private async createAgent(): Promise<Agent> {
    const tls = await loadTlsOptions(this.options.tls_config, this.options.configDir);
    return new Agent({
      keepAliveTimeout: 60_000,
      // Each shard sends one request at a time; one more connection serves the metadata request.
      connections: this.options.connections ?? 2,
      connect: tls,
    });
  }

  /**
   * POSTs one snappy-compressed WriteRequest and classifies the answer. Never throws and never
   * retries: the queue decides what a failure means. `signal` aborts it (shutdown): a recoverable
   * failure with reason `aborted`. `protocolHeaders`: another protobuf_message's (protocol.ts).
   */
  async send(body: Buffer, signal?: AbortSignal, protocolHeaders?: Record<string, string>): Promise<SendResult> {
    try {
      // 2xx: the answer's headers go back with it (remote write 2.0 reads its Written headers).
      return { ok: true, headers: await this.post(body, protocolHeaders, signal) };
    } catch (err) {
      const error = err instanceof RemoteWriteError ? err : new RemoteWriteError('other', errorMessage(err), { retryable: true, cause: err });
      return { ok: false, error };
    }
  }

  private async post(body: Buffer, protocolHeaders: Record<string, string> | undefined, stop: AbortSignal | undefined): Promise<Dispatcher.ResponseData['headers']> {
    let agent: Agent;
    let headers: Record<string, string>;
    try {
      agent = await this.agent;
      const auth = await authorizationHeader(this.options, this.options.configDir);
      // protocolHeaders: Content-Type and version of another protobuf_message (protocol.ts).
      const base = protocolHeaders === undefined ? this.fixedHeaders : { ...this.fixedHeaders, ...protocolHeaders };
      headers = auth === undefined ? base : { ...base, authorization: auth };
    } catch (err) {
      // A missing TLS or secret file: may be fixed on disk while we retry.
      throw new RemoteWriteError('config_file', `cannot read a tls_config or secret file: ${errorMessage(err)}`, { retryable: true, cause: err });
    }
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    const signal = stop === undefined ? deadline : AbortSignal.any([deadline, stop]);
    let response: Dispatcher.ResponseData;
    try {
      response = await agent.request({ origin: this.origin, path: this.path, method: 'POST', headers, body, signal });
    } catch (err) {
      throw this.networkError(err, deadline, stop);
    }
    const status = response.statusCode;
    if (status >= 200 && status < 300) {
      try {
        await response.body.dump();
      } catch {
        // The answer was a success; its body does not matter.
      }
      return response.headers;
    }
    let text = '';
    try {
      text = (await readBodyHead(response.body, ERROR_BODY_LIMIT)).toString('utf8').trim();
    } catch (err) {
      if (signal.aborted) throw this.networkError(err, deadline, stop);
    }
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], Date.now());
    const recoverable = status >= 500 || (status === 429 && this.options.retryOnHttp429);
    throw new RemoteWriteError(`http_${status}`, `${this.shown} answered HTTP ${status}${text ? `: ${text}` : ''}`, {
      retryable: recoverable,
      status,
      retryAfterMs: recoverable ? retryAfterMs : undefined,
      body: text,
    });
  }

  private networkError(err: unknown, deadline: AbortSignal, stop: AbortSignal | undefined): RemoteWriteError {
    const code = (err as { code?: string }).code ?? '';
    if (stop?.aborted === true && !deadline.aborted) {
      return new RemoteWriteError('aborted', `${this.shown}: request aborted (shutting down)`, { retryable: true, cause: err });
    }
    if (deadline.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new RemoteWriteError('timeout', `${this.shown}: no answer within timeout (${this.options.timeoutMs}ms)`, { retryable: true, cause: err });
    }
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? '';
    return new RemoteWriteError('connect', `${this.shown}: ${cause || code || errorMessage(err)}`, { retryable: true, cause: err });
  }

  async close(): Promise<void> {
    const agent = await this.agent.catch(() => undefined);
    await agent?.destroy();
  }
}



function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
