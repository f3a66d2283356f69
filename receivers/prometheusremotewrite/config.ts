/** Options of the prometheusremotewrite receiver. Sizes are bytes after parsing. */
import { z } from 'zod';
import { byteSize, duration, hostPort } from '../../core/config/types.js';
import { listenerLimitsShape } from '../../core/http/limits.js';
import { listenerSecurityShape } from '../../core/http/security.js';

export const DEFAULT_ENDPOINT = '127.0.0.1:9201';
export const DEFAULT_PATH = '/api/v1/write';
/** Prometheus's own receiver has no cap; 32MiB is far above a remote-write request (2000 samples ~ 100KiB compressed). */
export const DEFAULT_MAX_REQUEST_BODY_SIZE = '32MiB';
/**
 * Requests decoded and handed on at once; one more gets 503. A Prometheus sends at most max_shards
 * (default 50) requests at a time, each waiting for its answer: 16 keeps memory at 16 x 32MiB worst case.
 */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 16;
/**
 * Heap all requests in flight may hold together: their bodies, decoded bytes and decoded points
 * (samples x ~200 bytes, core/remotewrite/cost.ts). A Prometheus request of 2000 samples holds ~0.5MiB,
 * so 256MiB takes 500 at once; a request that alone needs more gets 413, one that meets a full budget 503.
 */
export const DEFAULT_MAX_INFLIGHT_BYTES = '256MiB';
/**
 * Samples further ahead than this are refused, per sample: one far-future sample accepted by a
 * Prometheus 2.42 moves its head's max time and makes it reject every later sample from every writer.
 * 10m is the bound Prometheus itself adopted later for its own receiver.
 */
export const DEFAULT_SAMPLE_FUTURE_LIMIT = '10m';
/**
 * Samples older than this are refused, per sample; 0 turns it off, so that VictoriaMetrics backfill
 * keeps working. Prometheus users want ~1h: its head takes ~1h back, and one older sample merged by
 * `batch` with other clients' samples makes it reject the whole merged request.
 */
export const DEFAULT_SAMPLE_AGE_LIMIT = '0s';
/** Retry-After of a 503, seconds. Prometheus 2.42 ignores it and backs off from 30ms; newer ones honour it. */
export const DEFAULT_RETRY_AFTER = '1s';
/**
 * Bytes (estimated, core/remotewrite/families.ts) of metadata learned from senders. A family with a
 * client_golang-sized HELP (~100 bytes) and name (~40) costs 104 + 56 + 96 + 216 = ~470 bytes, so
 * 16MiB keeps the metadata of ~27k families (three quarters of it) and the untyped placeholders of
 * ~15k names without metadata (the rest), more than a Prometheus with a few thousand metric names sends.
 */
export const DEFAULT_METADATA_CACHE_SIZE = '16MiB';

export const configSchema = z
  .object({
    // host:port to listen on.
    endpoint: hostPort.default(DEFAULT_ENDPOINT),
    // Path that takes writes; anything else is 404.
    path: z.string().regex(/^\//, 'must start with /').default(DEFAULT_PATH),
    // Largest compressed body; past it 413. The snappy-decoded body may be at most 8 times this.
    max_request_body_size: byteSize.default(DEFAULT_MAX_REQUEST_BODY_SIZE).refine((n) => n > 0, 'must be more than 0'),
    // Requests decoded and handed on at once (a slot is taken once the body has arrived); one more: 503.
    max_concurrent_requests: z.number().int().positive().default(DEFAULT_MAX_CONCURRENT_REQUESTS),
    max_inflight_bytes: byteSize.default(DEFAULT_MAX_INFLIGHT_BYTES).refine((n) => n > 0, 'must be more than 0'),
    // header_timeout, body_timeout, idle_timeout, max_connections (core/http/limits.ts).
    ...listenerLimitsShape,
    // tls_server_config, basic_auth_users: Prometheus's web-config keys (core/http/security.ts).
    ...listenerSecurityShape,
    retry_after: duration.default(DEFAULT_RETRY_AFTER),
    // Refuse samples older than this (0: off), or further ahead than sample_future_limit; the rest is taken.
    sample_age_limit: duration.default(DEFAULT_SAMPLE_AGE_LIMIT),
    sample_future_limit: duration.default(DEFAULT_SAMPLE_FUTURE_LIMIT).refine((ms) => typeof ms !== 'number' || ms > 0, 'must be more than 0'),
    // Most bytes of metadata (type, HELP, unit) kept between requests; the least recently used goes first.
    metadata_cache_size: byteSize.default(DEFAULT_METADATA_CACHE_SIZE).refine((n) => n >= 1024, 'must be at least 1KiB'),
  })
  .strict();

export type RemoteWriteReceiverConfig = z.output<typeof configSchema>;
