/** pprof_metrics takes no options yet: `pprof_metrics: {}`. */
import { z } from 'zod';

export const configSchema = z.object({}).strict();
export type PprofMetricsConfig = z.output<typeof configSchema>;
