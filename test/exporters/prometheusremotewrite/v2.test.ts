// protobuf_message: io.prometheus.write.v2.Request. Against a capture receiver of our own that speaks
// 2.0 (decoded with a protobufjs schema of the 2.0 proto), and one that answers as a 1.0-only receiver
// would (415, 400, 2xx without the Written headers); and against real Prometheus 2.42, which does not
// speak 2.0: the exporter falls back to 1.0 and the samples are queryable.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { silentLogger } from '../../../core/logger.js';
import { metricBatch } from '../../../core/model/metrics.js';
import { encodeWriteRequest, snappyCompress, snappyUncompress } from '../../../core/remotewrite/index.js';
import { decodeWriteRequest } from '../../core/remotewrite/reference-decoder.js';
import { V2_CONTENT_TYPE } from '../../../core/remotewrite/v2.js';
import { RemoteWriteClient } from '../../../exporters/prometheusremotewrite/send/client.js';
import { ProtocolNegotiator } from '../../../exporters/prometheusremotewrite/send/protocol.js';
import { startPrometheus } from '../../harness/servers.js';
import { allocTotal, goroutines, metric, point, settings, waitFor } from '../../harness/common.js';
import { exporterFor } from '../../harness/rw-capture.js';
import { decodeV2, type V2Decoded } from '../../harness/rw-v2.js';

interface Received {
  contentType: string;
  version: string;
  encoding: string;
  /** Decoded with the protocol its Content-Type names. */
  v2?: V2Decoded;
  v1Samples?: number;
}

type Reply = { status: number; headers?: Record<string, string>; body?: string };

/** A receiver of our own. `reply` decides each answer from what arrived. */
async function receiver(reply: (r: Received, n: number) => Reply) {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = snappyUncompress(Buffer.concat(chunks));
      const contentType = String(req.headers['content-type'] ?? '');
      const r: Received = { contentType, version: String(req.headers['x-prometheus-remote-write-version'] ?? ''), encoding: String(req.headers['content-encoding'] ?? '') };
      if (contentType === V2_CONTENT_TYPE) r.v2 = decodeV2(body);
      else r.v1Samples = decodeWriteRequest(body).timeseries.reduce((n, s) => n + s.samples.length, 0);
      got.push(r);
      const a = reply(r, got.length - 1);
      res.writeHead(a.status, a.headers).end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`, got };
}

const servers: http.Server[] = [];
after(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A 2.0 receiver: Written headers with what it decoded. */
function speaks2(r: Received): Reply {
  if (r.v2 === undefined) return { status: 204 };
  const samples = r.v2.series.reduce((n, s) => n + s.samples.length, 0);
  return { status: 204, headers: { 'X-Prometheus-Remote-Write-Samples-Written': String(samples), 'X-Prometheus-Remote-Write-Histograms-Written': '0', 'X-Prometheus-Remote-Write-Exemplars-Written': '0' } };
}

const FAST = { batch_send_deadline: '20ms', min_backoff: '10ms', max_backoff: '50ms' };

describe('remote write 2.0', () => {
  it('sends 2.0 bodies with the 2.0 headers to a receiver that speaks it: symbols from "", label and metadata refs', async () => {
    const rx = await receiver(speaks2);
    const s = settings('prometheusremotewrite/v2');
    const exp = exporterFor(s, { endpoint: rx.url, protobuf_message: 'io.prometheus.write.v2.Request', external_labels: { cluster: 'c1' }, queue_config: FAST, metadata_config: { send_interval: '50ms' } });
    await exp.start();
    const ts = Date.now();
    const labels = { job: 'api', instance: 'x:1' };
    await exp.consume(metricBatch('pprof', [point(goroutines, labels, 7, ts), point(allocTotal, labels, 1024, ts)]));
    await waitFor('2 samples sent', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 2);
    await new Promise((r) => setTimeout(r, 120)); // metadata_config.send_interval passes: nothing extra goes out in 2.0
    await exp.shutdown();
    assert.ok(rx.got.length >= 1);
    for (const r of rx.got) {
      assert.equal(r.contentType, 'application/x-protobuf;proto=io.prometheus.write.v2.Request');
      assert.equal(r.version, '2.0.0');
      assert.equal(r.encoding, 'snappy');
      assert.ok(r.v2);
      assert.equal(r.v2.symbols[0], '');
    }
    const series = rx.got.flatMap((r) => r.v2?.series ?? []);
    assert.equal(series.length, 2, 'metadata-only requests are not sent in 2.0');
    const g = series.find((x) => x.labels.__name__ === 'go_goroutines');
    assert.deepEqual(g?.labels, { __name__: 'go_goroutines', cluster: 'c1', instance: 'x:1', job: 'api' });
    assert.deepEqual(g?.samples.map((x) => [x.value, x.timestamp]), [[7, ts]]);
    assert.deepEqual(g?.metadata && [g.metadata.type, g.metadata.help], [2, goroutines.help]);
    const c = series.find((x) => x.labels.__name__ === 'go_memstats_alloc_bytes_total');
    assert.deepEqual(c?.metadata && [c.metadata.type, c.metadata.unit, c.samples[0].start_timestamp], [1, 'bytes', 0]);
  });

  it('reads the Written headers, and falls back to 1.0 once, resending the same samples, on 2xx without them, 415, or 400 to the first request', async () => {
    const v1 = snappyCompress(encodeWriteRequest([point(goroutines, { job: 'a', instance: 'x:1' }, 3, Date.now()), point(goroutines, { job: 'a', instance: 'x:2' }, 4, Date.now())], [goroutines]));
    const cases: Array<{ name: string; first: Reply }> = [
      { name: '2xx without Written headers (Prometheus 2.42)', first: { status: 204 } },
      { name: '415', first: { status: 415, body: 'unsupported' } },
      { name: '400 to the first 2.0 request', first: { status: 400, body: 'cannot decode' } },
    ];
    for (const c of cases) {
      const rx = await receiver((_r, n) => (n === 0 ? c.first : { status: 204 }));
      const client = new RemoteWriteClient({ endpoint: rx.url, headers: {}, timeoutMs: 5_000, retryOnHttp429: true, configDir: process.cwd() });
      const negotiator = new ProtocolNegotiator(client, silentLogger());
      const result = await negotiator.send(v1);
      assert.equal(result.ok, true, c.name);
      assert.equal(negotiator.protocol, 'v1', c.name);
      assert.equal(rx.got.length, 2, c.name);
      assert.equal(rx.got[0].contentType, V2_CONTENT_TYPE, c.name);
      assert.equal(rx.got[1].contentType, 'application/x-protobuf', c.name);
      assert.equal(rx.got[1].version, '0.1.0', c.name);
      assert.equal(rx.got[1].v1Samples, 2, `${c.name}: the same samples, as 1.0`);
      // Remembered: the next request goes as 1.0 straight away.
      await negotiator.send(v1);
      assert.equal(rx.got.length, 3);
      assert.equal(rx.got[2].contentType, 'application/x-protobuf');
      await client.close();
    }

    // A receiver that speaks 2.0: Written headers read; a later 400 is a real rejection, not a reason to fall back.
    const rx = await receiver((r, n) => (n === 0 ? speaks2(r) : { status: 400, body: 'out of order sample' }));
    const client = new RemoteWriteClient({ endpoint: rx.url, headers: {}, timeoutMs: 5_000, retryOnHttp429: true, configDir: process.cwd() });
    const negotiator = new ProtocolNegotiator(client, silentLogger());
    assert.equal((await negotiator.send(v1)).ok, true);
    assert.deepEqual(negotiator.lastWritten, { samples: 2, histograms: 0, exemplars: 0 });
    const rejected = await negotiator.send(v1);
    assert.equal(rejected.ok, false);
    assert.equal(negotiator.protocol, 'v2');
    assert.equal(rx.got.length, 2);
    await client.close();
  });

  it('a 2xx whose Samples-Written falls short: only the written samples count as sent, the rest dropped{reason="not_written"}', async () => {
    // Writes all but one of each request, as a 2.0 receiver that refused one sample says it did.
    const rx = await receiver((r) => {
      const reply = speaks2(r);
      const written = Number(reply.headers?.['X-Prometheus-Remote-Write-Samples-Written'] ?? 0);
      return { ...reply, headers: { ...reply.headers, 'X-Prometheus-Remote-Write-Samples-Written': String(Math.max(0, written - 1)) } };
    });
    const s = settings();
    const exp = exporterFor(s, { endpoint: rx.url, protobuf_message: 'io.prometheus.write.v2.Request', queue_config: FAST, metadata_config: { send: false } });
    await exp.start();
    const now = Date.now();
    await exp.consume(metricBatch('pprof', [point(goroutines, { job: 'a', instance: 'x:1' }, 1, now), point(goroutines, { job: 'a', instance: 'x:2' }, 2, now), point(goroutines, {}, 3, now)]));
    await waitFor('one request', () => rx.got.length >= 1, 10_000);
    await exp.shutdown();
    assert.equal(rx.got.length, 1, 'a 2xx is not resent');
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {}), 2);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'not_written' }), 1);
  });

  it('against Prometheus 2.42 (no 2.0): falls back to 1.0 and the samples are queryable', async () => {
    const prom = await startPrometheus({ remoteWriteReceiver: true });
    try {
      const s = settings('prometheusremotewrite/v2-prom');
      const exp = exporterFor(s, { endpoint: `${prom.url}/api/v1/write`, protobuf_message: 'io.prometheus.write.v2.Request', queue_config: FAST });
      await exp.start();
      const labels = { job: 'v2test', instance: 'x:1' };
      const now = Date.now();
      await exp.consume(metricBatch('pprof', [point(goroutines, labels, 5, now - 30_000), point(goroutines, labels, 6, now - 15_000)]));
      await waitFor('2 samples sent', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 2);
      await exp.consume(metricBatch('pprof', [point(goroutines, labels, 7, now - 1_000)]));
      await waitFor('3 samples sent', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 3);
      await exp.shutdown();
      const result = await prom.query('go_goroutines{job="v2test"}');
      assert.equal(result.length, 1, prom.logs());
      assert.equal(result[0].value[1], '7');
      const count = await prom.query('count_over_time(go_goroutines{job="v2test"}[1m])');
      assert.equal(count[0]?.value[1], '3', 'every sample arrived (none lost to the 2.0 attempt)');
    } finally {
      await prom.stop();
    }
  });
});
