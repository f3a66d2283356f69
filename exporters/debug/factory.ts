/** Factory of the debug exporter: type `debug`, takes metrics. */
import type { ExporterFactory } from '../../core/component.js';
import { configSchema, type DebugExporterConfig } from './config.js';
import { DebugExporter } from './exporter.js';

export const debugExporterFactory: ExporterFactory<DebugExporterConfig> = {
  kind: 'exporter',
  type: 'debug',
  accepts: ['metrics'],
  configSchema,
  create: (settings, config) => new DebugExporter(settings, config),
};
