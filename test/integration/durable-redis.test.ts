// buffer.type: redis with two real daemon replicas on one real Redis. Replica A accepts samples while
// the receiver is down (its shards' jobs wait, one of them active in A's retry loop) and is killed with
// SIGKILL mid-send; replica B, pointed at a real Prometheus, takes over the stalled jobs and delivers
// everything A accepted, in order per series. B is configured with another shard count: the count stored
// in Redis by A wins and B says so.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { eventually, startDaemon } from '../harness/pprofcol.js';
import { freePort, startPrometheus, startRedis, type PromServer, type RedisServer } from '../harness/servers.js';
import { acceptedTicks, ownMetric, rawSamples, TICKER_PLUGIN, tickerPipeline } from './durable-helpers.js';

describe('redis buffer shared by two replicas', () => {
  let prom: PromServer;
  let redis: RedisServer;
  let dir: string;
  before(async () => {
    [prom, redis] = await Promise.all([startPrometheus({ remoteWriteReceiver: true }), startRedis()]);
    dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-redis-'));
    writeFileSync(path.join(dir, 'ticker.js'), TICKER_PLUGIN);
  });
  after(async () => {
    await Promise.all([prom?.stop(), redis?.stop()]);
  });

  function config(endpoint: string, run: string, shards: number): string {
    return tickerPipeline(dir, endpoint, run, `{type: redis, url: "${redis.url}", prefix: t1, shards: ${shards}, lock_duration: 2s}`);
  }

  it('replica B delivers what replica A enqueued, the stalled job included, in order', async (t) => {
    const deadPort = await freePort();
    const a = await startDaemon(config(`http://127.0.0.1:${deadPort}/api/v1/write`, 'A', 2));
    await eventually('20 accepted batches on A', 20_000, () => (acceptedTicks(a.stderr()).length >= 20 ? true : undefined));
    assert.equal(await ownMetric(a, 'pprofcol_exporter_samples_sent_total'), 0);
    // A is in the middle of sending (its retry loop holds one job per shard active).
    assert.match(a.stderr(), /remote write failed; retrying/);
    a.child.kill('SIGKILL');
    await a.stop();
    const accepted = acceptedTicks(a.stderr());

    const b = await startDaemon(config(`${prom.url}/api/v1/write`, 'B', 3));
    try {
      await b.waitFor('stderr', /differs from the shard count stored in Redis/, 10_000);
      const want = accepted.length * 3;
      const got = await eventually('A\'s samples stored', 40_000, async () => {
        const r = await rawSamples(prom.url, 'pprofcol_test_ticks_total{run="A"}');
        let n = 0;
        for (const v of r.values()) n += v.length;
        return n >= want ? r : undefined;
      });
      assert.equal(got.size, 3);
      for (const [instance, values] of got) {
        const byTs = new Map(values.map(([ts, v]) => [Math.round(ts * 1000), v]));
        for (const x of accepted) assert.equal(byTs.get(x.ts), String(x.tick), `${instance}: tick ${x.tick}`);
        const ticks = values.map(([, v]) => Number(v));
        assert.deepEqual(ticks, [...ticks].sort((p, q) => p - q), instance);
      }
      assert.match(b.stderr(), /is taken over/);
      await eventually('B\'s own samples too', 20_000, async () => ((await rawSamples(prom.url, 'pprofcol_test_ticks_total{run="B"}')).size === 3 ? true : undefined));
      assert.equal(await ownMetric(b, 'pprofcol_exporter_samples_dropped_total'), 0, b.stderr().slice(-3000));
      assert.equal(await ownMetric(b, 'pprofcol_exporter_shards'), 2);
      assert.deepEqual(prom.logs().split('\n').filter((l) => /out of order/i.test(l)), []);
      t.diagnostic(`A accepted ${accepted.length} batches (${want} samples) before SIGKILL; B delivered ${[...got.values()].map((v) => v.length).join('+')}`);
    } finally {
      assert.equal(await b.stop('SIGTERM'), 0);
    }
  });
});
