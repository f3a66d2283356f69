// Derivation: values and names as client_golang exports them, and the partial-failure rule.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Point } from '../../../core/model/metrics.js';
import type { ProfileResult, TargetScrape } from '../../../core/model/profiles.js';
import { parseHeapMemStats } from '../../../core/pprof/text.js';
import { makeTarget } from '../../../core/scrape/targets.js';
import { MetricsDeriver } from '../../../processors/pprof_metrics/derive.js';
import { gcSummary } from '../../../processors/pprof_metrics/gc.js';
import { parseExposition } from '../../harness/pprofcol.js';
import { repoRoot } from '../../harness/servers.js';

const testdata = (file: string) => readFileSync(path.join(repoRoot(), 'test', 'testdata', file));
const target = makeTarget('api', 'http', '10.0.0.1:6060', { env: 'prod' });

function scrape(startedMs: number, results: ProfileResult[]): TargetScrape {
  return { target, startedMs, durationSeconds: 0.01, results };
}
const ok = (total: number, family: 'goroutine' | 'threadcreate'): ProfileResult => ({ family, ok: true, profile: { family, total }, source: 'x' });
const heapOk = (): ProfileResult => ({ family: 'heap', ok: true, profile: { family: 'heap', memstats: parseHeapMemStats(testdata('prometheus-2.42/heap.debug1.txt')) }, source: 'x' });
const failed = (family: 'goroutine' | 'threadcreate' | 'heap'): ProfileResult => ({ family, ok: false, reason: 'timeout', message: 'slow', source: 'x' });

const find = (points: Point[], name: string, extra: Record<string, string> = {}) =>
  points.find((p) => p.name === name && Object.entries(extra).every(([k, v]) => p.labels[k] === v));

describe('pprof_metrics derivation', () => {
  it('computes go_gc_duration_seconds exactly as client_golang did on the same process', () => {
    // heap.debug1.txt and metrics.txt were recorded from one Prometheus 2.42 with the same NumGC.
    const native = parseExposition(testdata('prometheus-2.42/metrics.txt').toString());
    const summary = gcSummary(parseHeapMemStats(testdata('prometheus-2.42/heap.debug1.txt')));
    const quantile = (q: string) => native.find((s) => s.name === 'go_gc_duration_seconds' && s.labels.quantile === q)!.value;
    assert.deepEqual(summary.quantiles, ['0', '0.25', '0.5', '0.75', '1'].map(quantile));
    assert.equal(summary.count, native.find((s) => s.name === 'go_gc_duration_seconds_count')!.value);
    assert.ok(Math.abs(summary.sum! - native.find((s) => s.name === 'go_gc_duration_seconds_sum')!.value) < 1e-12);
  });

  it('leaves out the GC pause sum once the pause ring has wrapped', () => {
    const stats = parseHeapMemStats(testdata('goprog/heap.debug1.txt'));
    assert.ok(stats.NumGC > 256, 'testdata goprog should have run more than 256 GCs');
    assert.equal(gcSummary(stats).sum, undefined);
    assert.equal(gcSummary({ ...stats, PauseTotalNs: 5e9 }).sum, 5);
  });

  it('labels every point with job, instance and target labels, stamped with the scrape start', () => {
    const points: Point[] = [];
    new MetricsDeriver().derive(scrape(1_700_000_000_000, [ok(42, 'goroutine'), ok(9, 'threadcreate'), heapOk()]), points);
    for (const p of points) {
      assert.deepEqual({ job: p.labels.job, instance: p.labels.instance, env: p.labels.env }, { job: 'api', instance: '10.0.0.1:6060', env: 'prod' });
      assert.equal(p.timestampMs, 1_700_000_000_000);
    }
    assert.equal(find(points, 'go_goroutines')!.value, 42);
    assert.equal(find(points, 'go_threads')!.value, 9);
    assert.equal(find(points, 'go_memstats_heap_alloc_bytes')!.value, 14293824);
    assert.equal(find(points, 'go_memstats_alloc_bytes_total')!.family.type, 'counter');
    assert.equal(find(points, 'go_memstats_last_gc_time_seconds')!.value, 1795677905.759842331);
    assert.equal(find(points, 'pprof_up')!.value, 1);
    assert.equal(find(points, 'go_gc_duration_seconds', { quantile: '1' })!.value, 0.00066379);
  });

  it('ends the series of a failed profile with stale markers and keeps the others', () => {
    const deriver = new MetricsDeriver();
    const first: Point[] = [];
    deriver.derive(scrape(1000, [ok(42, 'goroutine'), ok(9, 'threadcreate'), heapOk()]), first);
    const second: Point[] = [];
    deriver.derive(scrape(2000, [ok(43, 'goroutine'), ok(9, 'threadcreate'), failed('heap')]), second);
    const stale = second.filter((p) => p.stale);
    assert.ok(stale.length >= 22, `expected every heap-derived series stale, got ${stale.length}`);
    assert.ok(stale.every((p) => p.name.startsWith('go_memstats_') || p.name.startsWith('go_gc_duration_seconds')));
    assert.ok(stale.every((p) => p.timestampMs === 2000));
    assert.equal(find(second, 'go_goroutines')!.value, 43);
    const up = find(second, 'pprof_up')!;
    assert.equal(up.value, 0);
    assert.match(up.note!, /heap failed: timeout/);
    // A third failing scrape sends no second stale marker.
    const third: Point[] = [];
    deriver.derive(scrape(3000, [ok(44, 'goroutine'), ok(9, 'threadcreate'), failed('heap')]), third);
    assert.equal(third.filter((p) => p.stale).length, 0);
  });

  it('ends every series of a target that left discovery', () => {
    const deriver = new MetricsDeriver();
    const first: Point[] = [];
    deriver.derive(scrape(1000, [ok(42, 'goroutine'), ok(9, 'threadcreate')]), first);
    const gone: Point[] = [];
    deriver.end(target, 5000, gone);
    assert.equal(gone.length, first.length);
    assert.ok(gone.every((p) => p.stale && p.timestampMs === 5000));
    assert.ok(find(gone, 'pprof_up'));
  });

  it('a busy CPU window after a failed one brings pprof_up back to 1 (busy is not failed)', () => {
    const deriver = new MetricsDeriver();
    const cpu = (ok: ProfileResult): TargetScrape => ({ ...scrape(0, [ok]), kind: 'cpu' });
    const up = (points: Point[]) => find(points, 'pprof_up')!.value;
    let out: Point[] = [];
    deriver.derive(scrape(1000, [ok(1, 'goroutine')]), out);
    assert.equal(up(out), 1);
    deriver.derive(cpu({ family: 'cpu', ok: false, reason: 'connect', message: 'refused', source: 'x' }), (out = []));
    deriver.derive(scrape(2000, [ok(1, 'goroutine')]), (out = []));
    assert.equal(up(out), 0);
    deriver.derive(cpu({ family: 'cpu', ok: 'busy', message: 'cpu profiling already in use', source: 'x' }), (out = []));
    deriver.derive(scrape(3000, [ok(1, 'goroutine')]), (out = []));
    assert.equal(up(out), 1);
  });
});
