// The disk buffer's sender loops survive file-system errors: a failing acknowledgement write (EIO,
// ENOSPC) or a drained generation that cannot be deleted is logged once, backed off and retried (or
// left for the next start); never an unhandled rejection that ends the process and stops sending.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ShardLog, WriteAheadLog } from '../../../core/buffer/wal.js';
import { metricBatch } from '../../../core/model/metrics.js';
import type { SendResult } from '../../../exporters/prometheusremotewrite/send/client.js';
import { configSchema } from '../../../exporters/prometheusremotewrite/config.js';
import { RemoteWriteExporter } from '../../../exporters/prometheusremotewrite/exporter.js';
import { snappyUncompress } from '../../../core/remotewrite/index.js';
import { BufferWriteError } from '../../../exporters/prometheusremotewrite/buffer/disk.js';
import { SeriesSharder } from '../../../exporters/prometheusremotewrite/request.js';
import { decodeWriteRequest } from '../../core/remotewrite/reference-decoder.js';
import { goroutines, metric, point, settings, waitFor, captureLogger, type Logged } from '../../harness/common.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'pprofcol-disk-errors-'));
const eio = () => Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });


function diskExporter(directory: string, shards: number, lines: Logged[], delivered: { samples: number }): RemoteWriteExporter {
  const config = configSchema.parse({
    endpoint: 'http://127.0.0.1:1/api/v1/write',
    metadata_config: { send: false },
    queue_config: { min_backoff: '10ms', max_backoff: '50ms' },
    buffer: { type: 'disk', directory, fsync: 'never', shards },
  });
  const sender = {
    send: async (): Promise<SendResult> => {
      delivered.samples++;
      return { ok: true };
    },
  };
  return new RemoteWriteExporter({ ...settings(), logger: captureLogger(lines) }, config, { sender });
}

/** Runs `body` with unhandled rejections collected instead of ending the process. */
async function collectingUnhandled(body: (unhandled: unknown[]) => Promise<void>): Promise<void> {
  const unhandled: unknown[] = [];
  const on = (err: unknown): void => void unhandled.push(err);
  process.on('unhandledRejection', on);
  try {
    await body(unhandled);
  } finally {
    process.off('unhandledRejection', on);
  }
}

describe('disk buffer and file-system errors', () => {
  it('an acknowledgement that fails is logged once, retried, and sending goes on', async () => {
    await collectingUnhandled(async (unhandled) => {
      const original = ShardLog.prototype.ack;
      let failures = 0;
      ShardLog.prototype.ack = function (this: ShardLog, ...args: Parameters<ShardLog['ack']>) {
        if (failures < 4) {
          failures++;
          return Promise.reject(eio());
        }
        return original.apply(this, args);
      };
      const lines: Logged[] = [];
      const delivered = { samples: 0 };
      const exporter = diskExporter(tmp(), 1, lines, delivered);
      try {
        await exporter.start();
        for (let i = 0; i < 5; i++) await exporter.consume(metricBatch('pprof', [point(goroutines, { job: 'a' }, i, 1000 + i)]));
        await waitFor('five requests delivered', () => delivered.samples >= 5, 5000);
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(unhandled, []);
        assert.equal(failures, 4);
        // The first record was sent once: its acknowledgement was retried, not the send.
        assert.equal(delivered.samples, 5);
        const errors = lines.filter((l) => l.level === 'error');
        assert.equal(errors.length, 1, JSON.stringify(lines));
      } finally {
        ShardLog.prototype.ack = original;
        await exporter.shutdown();
      }
    });
  });

  it('an append that fails on one shard: only that shard\'s samples are counted dropped; the other shard\'s are delivered', async () => {
    const dir = tmp();
    const lines: Logged[] = [];
    const config = configSchema.parse({
      endpoint: 'http://127.0.0.1:1/api/v1/write',
      metadata_config: { send: false },
      buffer: { type: 'disk', directory: dir, fsync: 'never', shards: 2 },
    });
    const arrived: string[] = [];
    const sender = {
      send: async (body: Buffer): Promise<SendResult> => {
        for (const ts of decodeWriteRequest(snappyUncompress(body)).timeseries) arrived.push(ts.labels.find((l) => l.name === 'instance')!.value);
        return { ok: true };
      },
    };
    const s = { ...settings(), logger: captureLogger(lines) };
    const exporter = new RemoteWriteExporter(s, config, { sender });
    try {
      await exporter.start();
      // Shard 1's folder becomes a file: its first segment cannot be created (ENOTDIR), a real
      // file-system failure that holds as root too. Shard 0 is untouched.
      const shard1 = path.join(dir, 'gen-000001', 'shard-001');
      rmSync(shard1, { recursive: true, force: true });
      writeFileSync(shard1, '');
      const sharder = new SeriesSharder({});
      const points = Array.from({ length: 40 }, (_, i) => point(goroutines, { job: 'a', instance: `i${i}` }, i, 1000));
      const onShard1 = points.filter((p) => sharder.shardOf(p, 2) === 1).map((p) => p.labels.instance);
      const onShard0 = points.filter((p) => sharder.shardOf(p, 2) === 0).map((p) => p.labels.instance);
      assert.ok(onShard0.length > 0 && onShard1.length > 0, 'the batch spans both shards');
      await assert.rejects(exporter.consume(metricBatch('pprof', points)), (err: unknown) => err instanceof BufferWriteError && err.lost === onShard1.length);
      assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'buffer_write' }), onShard1.length);
      await waitFor('shard 0\'s samples delivered', () => arrived.length >= onShard0.length, 5000);
      assert.deepEqual(arrived.sort(), onShard0.sort());
      const errors = lines.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1, JSON.stringify(lines));
    } finally {
      await exporter.shutdown();
    }
  });

  it('a drained generation that cannot be deleted does not stop the current one from sending', async () => {
    await collectingUnhandled(async (unhandled) => {
      const dir = tmp();
      // A previous run with 2 shards left one record (a 20-byte record head, then the request).
      const seeded = await WriteAheadLog.open({ directory: dir, shards: 2, maxBytes: 1 << 20, fsync: false });
      await seeded.current.shards[1].append([{ count: 1, payload: Buffer.alloc(20 + 4) }]);
      await seeded.close();
      // Deleting the drained generation closes its shards first: the first close fails.
      const original = ShardLog.prototype.close;
      let failures = 0;
      ShardLog.prototype.close = function (this: ShardLog) {
        if (failures++ === 0) return Promise.reject(eio());
        return original.apply(this);
      };
      const lines: Logged[] = [];
      const delivered = { samples: 0 };
      const exporter = diskExporter(dir, 1, lines, delivered);
      try {
        await exporter.start();
        await exporter.consume(metricBatch('pprof', [point(goroutines, { job: 'a' }, 1, 1000)]));
        await waitFor('the old record and the new one delivered', () => delivered.samples >= 2, 5000);
        await new Promise((r) => setImmediate(r));
        assert.deepEqual(unhandled, []);
        assert.equal(lines.filter((l) => l.level === 'error').length, 1, JSON.stringify(lines));
      } finally {
        ShardLog.prototype.close = original;
        await exporter.shutdown();
      }
    });
  });
});
