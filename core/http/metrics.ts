/** Own metrics of every guarded HTTP listener (core/http/server.ts), declared once for all of them. */
import type { Telemetry } from '../telemetry/metrics.js';

export function listenerMetrics(telemetry: Telemetry) {
  return {
    connections: telemetry.gauge('pprofcol_http_connections', 'Open connections of a listener.', ['listener']),
    closed: telemetry.counter(
      'pprofcol_http_connections_closed_total',
      'Connections the listener closed itself, by reason: evicted (max_connections reached; the oldest waiting or slow connection made room), refused (max_connections reached and every connection busy), body_timeout.',
      ['listener', 'reason'],
    ),
  };
}
export type ListenerMetrics = ReturnType<typeof listenerMetrics>;
