// The command line's lifecycle: --version, a bad config, and a SIGTERM that must not wait longer
// than service.shutdown_timeout even when the exporter's receiver hangs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli, startDaemon, writeConfig } from '../harness/pprofcol.js';
import { repoRoot, startGoProgram } from '../harness/servers.js';

describe('pprofcol command line', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `pprofcol ${version}\n`);
  });

  it('run refuses an invalid config with exit 1 and the errors on stderr, before starting anything', async () => {
    const file = writeConfig('receivers: {pprof: {endpoint: "x"}}\nservice: {pipelines: {metrics: {receivers: [pprof], exporters: [debug]}}}\n');
    const result = await runCli(['run', '--config', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^receivers\.pprof\.endpoint: must be host:port$/m);
    assert.match(result.stderr, /^service\.pipelines\.metrics\.exporters\[0\]: "debug" is not defined under exporters$/m);
    assert.equal(result.stdout, '');
  });

  it('an unknown command or missing --config is a usage error (exit 2)', async () => {
    assert.equal((await runCli(['frobnicate'])).code, 2);
    assert.equal((await runCli(['run'])).code, 2);
  });

  it('SIGTERM exits 0 within shutdown_timeout although the receiver of queued data hangs', async () => {
    const hanging: ServerResponse[] = [];
    const sink = createServer((_req, res) => hanging.push(res));
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const prog = await startGoProgram('goroutines', ['-goroutines', '3']);
    const daemon = await startDaemon(`
receivers:
  pprof: {endpoint: "${prog.hostPort}", collection_interval: 1s}
processors: {pprof_metrics: {}}
exporters:
  prometheusremotewrite:
    endpoint: http://127.0.0.1:${(sink.address() as AddressInfo).port}/api/v1/write
    timeout: 60s
    queue_config: {batch_send_deadline: 100ms}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
  shutdown_timeout: 2s
`);
    try {
      await daemon.waitFor('stderr', /target is up/, 10_000);
      const deadline = Date.now() + 10_000;
      while (hanging.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(hanging.length > 0, 'the exporter never sent');
      const stoppedAt = Date.now();
      const code = await daemon.stop('SIGTERM');
      const took = Date.now() - stoppedAt;
      assert.equal(code, 0, daemon.stderr());
      // shutdown_timeout plus the exit of a node process, which a loaded 2-core machine can stretch past a
      // second; 4 s of room for it. Waiting on the hung send instead would take the exporter's 60 s timeout
      // (or the harness's SIGKILL at 20 s, and no exit 0), so the bound still tells the two apart.
      assert.ok(took < 2000 + 4000, `shutdown took ${took}ms with shutdown_timeout 2s`);
      // What the hung request and the queue behind it held is counted and logged with its total.
      const line = daemon.stderr().split('\n').find((l) => /shutdown_timeout reached/.test(l));
      assert.ok(line !== undefined, daemon.stderr());
      const notSent = Number((JSON.parse(line) as { samples_not_sent?: number }).samples_not_sent);
      assert.ok(notSent >= 1, line);
      const loss = daemon.stderr().split('\n').filter((l) => /could not be sent/.test(l));
      assert.equal(loss.length, 1, daemon.stderr());
      assert.equal((JSON.parse(loss[0]) as { samples?: number }).samples, notSent, 'the exporter\'s total is the service\'s');
    } finally {
      await daemon.stop('SIGKILL');
      await prog.stop();
      for (const res of hanging) res.destroy();
      sink.closeAllConnections();
      sink.close();
    }
  });
});
