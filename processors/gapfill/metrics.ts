/** gapfill's own metrics, declared in one place. */
import type { Telemetry } from '../../core/telemetry/metrics.js';

export type MeterLabel = 'processor' | 'job' | 'instance' | 'metric';

export function gapfillMetrics(telemetry: Telemetry) {
  const meter: MeterLabel[] = ['processor', 'job', 'instance', 'metric'];
  return {
    intervals: telemetry.counter(
      'pprofcol_gapfill_intervals_total',
      'Intervals (one per derived scrape) decided for a native series family of a target.',
      meter,
    ),
    missing: telemetry.counter(
      'pprofcol_gapfill_native_missing_intervals_total',
      'Intervals in which the target\'s own series of that family had no sample.',
      meter,
    ),
    filled: telemetry.counter('pprofcol_gapfill_filled_total', 'Intervals in which pprofcol wrote the derived value instead.', meter),
    dropped: telemetry.counter(
      'pprofcol_gapfill_points_dropped_total',
      'Points not passed on, by reason: native_present (the derived copy), native_series_stale (a derived stale marker ' +
        'into a series the target exports), native_stale_filled (a native stale marker where pprofcol fills), out_of_order.',
      ['processor', 'reason'],
    ),
    queries: telemetry.counter(
      'pprofcol_gapfill_queries_total',
      'Queries to query_api (one per target and poll), by result (success, failure).',
      ['processor', 'result'],
    ),
    queryFailures: telemetry.counter(
      'pprofcol_gapfill_query_failures_total',
      'Failed queries to query_api, by reason (timeout, connect, http_status, decode, tls).',
      ['processor', 'reason'],
    ),
    targets: telemetry.gauge('pprofcol_gapfill_targets', 'Targets whose state gapfill keeps (forgotten after forget_after_intervals).', ['processor']),
    series: telemetry.gauge('pprofcol_gapfill_series', 'Native series whose last-seen times gapfill keeps, over all targets.', ['processor']),
  };
}
export type GapfillMetrics = ReturnType<typeof gapfillMetrics>;
