// Remote write 2.0 into the receiver: pprofcol's own exporter with `protobuf_message:
// io.prometheus.write.v2.Request` posts to pprofcol's receiver, which decodes the 2.0 Request (symbols,
// label refs, samples, metadata refs) and answers with the Written headers, so the exporter stays on 2.0
// (it falls back to 1.0 on a 2xx without them). Samples, stale markers and metadata round-trip.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Batch } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import { metricBatch, type MetricFamily, type Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../receivers/prometheusremotewrite/config.js';
import { prometheusRemoteWriteReceiverFactory } from '../../../receivers/prometheusremotewrite/factory.js';
import type { RemoteWriteReceiver } from '../../../receivers/prometheusremotewrite/receiver.js';
import { metric, settings, waitFor } from '../../harness/common.js';
import { exporterFor } from '../../harness/rw-capture.js';

const goroutines: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' };
const alloc: MetricFamily = { name: 'go_memstats_alloc_bytes_total', type: 'counter', help: 'Total number of bytes allocated, even if freed.', unit: 'bytes' };
const gc: MetricFamily = { name: 'go_gc_duration_seconds', type: 'summary', help: 'A summary of the pause duration of garbage collection cycles.', unit: 'seconds' };

describe('prometheusremotewrite receiver: remote write 2.0 from pprofcol\'s exporter', () => {
  const received: Point[] = [];
  const telemetry = new Telemetry();
  let receiver: RemoteWriteReceiver;
  before(async () => {
    receiver = prometheusRemoteWriteReceiverFactory.create(
      { id: 'prometheusremotewrite', logger: silentLogger(), telemetry, configDir: process.cwd() },
      configSchema.parse({ endpoint: '127.0.0.1:0' }),
      { consume: async (b: Batch) => void (b.signal === 'metrics' && received.push(...b.points)) },
    ) as RemoteWriteReceiver;
    await receiver.start();
  });
  after(async () => receiver.shutdown());

  it('round-trips samples, stale markers and metadata, and the exporter stays on 2.0', async () => {
    const s = settings('prometheusremotewrite/v2');
    const exp = exporterFor(s, {
      endpoint: `http://${receiver.address()}/api/v1/write`,
      protobuf_message: 'io.prometheus.write.v2.Request',
      queue_config: { batch_send_deadline: '20ms', min_backoff: '10ms', max_backoff: '50ms' },
    });
    await exp.start();
    const t = 1_700_000_000_000;
    const a = { job: 'api', instance: '10.0.0.1:6060' };
    const b = { job: 'api', instance: '10.0.0.2:6060' };
    const sent: Point[] = [
      { family: goroutines, name: 'go_goroutines', labels: { ...a }, value: 12, timestampMs: t, stale: false },
      { family: alloc, name: 'go_memstats_alloc_bytes_total', labels: { ...a }, value: 1e12 + 0.5, timestampMs: t, stale: false },
      { family: gc, name: 'go_gc_duration_seconds', labels: { ...a, quantile: '0.5' }, value: 0.0002, timestampMs: t, stale: false },
      { family: gc, name: 'go_gc_duration_seconds_count', labels: { ...a }, value: 37, timestampMs: t, stale: false },
      { family: goroutines, name: 'go_goroutines', labels: { ...b, path: 'a"b\n' }, value: 3, timestampMs: t, stale: false },
    ];
    await exp.consume(metricBatch('pprof', sent.map((p) => ({ ...p, labels: { ...p.labels } }))));
    await waitFor('5 samples', () => received.length >= 5);
    // The second scrape: the series of b ends (its stale marker), a goes on.
    await exp.consume(metricBatch('pprof', [
      { family: goroutines, name: 'go_goroutines', labels: { ...a }, value: 13, timestampMs: t + 15_000, stale: false },
      { family: goroutines, name: 'go_goroutines', labels: { ...b, path: 'a"b\n' }, value: NaN, timestampMs: t + 15_000, stale: true },
    ]));
    await waitFor('7 samples', () => received.length >= 7);
    await exp.shutdown();

    const key = (p: Point) => `${p.name}${JSON.stringify(Object.entries(p.labels).sort())}@${p.timestampMs}`;
    const got = new Map(received.map((p) => [key(p), p]));
    for (const p of sent) {
      const r = got.get(key(p));
      assert.ok(r, `received ${key(p)}`);
      assert.equal(r.value, p.value);
      assert.equal(r.stale, false);
      assert.deepEqual(r.family, p.family, `metadata of ${p.name} (type, help, unit) round-trips`);
    }
    const stale = received.find((p) => p.stale);
    assert.ok(stale, 'the stale marker arrives as stale: true');
    assert.deepEqual({ ...stale.labels }, { ...b, path: 'a"b\n' });
    assert.equal(stale.timestampMs, t + 15_000);
    assert.equal(received.filter((p) => p.name === 'go_goroutines' && p.labels.instance === a.instance).map((p) => p.value).join(','), '12,13');

    // Every request was 2.0 (no fallback), and the exporter read the Written headers.
    assert.equal(await metric(telemetry, 'pprofcol_receiver_write_decoded_requests_total', { protocol: '2.0' }) >= 2, true);
    assert.equal(await metric(telemetry, 'pprofcol_receiver_write_decoded_requests_total', { protocol: '1.0' }), 0);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {}), 7);
  });

  it('answers a 2.0 request with the Written headers', async () => {
    const { V2Transcoder } = await import('../../../core/remotewrite/v2.js');
    const { encodeWriteRequest, snappyCompress } = await import('../../../core/remotewrite/index.js');
    const v1 = encodeWriteRequest([{ family: goroutines, name: 'go_goroutines', labels: { job: 'x', instance: 'y:1' }, value: 1, timestampMs: 5, stale: false }], [goroutines]);
    const body = snappyCompress(new V2Transcoder().transcode(v1).body);
    const res = await fetch(`http://${receiver.address()}/api/v1/write`, {
      method: 'POST',
      body: new Uint8Array(body),
      headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request', 'x-prometheus-remote-write-version': '2.0.0' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('x-prometheus-remote-write-samples-written'), '1');
    assert.equal(res.headers.get('x-prometheus-remote-write-histograms-written'), '0');
    assert.equal(res.headers.get('x-prometheus-remote-write-exemplars-written'), '0');
  });
});
