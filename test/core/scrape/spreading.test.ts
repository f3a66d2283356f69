// Targets are spread over the interval by a hash, and a target keeps its offset across restarts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fnv1a32, nextScrapeTime, scrapeOffsetMs, makeTarget, SLOT_GRID_MIN_INTERVAL_MS, SLOT_GRID_MS } from '../../../core/scrape/targets.js';
import { startDaemon } from '../../harness/pprofcol.js';

const INTERVAL_MS = 2000;
// Nothing listens on these ports, so every scrape fails fast and reports pprof_up 0 with its start time.
const ADDRESSES = ['127.0.0.1:9', '127.0.0.1:13', '127.0.0.1:17', '127.0.0.1:19'];

async function observedOffsets(): Promise<Map<string, number[]>> {
  const daemon = await startDaemon(`
receivers:
  pprof:
    scrape_configs:
      - job_name: spread
        scrape_interval: 2s
        scrape_timeout: 1s
        profiles: [goroutine]
        static_configs: [{targets: ${JSON.stringify(ADDRESSES)}}]
processors: {pprof_metrics: {}}
exporters: {debug: {timestamps: true}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
  try {
    for (const address of ADDRESSES) {
      await daemon.waitFor('stdout', new RegExp(`^pprof_up\\{instance="${address}",job="spread"\\} 0 \\d+\\n(?:.*\\n)*pprof_up\\{instance="${address}",job="spread"\\} 0 \\d+$`, 'm'), 15_000);
    }
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
  const offsets = new Map<string, number[]>();
  for (const m of daemon.stdout().matchAll(/^pprof_up\{instance="([^"]+)",job="spread"\} 0 (\d+)$/gm)) {
    offsets.set(m[1], [...(offsets.get(m[1]) ?? []), Number(m[2]) % INTERVAL_MS]);
  }
  return offsets;
}

describe('scrape spreading', () => {
  it('gives targets different offsets, computed from the target alone, on a grid of SLOT_GRID_MS', () => {
    const offsets = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const target = makeTarget('api', 'http', `10.0.0.${i}:6060`, {});
      const offset = scrapeOffsetMs(target.key, 15_000);
      assert.ok(offset >= 0 && offset < 15_000);
      assert.equal(offset % SLOT_GRID_MS, 0, `offset ${offset}`);
      // The hash's offset rounded down to its slot.
      assert.equal(offset, fnv1a32(target.key) % 15_000 - ((fnv1a32(target.key) % 15_000) % SLOT_GRID_MS));
      assert.equal(offset, scrapeOffsetMs(makeTarget('api', 'http', `10.0.0.${i}:6060`, {}).key, 15_000));
      offsets.add(offset);
    }
    // 600 slots for 50 targets: a hash shares one with another now and then (these keys: 2 pairs).
    assert.ok(offsets.size >= 46, `50 targets share ${50 - offsets.size} offsets`);
    // Short intervals keep offsets per millisecond: a grid would leave too few slots to spread over.
    const short = new Set(Array.from({ length: 50 }, (_, i) => scrapeOffsetMs(makeTarget('api', 'http', `10.0.0.${i}:6060`, {}).key, SLOT_GRID_MIN_INTERVAL_MS - 1)));
    assert.ok([...short].some((o) => o % SLOT_GRID_MS !== 0));
    assert.ok(short.size >= 48);
    assert.equal(nextScrapeTime(10_500, 1000, 200), 11_200);
    assert.equal(nextScrapeTime(10_100, 1000, 200), 10_200);
  });

  it('scrapes each target at the same point of the interval after a restart', async () => {
    const first = await observedOffsets();
    const second = await observedOffsets();
    const distance = (a: number, b: number) => Math.min(Math.abs(a - b), INTERVAL_MS - Math.abs(a - b));
    const firstOffsets: number[] = [];
    for (const address of ADDRESSES) {
      const a = first.get(address)!;
      const b = second.get(address)!;
      // Timer lateness on a loaded machine shifts a start by a few ms, never by a slot.
      for (const x of [...a, ...b]) assert.ok(distance(x, a[0]) <= 150, `${address}: offsets ${a} then ${b}`);
      firstOffsets.push(a[0]);
    }
    const spread = new Set(firstOffsets.map((o) => Math.round(o / 100)));
    assert.ok(spread.size >= 3, `offsets not spread: ${firstOffsets}`);
  });
});
