// The exporter against a real Prometheus 2.42 remote-write receiver: samples written are queried
// back, and a stale marker ends the series.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { metricBatch, type MetricFamily, type Point } from '../../../core/model/metrics.js';
import { startPrometheus, type PromServer } from '../../harness/servers.js';
import { goroutines, metric, point, settings, waitFor } from '../../harness/common.js';
import { exporterFor } from '../../harness/rw-capture.js';

let prom: PromServer;
before(async () => {
  prom = await startPrometheus({ remoteWriteReceiver: true });
});
after(async () => {
  await prom?.stop();
});

describe('prometheusremotewrite -> Prometheus 2.42', () => {
  it('writes go_goroutines, queries it back, then ends it with a stale marker', async () => {
    const s = settings();
    const exp = exporterFor(s, {
      endpoint: `${prom.url}/api/v1/write`,
      queue_config: { batch_send_deadline: '50ms', min_backoff: '50ms', max_backoff: '500ms' },
    });
    await exp.start();
    const labels = { job: 't', instance: 'x:1' };
    const now = Date.now();
    await exp.consume(metricBatch('pprof', [point(goroutines, labels, 5, now - 30_000), point(goroutines, labels, 6, now - 15_000), point(goroutines, labels, 7, now - 1_000)]));
    await waitFor('3 samples accepted', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 3);
    const result = await prom.query('go_goroutines{job="t",instance="x:1"}');
    assert.equal(result.length, 1, prom.logs());
    assert.equal(result[0].value[1], '7');
    assert.deepEqual(result[0].metric, { __name__: 'go_goroutines', job: 't', instance: 'x:1' });
    const range = await prom.query('count_over_time(go_goroutines{job="t",instance="x:1"}[1m])');
    assert.equal(range[0]?.value[1], '3');

    // The stale marker, a little after the last sample and before the query's evaluation time.
    await exp.consume(metricBatch('pprof', [point(goroutines, labels, 0, Date.now(), true)]));
    await waitFor('the stale marker accepted', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 4);
    await waitFor('the series to be stale', async () => (await prom.query('go_goroutines{job="t",instance="x:1"}')).length === 0, 10_000);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'http_400' }), 0);
    await exp.shutdown();
  });

  it('name-only series (recording rules) first, beside labelled ones, with and without external labels: all stored, no shard wedged', async () => {
    // Once, a fresh encoder whose first point had labels {} sent every name-only series without any
    // label; Prometheus answered 500 "empty labelset", the request was retried byte for byte, and
    // nothing behind it moved (0 of the next 1,500 samples delivered).
    const rule: MetricFamily = { name: 'cluster:cpu:sum', type: 'gauge', help: 'A recording rule.', unit: '' };
    const rule2: MetricFamily = { name: 'cluster:mem:sum', type: 'gauge', help: 'Another.', unit: '' };
    for (const external of [{}, { cluster: 'c1' }] as Array<Record<string, string>>) {
      const s = settings();
      const exp = exporterFor(s, {
        endpoint: `${prom.url}/api/v1/write`,
        external_labels: external,
        queue_config: { batch_send_deadline: '50ms', min_shards: 2, max_shards: 2, max_samples_per_send: 500, min_backoff: '50ms', max_backoff: '200ms' },
      });
      await exp.start();
      const job = `nameonly${Object.keys(external).length}`;
      const t0 = Date.now() - 60_000;
      let total = 0;
      // 4 batches of 2 name-only points and 500 labelled ones (1,500 behind the first name-only ones).
      for (let b = 0; b < 4; b++) {
        const ts = t0 + b * 1000;
        const points: Point[] = [point(rule, {}, b, ts), point(rule2, {}, 10 + b, ts)];
        for (let i = 0; i < 500; i++) points.push(point(goroutines, { job, instance: `i${i}` }, b, ts));
        total += points.length;
        await exp.consume(metricBatch('rules', points));
      }
      await waitFor(`${total} samples accepted`, async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === total, 20_000);
      assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_retried_total', {}), 0, 'nothing was answered 5xx');
      await exp.shutdown();
      const sel = Object.keys(external).length === 0 ? '' : ',cluster="c1"';
      const counts = await prom.query(`count_over_time(cluster:cpu:sum{job=""${sel}}[5m])`);
      assert.equal(counts.length, 1, prom.logs().slice(-2000));
      assert.deepEqual(counts[0].metric, { ...external }, 'the name, and the external labels, nothing else');
      assert.equal(counts[0].value[1], '4');
      const mem = await prom.query(`count_over_time(cluster:mem:sum{job=""${sel}}[5m])`);
      assert.equal(mem[0]?.value[1], '4');
      const labelled = await prom.query(`count(count_over_time(go_goroutines{job="${job}"${sel}}[5m]) == 4)`);
      assert.equal(labelled[0]?.value[1], '500', 'every labelled series has its 4 samples');
      assert.doesNotMatch(prom.logs(), /empty labelset/);
    }
  });
});
