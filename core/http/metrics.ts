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
    authFailures: telemetry.counter(
      'pprofcol_http_auth_failures_total',
      'Requests and connections a listener refused for their credentials, by reason: missing (no Authorization header), malformed (not Basic user:password), unknown_user, wrong_password (401 for these four), busy (503: too many bcrypt checks at once), client_cert (TLS: no client certificate where one is required, or one that did not verify), tls_handshake (any other failed TLS handshake).',
      ['listener', 'reason'],
    ),
  };
}
export type ListenerMetrics = ReturnType<typeof listenerMetrics>;
