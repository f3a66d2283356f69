// Backpressure instead of drops, end to end at the defaults, against a real VictoriaMetrics:
// - the prometheus receiver scraping one page of 20,000 series every second: every sample arrives,
//   none dropped, no scrape slot skipped (the queue used to drop half: 1 shard of 10,000 per burst);
// - behind the remote-write receiver, VictoriaMetrics gone for longer than block_timeout (10s), the
//   queue bounded at 10,000 samples (capacity 10,000 x max_shards 1; at the defaults it holds 500,000,
//   which test/exporters/prometheusremotewrite/queue-bound.test.ts covers): the queue fills, consume() waits, the receiver answers 503 with Retry-After, the sender resends, and
//   every sample it was answered 2xx for reaches VictoriaMetrics once it is back.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';

import { eventually, parseExposition, startDaemonOnFreePort, type Daemon } from '../harness/pprofcol.js';
import { AckingSender, missingInVm } from '../harness/rw-sender.js';
import { startVictoriaMetrics, vmFlush } from '../harness/servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function own(daemon: Daemon, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${daemon.telemetryUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  let sum = 0;
  for (const s of parseExposition(text)) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** 200 counter families x 100 series: a busy service's page. */
function page(series: number, tick: number): string {
  const out: string[] = [];
  const per = 100;
  for (let f = 0; f * per < series; f++) {
    const name = `bp_requests_${f}_total`;
    out.push(`# HELP ${name} Requests of handler ${f}.`, `# TYPE ${name} counter`);
    for (let s = 0; s < per; s++) out.push(`${name}{path="/api/${s}",code="${200 + (s % 5)}"} ${tick * 7 + s}`);
  }
  return out.join('\n') + '\n';
}

describe('backpressure instead of drops', () => {
  const stops: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('20,000 series scraped every second at the defaults: every sample arrives, 0 dropped, 0 slots skipped', async (t) => {
    const SERIES = 20_000;
    let tick = 0;
    let serving = true;
    const server = http.createServer((_req, res) => {
      if (!serving) {
        res.writeHead(503);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(page(SERIES, tick++));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    stops.push(() => new Promise((r) => server.close(r)));
    const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const vm = await startVictoriaMetrics();
    stops.push(() => vm.stop());
    // Started as the other tests here are (a retry on EADDRINUSE): a telemetry port taken between
    // freePort() and the daemon's bind left a daemon that had exited and 40s of "fetch failed".
    const { daemon } = await startDaemonOnFreePort(() => `
receivers:
  prometheus:
    scrape_configs:
      - {job_name: bp, scrape_interval: 1s, static_configs: [{targets: ["${target}"]}]}
exporters:
  prometheusremotewrite:
    endpoint: ${vm.writeUrl}
service:
  pipelines:
    metrics: {receivers: [prometheus], exporters: [prometheusremotewrite]}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`, /pprofcol started/, 20_000);
    stops.push(() => daemon.stop('SIGKILL'));
    // Ten 1s slots take 10s; 60s leaves room for a loaded machine, and a failure shows the daemon's log.
    await eventually('ten scrapes', 60_000, async () => ((await own(daemon, 'pprofcol_receiver_scrapes_total', { job: 'bp', result: 'success' })) >= 10 ? true : undefined)).catch((err: unknown) => {
      throw new Error(`${String(err)}\ndaemon stderr: ${daemon.stderr().slice(-3000)}`);
    });
    // Stop serving pages, so that the count of pages served is final, and let the last hand-off finish.
    serving = false;
    await sleep(2_500);
    const successes = await own(daemon, 'pprofcol_receiver_scrapes_total', { job: 'bp', result: 'success' });
    const dropped = await own(daemon, 'pprofcol_exporter_samples_dropped_total');
    const skipped = await own(daemon, 'pprofcol_receiver_scrapes_skipped_total');
    const skippedWhy = `backpressure ${await own(daemon, 'pprofcol_receiver_scrapes_skipped_total', { reason: 'backpressure' })}, overrun ${await own(daemon, 'pprofcol_receiver_scrapes_skipped_total', { reason: 'overrun' })}`;
    assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr().slice(-2000));
    // After a clean stop everything queued has been sent: compare what was produced with what arrived.
    await vmFlush(vm.url);
    const arrived = Number((await vm.query(`sum(count_over_time({job="bp", __name__=~"bp_requests_.*"}[10m]))`))[0]?.value[1] ?? 0);
    t.diagnostic(`${tick} pages served, ${successes} scrapes succeeded, ${arrived} samples arrived (${(arrived / SERIES).toFixed(2)} pages' worth)`);
    assert.equal(dropped, 0, 'samples dropped');
    assert.equal(skipped, 0, `scrape slots skipped: ${skippedWhy}`);
    assert.doesNotMatch(daemon.stderr(), /dropping|slot skipped/, daemon.stderr().slice(-2000));
    assert.equal(successes, tick, 'every page served was scraped whole');
    assert.equal(arrived, tick * SERIES, 'every sample of every page arrived');
  });

  it('VictoriaMetrics gone longer than block_timeout behind the remote-write receiver: 503s, resends, nothing acknowledged lost', async (t) => {
    const vm = await startVictoriaMetrics();
    stops.push(() => vm.stop());
    const { daemon, port } = await startDaemonOnFreePort((p) => `
receivers:
  prometheusremotewrite: {endpoint: "127.0.0.1:${p}"}
processors:
  batch: {}
exporters:
  prometheusremotewrite:
    endpoint: ${vm.writeUrl}
    # The bound is capacity x max_shards: 10,000 here, so that 15 s of the sender fill it.
    queue_config: {max_shards: 1}
service:
  pipelines: {metrics: {receivers: [prometheusremotewrite], processors: [batch], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`, /remote-write receiver listening/, 20_000);
    stops.push(() => daemon.stop('SIGKILL'));
    // 500 series a request, one request at a time: well over the 10,000 samples the queue holds (capacity x max_shards 1).
    const SERIES = 500;
    const sender = new AckingSender(() => `http://127.0.0.1:${port}/api/v1/write`, 'stall', SERIES);
    sender.start();
    await eventually('requests taken', 20_000, () => (sender.stats.acked.length >= 5 ? true : undefined));
    await vm.stopProcess();
    // block_timeout (10s) must run out at least once while it is gone: 15s, as the issue measured.
    await eventually('a 503 for a full queue', 40_000, () => ((sender.stats.statuses.get(503) ?? 0) > 0 ? true : undefined));
    await sleep(3_000);
    await vm.restart();
    const takenAgain = sender.stats.acked.length;
    await eventually('requests taken again', 40_000, () => (sender.stats.acked.length >= takenAgain + 5 ? true : undefined));
    await sender.stop();
    const acked = sender.stats.acked;
    const missing = await eventually('every acknowledged sample in VictoriaMetrics', 40_000, async () => {
      await vmFlush(vm.url);
      const n = await missingInVm(vm.url, 'stall', SERIES, acked);
      return n === 0 ? n : undefined;
    }).catch(async () => missingInVm(vm.url, 'stall', SERIES, acked));
    const refusedFull = await own(daemon, 'pprofcol_receiver_write_requests_rejected_total', { reason: 'queue_full' });
    t.diagnostic(`acknowledged ${acked.length} requests; answers ${JSON.stringify([...sender.stats.statuses])}; receiver 503 queue_full: ${refusedFull}`);
    assert.equal(missing, 0, `${missing} acknowledged samples missing\n${daemon.stderr().slice(-2000)}`);
    assert.ok(refusedFull > 0, 'the 503s are counted under reason="queue_full"');
    assert.match(daemon.stderr(), /exporter queue is full: answering 503/);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });
});
