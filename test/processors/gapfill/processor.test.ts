// gapfill's decisions on hand-made batches: drop where native is present, fill where missing (under the
// native labels, mapped by port_map), no derived stale marker into a native series, native stale markers
// suppressed where pprofcol fills, timestamps per series strictly increasing, and the loss meter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import { metricBatch, type MetricFamily, type Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../processors/gapfill/config.js';
import { gapfillProcessorFactory } from '../../../processors/gapfill/factory.js';
import type { GapfillProcessor } from '../../../processors/gapfill/processor.js';

const G: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: '', unit: '' };
const UP: MetricFamily = { name: 'up', type: 'gauge', help: '', unit: '' };
const native = (t: number, withGoroutines: boolean, stale = false): Point[] => [
  ...(withGoroutines || stale ? [{ family: G, name: 'go_goroutines', labels: { job: 'app', instance: 'h:8080' }, value: 10, timestampMs: t, stale }] : []),
  { family: UP, name: 'up', labels: { job: 'app', instance: 'h:8080' }, value: withGoroutines ? 1 : 0, timestampMs: t, stale: false },
];
const derived = (t: number, stale = false): Point[] => [
  { family: G, name: 'go_goroutines', labels: { job: 'app', instance: 'h:6060' }, value: 11, timestampMs: t, stale },
];

describe('gapfill processor', () => {
  it('validates its config with key paths', () => {
    assert.throws(() => configSchema.parse({}), /native_receivers/);
    assert.throws(() => configSchema.parse({ native_receivers: ['pprof'] }), /also in derived_receivers/);
    const c = configSchema.parse({ native_receivers: ['prometheus'], interval: '10s' });
    assert.equal(c.staleness, 10_000);
    assert.equal(c.max_wait, 20_000);
  });

  it('drops, fills, suppresses and meters', async () => {
    const out: Point[] = [];
    const telemetry = new Telemetry();
    const p = gapfillProcessorFactory.create(
      { id: 'gapfill', logger: silentLogger(), telemetry, configDir: '.' },
      configSchema.parse({ native_receivers: ['prometheus'], interval: '1s', port_map: { '6060': '8080' }, max_wait: '1h' }),
      { consume: async (b: Batch) => void (b.signal === 'metrics' && out.push(...b.points)) },
    );
    const send = (source: string, points: Point[]) => p.consume(metricBatch(source, points));
    await send('prometheus', native(1000, true));
    await send('pprof', derived(1010));
    await send('prometheus', native(2000, true)); // passes 1010 + 500: decides it: native present at 1000
    assert.deepEqual(out.filter((x) => x.name === 'go_goroutines').map((x) => x.timestampMs), [1000, 2000]);

    await send('pprof', derived(2010));
    await send('prometheus', native(3000, false, true)); // scrape failed: stale marker + up 0
    const gor = () => out.filter((x) => x.name === 'go_goroutines');
    assert.deepEqual(gor().map((x) => [x.timestampMs, x.stale]), [[1000, false], [2000, false]], 'derived 2010 dropped, native stale marker suppressed');

    await send('pprof', derived(3010));
    await send('prometheus', native(4000, false));
    const filled = gor().at(-1)!;
    assert.equal(filled.timestampMs, 3010, 'filled where native was missing');
    assert.deepEqual({ ...filled.labels }, { job: 'app', instance: 'h:8080' }, 'under the native labels (port_map)');

    await send('pprof', derived(4010, true)); // pprof failed too: its stale marker must not end the native series
    await send('prometheus', native(5000, true));
    assert.ok(!gor().some((x) => x.stale), 'no stale marker into a series the target exports');
    assert.equal(gor().at(-1)!.timestampMs, 5000);

    await p.shutdown();
    const text = await telemetry.registry.metrics();
    assert.match(text, /pprofcol_gapfill_intervals_total\{processor="gapfill",job="app",instance="h:8080",metric="go_goroutines"\} 4/);
    assert.match(text, /pprofcol_gapfill_native_missing_intervals_total\{[^}]*\} 2/);
    assert.match(text, /pprofcol_gapfill_filled_total\{[^}]*\} 1/);
    assert.match(text, /pprofcol_gapfill_points_dropped_total\{processor="gapfill",reason="native_stale_filled"\} 1/);
    assert.match(text, /pprofcol_gapfill_points_dropped_total\{processor="gapfill",reason="native_series_stale"\} 1/);
  });

  it('forgets targets and series not seen for forget_after_intervals intervals (bounded memory)', async () => {
    const telemetry = new Telemetry();
    const p = gapfillProcessorFactory.create(
      { id: 'gapfill', logger: silentLogger(), telemetry, configDir: '.' },
      configSchema.parse({ native_receivers: ['prometheus'], interval: '1s', max_wait: '1h', forget_after_intervals: 3 }),
      { consume: async () => {} },
    ) as GapfillProcessor;
    const now = Date.now();
    const at = (instance: string, name: string, t: number): Point => ({ family: G, name, labels: { job: 'app', instance }, value: 1, timestampMs: t, stale: false });
    // 100 targets that come and go (a discovery that churns), each with its own series and meters.
    for (let i = 0; i < 100; i++) {
      await p.consume(metricBatch('prometheus', [at(`h${i}:8080`, 'go_goroutines', now), at(`h${i}:8080`, `churn_${i}`, now)]));
      await p.consume(metricBatch('pprof', [{ ...at(`h${i}:8080`, 'go_goroutines', now + 10) }]));
      await p.consume(metricBatch('prometheus', [at(`h${i}:8080`, 'up', now + 1000)]));
    }
    assert.equal(p.targetCount, 100);
    assert.match(await telemetry.registry.metrics(), /pprofcol_gapfill_intervals_total\{[^}]*instance="h99:8080"/);
    // One target stays: its go_goroutines goes on, its churn_0 series stops.
    p.prune(now + 2500);
    assert.equal(p.targetCount, 100, 'not yet 3 intervals');
    const later = now + 10_000;
    p.prune(later - 2000);
    await p.consume(metricBatch('prometheus', [at('h0:8080', 'go_goroutines', later), at('h0:8080', 'up', later)]));
    p.prune(later);
    assert.equal(p.targetCount, 1, 'targets seen in neither stream for 3 intervals are forgotten');
    const text = await telemetry.registry.metrics();
    assert.doesNotMatch(text, /instance="h99:8080"/, 'with their meters');
    assert.match(text, /pprofcol_gapfill_targets\{processor="gapfill"\} 1/);
    // h0 keeps go_goroutines (seen at `later`) and up; churn_0 (last seen at now) is gone.
    assert.match(text, /pprofcol_gapfill_series\{processor="gapfill"\} 2/);
  });
});

describe('gapfill series identity', () => {
  it('keeps apart native series whose label text runs together (a value holding \\xfe or \\xff)', async () => {
    // The identity was name + \xff<name>\xfe<value> per label: {a="x\xffb\xfey"} and {a="x", b="y"}
    // were one series, so a native series with the first made the derived second count as present.
    const out: Point[] = [];
    const p = gapfillProcessorFactory.create(
      { id: 'gapfill', logger: silentLogger(), telemetry: new Telemetry(), configDir: '.' },
      configSchema.parse({ native_receivers: ['prometheus'], interval: '1s', port_map: { '6060': '8080' }, max_wait: '1h' }),
      { consume: async (b: Batch) => void (b.signal === 'metrics' && out.push(...b.points)) },
    );
    const odd = (t: number): Point[] => [
      { family: G, name: 'go_goroutines', labels: { job: 'app', instance: 'h:8080', a: 'x\u00ffb\u00fey' }, value: 10, timestampMs: t, stale: false },
      { family: UP, name: 'up', labels: { job: 'app', instance: 'h:8080' }, value: 1, timestampMs: t, stale: false },
    ];
    const split: Point = { family: G, name: 'go_goroutines', labels: { job: 'app', instance: 'h:6060', a: 'x', b: 'y' }, value: 11, timestampMs: 1010, stale: false };
    await p.consume(metricBatch('prometheus', odd(1000)));
    await p.consume(metricBatch('pprof', [split]));
    await p.consume(metricBatch('prometheus', odd(2000)));
    const filled = out.filter((x) => x.name === 'go_goroutines' && x.labels.b === 'y');
    assert.deepEqual(
      filled.map((x) => [x.timestampMs, { ...x.labels }]),
      [[1010, { job: 'app', instance: 'h:8080', a: 'x', b: 'y' }]],
      'the derived series has no native twin: filled',
    );
    await p.shutdown();
  });
});
