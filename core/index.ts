/**
 * The public API: what plugins and embedders import (`import { registerComponent } from 'pprofcol'`).
 * Its declarations (dist/core/index.d.ts) are the package's `types`: the plugin contract, which the
 * README's "Writing a plugin" section explains field by field.
 */
export { registerComponent, registeredTypes } from './registry.js';
export type {
  Batch, Component, ComponentKind, ConfigSchema, Consumer, CreateSettings, Exporter, ExporterFactory, Processor,
  ProcessorFactory, Receiver, ReceiverFactory, Signal,
} from './component.js';
export type { Logger } from './logger.js';
export type { Telemetry } from './telemetry/metrics.js';
export type { Labels, MetricBatch, MetricFamily, MetricType, Point } from './model/metrics.js';
export { cloneMetricBatch, copyLabels, labelsIdentity, makeLabels, metricBatch, seriesKey, withLabels } from './model/metrics.js';
export type { ProfileBatch, TargetScrape, ProfileResult, ParsedProfile, FunctionProfile, MemStats, ValueType } from './model/profiles.js';
export type { FailureReason, TargetInfo } from './model/targets.js';
export { PprofcolError, ConfigError } from './errors.js';
export { pluginApi, type Plugin, type PluginApi } from './plugins.js';
export { VERSION } from './version.js';
export type { ComponentStatus, ExporterStatus, LossMeterStatus, StatusProvider, TargetHealth, TargetStatus } from './status.js';
export { ExporterTally } from './status.js';
