/**
 * Config of the pprof receiver: Prometheus-style scrape_configs, or the one-target short form
 * `{endpoint, collection_interval}`.
 */
import { z } from 'zod';
import { duration, hostPort } from '../../core/config/types.js';
import { scrapeConfigBase, uniqueJobNames, withScrapeRules, type ScrapeConfig, DEFAULT_SCRAPE_INTERVAL } from '../../core/scrape/config.js';
import { PROFILE_FAMILIES, type ProfileFamily } from '../../core/model/profiles.js';

export const DEFAULT_PATH_PREFIX = '/debug/pprof';
/** The cheap three: counts and memstats. allocs, mutex, block and cpu cost the target more and are opt-in. */
export const DEFAULT_PROFILES: ProfileFamily[] = ['goroutine', 'threadcreate', 'heap'];
/** job_name the short form gets. */
export const SHORT_FORM_JOB = 'pprof';

const pprofScrapeConfig = withScrapeRules(
  scrapeConfigBase
    .extend({
      // Where net/http/pprof is mounted on the target.
      path_prefix: z.string().regex(/^\/.*[^/]$|^\/$/, 'must start with / and not end with /').default(DEFAULT_PATH_PREFIX),
      // Which families of derived metrics to produce; the receiver fetches whatever source gives them.
      profiles: z
        .array(z.enum(PROFILE_FAMILIES))
        .min(1, 'name at least one profile family')
        .refine((p) => new Set(p).size === p.length, 'lists a family twice')
        .default(DEFAULT_PROFILES),
    })
    .strict(),
);

export interface PprofScrapeConfig extends ScrapeConfig {
  path_prefix: string;
  profiles: ProfileFamily[];
}

export interface PprofReceiverConfig {
  scrape_configs: PprofScrapeConfig[];
}

export const configSchema = z
  .object({
    scrape_configs: z.array(pprofScrapeConfig).optional(),
    // Short form, for one target: `pprof: {endpoint: localhost:6060, collection_interval: 30s}`.
    endpoint: hostPort.optional(),
    collection_interval: duration.optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const short = cfg.endpoint !== undefined || cfg.collection_interval !== undefined;
    if (short && cfg.scrape_configs !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['endpoint'], message: 'use either scrape_configs or the short form (endpoint, collection_interval), not both' });
    } else if (cfg.collection_interval !== undefined && cfg.endpoint === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['endpoint'], message: 'is required with collection_interval' });
    } else if (!short && (cfg.scrape_configs === undefined || cfg.scrape_configs.length === 0)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['scrape_configs'], message: 'list at least one scrape config (or use endpoint: host:port)' });
    }
    if (cfg.scrape_configs !== undefined) uniqueJobNames(cfg.scrape_configs, ctx, ['scrape_configs']);
  })
  .transform((cfg): PprofReceiverConfig => {
    if (cfg.scrape_configs !== undefined) return { scrape_configs: cfg.scrape_configs as PprofScrapeConfig[] };
    const expanded = pprofScrapeConfig.parse({
      job_name: SHORT_FORM_JOB,
      scrape_interval: cfg.collection_interval === undefined ? DEFAULT_SCRAPE_INTERVAL : `${cfg.collection_interval}ms`,
      static_configs: [{ targets: [cfg.endpoint] }],
    });
    return { scrape_configs: [expanded as PprofScrapeConfig] };
  });
