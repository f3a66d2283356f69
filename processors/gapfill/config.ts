/**
 * Options of the gapfill processor. Durations are milliseconds after parsing.
 */
import { z } from 'zod';
import { duration, hostPort, httpClientKeys } from '../../core/config/types.js';

/** The native series' scrape interval; Prometheus's default. */
export const DEFAULT_INTERVAL = '15s';
/** Receivers whose batches are derived (filled in only where the native series is missing). */
export const DEFAULT_DERIVED_RECEIVERS = ['pprof'];
/** Which target labels must agree for a derived and a native series to be the same target. */
export const DEFAULT_MATCH_LABELS: MatchLabel[] = ['job', 'instance'];

export type MatchLabel = 'job' | 'instance';

/**
 * How often the query API is asked, as a share of `interval`: a derived point waits for the poll after the
 * native scrape that decides it, so 1/4 keeps that wait at a quarter interval (plus the query's own time).
 */
export const DEFAULT_QUERY_POLLS_PER_INTERVAL = 4;
/** The query API's answer may take this long at most, milliseconds (default: the poll interval, capped here). */
export const MAX_DEFAULT_QUERY_TIMEOUT_MS = 10_000;
/** Targets and series not seen for this many intervals are forgotten (bounded memory). */
export const DEFAULT_FORGET_AFTER_INTERVALS = 10;

const queryApi = z
  .object({
    // Base URL of a Prometheus-compatible HTTP API (Prometheus, Thanos query, Mimir's /prometheus, VictoriaMetrics).
    url: z.string().url('must be a URL such as http://prometheus:9090').refine((u) => /^https?:/.test(u), 'must be http or https'),
    // How often the native series of each target are asked for. Default: interval / 4.
    interval: duration.optional(),
    // Deadline of one query. Default: the poll interval, at most 10s.
    timeout: duration.optional(),
    ...httpClientKeys,
  })
  .strict();

const componentId = z.string().regex(/^[A-Za-z0-9_]+(?:\/[A-Za-z0-9_.-]+)?$/, 'must be a receiver id (type or type/name)');

export const configSchema = z
  .object({
    // Receivers whose batches are the target's own series. Either these or query_api: without one of them
    // nothing is known to be present.
    native_receivers: z.array(componentId).default([]),
    // Or: ask a Prometheus-compatible query API which native series exist and when each was last seen.
    query_api: queryApi.optional(),
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
    // A target (and a series of a target) not seen in either stream for this many intervals is forgotten.
    forget_after_intervals: z.number().int().min(2).default(DEFAULT_FORGET_AFTER_INTERVALS),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.interval <= 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['interval'], message: 'must be greater than 0' });
    if (c.native_receivers.length === 0 && c.query_api === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['native_receivers'], message: 'name at least one receiver (prometheus, prometheusremotewrite), or set query_api' });
    }
    if (c.native_receivers.length > 0 && c.query_api !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['query_api'], message: 'set query_api or native_receivers, not both: one source of what the target exports' });
    }
    if (c.query_api?.interval !== undefined && c.query_api.interval <= 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['query_api', 'interval'], message: 'must be greater than 0' });
    }
    for (const id of c.native_receivers) {
      if (c.derived_receivers.includes(id)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['native_receivers'], message: `"${id}" is also in derived_receivers` });
      }
    }
  })
  .transform((c) => {
    const q = c.query_api;
    const pollMs = q?.interval ?? Math.max(1, Math.round(c.interval / DEFAULT_QUERY_POLLS_PER_INTERVAL));
    return {
      ...c,
      staleness: c.staleness ?? c.interval,
      max_wait: c.max_wait ?? 2 * c.interval,
      query_api: q === undefined ? undefined : { ...q, interval: pollMs, timeout: q.timeout ?? Math.min(pollMs, MAX_DEFAULT_QUERY_TIMEOUT_MS) },
    };
  });

export type GapfillConfig = z.output<typeof configSchema>;
