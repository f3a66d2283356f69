// The command line a user relies on: each command's --help, `config` (the effective configuration),
// how config errors are printed (one line per mistake, YAML errors with a caret), durations without a
// unit refused, ${env:VAR} in numeric and boolean keys, and the console log encoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { runCli, startDaemon, writeConfig } from '../harness/pprofcol.js';

const PIPELINE = `
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}
processors: {pprof_metrics: {}}
exporters: {debug: {}}
`;

function stderrLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

describe('pprofcol COMMAND --help', () => {
  for (const command of ['run', 'validate', 'config', 'scrape']) {
    it(`${command} --help prints its usage, flags and an example on stdout, exit 0`, async () => {
      const r = await runCli([command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^usage: pprofcol ${command} `));
      assert.match(r.stdout, /\nflags:\n {2}\S/);
      assert.match(r.stdout, new RegExp(`\\nexample:\\n {2}pprofcol ${command} `));
    });
  }

  it('scrape --help is help, not an argument error; a wrong flag shows the command\'s help', async () => {
    const help = await runCli(['scrape', '-h']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--profiles LIST/);
    assert.match(help.stdout, /--cpu-window DURATION/);
    const wrong = await runCli(['scrape', 'http://127.0.0.1:1', '--profile', 'heap']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--profile/);
    assert.match(wrong.stderr, /usage: pprofcol scrape URL/);
  });

  it('the general usage lists every command and points at COMMAND --help', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const c of ['run', 'validate', 'config', 'scrape']) assert.match(r.stdout, new RegExp(`pprofcol ${c} `));
    assert.match(r.stdout, /pprofcol COMMAND --help/);
  });
});

describe('pprofcol config', () => {
  it('prints defaults filled in, env expanded, durations and sizes as text, secrets masked', async () => {
    const file = writeConfig(`
receivers:
  pprof:
    scrape_configs:
      - job_name: api
        basic_auth: {username: alice, password: hunter2}
        static_configs: [{targets: ["\${env:CLI_TEST_TARGET}"]}]
exporters:
  prometheusremotewrite:
    endpoint: http://writer:s3cr3t@127.0.0.1:9090/api/v1/write
    authorization: {credentials: tok-123}
    headers: {X-Api-Key: k-456, X-Scope-OrgID: tenant-1}
    queue_config: {max_shards: "\${env:CLI_TEST_SHARDS}"}
processors: {pprof_metrics: {}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [prometheusremotewrite]}}
`);
    const r = await runCli(['config', '--config', file], { env: { CLI_TEST_TARGET: '10.1.2.3:6060', CLI_TEST_SHARDS: '7' } });
    assert.equal(r.code, 0, r.stderr);
    for (const secret of ['hunter2', 's3cr3t', 'tok-123', 'k-456']) assert.ok(!r.stdout.includes(secret), `${secret} printed:\n${r.stdout}`);
    const cfg = parse(r.stdout) as {
      receivers: { pprof: { scrape_configs: Array<Record<string, unknown> & { basic_auth: Record<string, string>; static_configs: Array<{ targets: string[] }> }> } };
      exporters: { prometheusremotewrite: Record<string, unknown> & { queue_config: Record<string, unknown>; headers: Record<string, string>; authorization: Record<string, string> } };
      service: { shutdown_timeout: string; telemetry: { http: { listen: string }; logs: { level: string; encoding: string } } };
    };
    const sc = cfg.receivers.pprof.scrape_configs[0];
    assert.deepEqual(sc.static_configs[0].targets, ['10.1.2.3:6060']);
    assert.equal(sc.scrape_interval, '15s');
    assert.equal(sc.scrape_timeout, '10s');
    assert.equal(sc.body_size_limit, '64MiB');
    assert.deepEqual(sc.basic_auth, { username: 'alice', password: '<secret>' });
    const rw = cfg.exporters.prometheusremotewrite;
    assert.equal(rw.endpoint, 'http://writer:xxxxx@127.0.0.1:9090/api/v1/write');
    assert.equal(rw.authorization.credentials, '<secret>');
    assert.equal(rw.authorization.type, 'Bearer');
    assert.deepEqual(rw.headers, { 'X-Api-Key': '<secret>', 'X-Scope-OrgID': 'tenant-1' });
    assert.equal(rw.queue_config.max_shards, 7);
    assert.equal(rw.queue_config.block_timeout, '10s');
    assert.equal(rw.timeout, '30s');
    assert.equal(cfg.service.shutdown_timeout, '10s');
    assert.deepEqual(cfg.service.telemetry.logs, { level: 'info', encoding: 'json' });
    assert.equal(cfg.service.telemetry.http.listen, '127.0.0.1:8888');
  });

  it('what it prints is itself a valid file that prints the same', async () => {
    const first = await runCli(['config', '--config', 'examples/pipeline-remotewrite.yaml']);
    assert.equal(first.code, 0, first.stderr);
    const again = await runCli(['config', '--config', writeConfig(first.stdout)]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(parse(again.stdout), parse(first.stdout));
  });

  it('an invalid file: the errors on stderr as validate prints them, nothing on stdout, exit 1', async () => {
    const r = await runCli(['config', '--config', writeConfig(`receivers: {pprof: {endpoint: "127.0.0.1:6060", bogus: 1}}\n${PIPELINE}`)]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.deepEqual(stderrLines(r.stderr), ['receivers.pprof.bogus: unknown key']);
  });
});

describe('config errors as printed', () => {
  it('N mistakes print N lines: an unset variable once, pipelines checked beside a broken service key', async () => {
    const file = writeConfig(`
receivers:
  pprof: {endpoint: "127.0.0.1:6060", collection_interval: "\${env:CLI_TEST_UNSET}"}
processors: {pprof_metrics: {}}
exporters: {debug: {}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug, nope]}}
  shutdown_timeout: 10
`);
    const r = await runCli(['validate', '--config', file]);
    assert.equal(r.code, 1);
    assert.deepEqual(stderrLines(r.stderr).sort(), [
      'receivers.pprof.collection_interval: environment variable CLI_TEST_UNSET is not set and has no default (write ${env:CLI_TEST_UNSET:-default})',
      'service.pipelines.metrics.exporters[1]: "nope" is not defined under exporters',
      'service.shutdown_timeout: 10 is not a duration: give its unit (10s, 10ms); only 0 may be written bare',
    ]);
  });

  it('a YAML syntax error: its line and column, the line, and a caret under the column', async () => {
    const file = writeConfig('receivers:\n  pprof:\n    endpoint: "127.0.0.1:6060\n    oops: [1, 2\n');
    const r = await runCli(['validate', '--config', file]);
    assert.equal(r.code, 1);
    const lines = stderrLines(r.stderr);
    const at = lines.findIndex((l) => /^line \d+, column \d+: /.test(l));
    assert.ok(at >= 0, r.stderr);
    const [, lineNo, col] = /^line (\d+), column (\d+): /.exec(lines[at])!;
    const source = 'receivers:\n  pprof:\n    endpoint: "127.0.0.1:6060\n    oops: [1, 2\n'.split('\n')[Number(lineNo) - 1];
    assert.equal(lines[at + 1], `${lineNo} | ${source}`);
    const caret = lines[at + 2];
    assert.match(caret, /^ *\| *\^$/);
    // The caret sits under the column: same offset after the gutter as the column in the line.
    assert.equal(caret.indexOf('^') - caret.indexOf('|') - 2, Number(col) - 1);
  });

  it('a bare number is no duration, except 0', async () => {
    const bad = await runCli(['validate', '--config', writeConfig(`receivers: {pprof: {scrape_configs: [{job_name: a, scrape_interval: 15, static_configs: [{targets: ["127.0.0.1:6060"]}]}]}}\n${PIPELINE}`)]);
    assert.equal(bad.code, 1);
    assert.deepEqual(stderrLines(bad.stderr), ['receivers.pprof.scrape_configs[0].scrape_interval: 15 is not a duration: give its unit (15s, 15ms); only 0 may be written bare']);
    const zero = await runCli(['validate', '--config', writeConfig(`receivers: {pprof: {endpoint: "127.0.0.1:6060"}}\n${PIPELINE.replace('exporters: {debug: {}}', 'exporters: {debug: {}, prometheusremotewrite: {endpoint: "http://127.0.0.1:9/w", queue_config: {sample_age_limit: 0}}}')}`)]);
    assert.equal(zero.code, 0, zero.stderr);
  });

  it('${env:VAR} in a numeric key is a number, in a boolean key a boolean; a non-number is refused at its key', async () => {
    const text = `receivers: {pprof: {endpoint: "127.0.0.1:6060"}}
exporters: {debug: {}, prometheusremotewrite: {endpoint: "http://127.0.0.1:9/w", isolate_rejected: "\${env:CLI_TEST_BOOL}"}}
processors: {pprof_metrics: {}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug, prometheusremotewrite]}}
  telemetry: {http: {max_connections: "\${env:CLI_TEST_N}"}}
`;
    const file = writeConfig(text);
    const ok = await runCli(['config', '--config', file], { env: { CLI_TEST_N: '12', CLI_TEST_BOOL: 'true' } });
    assert.equal(ok.code, 0, ok.stderr);
    const cfg = parse(ok.stdout) as { service: { telemetry: { http: { max_connections: unknown } } }; exporters: { prometheusremotewrite: { isolate_rejected: unknown } } };
    assert.equal(cfg.service.telemetry.http.max_connections, 12);
    assert.equal(cfg.exporters.prometheusremotewrite.isolate_rejected, true);
    const bad = await runCli(['validate', '--config', file], { env: { CLI_TEST_N: 'twelve', CLI_TEST_BOOL: 'true' } });
    assert.equal(bad.code, 1);
    assert.deepEqual(stderrLines(bad.stderr), ['service.telemetry.http.max_connections: Expected number, received string (${env:CLI_TEST_N} is "twelve")']);
  });
});

describe('service.telemetry.logs', () => {
  for (const encoding of ['console', 'json'] as const) {
    it(`encoding: ${encoding}`, async () => {
      const daemon = await startDaemon(`
receivers: {pprof: {endpoint: "127.0.0.1:1", collection_interval: 1s}}
processors: {pprof_metrics: {}}
exporters: {debug: {}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}, logs: {level: info, encoding: ${encoding}}}
`);
      try {
        await daemon.waitFor('stderr', /pprofcol started/, 15_000);
        // The target refuses: a warning with fields, logged once, shows how fields are written.
        await daemon.waitFor('stderr', /target scrape failing/, 15_000);
      } finally {
        assert.equal(await daemon.stop(), 0, daemon.stderr());
      }
      const lines = stderrLines(daemon.stderr());
      assert.ok(lines.length >= 3, daemon.stderr());
      if (encoding === 'json') {
        for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), l);
        return;
      }
      for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/, l);
      const started = lines.find((l) => l.includes('pprofcol started'))!;
      assert.match(started, /^\S+ INFO  pprofcol started telemetry=127\.0\.0\.1:\d+ pipelines=\["metrics"\]$/);
      const failing = lines.find((l) => l.includes('target scrape failing'))!;
      assert.match(failing, / WARN  receiver\/pprof: target scrape failing; logged again only when this changes job=pprof target=127\.0\.0\.1:1 failures=\[/);
    });
  }
});
