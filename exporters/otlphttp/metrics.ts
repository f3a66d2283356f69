/**
 * The exporter's own metrics: the send path's shared ones (core/send/metrics.ts), declared once for
 * every exporter; series are told apart by `exporter` = the component id.
 * Drop reasons: queue_full, shutdown, stale (no stale marker in OTLP), http_<status>, retries_exhausted,
 * partial_success.
 */
import { SendMetrics } from '../../core/send/metrics.js';

export type { RequestResult } from '../../core/send/metrics.js';

export class OtlpExporterMetrics extends SendMetrics {}
