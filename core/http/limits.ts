/**
 * The keys that bound what one client can hold of an HTTP listener pprofcol owns (the remote-write
 * receiver, the telemetry listener): the same names and defaults on each, so a user sets them once
 * the same way everywhere.
 */
import { z } from 'zod';
import { duration } from '../config/types.js';

/** From a connection's first byte (or its previous answer) to the end of the request headers. */
export const DEFAULT_HEADER_TIMEOUT = '10s';
/** From the end of the headers to the last byte of the body: a 32MiB body at 4MiB/s fits in 8s. */
export const DEFAULT_BODY_TIMEOUT = '15s';
/** A keep-alive connection with no request this long is closed (Prometheus's own idle timeout is 5m; senders re-dial cheaply). */
export const DEFAULT_IDLE_TIMEOUT = '60s';
/**
 * Open sockets. A Prometheus sends at most max_shards (default 50) requests at once, so 1024 leaves room
 * for twenty senders; each socket costs ~64 KiB of kernel and parser buffers at most, 64 MiB for all.
 */
export const DEFAULT_MAX_CONNECTIONS = 1024;

export const listenerLimitsShape = {
  header_timeout: duration.default(DEFAULT_HEADER_TIMEOUT).refine((ms) => typeof ms !== 'number' || ms > 0, 'must be more than 0'),
  body_timeout: duration.default(DEFAULT_BODY_TIMEOUT).refine((ms) => typeof ms !== 'number' || ms > 0, 'must be more than 0'),
  idle_timeout: duration.default(DEFAULT_IDLE_TIMEOUT).refine((ms) => typeof ms !== 'number' || ms > 0, 'must be more than 0'),
  max_connections: z.number().int().positive().default(DEFAULT_MAX_CONNECTIONS),
};

/** The parsed keys: timeouts in milliseconds. */
export interface ListenerLimits {
  header_timeout: number;
  body_timeout: number;
  idle_timeout: number;
  max_connections: number;
}
