/** Options of the debug exporter. */
import { z } from 'zod';

export const configSchema = z
  .object({
    // Append each sample's timestamp (ms since the epoch) to its line.
    timestamps: z.boolean().default(false),
  })
  .strict();
export type DebugExporterConfig = z.output<typeof configSchema>;
