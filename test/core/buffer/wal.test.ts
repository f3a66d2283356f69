// The write-ahead log on a real file system: order and acknowledgements across reopen, a torn tail
// truncated, the oldest segment dropped and counted when full, and a generation per shard count.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, truncateSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { crc32, WalShortReadError, WriteAheadLog } from '../../../core/buffer/wal.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'pprofcol-wal-'));
const rec = (i: number, size = 10) => ({ count: i, payload: Buffer.alloc(size, i) });

describe('write-ahead log', () => {
  it('crc32 is IEEE CRC-32', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });

  it('reads records in order, keeps acknowledgements across reopen', async () => {
    const dir = tmp();
    let wal = await WriteAheadLog.open({ directory: dir, shards: 2, maxBytes: 1 << 20, fsync: true });
    await wal.current.shards[0].append([rec(1), rec(2)]);
    await wal.current.shards[0].append([rec(3)]);
    await wal.current.shards[1].append([rec(7)]);
    const s0 = wal.current.shards[0];
    const a = await s0.next();
    assert.equal(a?.count, 1);
    await s0.ack(a!);
    assert.equal(wal.undelivered(), 2 + 3 + 7);
    await wal.close();
    wal = await WriteAheadLog.open({ directory: dir, shards: 2, maxBytes: 1 << 20, fsync: true });
    const b = await wal.current.shards[0].next();
    assert.equal(b?.count, 2);
    assert.ok(b?.payload.equals(Buffer.alloc(10, 2)));
    await wal.current.shards[0].ack(b!);
    const c = await wal.current.shards[0].next();
    assert.equal(c?.count, 3);
    await wal.current.shards[0].ack(c!);
    assert.equal(await wal.current.shards[0].next(), undefined);
    assert.equal((await wal.current.shards[1].next())?.count, 7);
    await wal.close();
  });

  it('truncates a torn tail and keeps every whole record', async () => {
    const dir = tmp();
    let wal = await WriteAheadLog.open({ directory: dir, shards: 1, maxBytes: 1 << 20, fsync: false });
    await wal.current.shards[0].append([rec(1), rec(2)]);
    const segDir = wal.current.shards[0].dir;
    await wal.close();
    const seg = readdirSync(segDir).find((n) => n.endsWith('.seg'))!;
    // Half a record, as a write cut by SIGKILL leaves it.
    appendFileSync(path.join(segDir, seg), Buffer.from([50, 0, 0, 0, 1, 2, 3, 4, 9, 9]));
    wal = await WriteAheadLog.open({ directory: dir, shards: 1, maxBytes: 1 << 20, fsync: false });
    assert.equal(wal.undelivered(), 3);
    const s = wal.current.shards[0];
    const x = await s.next();
    await s.ack(x!);
    const y = await s.next();
    assert.equal(y?.count, 2);
    await s.ack(y!);
    assert.equal(await s.next(), undefined);
    // New records go to a new segment after the truncated one.
    await s.append([rec(5)]);
    assert.equal((await s.next())?.count, 5);
    await wal.close();
  });

  it('a record length damaged on disk while running is bounded by its segment: no allocation, the rest of the segment counted corrupt', async () => {
    const dir = tmp();
    const drops: Array<[number, string]> = [];
    const wal = await WriteAheadLog.open({ directory: dir, shards: 1, maxBytes: 1 << 20, fsync: false, onDrop: (n, reason) => void drops.push([n, reason]) });
    const s = wal.current.shards[0];
    await s.append([rec(1), rec(2), rec(3)]);
    const file = s.segments[0].file;
    // The second record's length (at 12 + 10 bytes) becomes 0xfffffff0: read as it was, 4 GiB allocated.
    const h = await open(file, 'r+');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(0xfffffff0);
    await h.write(len, 0, 4, 22);
    await h.close();
    const first = await s.next();
    assert.equal(first?.count, 1);
    await s.ack(first!);
    const before = process.memoryUsage().arrayBuffers;
    assert.equal(await s.next(), undefined, 'the damaged record and the rest of its segment are skipped');
    assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, 'nothing the size of the damaged length was allocated');
    assert.deepEqual(drops, [[2 + 3, 'corrupt']]);
    assert.equal(wal.undelivered(), 0);
    await wal.close();
  });

  it('a segment truncated under the log: the short read is an error (WalShortReadError), not a record', async () => {
    const dir = tmp();
    const wal = await WriteAheadLog.open({ directory: dir, shards: 1, maxBytes: 1 << 20, fsync: false });
    const s = wal.current.shards[0];
    await s.append([rec(1, 100)]);
    truncateSync(s.segments[0].file, 50);
    await assert.rejects(s.next(), (err: unknown) => err instanceof WalShortReadError && err.code === 'ERR_WAL_SHORT_READ' && err.retryable);
    await wal.close();
  });

  it('when full, drops the oldest segment and counts its undelivered records', async () => {
    const dir = tmp();
    const drops: Array<[number, string]> = [];
    const wal = await WriteAheadLog.open({ directory: dir, shards: 1, maxBytes: 2000, fsync: false, segmentBytes: 500, onDrop: (n, r) => drops.push([n, r]) });
    for (let i = 1; i <= 40; i++) await wal.current.shards[0].append([{ count: 1, payload: Buffer.alloc(88, i) }]);
    await wal.settled();
    assert.ok(wal.bytes() <= 2000, `${wal.bytes()} bytes`);
    const lost = drops.reduce((a, [n]) => a + n, 0);
    assert.ok(drops.every(([, r]) => r === 'buffer_full'));
    assert.equal(lost + wal.undelivered(), 40);
    // What is left is the newest records, in order.
    const s = wal.current.shards[0];
    const first = await s.next();
    assert.equal(first?.payload[0], lost + 1);
    await wal.close();
  });

  it('another shard count opens a new generation; the old one stays until drained', async () => {
    const dir = tmp();
    let wal = await WriteAheadLog.open({ directory: dir, shards: 2, maxBytes: 1 << 20, fsync: false });
    await wal.current.shards[1].append([rec(4)]);
    await wal.close();
    wal = await WriteAheadLog.open({ directory: dir, shards: 3, maxBytes: 1 << 20, fsync: false });
    assert.equal(wal.old.length, 1);
    assert.equal(wal.old[0].shards.length, 2);
    assert.equal(wal.current.shards.length, 3);
    const r = await wal.old[0].shards[1].next();
    assert.equal(r?.count, 4);
    await wal.old[0].shards[1].ack(r!);
    await wal.removeGeneration(wal.old[0]);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('gen-')), ['gen-000002']);
    await wal.close();
  });
});
