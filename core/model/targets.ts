/**
 * Scrape targets as the receivers, processors and status pages name them: a target's identity and labels,
 * and why a scrape of it failed (with what to check). Apart from the profile model (profiles.ts): a
 * failure is about a target, whatever it serves.
 */
import type { LimitReason } from '../scrape/config.js';
import type { Labels } from './metrics.js';

/** Identity and labels of one scrape target. */
export interface TargetInfo {
  /** Stable key: job plus the sorted target labels. */
  readonly key: string;
  readonly job: string;
  readonly instance: string;
  /** Every label the target's series carry: job, instance and the target group's labels. */
  readonly labels: Labels;
}

/**
 * Why a fetch or parse failed; the `reason` label of pprofcol's failure counters. `queue_full`: every
 * decode worker was busy and the decode queue full (receivers/pprof: decode_queue_size).
 */
export type FailureReason = 'timeout' | 'connect' | 'http_status' | 'too_large' | 'decode' | 'tls' | 'queue_full' | LimitReason | 'other';

/**
 * What an operator should check, by failure reason: the debug exporter shows it beside `pprof_up 0`, the
 * status page beside the target's error. Here, not in a component, since the receiver and pprof_metrics both say it.
 */
export const FAILURE_HINTS: Record<FailureReason, string> = {
  connect: 'check that the service runs and listens on this address',
  timeout: 'the target did not answer within scrape_timeout; check its load or raise scrape_timeout',
  http_status: 'check that the service imports net/http/pprof and that path_prefix is right',
  too_large: 'raise body_size_limit if this size is expected',
  decode: 'check that the address serves Go pprof endpoints',
  tls: 'check tls_config and the scheme',
  queue_full: 'large profiles arrive faster than the decode workers decode them: raise decode_workers or decode_queue_size, or the scrape interval',
  sample_limit: 'raise sample_limit (the scrape config) or lower top_n',
  label_limit: 'raise label_limit',
  label_name_length_limit: 'raise label_name_length_limit',
  label_value_length_limit: 'raise label_value_length_limit (function names can be long)',
  other: 'see the pprofcol log',
};
