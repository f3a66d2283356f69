// A Go program of our own that parks a known number of goroutines.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, parseExposition, runCli, startDaemon } from '../harness/pprofcol.js';
import { startGoProgram, type GoProgramServer } from '../harness/servers.js';

// Besides the parked ones: main, the HTTP server's accept loop, and per open connection a reader
// and a handler goroutine; 12 covers that with our three concurrent requests.
const OVERHEAD = 12;

describe('goroutine count of a Go program', () => {
  let prog: GoProgramServer;
  before(async () => {
    prog = await startGoProgram('goroutines', ['-goroutines', '200']);
  });
  after(async () => prog?.stop());

  it('pprofcol scrape reports the parked goroutines within a small bound', async () => {
    const result = await runCli(['scrape', prog.url, '--profiles', 'goroutine']);
    assert.equal(result.code, 0, result.stderr);
    const goroutines = parseExposition(result.stdout).find((s) => s.name === 'go_goroutines')!.value;
    assert.ok(goroutines >= 200 && goroutines <= 200 + OVERHEAD, `go_goroutines ${goroutines}`);
  });

  it('the daemon follows a change of the goroutine count within an interval', async () => {
    const daemon = await startDaemon(`
receivers:
  pprof: {endpoint: "${prog.hostPort}", collection_interval: 1s}
processors: {pprof_metrics: {}}
exporters: {debug: {}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    try {
      await daemon.waitFor('stdout', /^go_goroutines\{instance="[^"]+",job="pprof"\} 2\d\d$/m, 10_000);
      const res = await fetch(`${prog.url}/goroutines?set=30`);
      assert.equal(res.status, 200);
      await eventually('go_goroutines near 30', 10_000, () => {
        const samples = parseExposition(daemon.stdout()).filter((s) => s.name === 'go_goroutines');
        const last = samples[samples.length - 1]?.value;
        return last !== undefined && last >= 30 && last <= 30 + OVERHEAD ? last : undefined;
      });
      // Own telemetry is served while running.
      const metrics = await (await fetch(`${daemon.telemetryUrl}/metrics`)).text();
      assert.match(metrics, /pprofcol_receiver_scrapes_total\{receiver="pprof",job="pprof",result="success"\} [1-9]/);
      assert.equal((await fetch(`${daemon.telemetryUrl}/healthz`)).status, 200);
      assert.equal((await fetch(`${daemon.telemetryUrl}/readyz`)).status, 200);
    } finally {
      assert.equal(await daemon.stop('SIGINT'), 0, daemon.stderr());
    }
  });
});
