// The sharded queue manager against a receiver of the test's own that records the order in which
// samples arrive and how many requests were in flight at once: every series stays in timestamp order
// while shards send in parallel, and the shard count follows the load (up under a slow receiver, down
// when idle).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { metricBatch, type Point } from '../../../core/model/metrics.js';
import { snappyUncompress } from '../../../core/remotewrite/index.js';
import { decodeWriteRequest } from '../../core/remotewrite/reference-decoder.js';
import type { QueueManager } from '../../../exporters/prometheusremotewrite/buffer/queue.js';
import { seriesHash } from '../../../exporters/prometheusremotewrite/request.js';
import { configSchema } from '../../../exporters/prometheusremotewrite/config.js';
import { RemoteWriteExporter } from '../../../exporters/prometheusremotewrite/exporter.js';
import { goroutines, metric, point, settings, waitFor } from '../../harness/common.js';

interface OrderServer {
  url: string;
  /** Samples as they arrived: series key (labels joined) and timestamp. */
  arrivals: Array<{ series: string; ts: number }>;
  requests: number;
  maxInFlight: number;
  /** Milliseconds each answer is held back; may be changed while running. */
  delayMs: number;
  close(): Promise<void>;
}

async function startOrderServer(delayMs: number): Promise<OrderServer> {
  let inFlight = 0;
  const state: OrderServer = {
    url: '',
    arrivals: [],
    requests: 0,
    maxInFlight: 0,
    delayMs,
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const decoded = decodeWriteRequest(snappyUncompress(Buffer.concat(chunks)));
      if (decoded.timeseries.length > 0) state.requests++;
      // Recorded on arrival, before the (delayed) answer: the order the receiver would store them in.
      for (const ts of decoded.timeseries) {
        const key = ts.labels.map((l) => `${l.name}=${l.value}`).join(',');
        for (const s of ts.samples) state.arrivals.push({ series: key, ts: Number(s.timestamp) });
      }
      setTimeout(() => {
        inFlight--;
        res.writeHead(204);
        res.end();
      }, state.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

const servers: OrderServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** One point per series at `ts`, for `series` series. */
function tick(series: number, ts: number): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < series; i++) out.push(point(goroutines, { job: 'q', instance: `i${i}` }, ts, ts));
  return out;
}

/** Asserts every series' samples arrived in strictly increasing timestamp order; returns counts per series. */
function assertOrdered(arrivals: Array<{ series: string; ts: number }>): Map<string, number> {
  const last = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const a of arrivals) {
    const prev = last.get(a.series);
    assert.ok(prev === undefined || a.ts > prev, `${a.series}: ${a.ts} arrived after ${prev}`);
    last.set(a.series, a.ts);
    counts.set(a.series, (counts.get(a.series) ?? 0) + 1);
  }
  return counts;
}

describe('prometheusremotewrite queue manager', () => {
  it('hashes a series the same whatever its key order, empty labels or external labels', () => {
    const ext = { cluster: 'c1' };
    const names = ['cluster'];
    const a = seriesHash('m', { job: 'j', instance: 'i' }, ext, names);
    assert.equal(seriesHash('m', { instance: 'i', job: 'j' }, ext, names), a);
    assert.equal(seriesHash('m', { instance: 'i', job: 'j', zone: '' }, ext, names), a);
    assert.equal(seriesHash('m', { instance: 'i', job: 'j', cluster: 'c1' }, ext, names), a);
    assert.notEqual(seriesHash('m', { instance: 'i', job: 'j', cluster: 'c2' }, ext, names), a);
    assert.notEqual(seriesHash('n', { job: 'j', instance: 'i' }, ext, names), a);
    // Spread: 1000 series over 8 shards, none empty and none with more than twice its share.
    const per = new Array<number>(8).fill(0);
    for (let i = 0; i < 1000; i++) per[seriesHash('go_goroutines', { job: 'api', instance: `10.0.0.${i}:6060` }, {}, []) % 8]++;
    assert.ok(Math.min(...per) > 60 && Math.max(...per) < 250, per.join(','));
  });

  it('4 shards send in parallel and every series arrives in timestamp order, each sample once', async () => {
    const server = await startOrderServer(15);
    servers.push(server);
    const s = settings('prometheusremotewrite/order');
    const exp = new RemoteWriteExporter(
      s,
      configSchema.parse({
        endpoint: server.url,
        queue_config: { min_shards: 4, max_shards: 4, max_samples_per_send: 25, batch_send_deadline: '10ms', capacity: 100_000 },
        metadata_config: { send: false },
      }),
    );
    await exp.start();
    const series = 60;
    const ticks = 40;
    for (let t = 1; t <= ticks; t++) {
      await exp.consume(metricBatch('pprof', tick(series, t * 1000)));
      if (t % 5 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor('every sample', () => server.arrivals.length >= series * ticks, 30_000);
    await exp.shutdown();
    const counts = assertOrdered(server.arrivals);
    assert.equal(counts.size, series);
    for (const [k, n] of counts) assert.equal(n, ticks, k);
    assert.equal(server.arrivals.length, series * ticks, 'no sample twice');
    assert.ok(server.maxInFlight > 1, `requests in flight at once: ${server.maxInFlight}`);
    assert.ok(server.maxInFlight <= 4, `at most one request per shard: ${server.maxInFlight}`);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_shards', {}), 4);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {}), series * ticks);
  });

  it('reshards up under a slow receiver and down when idle, keeping order across reshards', async () => {
    const server = await startOrderServer(100);
    servers.push(server);
    const s = settings('prometheusremotewrite/reshard');
    const exp = new RemoteWriteExporter(
      s,
      configSchema.parse({
        endpoint: server.url,
        queue_config: { min_shards: 1, max_shards: 8, max_samples_per_send: 100, batch_send_deadline: '20ms', capacity: 50_000 },
        metadata_config: { send: false },
      }),
      { shardUpdateIntervalMs: 250 },
    );
    const queue = exp.queue as QueueManager;
    await exp.start();
    assert.equal(queue.shardCount, 1);
    // ~4000 samples/s; one shard moves 100 samples per 100ms answer = 1000/s: it needs about 4.
    const series = 200;
    let ts = 1_700_000_000_000;
    let maxShards = 1;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && maxShards < 3) {
      ts += 1000;
      await exp.consume(metricBatch('pprof', tick(series, ts)));
      await new Promise((r) => setTimeout(r, 50));
      maxShards = Math.max(maxShards, queue.shardCount);
    }
    assert.ok(maxShards >= 3, `shards went up to ${maxShards}`);
    assert.ok((await metric(s.telemetry, 'pprofcol_exporter_shards_desired', {})) > 1.3);
    // Idle: no more input, a fast receiver. The rates decay and the count goes back to min_shards.
    server.delayMs = 0;
    await waitFor('shards back to 1', () => queue.shardCount === 1, 30_000);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_shards', {}), 1);
    await exp.shutdown();
    const counts = assertOrdered(server.arrivals);
    assert.equal(counts.size, series);
    const sent = await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {});
    assert.equal(sent, server.arrivals.length);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'queue_full' }), 0);
  });
});
