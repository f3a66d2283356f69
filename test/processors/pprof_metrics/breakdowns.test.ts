// Breakdowns: top N with `other`, stale markers for series that leave the top N, counters that never
// turn a reset into growth, CPU accumulation across windows, and families on their own intervals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Point } from '../../../core/model/metrics.js';
import type { FunctionProfile, ProfileResult, TargetScrape } from '../../../core/model/profiles.js';
import { makeTarget } from '../../../core/scrape/targets.js';
import { MetricsDeriver } from '../../../processors/pprof_metrics/derive.js';

const target = makeTarget('api', 'http', '10.0.0.1:6060', {});
const scrape = (startedMs: number, results: ProfileResult[], kind: 'scrape' | 'cpu' = 'scrape'): TargetScrape => ({ target, startedMs, durationSeconds: 0.01, results, kind });

function functions(columns: string[], units: string[], rows: Record<string, number[]>, durationSeconds = 0): FunctionProfile {
  const totals = columns.map((_, i) => Object.values(rows).reduce((a, r) => a + r[i], 0));
  return { columns, units, totals, byFunction: new Map(Object.entries(rows)), durationSeconds };
}
const goroutines = (rows: Record<string, number>): ProfileResult => ({
  family: 'goroutine_functions',
  ok: true,
  profile: { family: 'goroutine_functions', functions: functions(['goroutine'], ['count'], Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, [v]]))) },
  source: 'x',
});
const mutex = (rows: Record<string, number>): ProfileResult => ({
  family: 'mutex',
  ok: true,
  profile: { family: 'mutex', functions: functions(['contentions', 'delay'], ['count', 'nanoseconds'], Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, [v, v * 1e9]]))) },
  source: 'x',
});
const cpu = (rows: Record<string, number>): ProfileResult => ({
  family: 'cpu',
  ok: true,
  profile: { family: 'cpu', functions: functions(['samples', 'cpu'], ['count', 'nanoseconds'], Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, [v * 100, v * 1e9]])), 10) },
  source: 'x',
});
const count = (family: 'goroutine', total: number): ProfileResult => ({ family, ok: true, profile: { family, total }, source: 'x' });

const values = (points: Point[], name: string) =>
  new Map(points.filter((p) => p.name === name && !p.stale).map((p) => [p.labels.function ?? '', p.value]));
const stale = (points: Point[]) => points.filter((p) => p.stale).map((p) => `${p.name}{${p.labels.function ?? ''}}`);

describe('breakdowns', () => {
  it('keeps the top N, sums the rest into other, and ends a function that leaves the top N', () => {
    const deriver = new MetricsDeriver({ topN: 2 });
    const first: Point[] = [];
    deriver.derive(scrape(1000, [goroutines({ 'main.a': 50, 'main.b': 30, 'main.c': 5, 'main.d': 1 })]), first);
    assert.deepEqual(values(first, 'go_pprof_goroutines'), new Map([['main.a', 50], ['main.b', 30], ['other', 6]]));
    const second: Point[] = [];
    deriver.derive(scrape(2000, [goroutines({ 'main.a': 50, 'main.b': 2, 'main.c': 5, 'main.d': 1 })]), second);
    assert.deepEqual(values(second, 'go_pprof_goroutines'), new Map([['main.a', 50], ['main.c', 5], ['other', 3]]));
    assert.deepEqual(stale(second), ['go_pprof_goroutines{main.b}']);
    assert.equal(second.find((p) => p.stale)!.timestampMs, 2000);
  });

  it('series of a family not due in a scrape are neither re-sent nor ended', () => {
    const deriver = new MetricsDeriver();
    const first: Point[] = [];
    deriver.derive(scrape(1000, [count('goroutine', 10), goroutines({ 'main.a': 9 })]), first);
    const second: Point[] = [];
    deriver.derive(scrape(16_000, [count('goroutine', 11)]), second);
    assert.deepEqual(stale(second), []);
    assert.equal(values(second, 'go_pprof_goroutines').size, 0);
    assert.equal(second.find((p) => p.name === 'pprof_up')!.value, 1);
  });

  it('a failed family keeps pprof_up at 0 until it is fetched again, through scrapes where it is not due', () => {
    const deriver = new MetricsDeriver();
    deriver.derive(scrape(1000, [count('goroutine', 10), mutex({ 'main.a': 1 })]), []);
    const failed: Point[] = [];
    deriver.derive(scrape(2000, [count('goroutine', 10), { family: 'mutex', ok: false, reason: 'decode', message: 'bad', source: 'x' }]), failed);
    assert.ok(stale(failed).some((s) => s.startsWith('go_pprof_mutex_contentions_total')));
    const between: Point[] = [];
    deriver.derive(scrape(3000, [count('goroutine', 10)]), between);
    assert.equal(between.find((p) => p.name === 'pprof_up')!.value, 0);
    const back: Point[] = [];
    deriver.derive(scrape(4000, [count('goroutine', 10), mutex({ 'main.a': 2 })]), back);
    assert.equal(back.find((p) => p.name === 'pprof_up')!.value, 1);
  });

  it('counter other only rises while functions move in and out of the top N, and resets when the target restarted', () => {
    const deriver = new MetricsDeriver({ topN: 1 });
    const run = (t: number, rows: Record<string, number>) => {
      const out: Point[] = [];
      deriver.derive(scrape(t, [mutex(rows)]), out);
      return values(out, 'go_pprof_mutex_contentions_total');
    };
    assert.deepEqual(run(1, { 'main.a': 100, 'main.b': 40 }), new Map([['', 140], ['main.a', 100], ['other', 40]]));
    // b overtakes a: b's series carries b's cumulative value; other now grows by a's increase only.
    assert.deepEqual(run(2, { 'main.a': 110, 'main.b': 200 }), new Map([['', 310], ['main.b', 200], ['other', 50]]));
    assert.deepEqual(run(3, { 'main.a': 120, 'main.b': 210 }), new Map([['', 330], ['main.b', 210], ['other', 60]]));
    // Restart: every value drops; other restarts from what is outside the top N now (a visible reset).
    assert.deepEqual(run(4, { 'main.a': 3, 'main.b': 5 }), new Map([['', 8], ['main.b', 5], ['other', 3]]));
  });

  it('delay in nanoseconds becomes seconds', () => {
    const out: Point[] = [];
    new MetricsDeriver().derive(scrape(1, [mutex({ 'main.a': 2 })]), out);
    assert.equal(values(out, 'go_pprof_mutex_delay_seconds_total').get('main.a'), 2);
  });

  it('cpu seconds accumulate over windows; utilisation is the last window over its length; no pprof_up from a cpu window', () => {
    const deriver = new MetricsDeriver();
    const first: Point[] = [];
    deriver.derive(scrape(1000, [cpu({ 'main.burn': 2, 'main.idle': 0.5 })], 'cpu'), first);
    assert.equal(first.find((p) => p.name === 'pprof_up'), undefined);
    const second: Point[] = [];
    deriver.derive(scrape(61_000, [cpu({ 'main.burn': 1 })], 'cpu'), second);
    const counter = values(second, 'go_pprof_cpu_seconds_total');
    assert.equal(counter.get(''), 3.5);
    assert.equal(counter.get('main.burn'), 3);
    assert.equal(counter.get('main.idle'), 0.5);
    const ratio = values(second, 'go_pprof_cpu_utilization_ratio');
    assert.equal(ratio.get(''), 0.1);
    assert.equal(ratio.get('main.burn'), 0.1);
    // main.idle used no CPU in the last window: its utilisation series ends.
    assert.deepEqual(stale(second), ['go_pprof_cpu_utilization_ratio{main.idle}']);
  });

  it('a busy cpu window changes nothing and keeps the target up', () => {
    const deriver = new MetricsDeriver();
    deriver.derive(scrape(1000, [cpu({ 'main.burn': 2 })], 'cpu'), []);
    const busy: Point[] = [];
    deriver.derive(scrape(61_000, [{ family: 'cpu', ok: 'busy', message: 'cpu profiling already in use', source: 'x' }], 'cpu'), busy);
    assert.equal(busy.length, 0);
    const next: Point[] = [];
    deriver.derive(scrape(62_000, [count('goroutine', 1)]), next);
    assert.equal(next.find((p) => p.name === 'pprof_up')!.value, 1);
  });

  it('the series limit trims every breakdown evenly', () => {
    const rows = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`main.f${i}`, i + 1]));
    const out: Point[] = [];
    new MetricsDeriver({ topN: 100, seriesLimit: 180 }).derive(scrape(1, [goroutines(rows)]), out);
    // (180 - 50) / 13 = 10 per breakdown, one of them `other`.
    assert.equal(values(out, 'go_pprof_goroutines').size, 10);
  });
});
