// Eviction racing appends: when the log is over max_size and the globally oldest segment is one a
// shard is still writing, eviction must wait its turn in that shard's append chain instead of closing
// the file under a write in progress (EBADF, a whole batch refused). A failing eviction is counted and
// reported, never an unhandled rejection.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ShardLog, WriteAheadLog } from '../../../core/buffer/wal.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'pprofcol-wal-evict-'));

describe('write-ahead log eviction', () => {
  it('evicting a shard’s open segment never fails a concurrent append (32 shards, 1 MiB)', async () => {
    const drops: number[] = [];
    const wal = await WriteAheadLog.open({ directory: tmp(), shards: 32, maxBytes: 1 << 20, fsync: false, onDrop: (n) => drops.push(n) });
    // 64 KiB segments x 32 shards = 2 MiB of open segments against a 1 MiB limit: the oldest segment
    // is always one being written.
    let failed = 0;
    let first: unknown;
    let appended = 0;
    for (let round = 0; round < 100; round++) {
      const writes: Promise<void>[] = [];
      for (let shard = 0; shard < 32; shard++) {
        for (let k = 0; k < 2; k++) {
          writes.push(
            wal.current.shards[shard].append([{ count: 1, payload: Buffer.alloc(1000, shard) }]).then(
              () => void appended++,
              (err: unknown) => {
                failed++;
                first ??= err;
              },
            ),
          );
        }
      }
      await Promise.all(writes);
    }
    await wal.settled();
    assert.equal(failed, 0, `${failed} of 6400 appends failed; first: ${String(first)}`);
    assert.equal(appended, 6400);
    assert.ok(wal.bytes() <= 1 << 20, `${wal.bytes()} bytes`);
    // Every record is either still there or counted lost.
    assert.equal(drops.reduce((a, n) => a + n, 0) + wal.undelivered(), 6400);
    await wal.close();
  });

  it('a failing eviction is counted and reported, not an unhandled rejection, and later ones still run', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    const original = ShardLog.prototype.evict;
    let calls = 0;
    ShardLog.prototype.evict = function (this: ShardLog, ...args: Parameters<ShardLog['evict']>) {
      if (calls++ === 0) return Promise.reject(Object.assign(new Error('EIO: i/o error, unlink'), { code: 'EIO' }));
      return original.apply(this, args);
    };
    const errors: unknown[] = [];
    try {
      const wal = await WriteAheadLog.open({ directory: tmp(), shards: 1, maxBytes: 2000, fsync: false, segmentBytes: 500, onEvictError: (err) => errors.push(err) });
      for (let i = 0; i < 40; i++) await wal.current.shards[0].append([{ count: 1, payload: Buffer.alloc(88, i) }]);
      await wal.settled();
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
      assert.equal(wal.evictFailures, 1);
      assert.equal(errors.length, 1);
      // The chain survived the failure: later evictions brought the log back under its limit.
      assert.ok(wal.bytes() <= 2000, `${wal.bytes()} bytes`);
      await wal.close();
    } finally {
      ShardLog.prototype.evict = original;
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
