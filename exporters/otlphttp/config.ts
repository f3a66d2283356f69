/**
 * Options of the otlphttp exporter. Keys follow the OTel Collector's otlphttp exporter (endpoint,
 * encoding, headers, timeout, compression, retry_on_failure, sending_queue); authentication and TLS
 * use the same Prometheus-style keys as every other HTTP client in pprofcol (basic_auth,
 * authorization, tls_config, secrets from *_file). Durations are milliseconds after parsing.
 */
import { z } from 'zod';
import { durationDefault, httpClientKeys, labelSet } from '../../core/config/types.js';

/** Deadline of one request, connect to last byte of the answer (the Collector's confighttp default). */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_ENCODING = 'proto';
/** gzip, as the Collector's otlphttp exporter: metric requests shrink 5-10x. */
export const DEFAULT_COMPRESSION = 'gzip';
// retry_on_failure: the Collector's exporterhelper defaults.
export const DEFAULT_RETRY_ENABLED = true;
export const DEFAULT_INITIAL_INTERVAL_MS = 5_000;
export const DEFAULT_MAX_INTERVAL_MS = 30_000;
/** A request is given up (reason="retries_exhausted") once it has been retried for this long; 0 = never. */
export const DEFAULT_MAX_ELAPSED_TIME_MS = 300_000;
/** Points held while the endpoint is slow or down: twenty scrapes of ~500 series. */
export const DEFAULT_QUEUE_SIZE = 10_000;
/** Points in one request at most: ~2000 points of ~5 attributes encode to ~150 KiB before gzip. */
export const DEFAULT_MAX_POINTS_PER_REQUEST = 2_000;
/**
 * How long consume() waits for room in a full queue before dropping (reason="queue_full"), as the
 * remote-write exporter's queue_config.block_timeout: below a remote-write sender's own timeout (30s),
 * so a sender whose samples wait gets a 503 and retries, and below the default scrape interval (15s).
 */
export const DEFAULT_BLOCK_TIMEOUT_MS = 10_000;

/** Headers the exporter sets itself, which `headers` may not override. */
export const RESERVED_HEADERS = new Set(['authorization', 'host', 'content-encoding', 'content-length', 'content-type', 'user-agent', 'connection', 'keep-alive', 'accept-encoding']);

const retryOnFailure = z
  .object({
    // Retry recoverable failures (network, timeout, 429, 502, 503, 504) at all; false: drop at once.
    enabled: z.boolean().default(DEFAULT_RETRY_ENABLED),
    // First wait after a failure; doubles on each failure (with jitter) up to max_interval.
    initial_interval: durationDefault(DEFAULT_INITIAL_INTERVAL_MS),
    max_interval: durationDefault(DEFAULT_MAX_INTERVAL_MS),
    // Longest a request is retried before its points are dropped; 0 = retry forever.
    max_elapsed_time: durationDefault(DEFAULT_MAX_ELAPSED_TIME_MS),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.initial_interval <= 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['initial_interval'], message: 'must be more than 0' });
    if (r.initial_interval > r.max_interval) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['initial_interval'], message: 'must not exceed max_interval' });
  });

const sendingQueue = z
  .object({
    // Points held in memory waiting to be sent; when full, consume() waits up to block_timeout for room.
    queue_size: z.number().int().positive().default(DEFAULT_QUEUE_SIZE),
    // How long consume() waits for room; then what is left is dropped (reason="queue_full"). 0: no wait.
    block_timeout: durationDefault(DEFAULT_BLOCK_TIMEOUT_MS),
    // Most points in one request.
    max_points_per_request: z.number().int().positive().default(DEFAULT_MAX_POINTS_PER_REQUEST),
  })
  .strict();

export const configSchema = z
  .object({
    // Base URL of the OTLP/HTTP receiver; metrics go to <endpoint>/v1/metrics. Required.
    endpoint: z
      .string({ required_error: 'is required (the OTLP/HTTP base URL, e.g. http://127.0.0.1:4318)' })
      .url('must be a URL')
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL'),
    // proto: application/x-protobuf; json: application/json (through @opentelemetry/exporter-metrics-otlp-http).
    encoding: z.enum(['proto', 'json']).default(DEFAULT_ENCODING),
    // Extra HTTP headers on every request; the ones the protocol or auth sets are refused.
    headers: z
      .record(z.string())
      .default({})
      .superRefine((h, ctx) => {
        for (const name of Object.keys(h)) {
          if (RESERVED_HEADERS.has(name.toLowerCase())) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: 'is set by the exporter and cannot be overridden' });
        }
      }),
    timeout: durationDefault(DEFAULT_TIMEOUT_MS).refine((ms) => ms > 0, 'must be more than 0'),
    compression: z.enum(['gzip', 'none']).default(DEFAULT_COMPRESSION),
    // Resource attributes added to every resource that lacks them (as Prometheus's external_labels).
    external_labels: labelSet.default({}),
    retry_on_failure: retryOnFailure.default({}),
    sending_queue: sendingQueue.default({}),
    ...httpClientKeys,
  })
  .strict()
  .refine((c) => !(c.basic_auth !== undefined && c.authorization !== undefined), {
    message: 'set basic_auth or authorization, not both',
  });

export type OtlpHttpExporterConfig = z.output<typeof configSchema>;

/** `<endpoint>/v1/metrics`, with or without a trailing slash on the endpoint. */
export function metricsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/metrics`;
  return url.toString();
}
