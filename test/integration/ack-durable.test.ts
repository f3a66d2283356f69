// "Acknowledged means durable" (design.md), end to end: a live daemon (remote-write receiver -> batch ->
// remote-write exporter with the disk buffer) in front of a real VictoriaMetrics, fed by a sender that
// remembers every request answered 2xx. Killed with SIGKILL three times under that load and restarted
// on the same write-ahead log each time: every sample the receiver answered 2xx for must reach
// VictoriaMetrics. Before the batch processor waited for the exporter, the points it held (up to its
// 200 ms timeout) were answered 204 and lost with the process.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { eventually, startDaemon, type Daemon } from '../harness/pprofcol.js';
import { AckingSender, missingInVm } from '../harness/rw-sender.js';
import { freePort, startVictoriaMetrics, vmFlush, type VMServer } from '../harness/servers.js';

const SERIES = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('acknowledged means durable', () => {
  let vm: VMServer | undefined;
  let daemon: Daemon | undefined;
  after(async () => {
    await daemon?.stop('SIGKILL');
    await vm?.stop();
  });

  it('three kill -9 under load with batch and the disk buffer: every sample answered 2xx reaches VictoriaMetrics', async (t) => {
    vm = await startVictoriaMetrics();
    const wal = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-ack-'));
    const port = await freePort();
    const config = `
receivers:
  prometheusremotewrite: {endpoint: "127.0.0.1:${port}"}
processors:
  batch: {}
exporters:
  prometheusremotewrite:
    endpoint: ${vm.writeUrl}
    buffer: {type: disk, directory: ${JSON.stringify(wal)}}
service:
  pipelines: {metrics: {receivers: [prometheusremotewrite], processors: [batch], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`;
    const start = async (): Promise<Daemon> => {
      const d = await startDaemon(config);
      await d.waitFor('stderr', /remote-write receiver listening/, 20_000);
      return d;
    };
    daemon = await start();
    const sender = new AckingSender(() => `http://127.0.0.1:${port}/api/v1/write`, 'kill', SERIES);
    sender.start();
    for (let kill = 1; kill <= 3; kill++) {
      // Under load: let requests be taken for a while, at a moment that falls anywhere in a batch timeout.
      const before = sender.stats.acked.length;
      await eventually(`requests taken before kill ${kill}`, 30_000, () => (sender.stats.acked.length >= before + 20 ? true : undefined));
      await sleep(137 * kill);
      daemon.child.kill('SIGKILL');
      await daemon.stop();
      daemon = await start();
    }
    const before = sender.stats.acked.length;
    await eventually('requests taken after the last restart', 30_000, () => (sender.stats.acked.length >= before + 20 ? true : undefined));
    await sender.stop();
    const acked = sender.stats.acked;
    const missing = await eventually('every acknowledged sample in VictoriaMetrics', 45_000, async () => {
      await vmFlush(vm!.url);
      const n = await missingInVm(vm!.url, 'kill', SERIES, acked);
      return n === 0 ? n : undefined;
    }).catch(async () => missingInVm(vm!.url, 'kill', SERIES, acked));
    t.diagnostic(`acknowledged: ${acked.length} requests (${acked.length * SERIES} samples); answers: ${JSON.stringify([...sender.stats.statuses])}`);
    assert.equal(missing, 0, `${missing} of ${acked.length * SERIES} acknowledged samples are not in VictoriaMetrics\n${daemon.stderr().slice(-2000)}`);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });
});
