/**
 * The part of Prometheus's scrape_config that every pulling receiver shares. A receiver extends
 * `scrapeConfigBase` with its own keys and wraps it with `withScrapeRules`.
 */
import { z } from 'zod';
import { byteSize, duration, hostPort, httpClientKeys, labelSet, outputShapedLike, type HttpClientConfig } from '../config/types.js';

export const DEFAULT_SCRAPE_INTERVAL = '15s';
/** Prometheus's default timeout is 10s, and never more than the interval. */
export const DEFAULT_SCRAPE_TIMEOUT_MS = 10_000;
/** Profiles are larger than /metrics pages; 64MiB holds a heap profile of a very large service. */
export const DEFAULT_BODY_SIZE_LIMIT = '64MiB';
export const DEFAULT_FILE_SD_REFRESH = '5m';
/**
 * file_sd bounds (pprofcol's additions; Prometheus has none). 1MiB holds ~50k targets as JSON
 * ("10.0.0.1:6060", ~20 bytes each) or 3k groups of ten labels; a file over a bound is not used and
 * its last good targets stay. Parsing that much YAML takes ~0.7s, in a worker thread (discovery.ts).
 */
export const DEFAULT_FILE_SD_MAX_FILE_SIZE = '1MiB';
/** Targets in one group: more than a file_sd producer lists in one group for one job. */
export const DEFAULT_FILE_SD_MAX_TARGETS_PER_GROUP = 10_000;
/** Labels in one group: every series of its targets carries them, so more is a mistake, not a design. */
export const DEFAULT_FILE_SD_MAX_LABELS_PER_GROUP = 128;
/**
 * Samples one scrape may yield; past it the scrape fails (`up` / `pprof_up` 0, reason `sample_limit`),
 * as in Prometheus. Prometheus's default is 0 (no limit); pprofcol's is 100,000, because without a limit
 * one page of a million series scraped every second took pprofcol to 1.06 GB (1-1.4 GB in the issue) and
 * pushed other targets' samples out of the queues. A parsed sample costs ~0.5-1 KiB until it is sent
 * (labels, the point, the series entry), so the limit holds a page to ~100 MB; it is 5x the 20,000-series pages the benchmarks scrape every second. A pprof
 * target derives at most pprof_metrics' series_limit (500 by default) and never meets it unless lowered.
 */
export const DEFAULT_SAMPLE_LIMIT = 100_000;
/** Labels per sample, at most (0: no limit, as in Prometheus). */
export const DEFAULT_LABEL_LIMIT = 0;
/** Length of a label name, in characters (0: no limit, as in Prometheus). */
export const DEFAULT_LABEL_NAME_LENGTH_LIMIT = 0;
/** Length of a label value, in characters (0: no limit, as in Prometheus). */
export const DEFAULT_LABEL_VALUE_LENGTH_LIMIT = 0;

export const staticConfig = z
  .object({
    targets: z.array(hostPort).default([]),
    labels: labelSet.default({}),
  })
  .strict();

export const fileSdConfig = z
  .object({
    files: z.array(z.string().min(1)).min(1, 'list at least one file or glob'),
    // Files are also watched; the periodic re-read catches changes a watcher misses.
    refresh_interval: duration.default(DEFAULT_FILE_SD_REFRESH),
    // Bounds of one file: past one, the file is not used and its last good targets stay.
    max_file_size: byteSize.default(DEFAULT_FILE_SD_MAX_FILE_SIZE).refine((n) => n > 0, 'must be more than 0'),
    max_targets_per_group: z.number().int().positive().default(DEFAULT_FILE_SD_MAX_TARGETS_PER_GROUP),
    max_labels_per_group: z.number().int().positive().default(DEFAULT_FILE_SD_MAX_LABELS_PER_GROUP),
  })
  .strict();

export const scrapeConfigBase = z
  .object({
    job_name: z.string().min(1),
    scrape_interval: duration.default(DEFAULT_SCRAPE_INTERVAL),
    scrape_timeout: duration.optional(),
    scheme: z.enum(['http', 'https']).default('http'),
    // Applied to the bytes read and again to what a gzip body inflates to; 0 means no limit.
    body_size_limit: byteSize.default(DEFAULT_BODY_SIZE_LIMIT),
    // Prometheus's scrape limits: past any of them the scrape fails. 0 = no limit.
    sample_limit: z.number().int().nonnegative().default(DEFAULT_SAMPLE_LIMIT),
    label_limit: z.number().int().nonnegative().default(DEFAULT_LABEL_LIMIT),
    label_name_length_limit: z.number().int().nonnegative().default(DEFAULT_LABEL_NAME_LENGTH_LIMIT),
    label_value_length_limit: z.number().int().nonnegative().default(DEFAULT_LABEL_VALUE_LENGTH_LIMIT),
    static_configs: z.array(staticConfig).default([]),
    file_sd_configs: z.array(fileSdConfig).default([]),
    ...httpClientKeys,
  })
  .strict();

export type StaticConfig = z.output<typeof staticConfig>;
export type FileSdConfig = z.output<typeof fileSdConfig>;

/** Prometheus's per-scrape limits (0 = off each); a scrape past one fails with the limit's name as reason. */
export interface ScrapeLimits {
  sample_limit: number;
  label_limit: number;
  label_name_length_limit: number;
  label_value_length_limit: number;
}

/** The reason a limit gives a failed scrape: its YAML key (`sample_limit`, `label_limit`, ...). */
export type LimitReason = keyof ScrapeLimits;

/** What the scrape machinery reads from any receiver's scrape config. */
export interface ScrapeConfig extends HttpClientConfig, ScrapeLimits {
  job_name: string;
  scrape_interval: number;
  /** Resolved: always set after validation. */
  scrape_timeout: number;
  scheme: 'http' | 'https';
  body_size_limit: number;
  static_configs: StaticConfig[];
  file_sd_configs: FileSdConfig[];
}

/**
 * Fills the timeout default and checks the rules Prometheus checks across fields. The cross-field
 * rules read each field on its own from the raw input, so they are reported together with any
 * other error of the same scrape config (zod runs a refinement only on an object that parsed).
 */
export function withScrapeRules<T extends z.ZodTypeAny>(schema: T) {
  const wrapped = z.unknown().transform((raw, ctx): z.output<T> & { scrape_timeout: number } => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue(issue);
    const input = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
    if (input.basic_auth !== undefined && input.authorization !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['authorization'], message: 'set basic_auth or authorization, not both' });
    }
    const interval = duration.safeParse(input.scrape_interval ?? DEFAULT_SCRAPE_INTERVAL);
    const explicitTimeout = input.scrape_timeout === undefined ? undefined : duration.safeParse(input.scrape_timeout);
    if (interval.success && interval.data <= 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['scrape_interval'], message: 'must be greater than 0' });
    }
    if (explicitTimeout?.success === true && interval.success) {
      if (explicitTimeout.data <= 0) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['scrape_timeout'], message: 'must be greater than 0' });
      } else if (explicitTimeout.data > interval.data) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['scrape_timeout'],
          message: `${explicitTimeout.data}ms is greater than scrape_interval (${interval.data}ms); a scrape must end before the next starts`,
        });
      }
    }
    if (!parsed.success) return z.NEVER;
    const cfg = parsed.data as z.output<T> & { scrape_interval: number; scrape_timeout?: number };
    return { ...cfg, scrape_timeout: cfg.scrape_timeout ?? Math.min(DEFAULT_SCRAPE_TIMEOUT_MS, cfg.scrape_interval) };
  });
  return outputShapedLike(wrapped, schema);
}

/** Job names must be unique within one receiver: they key the series and the own metrics. */
export function uniqueJobNames(configs: readonly { job_name: string }[], ctx: z.RefinementCtx, path: (string | number)[]): void {
  const seen = new Set<string>();
  configs.forEach((c, i) => {
    if (seen.has(c.job_name)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [...path, i, 'job_name'], message: `"${c.job_name}" is used by another scrape config` });
    }
    seen.add(c.job_name);
  });
}
