/**
 * Config of the pprof receiver: Prometheus-style scrape_configs, or the one-target short form
 * `{endpoint, collection_interval}`.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { duration, durationDefault, hostPort } from '../../core/config/types.js';
import { scrapeConfigBase, uniqueJobNames, withScrapeRules, type ScrapeConfig, DEFAULT_SCRAPE_INTERVAL } from '../../core/scrape/config.js';
import { PROFILE_FAMILIES, type ProfileFamily } from '../../core/model/profiles.js';

export const DEFAULT_PATH_PREFIX = '/debug/pprof';
/** Where expvar serves runtime.MemStats as JSON; '' turns the source off (heap?debug=1 is used). */
export const DEFAULT_EXPVAR_PATH = '/debug/vars';
/** The cheap three: counts and memstats. The breakdowns cost the target more and are opt-in. */
export const DEFAULT_PROFILES: ProfileFamily[] = ['goroutine', 'threadcreate', 'heap'];

/**
 * How often each family is fetched when it is in `profiles`. Counts come from the index page,
 * which costs a Go target about half of its own /metrics, so every scrape_interval. Everything
 * else costs it 2-10x a /metrics request (see README, "What a scrape costs the target"), so once
 * a minute: with the defaults (15s interval) a target pays, averaged over time, less than for one
 * /metrics scrape per interval. A family is never fetched more often than scrape_interval.
 */
export const DEFAULT_PROFILE_INTERVALS_MS: Readonly<Record<Exclude<ProfileFamily, 'cpu'>, number>> = {
  goroutine: 0, // 0: every scrape_interval
  threadcreate: 0,
  heap: 60_000,
  goroutine_functions: 60_000,
  goroutine_states: 60_000,
  allocs: 60_000,
  mutex: 60_000,
  block: 60_000,
};
/**
 * Prometheus treats a series without a sample for 5 minutes as gone (its lookback delta), so a
 * value fetched less often than that would vanish from queries between fetches.
 */
export const MAX_PROFILE_INTERVAL_MS = 5 * 60_000;
/** CPU profile: 10 s of every minute, so the target runs its profiler (~1-5 % overhead) a sixth of the time. */
export const DEFAULT_CPU_WINDOW_MS = 10_000;
export const DEFAULT_CPU_EVERY_MS = 60_000;
/** At most this many CPU profiles run at once per receiver: each holds a connection for its window. */
export const DEFAULT_MAX_CONCURRENT_CPU_PROFILES = 4;
/**
 * Decode worker threads (profiles above 256 KiB inflated decode there): half the cores, at least one,
 * so that workers busy with hostile profiles leave the main thread (scrape timers, the exporter) a core
 * of its own: with 2 workers on a 2-core machine the good target's scrape-start lag p99 under attack
 * reached 98 ms against 33 ms calm (test/integration/crafted-profiles.test.ts). Each holds at most one
 * decode's bound (core/pprof/decode.ts: inflated bytes + 3 x body_size_limit + 1 MiB, ~260 MiB at the defaults).
 */
export const DEFAULT_DECODE_WORKERS = Math.max(1, Math.floor(availableParallelism() / 2));
/**
 * Large profiles waiting for a worker, at most; past it one fails at once (reason queue_full). 16: a
 * worker decodes a 64 MiB profile in ~1.5 s, so 16 waiting is ~12 s of work for 2 workers, about a
 * default scrape interval; each waiting body is held (<= body_size_limit).
 */
export const DEFAULT_DECODE_QUEUE_SIZE = 16;

const profileIntervals = z
  .object(
    Object.fromEntries(
      (Object.keys(DEFAULT_PROFILE_INTERVALS_MS) as Array<keyof typeof DEFAULT_PROFILE_INTERVALS_MS>).map((k) => [k, duration.optional()]),
    ) as Record<keyof typeof DEFAULT_PROFILE_INTERVALS_MS, z.ZodOptional<typeof duration>>,
  )
  .strict()
  .default({});

const cpuConfig = z
  .object({
    // Length of each CPU profile (`profile?seconds=`); Go takes whole seconds.
    window: durationDefault(DEFAULT_CPU_WINDOW_MS),
    // One window starts every this often per target.
    every: durationDefault(DEFAULT_CPU_EVERY_MS),
  })
  .strict()
  .superRefine((cpu, ctx) => {
    if (cpu.window < 1000 || cpu.window % 1000 !== 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['window'], message: 'must be whole seconds, at least 1s (Go\'s profile?seconds= takes seconds)' });
    }
    if (cpu.every < cpu.window) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['every'], message: 'must be at least window' });
    if (cpu.every >= MAX_PROFILE_INTERVAL_MS) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['every'], message: 'must be under 5m: Prometheus drops a series from queries after 5m without samples' });
    }
  })
  .default({});
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
      // Path of expvar's JSON on the target; '' to never ask for it.
      expvar_path: z.string().regex(/^$|^\/.*/, 'must start with / (or be empty to turn it off)').default(DEFAULT_EXPVAR_PATH),
      // Per family, how often it is fetched (see DEFAULT_PROFILE_INTERVALS_MS); 0 = every scrape_interval.
      profile_intervals: profileIntervals,
      // CPU profile duty cycle; used when `cpu` is in profiles.
      cpu: cpuConfig,
    })
    .strict()
    .superRefine((cfg, ctx) => {
      for (const [family, ms] of Object.entries(cfg.profile_intervals)) {
        if (ms === undefined || ms === 0) continue;
        if (ms < cfg.scrape_interval) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['profile_intervals', family], message: `must be 0 or at least scrape_interval (${cfg.scrape_interval}ms)` });
        }
        if (ms >= MAX_PROFILE_INTERVAL_MS) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['profile_intervals', family], message: 'must be under 5m: Prometheus drops a series from queries after 5m without samples' });
        }
      }
    }),
);

export interface CpuConfig {
  /** Milliseconds, whole seconds. */
  window: number;
  /** Milliseconds between window starts. */
  every: number;
}

export interface PprofScrapeConfig extends ScrapeConfig {
  path_prefix: string;
  profiles: ProfileFamily[];
  expvar_path: string;
  /** Family -> ms; absent = the default. */
  profile_intervals: Partial<Record<Exclude<ProfileFamily, 'cpu'>, number>>;
  cpu: CpuConfig;
}

export interface PprofReceiverConfig {
  scrape_configs: PprofScrapeConfig[];
  max_concurrent_cpu_profiles: number;
  /** Decode worker threads for large profiles (>= 1). */
  decode_workers: number;
  /** Large profiles waiting for a worker, at most (0: none wait). */
  decode_queue_size: number;
}

/** The interval of a family in ms: configured, else default, never below scrape_interval. */
export function profileIntervalMs(config: Pick<PprofScrapeConfig, 'profile_intervals' | 'scrape_interval'>, family: Exclude<ProfileFamily, 'cpu'>): number {
  const ms = config.profile_intervals[family] ?? DEFAULT_PROFILE_INTERVALS_MS[family];
  return Math.max(ms, config.scrape_interval);
}

export const configSchema = z
  .object({
    scrape_configs: z.array(pprofScrapeConfig).optional(),
    // Short form, for one target: `pprof: {endpoint: localhost:6060, collection_interval: 30s}`.
    endpoint: hostPort.optional(),
    collection_interval: duration.optional(),
    // CPU profiles running at once across all targets of this receiver; more wait for a slot.
    max_concurrent_cpu_profiles: z.number().int().min(1).default(DEFAULT_MAX_CONCURRENT_CPU_PROFILES),
    // Worker threads that decode profiles above 256 KiB (inflated), and how many may wait for one.
    decode_workers: z.number().int().min(1).default(DEFAULT_DECODE_WORKERS),
    decode_queue_size: z.number().int().min(0).default(DEFAULT_DECODE_QUEUE_SIZE),
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
    const shared = { max_concurrent_cpu_profiles: cfg.max_concurrent_cpu_profiles, decode_workers: cfg.decode_workers, decode_queue_size: cfg.decode_queue_size };
    if (cfg.scrape_configs !== undefined) return { scrape_configs: cfg.scrape_configs as PprofScrapeConfig[], ...shared };
    const expanded = pprofScrapeConfig.parse({
      job_name: SHORT_FORM_JOB,
      scrape_interval: cfg.collection_interval === undefined ? DEFAULT_SCRAPE_INTERVAL : `${cfg.collection_interval}ms`,
      static_configs: [{ targets: [cfg.endpoint] }],
    });
    return { scrape_configs: [expanded as PprofScrapeConfig], ...shared };
  });
