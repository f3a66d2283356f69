// The decode worker pool on real worker threads: what a worker decodes is what the main thread decodes,
// errors come back as ProfileDecodeError with their size flag, the queue is bounded (past it
// DecodeQueueFullError at once), and the counts reported for the own metrics follow the queue.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProfile } from '../../../core/pprof/decode.js';
import { DecodePool, DecodeQueueFullError } from '../../../core/pprof/pool.js';
import { prefixSkipper } from '../../../core/pprof/pool-protocol.js';
import { parseGoroutineStacks, parseGoroutineStates, ProfileDecodeError } from '../../../core/pprof/text.js';
import { SKIP_PREFIXES } from '../../../receivers/pprof/scrape.js';
import { gz, locationBomb } from '../../harness/crafted.js';
import { repoRoot } from '../../harness/servers.js';

const testdata = (file: string) => readFileSync(path.join(repoRoot(), 'test', 'testdata', file));

describe('DecodePool', () => {
  it('decodes in a worker what the main thread decodes; errors keep their kind', async () => {
    const pool = new DecodePool({ workers: 1, queueLimit: 4 });
    try {
      const gzipped = testdata('prometheus-2.42/heap.pb.gz');
      const local = decodeProfile(gzipped, { skipFrame: prefixSkipper(SKIP_PREFIXES) });
      const remote = await pool.profile(Buffer.from(gzipped), 64 * 1024 * 1024, SKIP_PREFIXES);
      assert.deepEqual(remote.totals, local.totals);
      assert.deepEqual(remote.columns, local.columns);
      assert.deepEqual(remote.units, local.units);
      assert.equal(remote.durationSeconds, local.durationSeconds);
      assert.deepEqual([...remote.byFunction].sort(), [...local.byFunction].sort());
      const stacks = testdata('goprog/goroutine.debug1.txt');
      const localStacks = parseGoroutineStacks(stacks, prefixSkipper(SKIP_PREFIXES));
      const remoteStacks = await pool.goroutineStacks(stacks, SKIP_PREFIXES);
      assert.deepEqual([...remoteStacks.byFunction].sort(), [...localStacks.byFunction].sort());
      assert.deepEqual(remoteStacks.totals, localStacks.totals);
      assert.ok(stacks.length > 0, 'goroutineStacks copies: the caller keeps its bytes');
      const dump = testdata('goprog/goroutine.debug2.txt');
      assert.deepEqual(await pool.goroutineStates(Buffer.from(dump)), parseGoroutineStates(dump));
      await assert.rejects(pool.profile(gz(locationBomb()), 64 * 1024 * 1024, SKIP_PREFIXES), (err: unknown) => err instanceof ProfileDecodeError && err.tooLarge);
      await assert.rejects(pool.goroutineStates(Buffer.from('not a dump')), (err: unknown) => err instanceof ProfileDecodeError && !err.tooLarge);
    } finally {
      await pool.close();
    }
  });

  it('holds at most queueLimit waiting; past it refuses at once; reports queued and busy', async () => {
    const seen: Array<[number, number]> = [];
    const pool = new DecodePool({ workers: 1, queueLimit: 1, onChange: (queued, busy) => seen.push([queued, busy]) });
    try {
      const bomb = gz(locationBomb()); // ~150 ms of work each: long enough to find the worker busy
      const first = pool.profile(Buffer.from(bomb), 64 * 1024 * 1024, SKIP_PREFIXES).catch((e: unknown) => e);
      const second = pool.profile(Buffer.from(bomb), 64 * 1024 * 1024, SKIP_PREFIXES).catch((e: unknown) => e);
      assert.equal(pool.queued, 1);
      await assert.rejects(pool.profile(Buffer.from(bomb), 64 * 1024 * 1024, SKIP_PREFIXES), DecodeQueueFullError);
      assert.ok((await first) instanceof ProfileDecodeError && (await second) instanceof ProfileDecodeError);
      assert.deepEqual(seen[1], [1, 1], JSON.stringify(seen));
      assert.deepEqual(seen.at(-1), [0, 0]);
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.profile(Buffer.alloc(10), 1024, []), /closed/);
  });
  it('an idle worker exits after idleExitMs and a new one starts for the next profile; a worker in use stays', async () => {
    const pool = new DecodePool({ workers: 1, queueLimit: 4, idleExitMs: 1_000 });
    try {
      const gzipped = testdata('prometheus-2.42/heap.pb.gz');
      const first = await pool.profile(Buffer.from(gzipped), 64 * 1024 * 1024, SKIP_PREFIXES);
      assert.deepEqual(pool.workers, { running: 1, started: 1 });
      // Used every ~100 ms, a tenth of the idle time: the same worker all along. A gap grows only by the
      // timer's lateness; the test fails only if the loaded machine stalls this process by 900 ms.
      for (let i = 0; i < 5; i++) {
        await sleep(100);
        await pool.profile(Buffer.from(gzipped), 64 * 1024 * 1024, SKIP_PREFIXES);
      }
      assert.deepEqual(pool.workers, { running: 1, started: 1 });
      const end = performance.now() + 10_000;
      while (pool.workers.running > 0) {
        assert.ok(performance.now() < end, 'the idle worker did not exit within 10 s');
        await sleep(50);
      }
      assert.deepEqual(pool.workers, { running: 0, started: 1 });
      const again = await pool.profile(Buffer.from(gzipped), 64 * 1024 * 1024, SKIP_PREFIXES);
      assert.deepEqual(again.totals, first.totals);
      assert.deepEqual(pool.workers, { running: 1, started: 2 });
    } finally {
      await pool.close();
    }
  });
});
