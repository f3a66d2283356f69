/** Factory of the otlphttp exporter: type `otlphttp`, takes metrics. */
import type { ExporterFactory } from '../../core/component.js';
import { configSchema, type OtlpHttpExporterConfig } from './config.js';
import { OtlpHttpExporter } from './exporter.js';

export const otlpHttpExporterFactory: ExporterFactory<OtlpHttpExporterConfig> = {
  kind: 'exporter',
  type: 'otlphttp',
  accepts: ['metrics'],
  configSchema,
  create: (settings, config) => new OtlpHttpExporter(settings, config),
};
