// buffer.type: disk, end to end with the real daemon binary: a test-only receiver plugin emits counter
// samples every 100ms and logs each batch once consume() resolved (= accepted). The exporter points at
// a port where nothing listens; after enough samples were accepted the daemon is killed with SIGKILL,
// then restarted against a real Prometheus 2.42: every accepted sample must be stored there, and the
// restarted daemon must not have had a single request rejected (a 400 would mean a sample out of order).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { eventually, startDaemon } from '../harness/pprofcol.js';
import { acceptedTicks, ownMetric, rawSamples, TICKER_PLUGIN, tickerPipeline } from './durable-helpers.js';
import { freePort, startPrometheus, type PromServer } from '../harness/servers.js';

describe('disk buffer survives kill -9', () => {
  let prom: PromServer;
  let dir: string;
  before(async () => {
    prom = await startPrometheus({ remoteWriteReceiver: true });
    dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-durable-'));
    writeFileSync(path.join(dir, 'ticker.js'), TICKER_PLUGIN);
  });
  after(async () => {
    await prom?.stop();
  });

  function config(endpoint: string, run: string, shards: number): string {
    return tickerPipeline(dir, endpoint, run, `{type: disk, directory: ${JSON.stringify(path.join(dir, 'wal'))}, max_size: 64MiB, shards: ${shards}}`);
  }

  it('every sample accepted before SIGKILL reaches Prometheus after a restart, in order', async (t) => {
    const deadPort = await freePort();
    const first = await startDaemon(config(`http://127.0.0.1:${deadPort}/api/v1/write`, '1', 2));
    await eventually('30 accepted batches', 20_000, () => (acceptedTicks(first.stderr()).length >= 30 ? true : undefined));
    assert.equal(await ownMetric(first, 'pprofcol_exporter_samples_sent_total'), 0);
    assert.ok((await ownMetric(first, 'pprofcol_exporter_buffer_bytes')) > 0);
    first.child.kill('SIGKILL');
    await first.stop();
    const accepted = acceptedTicks(first.stderr());
    assert.ok(accepted.length >= 30);
    assert.ok(readdirSync(path.join(dir, 'wal')).some((n) => n.startsWith('gen-')));

    // Restart against Prometheus, with another shard count: the old generation drains first.
    const second = await startDaemon(config(`${prom.url}/api/v1/write`, '2', 3));
    try {
      const want = accepted.length * 3;
      await eventually('the replayed samples stored', 30_000, async () => {
        const got = await rawSamples(prom.url, 'pprofcol_test_ticks_total{run="1"}');
        let n = 0;
        for (const v of got.values()) n += v.length;
        return n >= want ? got : undefined;
      });
      const got = await rawSamples(prom.url, 'pprofcol_test_ticks_total{run="1"}');
      assert.equal(got.size, 3);
      assert.match(second.stderr(), /resending what a previous run left/);
      t.diagnostic(`accepted before SIGKILL: ${accepted.length} batches (${want} samples); stored: ${[...got.values()].map((v) => v.length).join('+')}`);
      for (const [instance, values] of got) {
        const byTs = new Map(values.map(([t, v]) => [Math.round(t * 1000), v]));
        for (const a of accepted) assert.equal(byTs.get(a.ts), String(a.tick), `${instance}: tick ${a.tick} at ${a.ts}`);
        // Stored values of a counter that only grows: nothing in between was lost or reordered.
        const ticks = values.map(([, v]) => Number(v));
        assert.deepEqual(ticks, [...ticks].sort((x, y) => x - y), instance);
      }
      await eventually('the new run delivered too', 20_000, async () => ((await rawSamples(prom.url, 'pprofcol_test_ticks_total{run="2"}')).size === 3 ? true : undefined));
      const dropped = await ownMetric(second, 'pprofcol_exporter_samples_dropped_total');
      assert.equal(dropped, 0, second.stderr().slice(-3000));
      assert.equal(await ownMetric(second, 'pprofcol_exporter_shards'), 3);
      // The old generation (2 shards) is gone once drained.
      await eventually('one generation left', 10_000, () => (readdirSync(path.join(dir, 'wal')).filter((n) => n.startsWith('gen-')).length === 1 ? true : undefined));
      const oooErrors = prom.logs().split('\n').filter((l) => /out of order/i.test(l));
      assert.deepEqual(oooErrors, []);
    } finally {
      assert.equal(await second.stop('SIGTERM'), 0);
    }
  });
});
