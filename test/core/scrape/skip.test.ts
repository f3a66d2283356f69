// A pull receiver never shifts its schedule: a slot that comes while the target's previous scrape still
// runs is skipped and counted, as backpressure when that scrape is handing its data on (waiting for
// room in an exporter queue), as an overrun when it is still fetching.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../../core/logger.js';
import { staticScrapeConfig } from '../../harness/scrape-config.js';
import { ScrapePool } from '../../../core/scrape/pool.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';

// Long enough that a loaded machine's timer lateness (tens of ms) does not merge slots.
const INTERVAL_MS = 200;


async function skipped(telemetry: Telemetry, reason: string): Promise<number> {
  const m = telemetry.registry.getSingleMetric('pprofcol_receiver_scrapes_skipped_total');
  if (m === undefined) return 0;
  const found = (await m.get()).values.find((v) => v.labels.reason === reason && v.labels.receiver === 'r' && v.labels.job === 'skip');
  return found?.value ?? 0;
}

/** Runs a pool whose handler spends `fetchMs` fetching, then `handOffMs` handing on, until `scrapes` scrapes began. */
async function run(fetchMs: number, handOffMs: number, scrapes: number): Promise<{ telemetry: Telemetry; starts: number[] }> {
  const telemetry = new Telemetry();
  const starts: number[] = [];
  const pool = new ScrapePool({
    config: staticScrapeConfig('skip', INTERVAL_MS, ['127.0.0.1:1']),
    configDir: '.',
    logger: silentLogger(),
    telemetry,
    receiver: 'r',
    handler: {
      scrape: async (_target, _startedMs, _signal, monotonicMs, handingOff) => {
        starts.push(monotonicMs);
        await sleep(fetchMs);
        handingOff();
        await sleep(handOffMs);
      },
      targetGone: async () => undefined,
    },
  });
  await pool.start();
  const deadline = performance.now() + 20_000;
  while (starts.length < scrapes && performance.now() < deadline) await sleep(5);
  await pool.stop();
  return { telemetry, starts };
}

describe('scrape pool: skipped slots', () => {
  it('a hand-off that outlasts the interval skips the next slots as backpressure; scrapes stay on their slots', async () => {
    // Each scrape hands on for 2.5 intervals: the two slots after it are skipped, the third is taken.
    const { telemetry, starts } = await run(0, 2.5 * INTERVAL_MS, 3);
    assert.ok(starts.length >= 3, `${starts.length} scrapes`);
    // Two slots come during each hand-off; one is enough to show the count (a stall may merge slots).
    assert.ok((await skipped(telemetry, 'backpressure')) >= starts.length - 1, 'slots skipped during hand-offs');
    assert.equal(await skipped(telemetry, 'overrun'), 0);
    // Never started late: each start lies about a whole number of intervals after the first.
    for (const t of starts) {
      const slots = (t - starts[0]) / INTERVAL_MS;
      assert.ok(Math.round(slots) >= 0 && Math.abs(slots - Math.round(slots)) < 0.4, `start ${(t - starts[0]).toFixed(1)} ms after the first`);
    }
  });

  it('a fetch that outlasts the interval skips the next slot as an overrun', async () => {
    const { telemetry, starts } = await run(1.5 * INTERVAL_MS, 0, 3);
    assert.ok(starts.length >= 3);
    assert.ok((await skipped(telemetry, 'overrun')) >= starts.length - 1);
    assert.equal(await skipped(telemetry, 'backpressure'), 0);
  });
});
