/**
 * Loads `plugins:` modules. A plugin's default export is a function that receives the plugin
 * API and registers its factories with the same `registerComponent` that bin/ uses for built-ins.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { errorMessage, type ConfigIssue } from './errors.js';
import { registerComponent } from './registry.js';
import { metricBatch, cloneMetricBatch, copyLabels, labelsIdentity, makeLabels, withLabels } from './model/metrics.js';
import * as configTypes from './config/types.js';

/** Factories that plugins registered: their configs get the unknown-key check their schemas may lack. */
const pluginFactories = new Set<unknown>();

export function isPluginFactory(factory: unknown): boolean {
  return pluginFactories.has(factory);
}

/** Everything a plugin gets; it need not import pprofcol itself, so a plugin can live anywhere. */
export const pluginApi = {
  /** The same function the built-ins register with; it also notes that the factory came from a plugin. */
  registerComponent: ((factory: Parameters<typeof registerComponent>[0]) => {
    registerComponent(factory);
    pluginFactories.add(factory);
  }) as typeof registerComponent,
  /** The zod instance pprofcol validates with, for plugins' config schemas. */
  z,
  configTypes,
  metricBatch,
  cloneMetricBatch,
  /** Label sets a plugin makes: any label name, `__proto__` included, stays a label. */
  makeLabels,
  copyLabels,
  /**
   * A changed copy of a point's labels: `point.labels = api.withLabels(point.labels, {team: 'x'})`.
   * Labels may be frozen (a stage took their identity; see core/model/metrics.ts labelsIdentity), so a
   * processor never writes into `point.labels`, it replaces them.
   */
  withLabels,
  /** A label set's carried identity (computed once, then the set is frozen). */
  labelsIdentity,
} as const;
export type PluginApi = typeof pluginApi;
export type Plugin = (api: PluginApi) => void | Promise<void>;

const loaded = new Set<string>();

export async function loadPlugins(paths: readonly string[], configDir: string): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  for (let i = 0; i < paths.length; i++) {
    const file = isAbsolute(paths[i]) ? paths[i] : resolve(configDir, paths[i]);
    if (loaded.has(file)) continue;
    try {
      const mod = (await import(pathToFileURL(file).href)) as { default?: unknown; register?: unknown };
      const register = mod.default ?? mod.register;
      if (typeof register !== 'function') {
        issues.push({ path: `plugins[${i}]`, message: `${file} must export a default function (api) => { api.registerComponent(...) }` });
        continue;
      }
      await (register as Plugin)(pluginApi);
      loaded.add(file);
    } catch (err) {
      issues.push({ path: `plugins[${i}]`, message: `cannot load ${file}: ${errorMessage(err)}` });
    }
  }
  return issues;
}
