// The scrape pool's loops: scheduled on a monotonic clock, so a wall-clock step neither stops nor bursts scraping.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../../core/logger.js';
import type { ScrapeConfig } from '../../../core/scrape/config.js';
import { ScrapePool } from '../../../core/scrape/pool.js';
import { CpuSchedule } from '../../../receivers/pprof/cpu.js';

const INTERVAL_MS = 40;

function scrapeConfig(targets: string[]): ScrapeConfig {
  return {
    job_name: 'clock',
    scrape_interval: INTERVAL_MS,
    scrape_timeout: INTERVAL_MS,
    sample_limit: 0,
    label_limit: 0,
    label_name_length_limit: 0,
    label_value_length_limit: 0,
    scheme: 'http',
    body_size_limit: 0,
    static_configs: [{ targets, labels: {} }],
    file_sd_configs: [],
  } as ScrapeConfig;
}

/** A wall clock the test can step, running on from the real one. */
function steppableWall(): { now: () => number; step(ms: number): void } {
  let shift = 0;
  return { now: () => Date.now() + shift, step: (ms) => (shift += ms) };
}

describe('scrape pool clocks', () => {
  it('keeps scraping at its interval after the wall clock steps back an hour', async () => {
    const wall = steppableWall();
    const scrapes: Array<{ wallMs: number; monotonicMs: number }> = [];
    const pool = new ScrapePool({
      config: scrapeConfig(['127.0.0.1:1']),
      configDir: '.',
      logger: silentLogger(),
      now: wall.now,
      handler: {
        scrape: async (_target, startedMs, _signal, monotonicMs) => {
          scrapes.push({ wallMs: startedMs, monotonicMs });
        },
        targetGone: async () => undefined,
      },
    });
    await pool.start();
    try {
      while (scrapes.length < 2) await sleep(5);
      const before = scrapes.length;
      wall.step(-3_600_000);
      await sleep(INTERVAL_MS * 6);
      // Dated by the wall clock, scheduled by the monotonic one: about six more, all after the step.
      const after = scrapes.slice(before);
      assert.ok(after.length >= 3, `${after.length} scrapes in the ${INTERVAL_MS * 6}ms after the step`);
      assert.ok(after.length <= 8, `${after.length} scrapes in the ${INTERVAL_MS * 6}ms after the step: a burst`);
      for (const s of after) assert.ok(s.wallMs < Date.now() - 3_000_000, 'samples carry the wall clock as it is now');
    } finally {
      await pool.stop();
    }
  });

  it('does not burst scrapes after the wall clock steps forward an hour', async () => {
    const wall = steppableWall();
    let count = 0;
    const pool = new ScrapePool({
      config: scrapeConfig(['127.0.0.1:1']),
      configDir: '.',
      logger: silentLogger(),
      now: wall.now,
      handler: { scrape: async () => void count++, targetGone: async () => undefined },
    });
    await pool.start();
    try {
      while (count < 1) await sleep(5);
      wall.step(3_600_000);
      const before = count;
      await sleep(INTERVAL_MS * 4);
      assert.ok(count - before <= 6, `${count - before} scrapes in ${INTERVAL_MS * 4}ms after the step`);
    } finally {
      await pool.stop();
    }
  });

  it('takes the phase inside the interval from the wall clock at start, on the monotonic clock after', async () => {
    // A monotonic clock far from the wall one: the first scrape still comes at the target's wall-clock offset.
    const firstWall: number[] = [];
    const pool = new ScrapePool({
      config: scrapeConfig(['127.0.0.1:1']),
      configDir: '.',
      logger: silentLogger(),
      monotonicNow: () => performance.now() + 123_456_789.5,
      handler: { scrape: async (_t, startedMs) => void firstWall.push(startedMs), targetGone: async () => undefined },
    });
    await pool.start();
    try {
      while (firstWall.length < 3) await sleep(5);
      const offset = pool.offsets().get('127.0.0.1:1')!;
      for (const t of firstWall) {
        const d = (((t % INTERVAL_MS) - offset) + INTERVAL_MS) % INTERVAL_MS;
        // Timers fire late, never more than a slot on a loaded machine; at most 1 ms early.
        assert.ok(d < INTERVAL_MS / 2 || d >= INTERVAL_MS - 1, `scraped ${d}ms past its offset ${offset}`);
      }
    } finally {
      await pool.stop();
    }
  });
});

describe('cpu window schedule clocks', () => {
  const EVERY = 60_000;
  it('keeps windows due every `every` after the wall clock steps back', () => {
    const schedule = new CpuSchedule('job|a', EVERY);
    let wall = 1_700_000_000_000;
    let mono = 5_000;
    const windows: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (schedule.due(wall, mono)) windows.push(mono);
      if (i === 10) wall -= 3_600_000; // an hour back, once
      wall += 15_000;
      mono += 15_000;
    }
    // 40 ticks of 15s = 10 min: one window a minute, the step back notwithstanding.
    assert.ok(windows.length >= 9, `${windows.length} windows in 10 minutes`);
    for (let i = 1; i < windows.length; i++) assert.equal(windows[i] - windows[i - 1], EVERY);
  });

  it('does not run a window per missed cycle after the wall clock steps forward', () => {
    const schedule = new CpuSchedule('job|a', EVERY);
    let wall = 1_700_000_000_000;
    let mono = 5_000;
    const windows: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (schedule.due(wall, mono)) windows.push(mono);
      if (i === 10) wall += 3_630_000; // an hour and half a window forward
      wall += 15_000;
      mono += 15_000;
    }
    for (let i = 1; i < windows.length; i++) assert.equal(windows[i] - windows[i - 1], EVERY);
  });

  it('first window at the target phase of the wall clock', () => {
    const schedule = new CpuSchedule('job|a', EVERY);
    const wall = 1_700_000_000_000;
    const mono = 77;
    let at = -1;
    for (let t = 0; t <= EVERY; t += 1000) if (at < 0 && schedule.due(wall + t, mono + t)) at = wall + t;
    const again = new CpuSchedule('job|a', EVERY);
    let at2 = -1;
    for (let t = 0; t <= EVERY; t += 1000) if (at2 < 0 && again.due(wall + t, 9_999_999 + t)) at2 = wall + t;
    assert.ok(at >= 0);
    assert.equal(at, at2, 'the phase does not depend on the monotonic clock');
  });
});
