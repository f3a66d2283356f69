/** The one place that names the built-in components. They register exactly as plugins do. */
import { registerComponent } from '../core/registry.js';
import { pprofReceiverFactory } from '../receivers/pprof/factory.js';
import { pprofMetricsProcessorFactory } from '../processors/pprof_metrics/factory.js';
import { debugExporterFactory } from '../exporters/debug/factory.js';
import { batchProcessorFactory } from '../processors/batch/factory.js';
import { prometheusRemoteWriteExporterFactory } from '../exporters/prometheusremotewrite/factory.js';
import { otlpHttpExporterFactory } from '../exporters/otlphttp/factory.js';
import { prometheusReceiverFactory } from '../receivers/prometheus/factory.js';
import { gapfillProcessorFactory } from '../processors/gapfill/factory.js';
import { prometheusRemoteWriteReceiverFactory } from '../receivers/prometheusremotewrite/factory.js';

export function registerBuiltins(): void {
  registerComponent(pprofReceiverFactory);
  registerComponent(pprofMetricsProcessorFactory);
  registerComponent(debugExporterFactory);
  registerComponent(batchProcessorFactory);
  registerComponent(prometheusRemoteWriteExporterFactory);
  registerComponent(otlpHttpExporterFactory);
  registerComponent(prometheusReceiverFactory);
  registerComponent(gapfillProcessorFactory);
  registerComponent(prometheusRemoteWriteReceiverFactory);
}
