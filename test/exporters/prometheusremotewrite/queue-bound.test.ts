// The memory queue's bound is capacity x max_shards points in all, whatever the shard count now: a ring
// grows past capacity while the receiver is down (one shard runs: no resharding without sends) and
// returns to capacity slots once empty. At the bound the next point waits, and block_timeout then drops
// it (queue_full). Against a real VictoriaMetrics stopped for a while, at the defaults, a backlog of
// three shards' capacity is held and delivered in full once it is back.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { metricBatch, type Point } from '../../../core/model/metrics.js';
import { Ring } from '../../../exporters/prometheusremotewrite/buffer/queue.js';
import { goroutines, metric, point, settings, waitFor } from '../../harness/common.js';
import { exporterFor, startCaptureServer, type CaptureServer } from '../../harness/rw-capture.js';
import { startVictoriaMetrics, vmFlush, type VMServer } from '../../harness/servers.js';

const SENT = 'pprofcol_exporter_samples_sent_total';
const DROPPED = 'pprofcol_exporter_samples_dropped_total';
const QUEUE = 'pprofcol_exporter_queue_samples';
const SHARDS = 'pprofcol_exporter_shards';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((c) => c()));
});

function series(job: string, n: number, ts: number): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < n; i++) out.push(point(goroutines, { job, instance: `i${i}` }, i, ts));
  return out;
}

describe('Ring', () => {
  it('grows by doubling up to max, keeps order across growth and wrap, and goes back to its first size once empty', () => {
    const ring = new Ring<number>(4, 10);
    const out: number[] = [];
    for (let i = 0; i < 3; i++) ring.push(i);
    ring.takeInto(out, 2); // head moves: the next pushes wrap around
    for (let i = 3; i < 12; i++) assert.equal(ring.push(i), true, `push ${i}`);
    assert.equal(ring.length, 10);
    assert.equal(ring.size, 10, '4 -> 8 -> 10 (capped at max)');
    assert.equal(ring.push(12), false, 'full at max');
    ring.takeInto(out, 4);
    assert.equal(ring.size, 10, 'not empty: keeps its slots');
    ring.takeInto(out, 100);
    assert.deepEqual(out, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.equal(ring.length, 0);
    assert.equal(ring.size, 4, 'empty: back to the first size');
  });

  it('hears the points released per source', () => {
    const ring = new Ring<number>(2, 8);
    for (let i = 0; i < 5; i++) ring.push(i, i < 3 ? 'a' : 'b');
    const released: Array<[string, number]> = [];
    ring.clear((s, n) => released.push([s, n]));
    assert.deepEqual(released, [['a', 3], ['b', 2]]);
    assert.equal(ring.size, 2);
  });
});

describe('memory queue bound: capacity x max_shards', () => {
  it('fills exactly to capacity x max_shards with one shard running, the next point waits, then queue_full after block_timeout', async () => {
    const server: CaptureServer = await startCaptureServer();
    closers.push(() => server.close());
    const s = settings();
    // capacity 4 x max_shards 3 = 12; nothing leaves before shutdown (batch bigger than the bound, deadline 1h).
    const exp = exporterFor(s, {
      endpoint: server.url,
      queue_config: { capacity: 4, min_shards: 1, max_shards: 3, max_samples_per_send: 100, batch_send_deadline: '1h', block_timeout: '400ms' },
      metadata_config: { send: false },
    });
    await exp.start();
    const ts = Date.now();
    await exp.consume(metricBatch('pprof', series('bound', 12, ts)));
    assert.equal(await metric(s.telemetry, SHARDS, {}), 1);
    assert.equal(await metric(s.telemetry, QUEUE, {}), 12, 'three shards of capacity held by the one shard');
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'queue_full' }), 0);
    const buffer = exp.status().exporter?.buffer;
    assert.deepEqual(buffer && { capacity: buffer.capacity, unit: buffer.capacityUnit }, { capacity: 12, unit: 'samples' });

    let settled = false;
    const started = Date.now();
    const next = exp.consume(metricBatch('pprof', [point(goroutines, { job: 'bound', instance: 'extra' }, 1, ts)]));
    next.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(settled, false, 'the 13th point waits for room');
    await assert.rejects(next, (err: Error & { code?: string }) => err.code === 'ERR_QUEUE_FULL');
    // Timers fire no earlier than asked; the upper bound allows a loaded machine's event-loop delay.
    const waited = Date.now() - started;
    assert.ok(waited >= 390 && waited < 5_000, `waited ${waited} ms`);
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'queue_full' }), 1);
    assert.equal(await metric(s.telemetry, QUEUE, {}), 12);

    await exp.shutdown();
    assert.equal(await metric(s.telemetry, SENT, {}), 12, 'the 12 queued are delivered at shutdown');
    assert.equal(server.sampleRequests().reduce((n, r) => n + r.request.timeseries.length, 0), 12);
  });
});

describe('memory queue bound against a real VictoriaMetrics that stops', () => {
  it('at the defaults, holds 3 x capacity samples while the receiver is down and delivers them all when it is back: 0 dropped, no wait for room', async () => {
    // Dedup: a request answered while VictoriaMetrics stops and resent is counted once.
    const vm: VMServer = await startVictoriaMetrics(['-dedup.minScrapeInterval=1ms']);
    closers.push(() => vm.stop());
    const s = settings();
    const exp = exporterFor(s, { endpoint: vm.writeUrl });
    await exp.start();
    const job = `bound${Date.now()}`;
    const SERIES = 1_000;
    const TICKS = 35; // 35,000 samples: 3.5 x one shard's capacity (10,000)
    const base = Date.now() - TICKS * 1000;
    // One tick while VictoriaMetrics is up: the shard's sends are known to work first.
    await exp.consume(metricBatch('pprof', series(job, SERIES, base)));
    await waitFor('the first tick delivered', async () => (await metric(s.telemetry, SENT, {})) >= SERIES, 30_000);

    await vm.stopProcess();
    let slowest = 0;
    for (let t = 1; t < TICKS; t++) {
      const started = Date.now();
      await exp.consume(metricBatch('pprof', series(job, SERIES, base + t * 1000)));
      slowest = Math.max(slowest, Date.now() - started);
      if (t % 5 === 0) await new Promise((r) => setTimeout(r, 200)); // a little time for sends to fail and back off
    }
    // consume() of a queue with room only queues (no wait for block_timeout, 10 s); 2 s allows a loaded machine.
    assert.ok(slowest < 2_000, `a consume() waited ${slowest} ms for room`);
    const held = await metric(s.telemetry, QUEUE, {});
    assert.ok(held >= 3 * 10_000, `queue holds ${held} samples while the receiver is down`);
    assert.equal(await metric(s.telemetry, SHARDS, {}), 1, 'one shard ran through the outage');
    assert.equal(await metric(s.telemetry, DROPPED, { reason: 'queue_full' }), 0);
    await new Promise((r) => setTimeout(r, 3_000)); // down a while longer: retries back off

    await vm.restart();
    const total = SERIES * TICKS;
    // Catch-up: after the last backoff (at most max_backoff, 5 s) 35 requests; 90 s leaves room for a loaded machine.
    await waitFor('every sample sent after the receiver returned', async () => (await metric(s.telemetry, SENT, {})) >= total, 90_000);
    await exp.shutdown();
    assert.equal(await metric(s.telemetry, SENT, {}), total);
    for (const reason of ['queue_full', 'shutdown', 'too_old', 'internal']) assert.equal(await metric(s.telemetry, DROPPED, { reason }), 0, reason);
    await vmFlush(vm.url);
    const rows = await vm.query(`sum(count_over_time(go_goroutines{job="${job}"}[10m]))`);
    assert.equal(Number(rows[0]?.value[1]), total, 'VictoriaMetrics holds every sample');
  });
});
