/**
 * Config of pprof_metrics: how far the by-function (and by-state) breakdowns go.
 * `pprof_metrics: {}` takes the defaults.
 */
import { z } from 'zod';

/** Functions kept per breakdown per target; the rest are summed into `function="other"`. */
export const DEFAULT_TOP_N = 10;
/**
 * Series per target at most. The fixed families (memstats, gc summary, counts, totals) are ~45
 * series; with every family on, 13 breakdowns x (top_n + other) = 143 at the default top_n, so 500
 * leaves room for top_n up to ~30 before the limit trims each breakdown evenly.
 */
export const DEFAULT_SERIES_LIMIT = 500;

export const configSchema = z
  .object({
    // Functions per breakdown per target; 0 keeps only the total and `other`.
    top_n: z.number().int().min(0).default(DEFAULT_TOP_N),
    // Most series one target may produce; breakdowns shrink (evenly) to stay under it.
    series_limit: z.number().int().min(100, 'must be at least 100 (the fixed families alone are ~45 series)').default(DEFAULT_SERIES_LIMIT),
  })
  .strict();
export type PprofMetricsConfig = z.output<typeof configSchema>;
