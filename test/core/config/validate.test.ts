// The whole file is validated before anything starts, and every error names its key path.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { registerBuiltins } from '../../../bin/builtins.js';
import { loadConfigText } from '../../../core/config/load.js';
import { ConfigError } from '../../../core/errors.js';
import { runCli, writeConfig } from '../../harness/pprofcol.js';
import { repoRoot } from '../../harness/servers.js';

registerBuiltins();
const examples = () => path.join(repoRoot(), 'examples');

async function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  try {
    await loadConfigText(text, examples(), env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('config was accepted');
}

function hasIssue(issues: string[], pathText: string, message: RegExp): void {
  assert.ok(
    issues.some((i) => i.startsWith(`${pathText}: `) && message.test(i)),
    `expected an issue at ${pathText} matching ${message}; got:\n${issues.join('\n')}`,
  );
}

const BROKEN = `
plugins: [./plugins/add-label.js]
receivers:
  pprof:
    scrape_configs:
      - job_name: a
        scrape_intervall: 15s
        static_configs:
          - targets: ["no-port-here"]
            labels: {"bad-name": x}
      - job_name: b
        scrape_interval: 15 seconds
        static_configs: [{targets: ["127.0.0.1:6060"]}]
      - job_name: c
        scrape_interval: 5s
        scrape_timeout: 10s
        scheme: gopher
        static_configs: [{targets: ["127.0.0.1:6060"]}]
processors:
  pprof_metrics: {}
  add_label:
    labelz: {team: x}
exporters:
  debug:
    timestamps: \${env:PPROFCOL_TEST_UNSET_VAR}
  nosuch: {}
service:
  pipelines:
    metrics:
      receivers: [pprof]
      processors: [pprof_metrics, add_label]
      exporters: [debug, nope]
`;

describe('config validation', () => {
  it('names every error in one file by its path, plugin configs included', async () => {
    const issues = await issuesOf(BROKEN);
    hasIssue(issues, 'receivers.pprof.scrape_configs[0].scrape_intervall', /unknown key/);
    hasIssue(issues, 'receivers.pprof.scrape_configs[0].static_configs[0].targets[0]', /host:port/);
    hasIssue(issues, 'receivers.pprof.scrape_configs[1].scrape_interval', /not a duration/);
    // Reported with the other error of the same scrape config, not only once that one is fixed.
    hasIssue(issues, 'receivers.pprof.scrape_configs[2].scrape_timeout', /greater than scrape_interval/);
    hasIssue(issues, 'receivers.pprof.scrape_configs[2].scheme', /http|https/);
    hasIssue(issues, 'receivers.pprof.scrape_configs[0].static_configs[0].labels.bad-name', /label name/);
    hasIssue(issues, 'processors.add_label.labelz', /unknown key/);
    hasIssue(issues, 'processors.add_label.labels', /required/);
    hasIssue(issues, 'exporters.debug.timestamps', /PPROFCOL_TEST_UNSET_VAR is not set/);
    hasIssue(issues, 'exporters.nosuch', /unknown exporter type "nosuch"/);
    hasIssue(issues, 'service.pipelines.metrics.exporters[1]', /"nope" is not defined/);
  });

  it('rejects unknown keys in a plugin config even when the plugin schema is not strict', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-plugin-'));
    writeFileSync(
      path.join(dir, 'lenient.js'),
      `export default (api) => api.registerComponent({ kind: 'processor', type: 'lenient_test', accepts: ['metrics'],
        configSchema: api.z.object({ keep: api.z.boolean().default(true), nested: api.z.object({ a: api.z.number().default(1) }).default({}) }),
        create: (s, c, next) => ({ start: async () => {}, shutdown: async () => {}, consume: (b) => next.consume(b) }) });\n`,
    );
    const issues = await issuesOf(`
plugins: [${JSON.stringify(path.join(dir, 'lenient.js'))}]
receivers: {pprof: {endpoint: "127.0.0.1:6060"}}
processors: {pprof_metrics: {}, lenient_test: {kep: false, nested: {b: 2}}}
exporters: {debug: {}}
service: {pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics, lenient_test], exporters: [debug]}}}
`);
    hasIssue(issues, 'processors.lenient_test.kep', /unknown key/);
    hasIssue(issues, 'processors.lenient_test.nested.b', /unknown key/);
  });

  it('goes on checking components when the top level or the service section is broken', async () => {
    const issues = await issuesOf(`
receivers: {pprof: {endpoint: "nohost"}}
exporters: {debug: {verbose: true}}
service: {bogus: 1, pipelines: {metrics: {receivers: [pprof], exporters: [debug]}}}
extra_section: {}
`);
    hasIssue(issues, 'extra_section', /unknown key/);
    hasIssue(issues, 'service.bogus', /unknown key/);
    hasIssue(issues, 'receivers.pprof.endpoint', /host:port/);
    hasIssue(issues, 'exporters.debug.verbose', /unknown key/);
  });

  it('rejects a scrape config with both basic_auth and authorization, as Prometheus does', async () => {
    const issues = await issuesOf(`
receivers:
  pprof:
    scrape_configs:
      - job_name: a
        basic_auth: {username: u, password: p}
        authorization: {credentials: t}
        static_configs: [{targets: ["127.0.0.1:6060"]}]
processors: {pprof_metrics: {}}
exporters: {debug: {}}
service: {pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}}
`);
    hasIssue(issues, 'receivers.pprof.scrape_configs[0].authorization', /basic_auth or authorization, not both/);
  });

  it('rejects a profiles receiver that no pprof_metrics follows', async () => {
    const issues = await issuesOf(`
receivers: {pprof: {endpoint: "127.0.0.1:6060"}}
exporters: {debug: {}}
service: {pipelines: {metrics: {receivers: [pprof], exporters: [debug]}}}
`);
    hasIssue(issues, 'service.pipelines.metrics.receivers[0]', /produces profiles.*pprof_metrics/);
  });

  it('rejects a metrics-only processor placed before pprof_metrics', async () => {
    const issues = await issuesOf(`
plugins: [./plugins/add-label.js]
receivers: {pprof: {endpoint: "127.0.0.1:6060"}}
processors: {add_label: {labels: {a: b}}, pprof_metrics: {}}
exporters: {debug: {}}
service: {pipelines: {metrics: {receivers: [pprof], processors: [add_label, pprof_metrics], exporters: [debug]}}}
`);
    hasIssue(issues, 'service.pipelines.metrics.processors[0]', /takes metrics, but receives profiles/);
  });

  it('rejects a receiver that mixes the short form with scrape_configs', async () => {
    const issues = await issuesOf(`
receivers:
  pprof:
    endpoint: "127.0.0.1:6060"
    scrape_configs: [{job_name: a, static_configs: [{targets: ["127.0.0.1:1"]}]}]
processors: {pprof_metrics: {}}
exporters: {debug: {}}
service: {pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}}
`);
    hasIssue(issues, 'receivers.pprof.endpoint', /either scrape_configs or the short form/);
  });

  it('fills defaults, expands env with defaults, and warns about unused components', async () => {
    const config = await loadConfigText(
      `
receivers:
  pprof: {endpoint: "\${env:PPROF_HOST:-127.0.0.1}:\${env:PPROF_PORT}", collection_interval: 30s}
  pprof/unused: {endpoint: "127.0.0.1:1"}
processors: {pprof_metrics: {}}
exporters: {debug: {}}
service: {pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}}
`,
      examples(),
      { PPROF_PORT: '6061' },
    );
    const pprof = config.receivers.get('pprof')!.config as { scrape_configs: Array<Record<string, unknown>> };
    assert.equal(pprof.scrape_configs.length, 1);
    const sc = pprof.scrape_configs[0];
    assert.equal(sc.job_name, 'pprof');
    assert.equal(sc.scrape_interval, 30_000);
    assert.equal(sc.scrape_timeout, 10_000);
    assert.equal(sc.body_size_limit, 64 * 1024 * 1024);
    assert.equal(sc.path_prefix, '/debug/pprof');
    assert.deepEqual(sc.profiles, ['goroutine', 'threadcreate', 'heap']);
    assert.deepEqual((sc.static_configs as Array<{ targets: string[] }>)[0].targets, ['127.0.0.1:6061']);
    assert.equal(config.service.shutdown_timeout, 10_000);
    assert.equal(config.service.telemetry.http.listen, '127.0.0.1:8888');
    assert.deepEqual(config.warnings, ['receivers.pprof/unused: defined but used in no pipeline']);
  });

  it('pprofcol validate prints each error as "path: message" and exits 1', async () => {
    const file = writeConfig(BROKEN.replace('./plugins/add-label.js', path.join(examples(), 'plugins', 'add-label.js')));
    const result = await runCli(['validate', '--config', file]);
    assert.equal(result.code, 1, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.ok(lines.length >= 10, result.stderr);
    for (const line of lines) assert.match(line, /^[\w./[\]-]+: .+/);
    assert.ok(lines.includes('processors.add_label.labelz: unknown key'), result.stderr);
  });

  it('pprofcol validate accepts the repository pipeline and examples', async () => {
    for (const file of ['pipeline.yaml', 'examples/pipeline-debug.yaml', 'examples/pipeline-remotewrite.yaml', 'examples/pipeline-gapfill.yaml']) {
      const result = await runCli(['validate', '--config', path.join(repoRoot(), file)]);
      assert.equal(result.code, 0, `${file}: ${result.stderr}`);
    }
  });
});
