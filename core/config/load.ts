/**
 * Reads a pipeline file and validates all of it before anything starts: every error is
 * collected with its key path (unknown keys, unknown ids, signal mismatches), not just the first.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { SIGNALS, parseComponentId, type ComponentKind, type Factory, type Signal } from '../component.js';
import { ConfigError, errorMessage, type ConfigIssue } from '../errors.js';
import { loadPlugins } from '../plugins.js';
import { factoryOf, registeredTypes } from '../registry.js';
import { expandEnv } from './env.js';
import { zodIssues } from './issues.js';
import { fileSchema, type ServiceConfig } from './service.js';

export interface ResolvedComponent {
  id: string;
  kind: ComponentKind;
  factory: Factory;
  /** The config as the factory's schema returned it: defaults filled, types converted. */
  config: unknown;
}

export interface ResolvedPipeline {
  id: string;
  signal: Signal;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface ResolvedConfig {
  configDir: string;
  receivers: Map<string, ResolvedComponent>;
  processors: Map<string, ResolvedComponent>;
  exporters: Map<string, ResolvedComponent>;
  pipelines: ResolvedPipeline[];
  service: ServiceConfig;
  warnings: string[];
}

const SECTIONS: ReadonlyArray<[ComponentKind, 'receivers' | 'processors' | 'exporters']> = [
  ['receiver', 'receivers'],
  ['processor', 'processors'],
  ['exporter', 'exporters'],
];

export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: file, message: `cannot read: ${errorMessage(err)}` }]);
  }
  return loadConfigText(text, dirname(resolve(file)), env);
}

export async function loadConfigText(text: string, configDir: string, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedConfig> {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({ path: `line ${e.linePos?.[0].line ?? '?'}`, message: e.message.split('\n')[0] })));
  }
  const issues: ConfigIssue[] = [];
  const raw = expandEnv(doc.toJS() ?? {}, env, issues);
  const top = fileSchema.safeParse(raw);
  if (!top.success) {
    issues.push(...zodIssues([], top.error.issues));
    // Without a well-formed top level the rest cannot be checked meaningfully.
    throw new ConfigError(issues);
  }
  const file = top.data;

  const pluginIssues = await loadPlugins(file.plugins, configDir);
  issues.push(...pluginIssues);

  const resolved: ResolvedConfig = {
    configDir,
    receivers: new Map(),
    processors: new Map(),
    exporters: new Map(),
    pipelines: [],
    service: file.service,
    warnings: [],
  };

  for (const [kind, section] of SECTIONS) {
    for (const [id, rawConfig] of Object.entries(file[section] ?? {})) {
      const parsed = parseComponentId(id);
      if (parsed === undefined) {
        issues.push({ path: `${section}.${id}`, message: 'a component id is type or type/name (letters, digits, _)' });
        continue;
      }
      const factory = factoryOf(kind, parsed.type);
      if (factory === undefined) {
        issues.push({
          path: `${section}.${id}`,
          message: `unknown ${kind} type "${parsed.type}" (known: ${registeredTypes(kind).join(', ') || 'none'}; plugins add more)`,
        });
        continue;
      }
      const result = factory.configSchema.safeParse(rawConfig ?? {});
      if (!result.success) {
        issues.push(...zodIssues([section, id], result.error.issues));
        continue;
      }
      resolved[section].set(id, { id, kind, factory, config: result.data });
    }
  }

  const used = new Set<string>();
  for (const [pipelineId, pipeline] of Object.entries(file.service.pipelines)) {
    const base = `service.pipelines.${pipelineId}`;
    const signal = pipelineId.split('/')[0] as Signal;
    if (!SIGNALS.includes(signal)) {
      issues.push({ path: base, message: `a pipeline id starts with its signal (${SIGNALS.join(' or ')}), as in metrics or metrics/backfill` });
      continue;
    }
    const refs = (key: 'receivers' | 'processors' | 'exporters'): boolean => {
      let ok = true;
      const seen = new Set<string>();
      pipeline[key].forEach((id, i) => {
        if (seen.has(id)) {
          issues.push({ path: `${base}.${key}[${i}]`, message: `"${id}" is listed twice` });
          ok = false;
        }
        seen.add(id);
        used.add(`${key}:${id}`);
        if (file[key]?.[id] === undefined && !(id in (file[key] ?? {}))) {
          issues.push({ path: `${base}.${key}[${i}]`, message: `"${id}" is not defined under ${key}` });
          ok = false;
        }
      });
      return ok;
    };
    const allDefined = [refs('receivers'), refs('processors'), refs('exporters')].every(Boolean);
    if (!allDefined) continue;
    const missing = [...pipeline.receivers.map((id) => resolved.receivers.get(id)), ...pipeline.processors.map((id) => resolved.processors.get(id)), ...pipeline.exporters.map((id) => resolved.exporters.get(id))];
    // A component whose own config failed is already reported; skip the signal check.
    if (missing.some((c) => c === undefined)) continue;
    issues.push(...checkSignalFlow(base, signal, pipeline, resolved));
    resolved.pipelines.push({ id: pipelineId, signal, ...pipeline });
  }

  for (const [, section] of SECTIONS) {
    for (const id of Object.keys(file[section] ?? {})) {
      if (!used.has(`${section}:${id}`)) resolved.warnings.push(`${section}.${id}: defined but used in no pipeline`);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return resolved;
}

/** Follows each receiver's signal through the processors; the result must be what the pipeline and its exporters carry. */
function checkSignalFlow(
  base: string,
  signal: Signal,
  pipeline: { receivers: string[]; processors: string[]; exporters: string[] },
  resolved: ResolvedConfig,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  pipeline.receivers.forEach((receiverId, r) => {
    const receiver = resolved.receivers.get(receiverId)!.factory;
    if (receiver.kind !== 'receiver') return;
    let current: Signal = receiver.produces;
    for (let i = 0; i < pipeline.processors.length; i++) {
      const processor = resolved.processors.get(pipeline.processors[i])!.factory;
      if (processor.kind !== 'processor') continue;
      if (!processor.accepts.includes(current)) {
        issues.push({
          path: `${base}.processors[${i}]`,
          message: `"${pipeline.processors[i]}" takes ${processor.accepts.join(' or ')}, but receives ${current} from receiver "${receiverId}"` +
            (current === 'profiles' ? ' (put pprof_metrics first to turn profiles into metrics)' : ''),
        });
        return;
      }
      if (processor.converts !== undefined && processor.converts.from === current) current = processor.converts.to;
    }
    if (current !== signal) {
      issues.push({
        path: `${base}.receivers[${r}]`,
        message: `"${receiverId}" produces ${current}; a ${signal} pipeline needs a processor that turns ${current} into ${signal}` +
          (current === 'profiles' ? ' (pprof_metrics) after it' : ''),
      });
    }
  });
  pipeline.exporters.forEach((exporterId, i) => {
    const exporter = resolved.exporters.get(exporterId)!.factory;
    if (exporter.kind === 'exporter' && !exporter.accepts.includes(signal)) {
      issues.push({ path: `${base}.exporters[${i}]`, message: `"${exporterId}" takes ${exporter.accepts.join(' or ')}, not ${signal}` });
    }
  });
  return issues;
}
