// Signals to a running daemon under load: SIGHUP (operators send it by habit to reload) keeps the same
// process running and loses nothing; Node's default was to exit 129 with the queue. A live pipeline:
// a client writes to pprofcol's remote-write receiver, pprofcol writes on into a real Prometheus.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MetricFamily, Point } from '../../core/model/metrics.js';
import { encodeWriteRequest, snappyCompress } from '../../core/remotewrite/index.js';
import { startDaemonOnFreePort, eventually, type Daemon } from '../harness/pprofcol.js';
import { startPrometheus, type PromServer } from '../harness/servers.js';

const FAMILY: MetricFamily = { name: 'hup_load', type: 'gauge', help: 'SIGHUP test series.', unit: '' };

async function post(url: string, points: Point[]): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    body: new Uint8Array(snappyCompress(encodeWriteRequest(points))),
    headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' },
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('signals under load', () => {
  let prometheus: PromServer | undefined;
  let daemon: Daemon | undefined;
  after(async () => {
    await daemon?.stop('SIGKILL');
    await prometheus?.stop();
  });

  it('SIGHUP: the same process runs on, logs once that reload is not configured, and every accepted sample reaches Prometheus', async () => {
    prometheus = await startPrometheus({ remoteWriteReceiver: true });
    const prom = prometheus;
    const started = await startDaemonOnFreePort(
      (port) => `
receivers:
  prometheusremotewrite: {endpoint: "127.0.0.1:${port}"}
processors:
  batch: {}
exporters:
  prometheusremotewrite:
    endpoint: ${prom.url}/api/v1/write
    queue_config: {batch_send_deadline: 200ms}
service:
  pipelines: {metrics: {receivers: [prometheusremotewrite], processors: [batch], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`,
      /remote-write receiver listening/,
      20_000,
    );
    daemon = started.daemon;
    const d = started.daemon;
    const url = `http://127.0.0.1:${started.port}/api/v1/write`;
    const pid = d.child.pid!;

    // 20 series, one write every 50 ms for ~3 s; five SIGHUPs in the middle of it.
    const accepted: number[] = [];
    let stop = false;
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        const now = Date.now();
        const points: Point[] = [];
        for (let s = 0; s < 20; s++) points.push({ family: FAMILY, name: FAMILY.name, labels: { job: 'hup', series: String(s) }, value: i, timestampMs: now, stale: false });
        assert.equal(await post(url, points), 204);
        accepted.push(i);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    for (let k = 0; k < 5; k++) {
      process.kill(pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 400));
    }
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await load;

    assert.equal(d.child.exitCode, null, `the daemon exited: ${d.stderr().slice(-1500)}`);
    assert.equal(d.child.pid, pid);
    process.kill(pid, 0); // throws if no such process
    assert.equal((await fetch(`${d.telemetryUrl}/healthz`)).status, 200);
    const hups = d.stderr().split('\n').filter((l) => /SIGHUP/.test(l));
    assert.equal(hups.filter((l) => /"level":"?(warn|40)/.test(l)).length, 1, hups.join('\n'));
    assert.match(hups[0], /reload is not implemented yet/);

    // Everything accepted is in Prometheus: 20 series, each with every write's sample.
    await eventually('every accepted sample in Prometheus', 20_000, async () => {
      const r = await prom.query(`count(count_over_time(hup_load{job="hup"}[5m]) == ${accepted.length})`);
      return r[0]?.value[1] === '20' ? true : undefined;
    });
    const code = await d.stop('SIGTERM');
    assert.equal(code, 0, d.stderr().slice(-2000));
    assert.doesNotMatch(d.stderr(), /could not be sent|samples_not_sent/);
  });
});
