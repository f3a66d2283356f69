// The disk buffer's sender loops survive file-system errors: a failing acknowledgement write (EIO,
// ENOSPC) or a drained generation that cannot be deleted is logged once, backed off and retried (or
// left for the next start); never an unhandled rejection that ends the process and stops sending.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ShardLog, WriteAheadLog } from '../../../core/buffer/wal.js';
import { metricBatch } from '../../../core/model/metrics.js';
import type { SendResult } from '../../../exporters/prometheusremotewrite/client.js';
import { configSchema } from '../../../exporters/prometheusremotewrite/config.js';
import { RemoteWriteExporter } from '../../../exporters/prometheusremotewrite/exporter.js';
import { goroutines, point, settings, waitFor, captureLogger, type Logged } from './helpers.js';

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
