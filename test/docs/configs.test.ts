// Every example configuration the docs show is validated, so a renamed key or a changed default
// cannot leave a README example that no longer loads: the YAML blocks of README.md and of each
// component's README (and core/telemetry's), examples/*.yaml and pipeline.yaml. A README block is often a fragment (one
// component's section); the test completes it into a pipeline with stand-ins for what it leaves out
// (a pprof receiver, pprof_metrics, the debug exporter), so the fragment's own keys are checked as written.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { registerBuiltins } from '../../bin/builtins.js';
import { loadConfigText } from '../../core/config/load.js';
import { ConfigError, formatIssue } from '../../core/errors.js';
import { repoRoot } from '../harness/servers.js';

registerBuiltins();

type Section = 'receivers' | 'processors' | 'exporters';
type Doc = Partial<Record<Section, Record<string, unknown>>> & { service?: { pipelines?: Record<string, Record<Section, string[]>> } } & Record<string, unknown>;

/** What a fragment may leave out: minimal configs of the built-ins, used only where the block has none. */
const STAND_INS: Record<Section, Record<string, unknown>> = {
  receivers: {
    pprof: { endpoint: '127.0.0.1:6060' },
    prometheus: { scrape_configs: [{ job_name: 'stand-in', static_configs: [{ targets: ['127.0.0.1:8080'] }] }] },
    prometheusremotewrite: { endpoint: '127.0.0.1:9201' },
  },
  processors: { pprof_metrics: {}, batch: {} },
  exporters: { debug: {}, prometheusremotewrite: { endpoint: 'http://127.0.0.1:9090/api/v1/write' } },
};
const PROFILE_RECEIVERS = new Set(['pprof']);
const PIPELINE_KEYS = new Set(['receivers', 'processors', 'exporters', 'service', 'plugins']);

function typeOf(id: string): string {
  return id.split('/')[0];
}

/** The block as a whole file: pipelines for a fragment without any, stand-ins for what its pipelines name but it does not define. */
function complete(doc: Doc): Doc {
  const out: Doc = { ...doc };
  const defined = (section: Section) => Object.keys(doc[section] ?? {});
  if (out.service?.pipelines === undefined) {
    const receivers = defined('receivers').length > 0 ? defined('receivers') : ['pprof'];
    const own = defined('processors').filter((id) => typeOf(id) !== 'pprof_metrics');
    const needsDerive = receivers.some((id) => PROFILE_RECEIVERS.has(typeOf(id)));
    const processors = [...(needsDerive ? [defined('processors').find((id) => typeOf(id) === 'pprof_metrics') ?? 'pprof_metrics'] : []), ...own];
    const exporters = defined('exporters').length > 0 ? defined('exporters') : ['debug'];
    out.service = { ...(out.service ?? {}), pipelines: { metrics: { receivers, processors, exporters } } };
  }
  for (const section of ['receivers', 'processors', 'exporters'] as const) {
    const named = new Set(Object.values(out.service!.pipelines!).flatMap((p) => p[section] ?? []));
    for (const id of named) {
      if (doc[section]?.[id] !== undefined) continue;
      const standIn = STAND_INS[section][typeOf(id)];
      assert.ok(standIn !== undefined, `the block names ${section}.${id} without defining it, and the test has no stand-in for that type`);
      out[section] = { ...(out[section] ?? {}), [id]: standIn };
    }
  }
  return out;
}

/** Fenced ```yaml blocks of a Markdown file, with the line each starts on. */
function yamlBlocks(file: string): { line: number; text: string }[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: { line: number; text: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ya?ml\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end].startsWith('```')) end++;
    blocks.push({ line: start + 1, text: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

function componentReadmes(): string[] {
  const out: string[] = ['core/telemetry/README.md'];
  for (const kind of ['receivers', 'processors', 'exporters']) {
    for (const name of readdirSync(path.join(repoRoot(), kind)).sort()) {
      const file = path.join(kind, name, 'README.md');
      try {
        readFileSync(path.join(repoRoot(), file));
        out.push(file);
      } catch {
        // a folder without README: another test's concern
      }
    }
  }
  return out;
}

async function validate(text: string, where: string): Promise<void> {
  // Plugins in examples are written relative to examples/ (where the example pipelines live).
  try {
    await loadConfigText(text, path.join(repoRoot(), 'examples'), {});
  } catch (err) {
    if (err instanceof ConfigError) assert.fail(`${where} does not validate:\n${err.issues.map(formatIssue).join('\n')}\n--- as validated:\n${text}`);
    throw err;
  }
}

describe('example configurations in the docs', () => {
  const readmes = ['README.md', ...componentReadmes()];

  it('finds the blocks it is meant to check', () => {
    const counts = readmes.map((f) => yamlBlocks(path.join(repoRoot(), f)).length);
    assert.ok(readmes.length >= 10, `component READMEs found: ${readmes.join(', ')}`);
    // Every component README shows at least one configuration; the top-level README several.
    readmes.forEach((f, i) => assert.ok(counts[i] >= 1, `${f} has no yaml block`));
    assert.ok(counts[0] >= 3);
  });

  for (const file of readmes) {
    it(`${file}: every yaml block validates`, async () => {
      let checked = 0;
      for (const block of yamlBlocks(path.join(repoRoot(), file))) {
        const doc = parse(block.text) as Doc;
        assert.ok(doc !== null && typeof doc === 'object', `${file}:${block.line} is not a YAML mapping`);
        // A block with none of a pipeline file's sections is another program's config (the
        // prometheus.yml that scrapes pprofcol), not pprofcol's.
        if (!Object.keys(doc).some((k) => PIPELINE_KEYS.has(k))) continue;
        await validate(stringify(complete(doc)), `${file}:${block.line}`);
        checked++;
      }
      assert.ok(checked >= 1, `${file}: no pprofcol configuration among its yaml blocks`);
    });
  }

  it('examples/*.yaml and pipeline.yaml validate as they are', async () => {
    const files = ['pipeline.yaml', ...readdirSync(path.join(repoRoot(), 'examples')).filter((f) => f.endsWith('.yaml')).map((f) => path.join('examples', f))];
    assert.ok(files.length >= 4);
    for (const file of files) await validate(readFileSync(path.join(repoRoot(), file), 'utf8'), file);
  });

  it('a broken block is caught: the check can fail', async () => {
    const doc = parse('receivers:\n  pprof: {endpoint: "127.0.0.1:6060", colection_interval: 15s}\n') as Doc;
    await assert.rejects(validate(stringify(complete(doc)), 'the broken block'), /colection_interval: unknown key/);
  });
});
