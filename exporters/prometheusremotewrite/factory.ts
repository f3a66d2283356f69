/** Factory of the prometheusremotewrite exporter: type `prometheusremotewrite`, takes metrics. */
import type { ExporterFactory } from '../../core/component.js';
import { configSchema, type RemoteWriteExporterConfig } from './config.js';
import { RemoteWriteExporter } from './exporter.js';

export const prometheusRemoteWriteExporterFactory: ExporterFactory<RemoteWriteExporterConfig> = {
  kind: 'exporter',
  type: 'prometheusremotewrite',
  accepts: ['metrics'],
  configSchema,
  create: (settings, config) => new RemoteWriteExporter(settings, config),
};
