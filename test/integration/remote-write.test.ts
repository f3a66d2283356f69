// End to end: Debian's Prometheus as the pprof target, pprofcol deriving and remote-writing into a
// second Prometheus; the stale marker ending a series in that Prometheus when a target dies; and on the
// wire, the stale marker's exact bytes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, parseExposition, startDaemon } from '../harness/pprofcol.js';
import { startGoProgram, startPrometheus, type PromServer } from '../harness/servers.js';
import { rawSeries } from '../core/remotewrite/wire.js';
import { startCaptureServer } from '../harness/rw-capture.js';

const STALE_BYTES = Buffer.from([0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]);

/** A value read between two reads of a mostly growing gauge: within their range, give or take 10%. */
const withinReads = (value: number, a: number, b: number) => value >= 0.9 * Math.min(a, b) && value <= 1.1 * Math.max(a, b);

const pipeline = (target: string, endpoint: string, extra = '') => `
receivers:
  pprof:
    scrape_configs:
      - job_name: pprof-e2e
        scrape_interval: 1s
        static_configs: [{targets: ["${target}"], labels: {env: e2e}}]
processors:
  pprof_metrics: {}
  batch: {timeout: 200ms}
exporters:
  prometheusremotewrite:
    endpoint: ${endpoint}
    queue_config: {batch_send_deadline: 500ms, min_backoff: 50ms, max_backoff: 500ms}${extra}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics, batch], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`;

describe('remote write end to end', () => {
  let target: PromServer;
  let receiver: PromServer;
  before(async () => {
    [target, receiver] = await Promise.all([startPrometheus(), startPrometheus({ remoteWriteReceiver: true })]);
  });
  after(async () => {
    await Promise.all([target?.stop(), receiver?.stop()]);
  });

  it('a real Prometheus receives the derived metrics with job, instance and target labels', async () => {
    const nativeBefore = parseExposition(await target.metricsText());
    const daemon = await startDaemon(pipeline(target.hostPort, `${receiver.url}/api/v1/write`));
    try {
      const selector = `{job="pprof-e2e",instance="${target.hostPort}",env="e2e"}`;
      const threads = await eventually('go_threads in the receiving Prometheus', 30_000, async () => {
        const result = await receiver.query(`go_threads${selector}`);
        return result.length === 1 ? Number(result[0].value[1]) : undefined;
      });
      const nativeNow = parseExposition(await target.metricsText());
      const native = (samples: typeof nativeNow, name: string) => samples.find((s) => s.name === name)!.value;
      // Threads are only ever created: what was derived lies between the target's reads before and after.
      assert.ok(threads >= native(nativeBefore, 'go_threads') && threads <= native(nativeNow, 'go_threads'), `go_threads ${threads}`);

      const goroutines = Number((await receiver.query(`go_goroutines${selector}`))[0].value[1]);
      // Our three concurrent profile requests each hold a reader and a handler goroutine.
      assert.ok(Math.abs(goroutines - native(nativeNow, 'go_goroutines')) <= 10, `go_goroutines ${goroutines} vs ${native(nativeNow, 'go_goroutines')}`);
      // Sys and HeapSys mostly grow while a young Prometheus warms up (by a third within seconds), and
      // shrink only a little: what was derived lies between the target's reads before and after, give
      // or take 10%. A plain ratio to the later read races that growth.
      for (const name of ['go_memstats_sys_bytes', 'go_memstats_heap_sys_bytes']) {
        const derived = Number((await receiver.query(`${name}${selector}`))[0].value[1]);
        assert.ok(withinReads(derived, native(nativeBefore, name), native(nativeNow, name)), `${name}: ${derived} not near [${native(nativeBefore, name)}, ${native(nativeNow, name)}]`);
      }
      // Stack memory moves slowly; 25% covers a second of goroutines coming and going in a small Prometheus.
      const stack = Number((await receiver.query(`go_memstats_stack_sys_bytes${selector}`))[0].value[1]);
      const nativeStack = native(nativeNow, 'go_memstats_stack_sys_bytes');
      assert.ok(Math.abs(stack - nativeStack) <= 0.25 * nativeStack, `go_memstats_stack_sys_bytes: ${stack} vs ${nativeStack}`);
      const up = await receiver.query(`pprof_up${selector}`);
      assert.equal(up[0].value[1], '1');
      const gc = await receiver.query(`go_gc_duration_seconds${selector}`);
      assert.deepEqual(gc.map((s) => s.metric.quantile).sort(), ['0', '0.25', '0.5', '0.75', '1']);

      const own = await (await fetch(`${daemon.telemetryUrl}/metrics`)).text();
      assert.match(own, /pprofcol_exporter_samples_sent_total\{exporter="prometheusremotewrite"\} [1-9]/);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
    assert.doesNotMatch(receiver.logs(), /out of order|duplicate sample/i);
  });

  it('a real Prometheus ends the series when the target dies: an instant query returns nothing after the stale marker', async () => {
    const prog = await startGoProgram('goroutines', ['-goroutines', '7']);
    const daemon = await startDaemon(pipeline(prog.hostPort, `${receiver.url}/api/v1/write`));
    try {
      const selector = `{job="pprof-e2e",instance="${prog.hostPort}",env="e2e"}`;
      await eventually('go_goroutines in the receiving Prometheus', 30_000, async () => ((await receiver.query(`go_goroutines${selector}`)).length === 1 ? true : undefined));
      await prog.stop();
      // Without a stale marker the last sample would answer instant queries for the 5 minutes of
      // Prometheus's lookback; the marker ends the series at once. 20 s: the failing scrape (1 s
      // interval, a refused connection fails at once), the batch (200 ms) and the send (500 ms deadline,
      // retries within 500 ms), with room for a loaded machine.
      await eventually('go_goroutines to end in the receiving Prometheus', 20_000, async () => ((await receiver.query(`go_goroutines${selector}`)).length === 0 ? true : undefined));
      // The series did not fall out of the lookback (this test is seconds old, the lookback 5 min): its
      // real samples are still stored; a range selector returns them and leaves the marker out.
      const stored = await receiver.query(`count_over_time(go_goroutines${selector}[5m])`);
      assert.equal(stored.length, 1, 'the series\' samples are still in the TSDB');
      assert.ok(Number(stored[0]!.value[1]) >= 1);
      // The target is still configured, so pprof_up stays a live series, at 0.
      const up = await eventually('pprof_up 0', 10_000, async () => {
        const r = await receiver.query(`pprof_up${selector}`);
        return r.length === 1 && r[0]!.value[1] === '0' ? r : undefined;
      });
      assert.equal(up.length, 1);
    } finally {
      await prog.stop();
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
  });

  it('sends the stale marker with its exact bytes when a target dies', async () => {
    const capture = await startCaptureServer();
    const prog = await startGoProgram('goroutines', ['-goroutines', '7']);
    const daemon = await startDaemon(pipeline(prog.hostPort, capture.url));
    try {
      const isGoroutines = (labels: Array<[string, string]>) => labels.some(([n, v]) => n === '__name__' && v === 'go_goroutines');
      await eventually('go_goroutines on the wire', 15_000, () => (capture.sampleRequests().some((r) => rawSeries(r.body).some((s) => isGoroutines(s.labels))) ? true : undefined));
      await prog.stop();
      const found = await eventually('a stale marker for go_goroutines', 15_000, () => {
        for (const r of capture.sampleRequests()) {
          for (const series of rawSeries(r.body)) {
            if (!isGoroutines(series.labels)) continue;
            const last = series.samples[series.samples.length - 1];
            if (r.body.subarray(last.valueOffset, last.valueOffset + 8).equals(STALE_BYTES)) return { series, request: r };
          }
        }
        return undefined;
      });
      // Labels sorted by name, unique, none empty, __name__ present.
      const names = found.series.labels.map(([n]) => n);
      assert.deepEqual(names, [...names].sort());
      assert.equal(new Set(names).size, names.length);
      assert.ok(found.series.labels.every(([, v]) => v !== ''));
      assert.deepEqual(Object.fromEntries(found.series.labels), { __name__: 'go_goroutines', env: 'e2e', instance: prog.hostPort, job: 'pprof-e2e' });
      assert.equal(found.request.headers['content-encoding'], 'snappy');
      assert.equal(found.request.headers['x-prometheus-remote-write-version'], '0.1.0');
      assert.match(String(found.request.headers['user-agent']), /^pprofcol\/\d+\.\d+\.\d+/);
      // Metadata travels in field 3 for the families sent.
      const metadata = capture.requests.flatMap((r) => r.request.metadata);
      assert.ok(metadata.some((m) => m.metric_family_name === 'go_goroutines' && m.help === 'Number of goroutines that currently exist.'));
      // pprof_up of the dead target goes to 0 (it stays a live series: the target is still configured).
      const upZero = capture.sampleRequests().some((r) =>
        r.request.timeseries.some((ts) => ts.labels.some((l) => l.name === '__name__' && l.value === 'pprof_up') && ts.samples.some((s) => s.value === 0)),
      );
      assert.ok(upZero, 'pprof_up 0 after the target died');
    } finally {
      await prog.stop();
      assert.equal(await daemon.stop(), 0, daemon.stderr());
      await capture.close();
    }
  });
});
