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
      'Fetches from a target that failed, by reason (timeout, connect, http_status, too_large, decode, tls, sample_limit, label_limit, label_name_length_limit, label_value_length_limit, other).',
      ['receiver', 'job', 'reason'],
    ),
    samplesDropped: telemetry.counter(
      'pprofcol_receiver_samples_dropped_total',
      'Samples of successful scrapes that were not handed on, by reason (duplicate: a series repeated on one page, the first kept).',
      ['receiver', 'job', 'reason'],
    ),
    targets: telemetry.gauge('pprofcol_receiver_targets', 'Targets currently scraped.', ['receiver', 'job']),
  };
}
export type ScrapeMetrics = ReturnType<typeof scrapeMetrics>;

/** file_sd's own counter, shared by every scraping receiver like the ones above. */
export function fileSdMetrics(telemetry: Telemetry) {
  return {
    errors: telemetry.counter(
      'pprofcol_receiver_file_sd_errors_total',
      'Reads of a file_sd file that could not be used (its last good targets kept), by reason (read, too_large, parse, too_many_targets, too_many_labels, invalid).',
      ['receiver', 'job', 'reason'],
    ),
  };
}

/** Slots a scrape loop skipped, shared by every scraping receiver (counted by the scrape pool). */
export function skipMetrics(telemetry: Telemetry) {
  return {
    skipped: telemetry.counter(
      'pprofcol_receiver_scrapes_skipped_total',
      'Scrape slots skipped because the previous scrape of the target had not finished, by reason (backpressure: its data still waited for room downstream; overrun: it was still fetching).',
      ['receiver', 'job', 'reason'],
    ),
  };
}
