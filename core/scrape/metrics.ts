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

/**
 * How late scrapes start after their slot (offset + k x interval): timer delay plus whatever held the
 * event loop. Buckets from 1 ms (an idle loop) to 5 s (a stall past any sane scrape timeout); the 50 ms
 * and 100 ms edges are the lateness the pprof receiver's design allows.
 */
export function scrapeLagMetric(telemetry: Telemetry) {
  return telemetry.histogram(
    'pprofcol_receiver_scrape_lag_seconds',
    'How late scrapes started after their scheduled slot, in seconds.',
    ['receiver', 'job'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
}
