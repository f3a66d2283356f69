/** The pprof receiver's own metrics, declared in one place. */
import type { Telemetry } from '../../core/telemetry/metrics.js';

export function receiverMetrics(telemetry: Telemetry) {
  return {
    scrapes: telemetry.counter(
      'pprofcol_receiver_scrapes_total',
      'Scrapes of a target, by result (success: every configured profile fetched and parsed).',
      ['receiver', 'job', 'result'],
    ),
    failures: telemetry.counter(
      'pprofcol_receiver_scrape_failures_total',
      'Profile fetches that failed, by reason (timeout, connect, http_status, too_large, decode, tls, other).',
      ['receiver', 'job', 'reason'],
    ),
    targets: telemetry.gauge('pprofcol_receiver_targets', 'Targets currently scraped.', ['receiver', 'job']),
  };
}
export type ReceiverMetrics = ReturnType<typeof receiverMetrics>;
