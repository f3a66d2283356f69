/**
 * Options of the prometheusremotewrite exporter. The keys and their meaning follow Prometheus's
 * `remote_write` (queue_config, metadata_config, basic_auth, authorization, tls_config, timeout), except
 * `retry_on_http_429`, which defaults to true here (as in Grafana Alloy). Durations are milliseconds
 * after parsing.
 */
import { z } from 'zod';
import { duration, httpClientKeys, labelSet } from '../../core/config/types.js';

/** Deadline of one request, connect to last byte of the answer (Prometheus's remote_timeout). */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRY_ON_HTTP_429 = true;

// queue_config: Prometheus's DefaultQueueConfig (2.44 and later).
/** Samples held in memory before new ones are dropped: 5 requests' worth at the default max_samples_per_send. */
export const DEFAULT_CAPACITY = 10_000;
export const DEFAULT_MAX_SHARDS = 50;
export const DEFAULT_MIN_SHARDS = 1;
/** Samples per request: 2000 samples of ~5 labels encode to ~100 KiB before snappy. */
export const DEFAULT_MAX_SAMPLES_PER_SEND = 2000;
/** A partial batch leaves at the latest this long after its first sample was queued. */
export const DEFAULT_BATCH_SEND_DEADLINE_MS = 5_000;
/** First retry delay; doubles on each failure up to max_backoff (30ms, 60ms, ... 3.84s, 5s). */
export const DEFAULT_MIN_BACKOFF_MS = 30;
export const DEFAULT_MAX_BACKOFF_MS = 5_000;
/** 0: samples are retried however old they get. */
export const DEFAULT_SAMPLE_AGE_LIMIT_MS = 0;

// metadata_config
export const DEFAULT_METADATA_SEND = true;
export const DEFAULT_METADATA_SEND_INTERVAL_MS = 60_000;
export const DEFAULT_METADATA_MAX_SAMPLES_PER_SEND = 2000;

/** Headers the exporter sets itself, which `headers` may not override (Prometheus's reserved list). */
export const RESERVED_HEADERS = new Set([
  'authorization',
  'host',
  'content-encoding',
  'content-length',
  'content-type',
  'user-agent',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'www-authenticate',
  'accept-encoding',
  'x-prometheus-remote-write-version',
  'x-prometheus-remote-read-version',
]);

const positiveInt = z.number().int().positive();

const queueConfig = z
  .object({
    // Samples buffered in memory; when full, new samples are dropped (reason="queue_full").
    capacity: positiveInt.default(DEFAULT_CAPACITY),
    // Accepted for compatibility with Prometheus; this version sends from one shard (in order), see README.
    max_shards: positiveInt.default(DEFAULT_MAX_SHARDS),
    min_shards: positiveInt.default(DEFAULT_MIN_SHARDS),
    // Most samples in one request.
    max_samples_per_send: positiveInt.default(DEFAULT_MAX_SAMPLES_PER_SEND),
    // Longest a sample waits for its batch to fill before a partial batch is sent.
    batch_send_deadline: duration.default('5s'),
    // Retry delays: exponential from min_backoff, capped at max_backoff, with full jitter.
    min_backoff: duration.default('30ms'),
    max_backoff: duration.default('5s'),
    // Samples older than this when (re)sent are dropped (reason="too_old"); 0 = never.
    sample_age_limit: duration.default('0'),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.min_shards > q.max_shards) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['min_shards'], message: 'must not exceed max_shards' });
    if (q.min_backoff > q.max_backoff) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['min_backoff'], message: 'must not exceed max_backoff' });
  });

const metadataConfig = z
  .object({
    // Send metric metadata (type, help, unit) at all: every send_interval, and with each batch.
    send: z.boolean().default(DEFAULT_METADATA_SEND),
    send_interval: duration.default('1m'),
    // Most metadata entries in one metadata-only request.
    max_samples_per_send: positiveInt.default(DEFAULT_METADATA_MAX_SAMPLES_PER_SEND),
  })
  .strict()
  .refine((m) => m.send_interval > 0, { path: ['send_interval'], message: 'must be more than 0' });

export const configSchema = z
  .object({
    // The remote-write URL (http or https), e.g. http://127.0.0.1:9090/api/v1/write. Required.
    endpoint: z
      .string({ required_error: 'is required (the remote-write URL, e.g. http://127.0.0.1:9090/api/v1/write)' })
      .url('must be a URL')
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL'),
    // Extra HTTP headers on every request; the ones the protocol or auth sets are refused.
    headers: z
      .record(z.string())
      .default({})
      .superRefine((h, ctx) => {
        for (const name of Object.keys(h)) {
          if (RESERVED_HEADERS.has(name.toLowerCase())) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: 'is set by the exporter and cannot be overridden' });
          }
        }
      }),
    timeout: duration.default('30s').refine((ms) => ms > 0, 'must be more than 0'),
    // Labels added to every series that lacks them (Prometheus's global external_labels).
    external_labels: labelSet.default({}),
    retry_on_http_429: z.boolean().default(DEFAULT_RETRY_ON_HTTP_429),
    queue_config: queueConfig.default({}),
    metadata_config: metadataConfig.default({}),
    ...httpClientKeys,
  })
  .strict()
  .refine((c) => !(c.basic_auth !== undefined && c.authorization !== undefined), {
    message: 'set basic_auth or authorization, not both',
  });

export type RemoteWriteExporterConfig = z.output<typeof configSchema>;
