/** The prometheusremotewrite receiver's own metrics, declared in one place. */
import type { Telemetry } from '../../core/telemetry/metrics.js';

export function receiverMetrics(telemetry: Telemetry) {
  return {
    requests: telemetry.counter(
      'pprofcol_receiver_write_requests_total',
      'Remote-write requests answered, by HTTP status code.',
      ['receiver', 'code'],
    ),
    rejected: telemetry.counter(
      'pprofcol_receiver_write_requests_rejected_total',
      'Remote-write requests refused, by reason: bad_request, too_large (413), unsupported, busy (503: max_concurrent_requests or shutting down), over_budget (503: max_inflight_bytes held by others), queue_full (503: an exporter queue stayed full for its block_timeout), evicted (503: max_connections), body_timeout (408), downstream (500), client_aborted (the client closed the connection mid-body; not answered).',
      ['receiver', 'reason'],
    ),
    decoded: telemetry.counter(
      'pprofcol_receiver_write_decoded_requests_total',
      'Remote-write requests decoded, by protocol (1.0: prometheus.WriteRequest, 2.0: io.prometheus.write.v2.Request).',
      ['receiver', 'protocol'],
    ),
    inflightBytes: telemetry.gauge('pprofcol_receiver_write_inflight_bytes', 'Bytes of max_inflight_bytes held by requests in flight (bodies, decoded bytes, decoded points).', ['receiver']),
    inflightLimit: telemetry.gauge('pprofcol_receiver_write_inflight_limit_bytes', 'max_inflight_bytes: the memory all requests in flight may hold together.', ['receiver']),
    samplesRejected: telemetry.counter(
      'pprofcol_receiver_write_samples_rejected_total',
      'Samples refused while the rest of their request was taken, by reason: invalid_utf8, invalid_timestamp (not an integer of at most 53 bits of ms), too_old (sample_age_limit), too_far_in_future (sample_future_limit).',
      ['receiver', 'reason'],
    ),
    samples: telemetry.counter('pprofcol_receiver_write_samples_total', 'Samples received and handed on (stale markers included).', ['receiver']),
    histogramsSkipped: telemetry.counter(
      'pprofcol_receiver_write_histograms_dropped_total',
      'Native histogram samples received, which the metrics model does not carry, by reason.',
      ['receiver', 'reason'],
    ),
    cacheEvictions: telemetry.counter(
      'pprofcol_receiver_cache_evictions_total',
      'Entries pushed out of a bounded cache to make room, by cache (metadata: families learned from metadata; untyped: names seen without metadata).',
      ['receiver', 'cache'],
    ),
  };
}
export type ReceiverMetrics = ReturnType<typeof receiverMetrics>;
