/**
 * The HTTP side of the otlphttp exporter: posts one request and classifies the answer, never
 * sleeping or retrying itself (the exporter decides, as in the Collector's exporterhelper).
 *   recoverable: network error, timeout, 429, 502, 503, 504 (with Retry-After when given)
 *   final:       any other non-2xx
 *
 * proto: @opentelemetry/otlp-transformer's ProtobufMetricsSerializer, posted by our own undici client.
 *        The serializer takes one ResourceMetrics; an ExportMetricsServiceRequest holds only the
 *        repeated field 1, so the serialized requests of several resources concatenate into one valid
 *        request (protobuf merges repeated fields): one POST per batch, one resource per target.
 * json:  @opentelemetry/exporter-metrics-otlp-http's OTLPMetricExporter, one POST per resource (the
 *        SDK exporter takes one ResourceMetrics per export). It retries 429/502/503/504 and network
 *        errors itself (up to 5 times within `timeout`); what it gives up on comes back here.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { Agent, type Dispatcher } from 'undici';
import type { HttpClientConfig } from '../../core/config/types.js';
import { errorMessage } from '../../core/errors.js';
import { SendError, type SendErrorOptions } from '../../core/send/errors.js';
import { authorizationHeader, loadTlsOptions, parseRetryAfter, readBodyHead, type TlsOptions } from '../../core/httpclient.js';
import { maskUrl } from '../../core/redact.js';
import { USER_AGENT } from '../../core/version.js';

const gzipAsync = promisify(gzip);

/** How much of an error answer's body is kept for the log. */
export const ERROR_BODY_LIMIT = 512;
/** Statuses the OTLP/HTTP spec says to retry. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

export interface TransportOptions extends HttpClientConfig {
  /** The full URL, <endpoint>/v1/metrics. */
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  compression: 'gzip' | 'none';
  configDir: string;
}

/** A failed send of this exporter: the send path's one error class, with this exporter's code prefix. */
export class OtlpSendError extends SendError {
  constructor(reason: string, message: string, options: SendErrorOptions) {
    super(reason, message, options, 'ERR_OTLP');
    this.name = 'OtlpSendError';
  }
}

export interface SendOutcome {
  /** Data points the receiver said it rejected in a partial success (0 otherwise). */
  rejected: number;
  /** The receiver's message with a partial success. */
  message: string;
}

export interface OtlpTransport {
  /** Most resources one request may carry (json: 1). */
  readonly resourcesPerRequest: number;
  send(resources: readonly ResourceMetrics[]): Promise<SendOutcome>;
  close(): Promise<void>;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

export class ProtoTransport implements OtlpTransport {
  readonly resourcesPerRequest = Number.POSITIVE_INFINITY;
  private readonly agent: Promise<Agent>;
  private readonly origin: string;
  private readonly path: string;
  private readonly fixedHeaders: Record<string, string>;

  constructor(private readonly options: TransportOptions) {
    const url = new URL(options.url);
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    this.fixedHeaders = {
      ...lowerKeys(options.headers),
      'content-type': 'application/x-protobuf',
      'user-agent': USER_AGENT,
    };
    if (options.compression === 'gzip') this.fixedHeaders['content-encoding'] = 'gzip';
    this.agent = loadTlsOptions(options.tls_config, options.configDir).then(
      (tls) => new Agent({ keepAliveTimeout: 60_000, connections: 2, connect: tls }),
    );
    this.agent.catch(() => undefined); // surfaces on the first send
  }

  async send(resources: readonly ResourceMetrics[]): Promise<SendOutcome> {
    let agent: Agent;
    let headers: Record<string, string>;
    try {
      agent = await this.agent;
      const auth = await authorizationHeader(this.options, this.options.configDir);
      headers = auth === undefined ? this.fixedHeaders : { ...this.fixedHeaders, authorization: auth };
    } catch (err) {
      // A missing TLS or secret file may be fixed on disk while we retry.
      throw new OtlpSendError('config_file', `cannot read a tls_config or secret file: ${errorMessage(err)}`, { retryable: true, cause: err });
    }
    const parts: Uint8Array[] = [];
    for (const r of resources) {
      const bytes = ProtobufMetricsSerializer.serializeRequest(r);
      if (bytes !== undefined) parts.push(bytes);
    }
    const raw = Buffer.concat(parts);
    const body = this.options.compression === 'gzip' ? await gzipAsync(raw) : raw;
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    let response: Dispatcher.ResponseData;
    try {
      response = await agent.request({ origin: this.origin, path: this.path, method: 'POST', headers, body, signal: deadline });
    } catch (err) {
      throw networkError(err, deadline.aborted, this.options);
    }
    const status = response.statusCode;
    let answer: Buffer;
    try {
      answer = await readBodyHead(response.body, status >= 200 && status < 300 ? 1 << 20 : ERROR_BODY_LIMIT);
    } catch (err) {
      if (status >= 200 && status < 300) return { rejected: 0, message: '' };
      throw networkError(err, deadline.aborted, this.options);
    }
    if (status >= 200 && status < 300) return partialSuccess(answer);
    const text = answer.subarray(0, ERROR_BODY_LIMIT).toString('utf8').trim();
    const retryable = RETRYABLE_STATUSES.has(status);
    throw new OtlpSendError(`http_${status}`, `${maskUrl(this.options.url)} answered HTTP ${status}${text ? `: ${text}` : ''}`, {
      retryable,
      status,
      retryAfterMs: retryable ? parseRetryAfter(response.headers['retry-after'], Date.now()) : undefined,
      body: text,
    });
  }

  async close(): Promise<void> {
    const agent = await this.agent.catch(() => undefined);
    await agent?.destroy();
  }
}

/** A partial success's rejected_data_points, when the receiver sent one. */
function partialSuccess(answer: Buffer): SendOutcome {
  if (answer.length === 0) return { rejected: 0, message: '' };
  try {
    const response = ProtobufMetricsSerializer.deserializeResponse(answer);
    const partial = response.partialSuccess;
    return { rejected: Number(partial?.rejectedDataPoints ?? 0), message: partial?.errorMessage ?? '' };
  } catch {
    return { rejected: 0, message: '' }; // a 2xx with a body we cannot read is still a success
  }
}

export class JsonTransport implements OtlpTransport {
  readonly resourcesPerRequest = 1;
  private readonly exporter: OTLPMetricExporter;
  private readonly tls: Promise<TlsOptions>;

  constructor(private readonly options: TransportOptions) {
    this.tls = loadTlsOptions(options.tls_config, options.configDir);
    this.tls.catch(() => undefined);
    const fixed = { ...options.headers };
    this.exporter = new OTLPMetricExporter({
      url: options.url,
      timeoutMillis: options.timeoutMs,
      compression: options.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
      userAgent: USER_AGENT,
      concurrencyLimit: 1,
      // Re-read *_file secrets for every request, as the other clients do. Must not throw: a missing
      // file sends no Authorization header, and the receiver's 401 says what is wrong.
      headers: async () => {
        const auth = await authorizationHeader(options, options.configDir).catch(() => undefined);
        return auth === undefined ? fixed : { ...fixed, Authorization: auth };
      },
      httpAgentOptions: async (protocol: string) => {
        if (protocol === 'http:') return new (await import('node:http')).Agent({ keepAlive: true });
        return new (await import('node:https')).Agent({ keepAlive: true, ...(await this.tls) });
      },
    });
  }

  async send(resources: readonly ResourceMetrics[]): Promise<SendOutcome> {
    try {
      await this.tls;
    } catch (err) {
      throw new OtlpSendError('config_file', `cannot read a tls_config file: ${errorMessage(err)}`, { retryable: true, cause: err });
    }
    for (const r of resources) {
      const result = await new Promise<ExportResult>((resolve) => this.exporter.export(r, resolve));
      if (result.code !== ExportResultCode.SUCCESS) throw classifyJsonError(result.error, maskUrl(this.options.url));
    }
    return { rejected: 0, message: '' };
  }

  async close(): Promise<void> {
    await this.exporter.shutdown();
  }
}

/** The SDK's OTLPExporterError carries the HTTP status as `code` on a final answer; retryable ones come back without. */
function classifyJsonError(error: Error | undefined, url: string): OtlpSendError {
  const status = (error as { code?: unknown } | undefined)?.code;
  const data = (error as { data?: unknown } | undefined)?.data;
  const message = error === undefined ? 'export failed' : errorMessage(error);
  if (typeof status === 'number' && status > 0) {
    const body = typeof data === 'string' ? data.slice(0, ERROR_BODY_LIMIT).trim() : '';
    return new OtlpSendError(`http_${status}`, `${url} answered HTTP ${status}${body ? `: ${body}` : ''}`, {
      retryable: RETRYABLE_STATUSES.has(status),
      status,
      body,
      cause: error,
    });
  }
  if (/timed out|timeout/i.test(message)) return new OtlpSendError('timeout', `${url}: ${message}`, { retryable: true, cause: error });
  return new OtlpSendError('connect', `${url}: ${message}`, { retryable: true, cause: error });
}

function networkError(err: unknown, timedOut: boolean, options: TransportOptions): OtlpSendError {
  const code = (err as { code?: string }).code ?? '';
  if (timedOut || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new OtlpSendError('timeout', `${maskUrl(options.url)}: no answer within timeout (${options.timeoutMs}ms)`, { retryable: true, cause: err });
  }
  const cause = (err as { cause?: { code?: string } }).cause?.code ?? '';
  const any = `${code} ${cause}`;
  const reason = /ERR_TLS|CERT|SSL|DEPTH_ZERO/.test(any) ? 'tls' : 'connect';
  return new OtlpSendError(reason, `${maskUrl(options.url)}: ${cause || code || errorMessage(err)}`, { retryable: true, cause: err });
}


