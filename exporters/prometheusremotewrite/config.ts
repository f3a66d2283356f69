/**
 * Options of the prometheusremotewrite exporter. The keys and their meaning follow Prometheus's
 * `remote_write` (queue_config, metadata_config, basic_auth, authorization, tls_config, timeout), except
 * `retry_on_http_429`, which defaults to true here (as in Grafana Alloy). Durations are milliseconds
 * after parsing.
 */
import { z } from 'zod';
import { byteSize, durationDefault, httpClientKeys, labelSet } from '../../core/config/types.js';

/** Deadline of one request, connect to last byte of the answer (Prometheus's remote_timeout). */
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRY_ON_HTTP_429 = true;

// queue_config: Prometheus's DefaultQueueConfig (2.44 and later), and block_timeout, pprofcol's own.
//
// The arithmetic for the case the defaults must carry, one target of 20,000 series scraped every second
// (20,000 samples/s arriving as one burst a second): one shard sends one request of 2,000 samples at a
// time; to a receiver on the same network that takes 5-20 ms, so one shard moves 100,000-400,000
// samples/s, 5-20x the rate. The burst is twice capacity and the queue holds capacity x max_shards, so
// it is queued at once: nothing waits or is dropped, and the next scrape, a second later, finds the
// queue empty. Resharding adds shards when the receiver is slower.
/**
 * The memory queue's bound is capacity x max_shards samples, all shards together whatever the shard
 * count now (500,000 at the defaults: ~100 s of a 5,000 samples/s exporter behind a receiver that is
 * down, while only one shard runs since nothing reshards without sends). A shard's ring starts at
 * capacity slots, 5 requests' worth at the default max_samples_per_send, so a shard has its next
 * request ready while one is in flight; it doubles as a backlog needs and returns to capacity once
 * empty. About 160 bytes of heap a point: 1.6 MB per capacity, 80 MB for the queued points at the
 * defaults; beside them the rings' slot arrays (16 bytes a slot, up to twice the points a grown ring
 * holds: ~16 MB at most) and the requests in flight (up to max_shards x max_samples_per_send points).
 */
export const DEFAULT_CAPACITY = 10_000;
/**
 * How long consume() waits for room in a full queue before dropping (reason="queue_full"): below a
 * remote-write sender's own timeout (Prometheus's remote_timeout: 30s), so a sender whose samples wait
 * gets a 503 and retries instead of timing out, and below the default scrape interval (15s).
 */
export const DEFAULT_BLOCK_TIMEOUT_MS = 10_000;
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

/** isolate_rejected: off, since the spec forbids resending a request answered 4xx. */
export const DEFAULT_ISOLATE_REJECTED = false;

// buffer
/** Shards of a durable buffer: fixed, since a series must keep its shard across restarts and replicas. */
export const DEFAULT_DURABLE_SHARDS = 4;
/** A disk buffer's bound: 1GiB holds ~10M samples at ~100 bytes per sample compressed with labels. */
export const DEFAULT_DISK_MAX_SIZE = 1024 * 1024 * 1024;
export const DEFAULT_REDIS_PREFIX = 'pprofcol';
/** How long a job's lock lives without renewal: a replica that died is taken over after this. */
export const DEFAULT_REDIS_LOCK_DURATION_MS = 30_000;

// metadata_config
export const DEFAULT_METADATA_SEND = true;
export const DEFAULT_METADATA_SEND_INTERVAL_MS = 60_000;
export const DEFAULT_METADATA_MAX_SAMPLES_PER_SEND = 2000;
/**
 * Bytes (estimated as core/remotewrite/families.ts does) of families kept for the periodic metadata
 * request. A client_golang-sized family (name ~40, HELP ~100 characters) costs ~470 bytes: 16MiB keeps
 * ~35k families, far more than one Prometheus's metric names; a sender that invents names is held to it.
 */
export const DEFAULT_METADATA_CACHE_SIZE = '16MiB';

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
    // The memory queue holds capacity x max_shards samples (all shards); when full, consume() waits up to block_timeout.
    capacity: positiveInt.default(DEFAULT_CAPACITY),
    // How long consume() waits for room; then what is left is dropped (reason="queue_full"). 0: no wait.
    block_timeout: durationDefault(DEFAULT_BLOCK_TIMEOUT_MS),
    // Most shards sending in parallel; resharding moves between min_shards and max_shards (memory buffer).
    max_shards: positiveInt.default(DEFAULT_MAX_SHARDS),
    min_shards: positiveInt.default(DEFAULT_MIN_SHARDS),
    // Most samples in one request.
    max_samples_per_send: positiveInt.default(DEFAULT_MAX_SAMPLES_PER_SEND),
    // Longest a sample waits for its batch to fill before a partial batch is sent.
    batch_send_deadline: durationDefault(DEFAULT_BATCH_SEND_DEADLINE_MS),
    // Retry delays: exponential from min_backoff, capped at max_backoff, with full jitter.
    min_backoff: durationDefault(DEFAULT_MIN_BACKOFF_MS),
    max_backoff: durationDefault(DEFAULT_MAX_BACKOFF_MS),
    // Prometheus's place for retry_on_http_429; when set it wins over the top-level key.
    retry_on_http_429: z.boolean().optional(),
    // Samples older than this when (re)sent are dropped (reason="too_old"); 0 = never.
    sample_age_limit: durationDefault(DEFAULT_SAMPLE_AGE_LIMIT_MS),
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
    send_interval: durationDefault(DEFAULT_METADATA_SEND_INTERVAL_MS),
    // Most metadata entries in one metadata-only request.
    max_samples_per_send: positiveInt.default(DEFAULT_METADATA_MAX_SAMPLES_PER_SEND),
    // pprofcol's addition: most bytes of families kept for the periodic request (least recently seen go first).
    cache_size: byteSize.default(DEFAULT_METADATA_CACHE_SIZE).refine((n) => n >= 1024, 'must be at least 1KiB'),
  })
  .strict()
  .refine((m) => m.send_interval > 0, { path: ['send_interval'], message: 'must be more than 0' });

const memoryBuffer = z.object({ type: z.literal('memory') }).strict();

const diskBuffer = z
  .object({
    type: z.literal('disk'),
    // Folder of the write-ahead log; relative to the config file's folder. Required.
    directory: z.string({ required_error: 'is required (the folder of the write-ahead log)' }).min(1, 'must not be empty'),
    // Most bytes of segment files; when full, the oldest segment goes (reason="buffer_full").
    max_size: byteSize.default(DEFAULT_DISK_MAX_SIZE).refine((n) => n >= 1024 * 1024, 'must be at least 1MiB'),
    // always: fdatasync before consume() resolves (survives power loss); never: the page cache (survives kill -9).
    fsync: z.enum(['always', 'never']).default('always'),
    // Fixed shard count (no resharding with a durable buffer).
    shards: positiveInt.max(256).default(DEFAULT_DURABLE_SHARDS),
  })
  .strict();

const redisBuffer = z
  .object({
    type: z.literal('redis'),
    // redis://[user:password@]host:port[/db]. Required.
    url: z
      .string({ required_error: 'is required (redis://host:port)' })
      .refine((u) => /^rediss?:\/\//i.test(u), 'must be a redis:// or rediss:// URL'),
    // Key prefix of every BullMQ key, so several pprofcol deployments can share one Redis.
    prefix: z.string().min(1).default(DEFAULT_REDIS_PREFIX),
    // Fixed shard count, kept in Redis: the first replica writes it, the others use the stored one.
    shards: positiveInt.max(256).default(DEFAULT_DURABLE_SHARDS),
    // A job whose worker stops renewing its lock for this long is taken over by another replica.
    lock_duration: durationDefault(DEFAULT_REDIS_LOCK_DURATION_MS).refine((ms) => ms >= 1000, 'must be at least 1s'),
  })
  .strict();

export const bufferSchema = z.discriminatedUnion('type', [memoryBuffer, diskBuffer, redisBuffer]);
export type BufferConfig = z.output<typeof bufferSchema>;

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
    timeout: durationDefault(DEFAULT_TIMEOUT_MS).refine((ms) => ms > 0, 'must be more than 0'),
    // Labels added to every series that lacks them (Prometheus's global external_labels).
    external_labels: labelSet.default({}),
    retry_on_http_429: z.boolean().default(DEFAULT_RETRY_ON_HTTP_429),
    queue_config: queueConfig.default({}),
    // On a 400, split the request and send the halves until the rejected samples are isolated.
    isolate_rejected: z.boolean().default(DEFAULT_ISOLATE_REJECTED),
    // Where requests wait: memory (default), disk (write-ahead log) or redis (BullMQ, shared by replicas).
    buffer: bufferSchema.default({ type: 'memory' }),
    metadata_config: metadataConfig.default({}),
    // prometheus.WriteRequest (remote write 1.0) or io.prometheus.write.v2.Request (2.0, with fallback to 1.0).
    protobuf_message: z.enum(['prometheus.WriteRequest', 'io.prometheus.write.v2.Request']).default('prometheus.WriteRequest'),
    ...httpClientKeys,
  })
  .strict()
  .refine((c) => !(c.basic_auth !== undefined && c.authorization !== undefined), {
    message: 'set basic_auth or authorization, not both',
  });

export type RemoteWriteExporterConfig = z.output<typeof configSchema>;
