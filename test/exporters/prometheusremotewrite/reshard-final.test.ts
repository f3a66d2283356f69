// Resharding behind a receiver that answers every request with a final error (404, as a wrong
// endpoint path does). A batch dropped on a final answer has left the queue: it advances the newest
// sent timestamp, as Prometheus does since its issue 9604. Before, only successes did, so the delay
// term (newest queued - newest sent, ~1.7e9 s from timestamp 0) made shards_desired read ~200,000 and
// the exporter resharded to max_shards, warning every interval and burying the one useful error.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { CreateSettings } from '../../../core/component.js';
import { metricBatch, type Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../exporters/prometheusremotewrite/config.js';
import { RemoteWriteExporter } from '../../../exporters/prometheusremotewrite/exporter.js';
import type { QueueManager } from '../../../exporters/prometheusremotewrite/buffer/queue.js';
import { captureLogger, goroutines, metric, point, type Logged } from '../../harness/common.js';
import { startCaptureServer, type CaptureServer } from '../../harness/rw-capture.js';

const servers: CaptureServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

// 40 shard updates (every 200 ms for 8 s): as many as Prometheus's 10 s interval makes in 400 s, so the
// run proves with the metric what a 60 s outage would (the runaway showed from the first update).
const UPDATE_MS = 200;
const RUN_MS = 8_000;

describe('resharding behind a receiver that answers 404', () => {
  it('shards stay put, shards_desired stays finite and small, the error is logged once for all shards', async () => {
    const server = await startCaptureServer(() => ({ status: 404, body: '404 page not found' }), () => false);
    servers.push(server);
    const lines: Logged[] = [];
    const s: CreateSettings = { id: 'prometheusremotewrite/404', logger: captureLogger(lines), telemetry: new Telemetry(), configDir: process.cwd() };
    const exp = new RemoteWriteExporter(
      s,
      configSchema.parse({
        endpoint: server.url,
        queue_config: { min_shards: 2, max_shards: 50, max_samples_per_send: 100, batch_send_deadline: '20ms', capacity: 10_000 },
        metadata_config: { send: false },
      }),
      { shardUpdateIntervalMs: UPDATE_MS },
    );
    const queue = exp.queue as QueueManager;
    await exp.start();
    // 10 series every 250 ms, timestamped now (as scrapes are): 40 samples/s, one request per batch.
    // desired = time per sample x input rate (+ 5% of a backlog of a batch or two), so it stays under 2
    // while a 404 takes less than ~450 ms to come back: on loopback it takes a few ms, and a loaded
    // 2-core machine's stalls are far shorter than that on average over the EWMA. The runaway it catches
    // reads ~1e5 from the first update.
    let consumed = 0;
    let maxShards = 0;
    let maxDesired = 0;
    const started = Date.now();
    while (Date.now() - started < RUN_MS) {
      const now = Date.now();
      const points: Point[] = [];
      for (let i = 0; i < 10; i++) points.push(point(goroutines, { job: 'wrong-path', instance: `i${i}` }, i, now));
      await exp.consume(metricBatch('pprof', points));
      consumed += points.length;
      await new Promise((r) => setTimeout(r, 250));
      maxShards = Math.max(maxShards, queue.shardCount);
      // From the second second on: before the first updates it still reads its start value, min_shards.
      if (Date.now() - started > 1000) maxDesired = Math.max(maxDesired, await metric(s.telemetry, 'pprofcol_exporter_shards_desired', {}));
    }
    await exp.shutdown();
    assert.ok(server.received() >= 10, `the receiver got ${server.received()} requests`);
    assert.equal(maxShards, 2, 'shards stay at min_shards');
    assert.ok(Number.isFinite(maxDesired) && maxDesired < 2, `shards_desired peaked at ${maxDesired}`);
    assert.deepEqual(
      lines.filter((l) => /resharding/.test(l.msg)).map((l) => l.msg),
      [],
      'no reshard, and no reshard skipped',
    );
    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, `errors logged: ${JSON.stringify(errors)}`);
    assert.match(errors[0].msg, /rejected a request/);
    // Every sample dropped on the final answer, none sent, none left.
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'http_404' }), consumed);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {}), 0);
  });
});
