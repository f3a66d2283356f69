/**
 * The prometheus receiver's own metrics. The names are the ones every scraping receiver shares
 * (Telemetry returns the metric already declared when the pprof receiver runs beside this one), told
 * apart by the `receiver` label.
 */
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
