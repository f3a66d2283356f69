/**
 * Own metrics every scraping receiver shares, declared once. Two receivers (pprof and prometheus)
 * running side by side write the same families, told apart by the `receiver` label.
 */
import type { Telemetry } from '../telemetry/metrics.js';

export function scrapeMetrics(telemetry: Telemetry) {
  return {
    scrapes: telemetry.counter(
      'pprofcol_receiver_scrapes_total',
      'Scrapes of a target, by result (success: everything the scrape asked for was fetched and parsed).',
      ['receiver', 'job', 'result'],
    ),
    failures: telemetry.counter(
      'pprofcol_receiver_scrape_failures_total',
      'Fetches from a target that failed, by reason (timeout, connect, http_status, too_large, decode, tls, other).',
      ['receiver', 'job', 'reason'],
    ),
    targets: telemetry.gauge('pprofcol_receiver_targets', 'Targets currently scraped.', ['receiver', 'job']),
  };
}
export type ScrapeMetrics = ReturnType<typeof scrapeMetrics>;
