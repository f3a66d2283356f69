/**
 * Builds running components from a validated config, as the OTel Collector does: a receiver or
 * exporter named in several pipelines is one instance; processors are per pipeline. Data flows
 * receiver -> processors in order -> every exporter of the pipeline.
 */
import type { Component, Consumer, CreateSettings, Exporter, Processor, Receiver } from '../component.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../logger.js';
import type { Telemetry } from '../telemetry/metrics.js';
import { fanOut } from './fanout.js';

export interface BuiltComponent {
  /** `receiver pprof`, `processor batch in pipeline metrics`: how logs name it. */
  label: string;
  /** The component id as configured, and the pipeline of a processor (the status page groups by them). */
  id: string;
  pipeline?: string;
  component: Component;
}

export interface Graph {
  exporters: BuiltComponent[];
  /** In start order: the last processor of each pipeline first, so a stage starts after what it feeds. */
  processors: BuiltComponent[];
  receivers: BuiltComponent[];
}

export function buildGraph(config: ResolvedConfig, logger: Logger, telemetry: Telemetry): Graph {
  const settings = (id: string, kind: string): CreateSettings => ({
    id,
    logger: logger.child({ component: `${kind}/${id}` }),
    telemetry,
    configDir: config.configDir,
  });

  const exporters = new Map<string, Exporter>();
  for (const pipeline of config.pipelines) {
    for (const id of pipeline.exporters) {
      if (exporters.has(id)) continue;
      const resolved = config.exporters.get(id)!;
      if (resolved.factory.kind !== 'exporter') continue;
      exporters.set(id, resolved.factory.create(settings(id, 'exporter'), resolved.config as never));
    }
  }

  const processors: BuiltComponent[] = [];
  const pipelineEntry = new Map<string, Consumer>();
  for (const pipeline of config.pipelines) {
    let next: Consumer = fanOut(pipeline.exporters.map((id) => exporters.get(id)!));
    for (let i = pipeline.processors.length - 1; i >= 0; i--) {
      const id = pipeline.processors[i];
      const resolved = config.processors.get(id)!;
      if (resolved.factory.kind !== 'processor') continue;
      const processor: Processor = resolved.factory.create(settings(id, 'processor'), resolved.config as never, next);
      processors.push({ label: `processor ${id} in pipeline ${pipeline.id}`, id, pipeline: pipeline.id, component: processor });
      next = processor;
    }
    pipelineEntry.set(pipeline.id, next);
  }

  const receivers: BuiltComponent[] = [];
  const receiverIds = [...new Set(config.pipelines.flatMap((p) => p.receivers))];
  for (const id of receiverIds) {
    const feeds = config.pipelines.filter((p) => p.receivers.includes(id)).map((p) => pipelineEntry.get(p.id)!);
    const resolved = config.receivers.get(id)!;
    if (resolved.factory.kind !== 'receiver') continue;
    const receiver: Receiver = resolved.factory.create(settings(id, 'receiver'), resolved.config as never, fanOut(feeds));
    receivers.push({ label: `receiver ${id}`, id, component: receiver });
  }

  return {
    exporters: [...exporters].map(([id, component]) => ({ label: `exporter ${id}`, id, component })),
    processors,
    receivers,
  };
}
