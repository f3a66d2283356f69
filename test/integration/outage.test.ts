// The receiver goes away for 60 s and comes back: the real daemon scrapes a Go program of ours every
// second into prometheusremotewrite (memory buffer) pointing at a real Prometheus 2.42 and at a real
// VictoriaMetrics; each receiver's process is stopped and started again on the same port and data
// directory. Afterwards the receiver must hold every go_goroutines sample pprofcol produced (one per
// successful scrape, counted by pprofcol itself), the receiver must have logged no out-of-order or
// duplicate-sample error, and pprofcol must have dropped nothing. The two receivers run side by side.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';

import { eventually, startDaemon, type Daemon } from '../harness/pprofcol.js';
import { startGoProgram, startPrometheus, startVictoriaMetrics, vmFlush } from '../harness/servers.js';
import { ownMetric } from './durable-helpers.js';

/** How long the receiver stays down. */
const OUTAGE_MS = 60_000;

/**
 * One target, `profiles: [goroutine]`: 3 samples per scrape (go_goroutines, pprof_up,
 * pprof_scrape_duration_seconds), one scrape a second. 60 s down plus a last backoff of at most
 * max_backoff (2 s) plus the ~10 s before the outage begins is ~72 s x 3 = ~216 samples, all held by
 * the one shard that runs while the receiver is down. The queue's bound, capacity 1000 x max_shards 50,
 * leaves far more room than that; capacity 1000 is the ring's first size.
 */
const pipeline = (job: string, target: string, endpoint: string) => `
receivers:
  pprof:
    scrape_configs:
      - job_name: ${job}
        scrape_interval: 1s
        profiles: [goroutine]
        static_configs: [{targets: ["${target}"]}]
processors:
  pprof_metrics: {}
  batch: {timeout: 200ms}
exporters:
  prometheusremotewrite:
    endpoint: ${endpoint}
    timeout: 5s
    queue_config: {capacity: 1000, max_samples_per_send: 500, batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 2s}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics, batch], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`;

interface Receiver {
  writeUrl: string;
  stopProcess(): Promise<void>;
  restart(): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
  /** Every raw go_goroutines sample of the job, as [timestamp ms, value] (stale markers left out). */
  samples(job: string): Promise<Array<[number, number]>>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function prometheusReceiver(): Promise<Receiver & { count(job: string): Promise<number> }> {
  const prom = await startPrometheus({ remoteWriteReceiver: true });
  return {
    writeUrl: `${prom.url}/api/v1/write`,
    stopProcess: () => prom.stopProcess(),
    restart: () => prom.restart(),
    logs: () => prom.logs(),
    stop: () => prom.stop(),
    // A range vector selector returns the raw samples; Prometheus leaves stale markers out of it.
    samples: async (job) => {
      const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(`go_goroutines{job="${job}"}[10m]`)}`, { signal: AbortSignal.timeout(10_000) });
      const body = (await res.json()) as { data: { result: Array<{ values: Array<[number, string]> }> } };
      assert.ok(body.data.result.length <= 1, `one series, got ${body.data.result.length}`);
      return (body.data.result[0]?.values ?? []).map(([t, v]) => [Math.round(t * 1000), Number(v)]);
    },
    count: async (job) => Number((await prom.query(`count_over_time(go_goroutines{job="${job}"}[10m])`))[0]?.value[1] ?? 0),
  };
}

async function victoriaMetricsReceiver(): Promise<Receiver> {
  const vm = await startVictoriaMetrics();
  return {
    writeUrl: vm.writeUrl,
    stopProcess: () => vm.stopProcess(),
    restart: () => vm.restart(),
    logs: () => vm.logs(),
    stop: () => vm.stop(),
    // /api/v1/export gives the raw samples as stored, duplicates included (VictoriaMetrics keeps them).
    samples: async (job) => {
      await vmFlush(vm.url);
      const res = await fetch(`${vm.url}/api/v1/export?match[]=${encodeURIComponent(`go_goroutines{job="${job}"}`)}`, { signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      assert.ok(lines.length <= 1, `one series, got ${lines.length}`);
      if (lines.length === 0) return [];
      // A stale marker may be exported as a bare NaN, which is no JSON.
      const series = JSON.parse(lines[0].replace(/\bNaN\b/g, 'null')) as { values: Array<number | null>; timestamps: number[] };
      const out: Array<[number, number]> = [];
      series.timestamps.forEach((ts, i) => {
        const v = series.values[i];
        if (v !== null && !Number.isNaN(v)) out.push([ts, v]);
      });
      return out;
    },
  };
}

async function own(daemon: Daemon, name: string, labels: Record<string, string> = {}): Promise<number> {
  return ownMetric(daemon, name, labels);
}

async function outage(t: TestContext, job: string, receiver: Receiver & { count?(job: string): Promise<number> }): Promise<void> {
  const prog = await startGoProgram('goroutines', ['-goroutines', '10']);
  const daemon = await startDaemon(pipeline(job, prog.hostPort, receiver.writeUrl));
  try {
    await eventually('the first samples stored', 30_000, async () => ((await receiver.samples(job)).length >= 3 ? true : undefined));

    const downAt = Date.now();
    await receiver.stopProcess();
    await eventually('pprofcol to see the receiver gone', 20_000, async () => ((await own(daemon, 'pprofcol_exporter_requests_total', { result: 'retry' })) > 0 ? true : undefined));
    // The outage itself: a scenario length, not an assertion.
    await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
    const queuedAtRestart = await own(daemon, 'pprofcol_exporter_queue_samples');
    await receiver.restart();
    const upAt = Date.now();

    // The backlog drains and new samples flow again.
    await eventually('samples scraped after the restart stored', 60_000, async () => ((await receiver.samples(job)).some(([ts]) => ts > upAt + 2000) ? true : undefined));

    // Freeze the number of successful scrapes: stop the target and wait until scrapes fail.
    const failedBefore = await own(daemon, 'pprofcol_receiver_scrape_failures_total');
    await prog.stop();
    await eventually('two failed scrapes', 20_000, async () => ((await own(daemon, 'pprofcol_receiver_scrape_failures_total')) >= failedBefore + 2 ? true : undefined));
    const produced = await own(daemon, 'pprofcol_receiver_scrapes_total', { job, result: 'success' });
    await eventually('the queue empty', 30_000, async () => ((await own(daemon, 'pprofcol_exporter_queue_samples')) === 0 ? true : undefined));

    let stored: Array<[number, number]> = [];
    await eventually(`${produced} go_goroutines samples stored`, 30_000, async () => {
      stored = await receiver.samples(job);
      return new Set(stored.map(([ts]) => ts)).size >= produced ? true : undefined;
    });

    // At the moment of stopping, after the flush: pprofcol's own view.
    assert.equal(await own(daemon, 'pprofcol_receiver_scrapes_total', { job, result: 'success' }), produced, 'no successful scrape after the target stopped');
    const dropped = await own(daemon, 'pprofcol_exporter_samples_dropped_total');
    const retried = await own(daemon, 'pprofcol_exporter_samples_retried_total');
    const retries = await own(daemon, 'pprofcol_exporter_requests_total', { result: 'retry' });
    const sent = await own(daemon, 'pprofcol_exporter_samples_sent_total');
    assert.equal(await daemon.stop(), 0, daemon.stderr().slice(-3000));

    const byTs = new Map<number, number[]>();
    for (const [ts, v] of stored) byTs.set(ts, [...(byTs.get(ts) ?? []), v]);
    const duplicates = [...byTs.values()].filter((vs) => vs.length > 1);
    const during = [...byTs.keys()].filter((ts) => ts >= downAt && ts < upAt).length;
    t.diagnostic(
      `${job}: down ${Math.round((upAt - downAt) / 1000)}s; queued at restart ${queuedAtRestart}; scrapes ok ${produced}; stored ${byTs.size} distinct (${during} from the outage), ` +
        `${stored.length} raw; sent ${sent}, retried ${retried} in ${retries} retried requests, dropped ${dropped}`,
    );
    assert.equal(byTs.size, produced, 'every sample pprofcol produced is stored, no more');
    // A resend of a request the receiver had already stored is the same bytes: the same values.
    for (const vs of duplicates) assert.ok(vs.every((v) => v === vs[0]), `a duplicate with another value: ${vs.join(', ')}`);
    if (receiver.count !== undefined) assert.equal(await receiver.count(job), produced, 'count_over_time');
    // About one scrape a second while the receiver was down; a loaded machine may delay a few.
    assert.ok(during >= (OUTAGE_MS / 1000) * 0.8, `samples from the outage stored: ${during}`);
    assert.ok(queuedAtRestart > 0 && retried > 0, 'the outage was felt: samples queued and retried');
    assert.equal(dropped, 0, daemon.stderr().slice(-3000));
    // Timestamps of one series arrive in order: the stored ones are distinct and the values plausible.
    for (const [, v] of stored) assert.ok(v >= 10, `go_goroutines ${v} with 10 parked goroutines`);
    assert.doesNotMatch(receiver.logs(), /out of order|duplicate sample|out of bounds/i);
  } finally {
    await daemon.stop();
    await prog.stop();
    await receiver.stop();
  }
}

describe('receiver outage of 60 s', { concurrency: true }, () => {
  it('Prometheus 2.42 stopped and started on the same port and TSDB holds every sample', async (t) => {
    await outage(t, 'outage-prometheus', await prometheusReceiver());
  });
  it('VictoriaMetrics stopped and started on the same port and data holds every sample', async (t) => {
    await outage(t, 'outage-victoriametrics', await victoriaMetricsReceiver());
  });
});
