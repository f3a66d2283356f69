// The exporter against a capture server of our own: what goes on the wire (headers, label order,
// metadata) and what happens on each kind of answer.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { metricBatch } from '../../../core/model/metrics.js';
import { STALE_NAN_BYTES } from '../../../core/remotewrite/index.js';
import { USER_AGENT } from '../../../core/version.js';
import { freePort } from '../../harness/servers.js';
import { rawSeries } from '../../core/remotewrite/wire.js';
import { allocTotal, goroutines, metric, point, settings, threads, waitFor } from '../../harness/common.js';
import { exporterFor, startCaptureServer, type CaptureServer } from '../../harness/rw-capture.js';

const SENT = 'pprofcol_exporter_samples_sent_total';
const RETRIED = 'pprofcol_exporter_samples_retried_total';
const DROPPED = 'pprofcol_exporter_samples_dropped_total';
const REQUESTS = 'pprofcol_exporter_requests_total';
const QUEUE = 'pprofcol_exporter_queue_samples';
const METADATA = 'pprofcol_exporter_metadata_sent_total';

const servers: CaptureServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function capture(answer?: Parameters<typeof startCaptureServer>[0]): Promise<CaptureServer> {
  const s = await startCaptureServer(answer);
  servers.push(s);
  return s;
}

// A fast queue: partial batches leave after 20ms, retries after 10..50ms.
const FAST = { batch_send_deadline: '20ms', min_backoff: '10ms', max_backoff: '50ms' };

function somePoints(ts: number) {
  return [
    point(goroutines, { job: 't', instance: 'x:1', zone: 'a' }, 7, ts),
    point(threads, { job: 't', instance: 'x:1' }, 9, ts),
    point(allocTotal, { job: 't', instance: 'x:1' }, 1024, ts),
  ];
}

describe('prometheusremotewrite exporter', () => {
  it('sends the protocol headers, sorted labels, external labels and metadata for each family', async () => {
    const server = await capture();
    const s = settings('prometheusremotewrite/wire');
    const exp = exporterFor(s, {
      endpoint: server.url,
      headers: { 'X-Scope-OrgID': 'tenant-1' },
      external_labels: { cluster: 'c1', job: 'not-used' },
      queue_config: FAST,
      metadata_config: { send_interval: '100ms' },
    });
    await exp.start();
    const ts = Date.now();
    await exp.consume(metricBatch('pprof', somePoints(ts)));
    await waitFor('a request with samples', () => server.sampleRequests().length >= 1);
    const req = server.sampleRequests()[0];
    assert.equal(req.headers['content-encoding'], 'snappy');
    assert.equal(req.headers['content-type'], 'application/x-protobuf');
    assert.equal(req.headers['x-prometheus-remote-write-version'], '0.1.0');
    assert.equal(req.headers['user-agent'], USER_AGENT);
    assert.match(USER_AGENT, /^pprofcol\/\d+\.\d+\.\d+/);
    assert.equal(req.headers['x-scope-orgid'], 'tenant-1');
    const series = req.request.timeseries;
    assert.equal(series.length, 3);
    for (const ts1 of series) {
      const names = ts1.labels.map((l) => l.name);
      assert.deepEqual(names, [...names].sort(), 'labels sorted by name');
      assert.equal(new Set(names).size, names.length, 'labels unique');
      assert.ok(ts1.labels.every((l) => l.value !== ''), 'no empty label');
      assert.equal(ts1.labels[0].name, '__name__');
      assert.deepEqual(ts1.samples.map((x) => x.timestamp), [ts]);
    }
    const g = series.find((x) => x.labels[0].value === 'go_goroutines');
    assert.deepEqual(g?.labels.map((l) => `${l.name}=${l.value}`), ['__name__=go_goroutines', 'cluster=c1', 'instance=x:1', 'job=t', 'zone=a']);
    // Metadata of the batch's families travels with the batch ...
    const names = req.request.metadata.map((m) => m.metric_family_name).sort();
    assert.deepEqual(names, ['go_goroutines', 'go_memstats_alloc_bytes_total', 'go_threads']);
    const counter = req.request.metadata.find((m) => m.metric_family_name === 'go_memstats_alloc_bytes_total');
    assert.deepEqual(counter, { type: 1, metric_family_name: 'go_memstats_alloc_bytes_total', help: allocTotal.help, unit: 'bytes' });
    assert.equal(req.request.metadata.find((m) => m.metric_family_name === 'go_goroutines')?.type, 2);
    // ... and every send_interval in a request of its own, with every family seen.
    await waitFor('a metadata-only request', () => server.requests.some((r) => r.request.timeseries.length === 0 && r.request.metadata.length === 3));
    await waitFor('sent_total = 3', async () => (await metric(s.telemetry, SENT, { exporter: 'prometheusremotewrite/wire' })) === 3);
    // Waited for, not read at once: the server holds the metadata-only request before the exporter has
    // read the answer and counted it (a race a loaded machine lost: 3 counted, not 6).
    await waitFor('metadata_sent_total >= 6', async () => (await metric(s.telemetry, METADATA, { exporter: 'prometheusremotewrite/wire' })) >= 6);
    assert.equal(await metric(s.telemetry, REQUESTS, { result: 'success' }) >= 2, true);
    await exp.shutdown();
    assert.equal(await metric(s.telemetry, QUEUE, {}), 0);
  });

  it('writes the stale marker bytes at the sample offset in the snappy-decoded body', async () => {
    const server = await capture();
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, queue_config: FAST });
    await exp.start();
    await exp.consume(metricBatch('pprof', [point(goroutines, { job: 't', instance: 'gone:1' }, 5, 1000), point(goroutines, { job: 't', instance: 'gone:1' }, 0, 2000, true)]));
    await waitFor('the request', () => server.sampleRequests().length === 1);
    const body = server.sampleRequests()[0].body;
    const [series] = rawSeries(body);
    assert.deepEqual(series.samples.map((x) => x.timestamp), [1000, 2000]);
    const at = series.samples[1].valueOffset;
    assert.equal(body.subarray(at, at + 8).toString('hex'), '020000000000f07f');
    assert.ok(body.subarray(at, at + 8).equals(STALE_NAN_BYTES));
    await exp.shutdown();
  });

  it('500 then 200: the same samples arrive again and samples_retried_total grows', async () => {
    const server = await capture((n) => (n === 0 ? { status: 500, body: 'tsdb busy' } : { status: 200 }));
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, queue_config: FAST, metadata_config: { send: false } });
    await exp.start();
    await exp.consume(metricBatch('pprof', somePoints(Date.now())));
    await waitFor('two requests', () => server.sampleRequests().length >= 2);
    const [first, second] = server.sampleRequests();
    assert.ok(first.body.equals(second.body), 'the retry carries the same request');
    await waitFor('sent_total = 3', async () => (await metric(s.telemetry, SENT, {})) === 3);
    assert.equal(await metric(s.telemetry, RETRIED, {}), 3);
    assert.equal(await metric(s.telemetry, REQUESTS, { result: 'retry' }), 1);
    assert.equal(await metric(s.telemetry, REQUESTS, { result: 'success' }), 1);
    await exp.shutdown();
  });

  it('400: not resent, dropped_total{reason="http_400"} grows', async () => {
    const server = await capture((n) => (n === 0 ? { status: 400, body: 'out of order sample' } : { status: 204 }));
    const s = settings();
    // One shard: the test is about what a 400 costs, not about sharding (several shards could
    // split the first batch over requests that the server answers differently).
    const exp = exporterFor(s, { endpoint: server.url, queue_config: { ...FAST, min_shards: 1, max_shards: 1 }, metadata_config: { send: false } });
    await exp.start();
    await exp.consume(metricBatch('pprof', somePoints(1000)));
    await waitFor('dropped', async () => (await metric(s.telemetry, DROPPED, { reason: 'http_400' })) === 3);
    // One queue, one request at a time, in order: had the first request been resent, the resend
    // would reach the server before this second batch.
    await exp.consume(metricBatch('pprof', [point(goroutines, { job: 't', instance: 'second' }, 1, 2000)]));
    await waitFor('the second batch', () => server.sampleRequests().length >= 2);
    const reqs = server.sampleRequests();
    assert.equal(reqs.length, 2);
    assert.equal(reqs[1].request.timeseries[0].labels.find((l) => l.name === 'instance')?.value, 'second');
    assert.equal(await metric(s.telemetry, RETRIED, {}), 0);
    assert.equal(await metric(s.telemetry, REQUESTS, { result: 'failed' }), 1);
    // The server saw the second request before its 204 reached the exporter: wait for the count.
    await waitFor('the second batch counted sent', async () => (await metric(s.telemetry, SENT, {})) === 1);
    await exp.shutdown();
  });

  it('429 with Retry-After: 2 is resent no earlier than 2s later', async () => {
    const server = await capture((n) => (n === 0 ? { status: 429, headers: { 'Retry-After': '2' } } : { status: 200 }));
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, queue_config: FAST, metadata_config: { send: false } });
    await exp.start();
    await exp.consume(metricBatch('pprof', somePoints(1000)));
    await waitFor('the resend', () => server.sampleRequests().length >= 2, 30_000);
    const [first, second] = server.sampleRequests();
    const gap = second.at - first.at;
    // The answer leaves right after `first.at`; allow a little clock granularity.
    assert.ok(gap >= 1_950, `resent after ${gap}ms`);
    assert.equal(await metric(s.telemetry, RETRIED, {}), 3);
    await waitFor('sent', async () => (await metric(s.telemetry, SENT, {})) === 3);
    await exp.shutdown();
  });

  it('429 with retry_on_http_429: false is final', async () => {
    const server = await capture(() => ({ status: 429 }));
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, retry_on_http_429: false, queue_config: FAST, metadata_config: { send: false } });
    await exp.start();
    await exp.consume(metricBatch('pprof', somePoints(1000)));
    await waitFor('dropped', async () => (await metric(s.telemetry, DROPPED, { reason: 'http_429' })) === 3);
    assert.equal(await metric(s.telemetry, RETRIED, {}), 0);
    await exp.shutdown();
  });

  it('a hanging receiver: the timeout fires and the request is retried', async () => {
    const server = await capture((n) => (n === 0 ? 'hang' : { status: 200 }));
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, timeout: '300ms', queue_config: FAST, metadata_config: { send: false } });
    await exp.start();
    await exp.consume(metricBatch('pprof', somePoints(1000)));
    await waitFor('the retry', () => server.sampleRequests().length >= 2);
    await waitFor('sent', async () => (await metric(s.telemetry, SENT, {})) === 3);
    assert.equal(await metric(s.telemetry, RETRIED, {}), 3);
    assert.equal(await metric(s.telemetry, REQUESTS, { result: 'retry' }), 1);
    await exp.shutdown();
  });

  it('shutdown flushes what is queued before the batch deadline', async () => {
    const server = await capture();
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, queue_config: { batch_send_deadline: '1h' }, metadata_config: { send: false } });
    await exp.start();
    await exp.consume(metricBatch('pprof', somePoints(1000)));
    assert.equal(await metric(s.telemetry, QUEUE, {}), 3);
    assert.equal(server.requests.length, 0);
    await exp.shutdown();
    assert.equal(server.sampleRequests().length, 1);
    assert.equal(await metric(s.telemetry, SENT, {}), 3);
    assert.equal(await metric(s.telemetry, QUEUE, {}), 0);
    await exp.shutdown(); // idempotent
  });

  it('shutdown against an endpoint that is down gives up instead of hanging, and counts the drop', async () => {
    const port = await freePort();
    const s = settings();
    const exp = exporterFor(s, { endpoint: `http://127.0.0.1:${port}/api/v1/write`, timeout: '2s', queue_config: { batch_send_deadline: '1h', max_samples_per_send: 2 }, metadata_config: { send: false } });
    await exp.start();
    await exp.consume(metricBatch('pprof', somePoints(1000)));
    const started = Date.now();
    await exp.shutdown();
    assert.ok(Date.now() - started < 5_000);
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'shutdown' }), 3);
    assert.equal(await metric(s.telemetry, SENT, {}), 0);
  });

  // capacity 5 x max_shards 2: the queue's bound is 10 points while the one shard (min_shards) runs.
  it('block_timeout 0: a full queue drops the overflow with reason="queue_full" at once; max_samples_per_send cuts requests', async () => {
    const server = await capture();
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, queue_config: { capacity: 5, max_shards: 2, max_samples_per_send: 4, batch_send_deadline: '1h', block_timeout: '0' }, metadata_config: { send: false } });
    await exp.start();
    const points = [];
    for (let i = 0; i < 15; i++) points.push(point(goroutines, { job: 't', instance: `i${i}` }, i, 1000));
    await assert.rejects(exp.consume(metricBatch('pprof', points)), (err: Error & { code?: string }) => err.code === 'ERR_QUEUE_FULL');
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'queue_full' }), 5);
    // 10 queued: two full requests of 4 leave at once, the last 2 wait for the deadline (or shutdown).
    await waitFor('two full requests', () => server.sampleRequests().length >= 2);
    await exp.shutdown();
    assert.deepEqual(server.sampleRequests().map((r) => r.request.timeseries.length), [4, 4, 2]);
    assert.equal(await metric(s.telemetry, SENT, {}), 10);
  });

  it('a full queue makes consume() wait for room instead of dropping: every point is sent, in order', async () => {
    const server = await capture();
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, queue_config: { capacity: 5, max_shards: 2, max_samples_per_send: 4, batch_send_deadline: '1h' }, metadata_config: { send: false } });
    await exp.start();
    const points = [];
    for (let i = 0; i < 50; i++) points.push(point(goroutines, { job: 't', instance: 'one' }, i, 1000 + i));
    await exp.consume(metricBatch('pprof', points));
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'queue_full' }), 0);
    await exp.shutdown();
    const sent = server.sampleRequests().flatMap((r) => r.request.timeseries.flatMap((t) => t.samples.map((x) => Number(x.timestamp))));
    assert.deepEqual(sent, points.map((p) => p.timestampMs), 'all 50, in timestamp order');
  });

  it('block_timeout bounds the wait: against a receiver that hangs, what is left is dropped and counted', async () => {
    const server = await capture(() => 'hang');
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, timeout: '20s', queue_config: { capacity: 5, max_shards: 2, max_samples_per_send: 4, batch_send_deadline: '1h', block_timeout: '300ms' }, metadata_config: { send: false } });
    await exp.start();
    const points = [];
    for (let i = 0; i < 15; i++) points.push(point(goroutines, { job: 't', instance: `i${i}` }, i, 1000));
    const started = Date.now();
    await assert.rejects(exp.consume(metricBatch('pprof', points)), (err: Error & { code?: string }) => err.code === 'ERR_QUEUE_FULL');
    // Timers fire no earlier than asked; the upper bound allows a loaded machine's event-loop delay.
    const waited = Date.now() - started;
    assert.ok(waited >= 290 && waited < 5_000, `waited ${waited} ms`);
    // 10 queued, 4 of them taken into the (hanging) request, 4 more let in: 1 left out.
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'queue_full' }), 1);
    await exp.shutdown();
  });

  it('shutdown ends the waits for room at once: the waiting caller is told (ERR_SHUTTING_DOWN) and the drop counted', async () => {
    const server = await capture(() => 'hang');
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, timeout: '20s', queue_config: { capacity: 5, max_shards: 2, max_samples_per_send: 4, batch_send_deadline: '1h', block_timeout: '1m' }, metadata_config: { send: false } });
    await exp.start();
    const points = [];
    for (let i = 0; i < 15; i++) points.push(point(goroutines, { job: 't', instance: `i${i}` }, i, 1000));
    const waiting = exp.consume(metricBatch('pprof', points));
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    exp.beginShutdown();
    await assert.rejects(waiting, (err: Error & { code?: string }) => err.code === 'ERR_SHUTTING_DOWN');
    assert.ok(Date.now() - started < 2_000, 'not held for block_timeout');
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'shutdown' }), 1);
    await exp.shutdown();
  });

  it('one source waiting cannot starve another: a small batch gets its fair share of the room first', async () => {
    const server = await capture();
    const s = settings();
    const exp = exporterFor(s, { endpoint: server.url, queue_config: { capacity: 5, max_shards: 2, max_samples_per_send: 4, batch_send_deadline: '1h' }, metadata_config: { send: false } });
    await exp.start();
    const flood = [];
    for (let i = 0; i < 400; i++) flood.push(point(goroutines, { job: 'flood', instance: 'f' }, i, 1000 + i));
    const small = [];
    for (let i = 0; i < 4; i++) small.push(point(goroutines, { job: 'scrape', instance: `s${i}` }, i, 1000));
    let floodDone = false;
    const a = exp.consume(metricBatch('prometheusremotewrite', flood)).then(() => (floodDone = true));
    await exp.consume(metricBatch('pprof', small));
    assert.equal(floodDone, false, 'the small batch went in while the flood still waited');
    await a;
    await exp.shutdown();
    assert.equal(await metric(s.telemetry, SENT, {}), 404);
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'queue_full' }), 0);
  });

  it('basic_auth from a file is re-read for each request', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'prw-'));
    writeFileSync(join(dir, 'pw'), 'first\n');
    const server = await capture();
    const s = { ...settings(), configDir: dir };
    const exp = exporterFor(s, { endpoint: server.url, basic_auth: { username: 'u', password_file: 'pw' }, queue_config: FAST, metadata_config: { send: false } });
    await exp.start();
    await exp.consume(metricBatch('pprof', somePoints(1000)));
    await waitFor('first', () => server.sampleRequests().length === 1);
    writeFileSync(join(dir, 'pw'), 'second\n');
    await exp.consume(metricBatch('pprof', somePoints(2000)));
    await waitFor('second', () => server.sampleRequests().length === 2);
    const auth = server.sampleRequests().map((r) => Buffer.from(String(r.headers.authorization).slice(6), 'base64').toString());
    assert.deepEqual(auth, ['u:first', 'u:second']);
    await exp.shutdown();
  });
});
