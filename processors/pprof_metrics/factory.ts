/** Factory of pprof_metrics: takes profiles (and passes metrics through), turns profiles into metrics. */
import type { ProcessorFactory } from '../../core/component.js';
import { configSchema, type PprofMetricsConfig } from './config.js';
import { PprofMetricsProcessor } from './processor.js';

export const pprofMetricsProcessorFactory: ProcessorFactory<PprofMetricsConfig> = {
  kind: 'processor',
  type: 'pprof_metrics',
  accepts: ['profiles', 'metrics'],
  converts: { from: 'profiles', to: 'metrics' },
  configSchema,
  create: (settings, config, next) => new PprofMetricsProcessor(settings, config, next),
};
