// The exporter against a real Prometheus 2.42 remote-write receiver: samples written are queried
// back, and a stale marker ends the series.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { metricBatch } from '../../../core/model/metrics.js';
import { startPrometheus, type PromServer } from '../../harness/servers.js';
import { exporterFor, goroutines, metric, point, settings, waitFor } from './helpers.js';

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
});
