/**
 * Options of the gapfill processor. Durations are milliseconds after parsing.
 */
import { z } from 'zod';
import { duration, hostPort } from '../../core/config/types.js';

/** The native series' scrape interval; Prometheus's default. */
export const DEFAULT_INTERVAL = '15s';
/** Receivers whose batches are derived (filled in only where the native series is missing). */
export const DEFAULT_DERIVED_RECEIVERS = ['pprof'];
/** Which target labels must agree for a derived and a native series to be the same target. */
export const DEFAULT_MATCH_LABELS: MatchLabel[] = ['job', 'instance'];

export type MatchLabel = 'job' | 'instance';

const componentId = z.string().regex(/^[A-Za-z0-9_]+(?:\/[A-Za-z0-9_.-]+)?$/, 'must be a receiver id (type or type/name)');

export const configSchema = z
  .object({
    // Receivers whose batches are the target's own series. Required: without them nothing is known to be present.
    native_receivers: z.array(componentId).min(1, 'name at least one receiver (prometheus, prometheusremotewrite)'),
    // Receivers whose batches are derived copies (default [pprof]). Batches of any other source pass untouched.
    derived_receivers: z.array(componentId).min(1).default(DEFAULT_DERIVED_RECEIVERS),
    // Scrape interval of the native series: the unit of the loss meter and of align_timestamps.
    interval: duration.default(DEFAULT_INTERVAL),
    // A native series counts as present at time t when it has a sample in (t - staleness/2, t + staleness/2]:
    // the one native scrape nearest to t. Default: interval.
    staleness: duration.optional(),
    // Longest a derived point waits for the native stream to pass t + staleness/2 before it is decided on
    // with what is known. Default: 2 x interval. Raise it by the native path's delay (remote write batching).
    max_wait: duration.optional(),
    // Target labels that must match between derived and native series: [job, instance] or [instance].
    match_labels: z
      .array(z.enum(['job', 'instance']))
      .min(1)
      .refine((l) => l.includes('instance'), 'must include instance')
      .refine((l) => new Set(l).size === l.length, 'lists a label twice')
      .default(DEFAULT_MATCH_LABELS),
    // Derived job -> native job (applied before matching; the derived point is written with the native job).
    job_map: z.record(z.string().min(1)).default({}),
    // Derived instance (the pprof address) -> native instance (the /metrics address).
    instance_map: z.record(hostPort, hostPort).default({}),
    // Derived port -> native port, for every host without an instance_map entry ("6060": "8080").
    port_map: z.record(z.string().regex(/^\d{1,5}$/, 'must be a port number'), z.string().regex(/^\d{1,5}$/, 'must be a port number')).default({}),
    // Truncate derived timestamps to a multiple of interval.
    align_timestamps: z.boolean().default(false),
    // Also write the loss meter as points beside the data (pprofcol_native_missing_ratio and the counters).
    emit_loss_metrics: z.boolean().default(false),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.interval <= 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['interval'], message: 'must be greater than 0' });
    for (const id of c.native_receivers) {
      if (c.derived_receivers.includes(id)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['native_receivers'], message: `"${id}" is also in derived_receivers` });
      }
    }
  })
  .transform((c) => ({ ...c, staleness: c.staleness ?? c.interval, max_wait: c.max_wait ?? 2 * c.interval }));

export type GapfillConfig = z.output<typeof configSchema>;
