/** Factory of the gapfill processor: type `gapfill`, takes metrics. */
import type { ProcessorFactory } from '../../core/component.js';
import { configSchema, type GapfillConfig } from './config.js';
import { GapfillProcessor } from './processor.js';

export const gapfillProcessorFactory: ProcessorFactory<GapfillConfig> = {
  kind: 'processor',
  type: 'gapfill',
  accepts: ['metrics'],
  configSchema,
  create: (settings, config, next) => new GapfillProcessor(settings, config, next),
};
