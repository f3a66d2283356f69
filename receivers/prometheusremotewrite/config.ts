/** Options of the prometheusremotewrite receiver. Sizes are bytes after parsing. */
import { z } from 'zod';
import { byteSize, duration, hostPort } from '../../core/config/types.js';

export const DEFAULT_ENDPOINT = '127.0.0.1:9201';
export const DEFAULT_PATH = '/api/v1/write';
/** Prometheus's own receiver has no cap; 32MiB is far above a remote-write request (2000 samples ~ 100KiB compressed). */
export const DEFAULT_MAX_REQUEST_BODY_SIZE = '32MiB';
/**
 * Requests decoded and handed on at once; one more gets 503. A Prometheus sends at most max_shards
 * (default 50) requests at a time, each waiting for its answer: 16 keeps memory at 16 x 32MiB worst case.
 */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 16;
/** Retry-After of a 503, seconds. Prometheus 2.42 ignores it and backs off from 30ms; newer ones honour it. */
export const DEFAULT_RETRY_AFTER = '1s';

export const configSchema = z
  .object({
    // host:port to listen on.
    endpoint: hostPort.default(DEFAULT_ENDPOINT),
    // Path that takes writes; anything else is 404.
    path: z.string().regex(/^\//, 'must start with /').default(DEFAULT_PATH),
    // Largest compressed body; past it 413. The snappy-decoded body may be at most 8 times this.
    max_request_body_size: byteSize.default(DEFAULT_MAX_REQUEST_BODY_SIZE).refine((n) => n > 0, 'must be more than 0'),
    max_concurrent_requests: z.number().int().positive().default(DEFAULT_MAX_CONCURRENT_REQUESTS),
    retry_after: duration.default(DEFAULT_RETRY_AFTER),
  })
  .strict();

export type RemoteWriteReceiverConfig = z.output<typeof configSchema>;
