/**
 * Reads a pipeline file and validates all of it before anything starts: every error is
 * collected with its key path (unknown keys, unknown ids, signal mismatches), not just the first.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument, type YAMLError } from 'yaml';
import { SIGNALS, parseComponentId, type ComponentKind, type Factory, type Signal } from '../component.js';
import { ConfigError, errorMessage, formatPath, type ConfigIssue } from '../errors.js';
import { exposureWarning } from '../http/security.js';
import { isPluginFactory, loadPlugins } from '../plugins.js';
import { factoryOf, registeredTypes } from '../registry.js';
import { expandEnv, explainReferences, parseExpanded, type WholeReference } from './env.js';
import { zodIssues } from './issues.js';
import { fileSchema, pluginList, serviceSchema, type ServiceConfig } from './service.js';

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
  /** `plugins:` as written (resolved against configDir when loaded). */
  plugins: string[];
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
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => yamlIssue(e, text)));
  const issues: ConfigIssue[] = [];
  const wholeRefs = new Map<string, WholeReference>();
  const raw = expandEnv(doc.toJS() ?? {}, env, issues, [], wholeRefs);
  // An unset variable is one mistake: the key it left empty is not reported again by its schema.
  const unsetAt = new Set(issues.map((i) => i.path));
  // The top level is checked as a whole for its own issues (unknown sections, a malformed service),
  // but a broken part does not stop the others from being checked: every error is reported at once.
  const top = parseExpanded(fileSchema, raw, [], wholeRefs);
  if (!top.success) issues.push(...zodIssues([], top.error.issues));
  const rawTop = isPlainObject(raw) ? raw : {};
  const plugins = pluginList.safeParse(rawTop.plugins ?? []);
  const service = parseExpanded(serviceSchema, rawTop.service, ['service'], wholeRefs);
  const sections = {
    receivers: isPlainObject(rawTop.receivers) ? rawTop.receivers : {},
    processors: isPlainObject(rawTop.processors) ? rawTop.processors : {},
    exporters: isPlainObject(rawTop.exporters) ? rawTop.exporters : {},
  };

  const pluginIssues = plugins.success ? await loadPlugins(plugins.data, configDir) : [];
  issues.push(...pluginIssues);

  const resolved: Omit<ResolvedConfig, 'service'> = {
    configDir,
    plugins: plugins.success ? plugins.data : [],
    receivers: new Map(),
    processors: new Map(),
    exporters: new Map(),
    pipelines: [],
    warnings: [],
  };

  for (const [kind, section] of SECTIONS) {
    for (const [id, rawConfig] of Object.entries(sections[section])) {
      const parsed = parseComponentId(id);
      if (parsed === undefined) {
        issues.push({ path: `${section}.${id}`, message: 'a component id is type or type/name (letters, digits, _)' });
        continue;
      }
      const factory = factoryOf(kind, parsed.type);
      if (factory === undefined) {
        // A plugin that failed to load is reported once, at plugins[i]; the types it would have
        // registered are not reported again as unknown.
        if (pluginIssues.length > 0) continue;
        issues.push({
          path: `${section}.${id}`,
          message: `unknown ${kind} type "${parsed.type}" (known: ${registeredTypes(kind).join(', ') || 'none'}; plugins add more)`,
        });
        continue;
      }
      const result = parseExpanded(factory.configSchema, rawConfig ?? {}, [section, id], wholeRefs);
      if (!result.success) {
        issues.push(...zodIssues([section, id], result.error.issues));
        continue;
      }
      // A plugin's schema may not be strict; unknown keys are errors all the same.
      if (isPluginFactory(factory)) {
        const unknown = droppedKeys(rawConfig ?? {}, result.data, [section, id]);
        if (unknown.length > 0) {
          issues.push(...unknown);
          continue;
        }
      }
      resolved[section].set(id, { id, kind, factory, config: result.data });
    }
  }

  const used = new Set<string>();
  // The pipelines are checked even when another key of service is wrong, so that one run shows every error.
  const pipelinesOnly = isPlainObject(rawTop.service) ? serviceSchema.shape.pipelines.safeParse(rawTop.service.pipelines) : undefined;
  const pipelines = service.success ? service.data.pipelines : pipelinesOnly?.success === true ? pipelinesOnly.data : {};
  for (const [pipelineId, pipeline] of Object.entries(pipelines)) {
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
        if (!(id in sections[key])) {
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
    for (const id of Object.keys(sections[section])) {
      if (service.success && !used.has(`${section}:${id}`)) resolved.warnings.push(`${section}.${id}: defined but used in no pipeline`);
    }
  }
  // A service section that failed its schema has put its issues in `issues` (via the top level).
  if (issues.length > 0 || !service.success) throw new ConfigError(explainReferences(uniqueIssues(issues, unsetAt), wholeRefs));
  resolved.warnings.push(...exposedListeners(resolved, service.data));
  return { ...resolved, service: service.data };
}

/** Listeners (the components' and the telemetry one) that anyone beyond this machine may use. */
function exposedListeners(resolved: Omit<ResolvedConfig, 'service'>, service: ServiceConfig): string[] {
  const out: string[] = [];
  const http = service.telemetry.http;
  const telemetry = exposureWarning('service.telemetry.http.listen', http.listen, http);
  if (telemetry !== undefined) out.push(telemetry);
  for (const [, section] of SECTIONS) {
    for (const component of resolved[section].values()) {
      for (const l of component.factory.listeners?.(component.config as never) ?? []) {
        const warning = exposureWarning(`${section}.${component.id}.${l.key}`, l.address, l.security);
        if (warning !== undefined) out.push(warning);
      }
    }
  }
  return out;
}

/** Follows each receiver's signal through the processors; the result must be what the pipeline and its exporters carry. */
function checkSignalFlow(
  base: string,
  signal: Signal,
  pipeline: { receivers: string[]; processors: string[]; exporters: string[] },
  resolved: Pick<ResolvedConfig, 'receivers' | 'processors' | 'exporters'>,
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

/**
 * One mistake, one line: the file's schema and a section's own schema can both see the same key
 * (the service section is parsed on its own so that its pipelines are checked even when another
 * section is broken); what both report is kept once.
 */
function uniqueIssues(issues: readonly ConfigIssue[], unsetAt: ReadonlySet<string>): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    if (unsetAt.has(issue.path) && !issue.message.startsWith('environment variable')) return false;
    const key = `${issue.path}\n${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A YAML syntax error located as an editor would: line and column, the line itself and a caret under the column. */
function yamlIssue(error: YAMLError, text: string): ConfigIssue {
  const pos = error.linePos?.[0];
  const message = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  if (pos === undefined) return { path: 'yaml', message };
  const line = text.split(/\r?\n/)[pos.line - 1] ?? '';
  const gutter = `${pos.line} | `;
  // Memory: the excerpt is one line of the file, cut to 200 characters around nothing fancier.
  const shown = line.length > 200 ? `${line.slice(0, 200)}...` : line;
  const caret = `${' '.repeat(gutter.length - 2)}| ${' '.repeat(Math.min(Math.max(pos.col - 1, 0), 200))}^`;
  return { path: `line ${pos.line}, column ${pos.col}`, message, excerpt: `${gutter}${shown}\n${caret}` };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Keys of `raw` that the schema's output does not have: what a non-strict zod object silently
 * strips. Followed through objects and arrays that keep their shape.
 */
function droppedKeys(raw: unknown, parsed: unknown, path: (string | number)[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  if (Array.isArray(raw) && Array.isArray(parsed)) {
    raw.forEach((item, i) => out.push(...droppedKeys(item, parsed[i], [...path, i])));
  } else if (isPlainObject(raw) && isPlainObject(parsed)) {
    for (const [key, value] of Object.entries(raw)) {
      if (!(key in parsed)) out.push({ path: formatPath([...path, key]), message: 'unknown key' });
      else out.push(...droppedKeys(value, parsed[key], [...path, key]));
    }
  }
  return out;
}
