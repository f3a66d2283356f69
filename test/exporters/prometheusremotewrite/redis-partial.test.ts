// The redis buffer against a real Redis where one shard's queue cannot take jobs: its job counter
// (`<prefix>:<queue>:id`, which BullMQ INCRs for every job) holds text, so Redis answers "value is not
// an integer" to that shard's adds alone. Only that shard's samples are counted dropped; the other
// shard's are in Redis and delivered, and the shared queued count holds only what Redis has.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Telemetry } from '../../../core/telemetry/metrics.js';
import { ExporterMetrics } from '../../../exporters/prometheusremotewrite/metrics.js';
import { RedisQueue } from '../../../exporters/prometheusremotewrite/buffer/redis.js';
import { BufferWriteError, SeriesSharder } from '../../../exporters/prometheusremotewrite/request.js';
import { snappyUncompress } from '../../../core/remotewrite/index.js';
import type { SendResult } from '../../../exporters/prometheusremotewrite/send/client.js';
import { decodeWriteRequest } from '../../core/remotewrite/reference-decoder.js';
import { redisCommand, startRedis, type RedisServer } from '../../harness/servers.js';
import { captureLogger, goroutines, metric, point, waitFor, type Logged } from '../../harness/common.js';

let redis: RedisServer | undefined;
after(async () => {
  await redis?.stop();
});

describe('redis buffer: a partial add', () => {
  it('only the failed shard\'s samples are counted dropped; the other shard\'s are delivered', async () => {
    redis = await startRedis();
    const telemetry = new Telemetry();
    const lines: Logged[] = [];
    const arrived: string[] = [];
    const sender = {
      send: async (body: Buffer): Promise<SendResult> => {
        for (const ts of decodeWriteRequest(snappyUncompress(body)).timeseries) arrived.push(ts.labels.find((l) => l.name === 'instance')!.value);
        return { ok: true };
      },
    };
    const queue = new RedisQueue(
      {
        url: redis.url,
        prefix: 'pprofcol-partial',
        name: 'prometheusremotewrite',
        shards: 2,
        lockDurationMs: 30_000,
        externalLabels: {},
        sendMetadata: false,
        minBackoffMs: 10,
        maxBackoffMs: 50,
        sampleAgeLimitMs: 0,
        isolateRejected: false,
        maxSamplesPerSend: 2000,
      },
      sender,
      new ExporterMetrics(telemetry, 'prometheusremotewrite'),
      captureLogger(lines),
    );
    try {
      await queue.start();
      assert.equal(await redisCommand(redis.port, 'SET pprofcol-partial:prometheusremotewrite-1:id not-a-number'), '+OK');
      const sharder = new SeriesSharder({});
      const points = Array.from({ length: 40 }, (_, i) => point(goroutines, { job: 'a', instance: `i${i}` }, i, 1000));
      const onShard1 = points.filter((p) => sharder.shardOf(p, 2) === 1).map((p) => p.labels.instance);
      const onShard0 = points.filter((p) => sharder.shardOf(p, 2) === 0).map((p) => p.labels.instance);
      assert.ok(onShard0.length > 0 && onShard1.length > 0, 'the batch spans both shards');
      await assert.rejects(queue.enqueue(points), (err: unknown) => err instanceof BufferWriteError && err.lost === onShard1.length);
      assert.equal(await metric(telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'buffer_write' }), onShard1.length);
      await waitFor('shard 0\'s samples delivered', () => arrived.length >= onShard0.length, 10_000);
      assert.deepEqual([...arrived].sort(), [...onShard0].sort());
      assert.equal(lines.filter((l) => l.level === 'error').length, 1, JSON.stringify(lines));
    } finally {
      await queue.stop();
    }
  });
});
