// isolate_rejected against a real Prometheus 2.42: a request mixing a few out-of-order samples of one
// series with many good samples of others is dropped whole without the option (counted http_400), and
// with it only the bad samples are dropped (counted rejected) while the good ones become queryable.
// Also the wire-level split the isolation uses, on encoded requests.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { metricBatch, type Point } from '../../../core/model/metrics.js';
import { encodeWriteRequest } from '../../../core/remotewrite/index.js';
import { buildRequest, countSamples, dropOlderThan, parseRequest, splitRequest } from '../../../exporters/prometheusremotewrite/send/wire.js';
import { startPrometheus, type PromServer } from '../../harness/servers.js';
import { goroutines, metric, point, settings, threads, waitFor } from '../../harness/common.js';
import { exporterFor } from '../../harness/rw-capture.js';

const SENT = 'pprofcol_exporter_samples_sent_total';
const DROPPED = 'pprofcol_exporter_samples_dropped_total';

describe('wire-level split', () => {
  it('halves by samples, keeps series order and the stale marker bytes, and rebuilds byte for byte', () => {
    const pts: Point[] = [];
    for (let s = 0; s < 3; s++) for (let t = 1; t <= 5; t++) pts.push(point(goroutines, { job: 'w', instance: `i${s}` }, t, t * 1000, s === 2 && t === 5));
    const raw = encodeWriteRequest(pts, [goroutines]);
    const parsed = parseRequest(raw);
    assert.ok(buildRequest(parsed).equals(raw), 'parse + build is the identity');
    assert.equal(countSamples(parsed), 15);
    const halves = splitRequest(parsed);
    assert.ok(halves !== undefined);
    const [a, b] = halves;
    assert.equal(countSamples(a), 7);
    assert.equal(countSamples(b), 8);
    // Series 1 is cut in the middle: its first two samples left, the last three right.
    assert.deepEqual(a.series[1].samples.map((x) => x.timestampMs), [1000, 2000]);
    assert.deepEqual(b.series[0].samples.map((x) => x.timestampMs), [3000, 4000, 5000]);
    assert.equal(a.metadata.length, 1);
    assert.equal(b.metadata.length, 0);
    const rebuilt = buildRequest(b);
    assert.ok(rebuilt.includes(Buffer.from('020000000000f07f', 'hex')), 'stale NaN kept as its bytes');
    const one = parseRequest(encodeWriteRequest([pts[0]]));
    assert.equal(splitRequest(one), undefined);
    const { request, dropped } = dropOlderThan(parsed, 3000);
    assert.equal(dropped, 6);
    assert.equal(countSamples(request), 9);
  });
});

describe('isolate_rejected -> Prometheus 2.42', () => {
  let prom: PromServer;
  before(async () => {
    prom = await startPrometheus({ remoteWriteReceiver: true });
  });
  after(async () => {
    await prom?.stop();
  });

  /**
   * Writes series `bad` at now-10s, then one request holding 3 samples of `bad` older than that
   * (out of order) among 20 series x 10 good samples.
   */
  async function scenario(job: string, isolate: boolean) {
    const s = settings(`prometheusremotewrite/${job}`);
    const exp = exporterFor(s, {
      endpoint: `${prom.url}/api/v1/write`,
      isolate_rejected: isolate,
      queue_config: { max_samples_per_send: 2000, batch_send_deadline: '20ms', min_backoff: '20ms', max_backoff: '200ms' },
      metadata_config: { send: false },
    });
    await exp.start();
    const now = Date.now();
    const badLabels = { job, instance: 'bad:1' };
    await exp.consume(metricBatch('pprof', [point(threads, badLabels, 1, now - 10_000)]));
    await waitFor('the first sample', async () => (await metric(s.telemetry, SENT, {})) === 1);
    const batch: Point[] = [];
    for (let t = 0; t < 10; t++) {
      for (let i = 0; i < 20; i++) {
        batch.push(point(goroutines, { job, instance: `good:${i}` }, t, now - 60_000 + t * 4_000));
        if (i === 10 && t < 3) batch.push(point(threads, badLabels, 100 + t, now - 60_000 + t * 10_000));
      }
    }
    assert.equal(batch.length, 203);
    await exp.consume(metricBatch('pprof', batch));
    return { s, exp, now };
  }

  it('without it, a 400 drops the whole request (http_400)', async () => {
    const { s, exp } = await scenario('plain', false);
    await waitFor('the drop', async () => (await metric(s.telemetry, DROPPED, { reason: 'http_400' })) === 203, 20_000);
    assert.equal(await metric(s.telemetry, SENT, {}), 1);
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'rejected' }), 0);
    const good = await prom.query('count_over_time(go_goroutines{job="plain"}[5m])');
    assert.equal(good.length, 0, 'no good sample stored');
    await exp.shutdown();
  });

  it('with it, only the 3 out-of-order samples are dropped (rejected) and the 200 good ones are queryable', async () => {
    const { s, exp } = await scenario('isolating', true);
    await waitFor('200 more samples sent', async () => (await metric(s.telemetry, SENT, {})) === 201, 20_000);
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'rejected' }), 3);
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'http_400' }), 0);
    const good = await prom.query('count_over_time(go_goroutines{job="isolating"}[5m])');
    assert.equal(good.length, 20, prom.logs().slice(-2000));
    for (const g of good) assert.equal(g.value[1], '10', JSON.stringify(g.metric));
    const bad = await prom.query('count_over_time(go_threads{job="isolating"}[5m])');
    assert.equal(bad[0]?.value[1], '1', 'only the first sample of the bad series is stored');
    const requests = await metric(s.telemetry, 'pprofcol_exporter_requests_total', { result: 'failed' });
    // log2(203) ~ 8 levels to reach each bad sample: a few dozen requests at most, far below the bound.
    assert.ok(requests < 40, `failed requests: ${requests}`);
    await exp.shutdown();
  });
});
