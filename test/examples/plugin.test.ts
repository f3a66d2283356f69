// The example plugin, loaded by `plugins:`, runs inside a real pipeline.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDaemon } from '../harness/pprofcol.js';
import { repoRoot, startGoProgram, type GoProgramServer } from '../harness/servers.js';

describe('examples/plugins/add-label.js', () => {
  let prog: GoProgramServer;
  before(async () => {
    prog = await startGoProgram('goroutines', ['-goroutines', '5']);
  });
  after(async () => prog?.stop());

  it('adds its label to every derived point and keeps a label the point already has', async () => {
    const daemon = await startDaemon(`
plugins: [${JSON.stringify(path.join(repoRoot(), 'examples', 'plugins', 'add-label.js'))}]
receivers:
  pprof:
    scrape_configs:
      - job_name: plug
        scrape_interval: 1s
        static_configs: [{targets: ["${prog.hostPort}"], labels: {env: dev}}]
processors:
  pprof_metrics: {}
  add_label: {labels: {team: payments, env: overwritten}}
exporters: {debug: {}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics, add_label], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    try {
      await daemon.waitFor('stdout', /^pprof_up\{env="dev",instance="[^"]+",job="plug",team="payments"\} 1$/m, 10_000);
      const samples = daemon.stdout().split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      assert.ok(samples.length > 20);
      for (const line of samples) assert.match(line, /team="payments"/);
      for (const line of samples) assert.match(line, /env="dev"/);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
  });
});
