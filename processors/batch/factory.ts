/** Factory of the batch processor: type `batch`, takes metrics (profiles pass through unchanged). */
import type { ProcessorFactory } from '../../core/component.js';
import { configSchema, type BatchProcessorConfig } from './config.js';
import { BatchProcessor } from './processor.js';

export const batchProcessorFactory: ProcessorFactory<BatchProcessorConfig> = {
  kind: 'processor',
  type: 'batch',
  accepts: ['metrics'],
  configSchema,
  create: (settings, config, next) => new BatchProcessor(settings, config, next),
};
