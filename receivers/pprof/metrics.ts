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
    sourceRequests: telemetry.counter(
      'pprofcol_receiver_source_requests_total',
      'Requests sent to targets, by source (index, expvar, heap_debug1, goroutine_debug1, goroutine_debug2, threadcreate_debug1, allocs, mutex, block, cpu).',
      ['receiver', 'job', 'source'],
    ),
    cpuProfiles: telemetry.counter(
      'pprofcol_receiver_cpu_profiles_total',
      'CPU profile windows, by result (success; busy: the target already ran another CPU profile; failure).',
      ['receiver', 'job', 'result'],
    ),
    cpuProfilesRunning: telemetry.gauge('pprofcol_receiver_cpu_profiles_running', 'CPU profile windows in progress (at most max_concurrent_cpu_profiles).', ['receiver']),
  };
}
export type ReceiverMetrics = ReturnType<typeof receiverMetrics>;
