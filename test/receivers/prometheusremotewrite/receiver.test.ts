// The remote-write receiver over real HTTP: what it takes, what it refuses and with which status, and
// backpressure as 503 + Retry-After. (A real Prometheus as the sender: test/integration/gapfill-passthrough.)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Batch } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import type { MetricFamily, Point } from '../../../core/model/metrics.js';
import { encodeWriteRequest, snappyCompress } from '../../../core/remotewrite/index.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../receivers/prometheusremotewrite/config.js';
import { prometheusRemoteWriteReceiverFactory } from '../../../receivers/prometheusremotewrite/factory.js';
import type { RemoteWriteReceiver } from '../../../receivers/prometheusremotewrite/receiver.js';

const GAUGE: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' };
const point = (value: number, t: number, stale = false): Point => ({
  family: GAUGE, name: 'go_goroutines', labels: { job: 'app', instance: 'h:1', path: 'a"b\n' }, value, timestampMs: t, stale,
});

describe('prometheusremotewrite receiver', () => {
  const batches: Point[][] = [];
  let gate: Promise<void> | undefined;
  let receiver: RemoteWriteReceiver;
  let url: string;
  before(async () => {
    const config = configSchema.parse({ endpoint: '127.0.0.1:0', max_request_body_size: '1KiB', max_concurrent_requests: 1, retry_after: '2s' });
    receiver = prometheusRemoteWriteReceiverFactory.create(
      { id: 'prometheusremotewrite', logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() },
      config,
      {
        consume: async (b: Batch) => {
          if (b.signal === 'metrics') batches.push(b.points);
          await gate;
        },
      },
    ) as RemoteWriteReceiver;
    await receiver.start();
    url = `http://${receiver.address()}/api/v1/write`;
  });
  after(async () => receiver.shutdown());

  const post = (body: Buffer, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', body: new Uint8Array(body), headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', ...headers } });

  it('takes a WriteRequest: labels, values, metadata, stale markers', async () => {
    const body = snappyCompress(encodeWriteRequest([point(7, 1000), point(NaN, 2000, true)], [GAUGE]));
    const res = await post(body);
    assert.equal(res.status, 204, await res.text());
    const got = batches.at(-1)!;
    assert.equal(got.length, 2);
    assert.deepEqual({ ...got[0].labels }, { job: 'app', instance: 'h:1', path: 'a"b\n' });
    assert.equal(got[0].value, 7);
    assert.equal(got[0].timestampMs, 1000);
    assert.equal(got[0].stale, false);
    assert.deepEqual(got[0].family, GAUGE);
    assert.equal(got[1].stale, true, 'the stale NaN becomes stale: true');
    assert.notEqual(got[0].labels, got[1].labels, 'each point owns its labels');
  });

  it('answers 400 with a reason, 413 past the size cap, 415 for an unknown protobuf message, 404 elsewhere', async () => {
    let res = await post(Buffer.from('not snappy at all'));
    assert.equal(res.status, 400);
    assert.match(await res.text(), /snappy|WriteRequest/);
    res = await post(snappyCompress(Buffer.from([0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01])));
    assert.equal(res.status, 400);
    assert.match(await res.text(), /not a remote write 1.0 WriteRequest/);
    res = await post(snappyCompress(encodeWriteRequest([{ ...point(1, 1), name: '' }])));
    assert.equal(res.status, 400);
    assert.match(await res.text(), /__name__/);
    res = await post(Buffer.alloc(2048, 1));
    assert.equal(res.status, 413);
    res = await post(snappyCompress(Buffer.alloc(9000)));
    assert.equal(res.status, 413, 'decoded size is capped too');
    res = await post(snappyCompress(encodeWriteRequest([point(1, 1)])), { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v3.Request' });
    assert.equal(res.status, 415, 'a protobuf message it does not speak');
    res = await post(snappyCompress(Buffer.from([0x2a, 0x03, 0x0a, 0x01, 0x07])), { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' });
    assert.equal(res.status, 400, 'a 2.0 label ref past the symbol table');
    assert.match(await res.text(), /not a remote write 2.0 Request/);
    res = await fetch(url.replace('/api/v1/write', '/other'), { method: 'POST', body: 'x' });
    assert.equal(res.status, 404);
  });

  it('a slow next stage: requests past max_concurrent_requests get 503 with Retry-After, none is dropped', async () => {
    let open!: () => void;
    gate = new Promise<void>((r) => (open = r));
    const n = batches.length;
    const body = snappyCompress(encodeWriteRequest([point(3, 5000)]));
    const first = post(body);
    await new Promise((r) => setTimeout(r, 100));
    const second = await post(body);
    assert.equal(second.status, 503);
    assert.equal(second.headers.get('retry-after'), '2');
    open();
    gate = undefined;
    assert.equal((await first).status, 204);
    assert.equal(batches.length, n + 1, 'the 503 request was not handed on (the sender retries it)');
    assert.equal((await post(body)).status, 204);
  });
});
