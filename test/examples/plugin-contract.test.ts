// The plugin contract: the example receiver and exporter plugins in one pipeline against a real
// Prometheus (a Go program serving /debug/pprof), the exported .d.ts checked against all three example
// plugins, and a factory that misses what validate needs refused with one clear line.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { eventually, runCli, startDaemon, writeConfig } from '../harness/pprofcol.js';
import { repoRoot, startPrometheus, type PromServer } from '../harness/servers.js';

const plugin = (name: string) => JSON.stringify(path.join(repoRoot(), 'examples', 'plugins', name));

interface Line {
  name: string;
  type: string;
  labels: Record<string, string>;
  value: number | null;
  stale: boolean;
  timestamp_ms: number;
  source: string;
}

function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);
}

describe('example receiver and exporter plugins', () => {
  let prom: PromServer;
  before(async () => {
    prom = await startPrometheus();
  });
  after(async () => prom?.stop());

  it('http_probe feeds and jsonl_file writes, beside pprof scraping a real Prometheus', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-plugins-'));
    const out = path.join(dir, 'metrics.jsonl');
    const healthy = `${prom.url}/debug/pprof/`;
    // Port 1 on loopback: nothing listens there, so the probe fails by refusal, at once.
    const refused = 'http://127.0.0.1:1/nothing';
    const daemon = await startDaemon(`
plugins: [${plugin('http-probe.js')}, ${plugin('jsonl-file.js')}]
receivers:
  pprof:
    scrape_configs:
      - {job_name: prom-pprof, scrape_interval: 1s, static_configs: [{targets: ["${prom.hostPort}"]}]}
  http_probe: {targets: ["${healthy}", "${refused}"], interval: 1s, timeout: 1s}
processors:
  pprof_metrics: {}
exporters:
  jsonl_file: {path: ${JSON.stringify(out)}}
service:
  pipelines:
    metrics: {receivers: [pprof, http_probe], processors: [pprof_metrics], exporters: [jsonl_file]}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    try {
      // 1s intervals: two rounds of both receivers take ~2s; 20s leaves room for a loaded 2-core machine.
      const lines = await eventually('derived and probe points in the file', 20_000, () => {
        const all = readLines(out);
        const goroutines = all.find((l) => l.name === 'go_goroutines' && l.labels.instance === prom.hostPort);
        const probes = all.filter((l) => l.name === 'probe_success');
        return goroutines !== undefined && probes.length >= 4 ? all : undefined;
      });
      const goroutines = lines.find((l) => l.name === 'go_goroutines')!;
      assert.equal(goroutines.labels.job, 'prom-pprof');
      assert.equal(goroutines.source, 'pprof');
      assert.equal(goroutines.type, 'gauge');
      assert.ok(goroutines.value! > 10, `Prometheus runs more than 10 goroutines: ${goroutines.value}`);
      const success = (instance: string) => lines.filter((l) => l.name === 'probe_success' && l.labels.instance === instance);
      assert.ok(success(healthy).length >= 1 && success(healthy).every((l) => l.value === 1 && l.labels.job === 'http_probe' && l.source === 'http_probe'));
      assert.ok(success(refused).length >= 1 && success(refused).every((l) => l.value === 0));
      const duration = lines.find((l) => l.name === 'probe_duration_seconds' && l.labels.instance === healthy)!;
      assert.ok(duration.value! > 0 && duration.value! < 1, `one loopback GET: ${duration.value}`);

      // Both plugins' own metrics are on the telemetry listener.
      const metrics = await (await fetch(`${daemon.telemetryUrl}/metrics`)).text();
      assert.match(metrics, /^pprofcol_http_probe_requests_total\{receiver="http_probe",result="success"\} [1-9]/m);
      assert.match(metrics, /^pprofcol_http_probe_requests_total\{receiver="http_probe",result="failure"\} [1-9]/m);
      const written = Number(/^pprofcol_jsonl_file_points_written_total\{exporter="jsonl_file"\} (\d+)/m.exec(metrics)?.[1]);
      assert.ok(written >= lines.length, `counted ${written}, file had ${lines.length} when read before`);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
    // Shutdown flushed: every counted point is in the file, and every line is whole.
    const final = readLines(out);
    assert.ok(final.length > 0);
    for (const l of final) assert.ok(typeof l.name === 'string' && typeof l.timestamp_ms === 'number');
  });
});

const TSC_ARGS = ['--noEmit', '--allowJs', '--checkJs', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck'];

describe('the exported types', () => {
  it('package.json points at the .d.ts and the example plugins type-check against it', async () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { types: string; exports: { '.': { types: string } } };
    assert.equal(pkg.types, './dist/core/index.d.ts');
    assert.equal(pkg.exports['.'].types, './dist/core/index.d.ts');
    assert.ok(existsSync(path.join(repoRoot(), pkg.types)));
    const tsc = path.join(repoRoot(), 'node_modules', 'typescript', 'bin', 'tsc');
    const files = ['add-label.js', 'http-probe.js', 'jsonl-file.js'].map((f) => path.join('examples', 'plugins', f));
    // `import('pprofcol')` in their JSDoc resolves through package.json's exports (the package's own name).
    const args = [...TSC_ARGS, ...files];
    await promisify(execFile)(process.execPath, [tsc, ...args], { cwd: repoRoot() }).catch((err: { stdout?: string }) => {
      assert.fail(`tsc found type errors:\n${err.stdout ?? String(err)}`);
    });
  });

  it('a plugin that breaks the types is caught by the same check', async () => {
    const dir = mkdtempSync(path.join(repoRoot(), 'dist', 'tmp-plugin-'));
    const file = path.join(dir, 'bad.js');
    writeFileSync(file, `/** @param {import('pprofcol').PluginApi} api */
export default function register(api) {
  api.registerComponent({ kind: 'exporter', type: 'bad', accepts: ['logs'], configSchema: api.z.object({}),
    create() { return { async start() {}, async shutdown() {}, async consume(batch) { return batch.points.length; } }; } });
}
`);
    const tsc = path.join(repoRoot(), 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [...TSC_ARGS, file];
    const result = await promisify(execFile)(process.execPath, [tsc, ...args], { cwd: repoRoot() }).then(() => '', (err: { stdout?: string }) => err.stdout ?? '');
    rmSync(dir, { recursive: true, force: true });
    assert.match(result, /"logs"|'logs'/, result);
  });
});

describe('a factory without what validate needs', () => {
  for (const [kind, missing] of [
    ['exporter', 'accepts'],
    ['processor', 'accepts'],
    ['receiver', 'produces'],
  ] as const) {
    it(`a ${kind} without ${missing}: one line at plugins[0] naming the field, exit 1, no crash`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-badplugin-'));
      writeFileSync(path.join(dir, 'p.js'), `export default (api) => api.registerComponent({ kind: '${kind}', type: 'nofield', configSchema: api.z.object({}).strict(), create() { return {}; } });\n`);
      const file = writeConfig(`
plugins: [${JSON.stringify(path.join(dir, 'p.js'))}]
receivers: {${kind === 'receiver' ? 'nofield: {}' : 'pprof: {endpoint: "127.0.0.1:6060"}'}}
processors: {pprof_metrics: {}${kind === 'processor' ? ', nofield: {}' : ''}}
exporters: {${kind === 'exporter' ? 'nofield: {}' : 'debug: {}'}}
service:
  pipelines:
    metrics:
      receivers: [${kind === 'receiver' ? 'nofield' : 'pprof'}]
      processors: [pprof_metrics${kind === 'processor' ? ', nofield' : ''}]
      exporters: [${kind === 'exporter' ? 'nofield' : 'debug'}]
`);
      const r = await runCli(['validate', '--config', file]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], new RegExp(`^plugins\\[0\\]: .*${kind} "nofield": an? ${kind} factory needs ${missing}`));
      assert.doesNotMatch(r.stderr, /Cannot read properties|includes/);
    });
  }
});
