/** The pprof receiver's own metrics: the ones every scraping receiver has, and its own. */
import { scrapeMetrics } from '../../core/scrape/metrics.js';
import type { Telemetry } from '../../core/telemetry/metrics.js';

export function receiverMetrics(telemetry: Telemetry) {
  return {
    ...scrapeMetrics(telemetry),
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
    decodeQueue: telemetry.gauge(
      'pprofcol_receiver_decode_queue_profiles',
      'Large profiles waiting for a decode worker (at most decode_queue_size; past it a profile fails with reason queue_full).',
      ['receiver'],
    ),
    decodeWorkersBusy: telemetry.gauge('pprofcol_receiver_decode_workers_busy', 'Decode workers decoding a profile now (at most decode_workers).', ['receiver']),
    cpuProfilesRunning: telemetry.gauge('pprofcol_receiver_cpu_profiles_running', 'CPU profile windows in progress (at most max_concurrent_cpu_profiles).', ['receiver']),
  };
}
export type ReceiverMetrics = ReturnType<typeof receiverMetrics>;
