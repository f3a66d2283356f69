/** Options of the batch processor (as the OTel Collector's batchprocessor). Durations in milliseconds after parsing. */
import { z } from 'zod';
import { durationDefault } from '../../core/config/types.js';

/** Points that make a batch leave at once. 0: size is no trigger, only `timeout` is. */
export const DEFAULT_SEND_BATCH_SIZE = 8192;
/** Largest batch sent; bigger ones are split. 0: no upper limit. */
export const DEFAULT_SEND_BATCH_MAX_SIZE = 0;
/** A batch that has not reached send_batch_size leaves this long after its first point arrived. 0: no waiting. */
export const DEFAULT_TIMEOUT_MS = 200;

export const configSchema = z
  .object({
    send_batch_size: z.number().int().nonnegative().default(DEFAULT_SEND_BATCH_SIZE),
    send_batch_max_size: z.number().int().nonnegative().default(DEFAULT_SEND_BATCH_MAX_SIZE),
    timeout: durationDefault(DEFAULT_TIMEOUT_MS),
  })
  .strict()
  .refine((c) => c.send_batch_max_size === 0 || c.send_batch_max_size >= c.send_batch_size, {
    path: ['send_batch_max_size'],
    message: 'must be 0 or at least send_batch_size',
  });

export type BatchProcessorConfig = z.output<typeof configSchema>;
