// A series' identity is computed once, where its labels are made, and carried: the sharder reads it,
// labels are frozen once it is taken, and a changed copy gets its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyLabels, labelsIdentitiesComputed, labelsIdentity, makeLabels, seriesKey, withLabels, type Point } from '../../../core/model/metrics.js';
import { makeTarget } from '../../../core/scrape/targets.js';
import { seriesHash } from '../../../exporters/prometheusremotewrite/request.js';
import { MetricsDeriver } from '../../../processors/pprof_metrics/derive.js';

function labels(entries: Record<string, string>) {
  return copyLabels(entries);
}

describe('labels identity', () => {
  it('is the sorted key seriesKey always gave, and freezes the labels it was taken from', () => {
    const l = labels({ job: 'j', instance: 'i', a: '' });
    assert.equal(seriesKey('m', l), 'm\xffa\xfe\xffinstance\xfei\xffjob\xfej');
    assert.ok(Object.isFrozen(l));
    assert.throws(() => {
      (l as Record<string, string>).team = 'x';
    }, TypeError);
    // Invisible to whatever walks labels: copies, Object.keys, for-in.
    assert.deepEqual(Object.keys(l), ['job', 'instance', 'a']);
    assert.deepEqual(Object.keys(copyLabels(l)), ['job', 'instance', 'a']);
  });

  it('is computed once per labels object, however often it is read', () => {
    const l = labels({ job: 'j', instance: 'i' });
    const before = labelsIdentitiesComputed();
    const first = labelsIdentity(l);
    for (let i = 0; i < 10; i++) assert.equal(labelsIdentity(l), first);
    assert.equal(labelsIdentitiesComputed() - before, 1);
  });

  it('withLabels makes a changed copy with its own identity; the original keeps its own', () => {
    const l = labels({ job: 'j', instance: 'i', env: 'dev' });
    const key = seriesKey('m', l);
    const changed = withLabels(l, { team: 'payments', env: undefined });
    assert.equal(Object.isFrozen(changed), false);
    assert.deepEqual({ ...changed }, { job: 'j', instance: 'i', team: 'payments' });
    assert.equal(seriesKey('m', changed), 'm\xffinstance\xfei\xffjob\xfej\xffteam\xfepayments');
    assert.equal(seriesKey('m', l), key);
  });

  it('the sharder hashes the identity the point carries: one computation per series, not per point', () => {
    const deriver = new MetricsDeriver();
    const target = makeTarget('api', 'http', '127.0.0.1:6060', {});
    const memstats = Object.fromEntries(
      ['Alloc', 'TotalAlloc', 'Sys', 'Mallocs', 'Frees', 'HeapAlloc', 'HeapSys', 'HeapIdle', 'HeapInuse', 'HeapReleased', 'HeapObjects', 'StackInuse', 'StackSys', 'MSpanInuse', 'MSpanSys', 'MCacheInuse', 'MCacheSys', 'BuckHashSys', 'GCSys', 'OtherSys', 'NextGC', 'LastGC', 'NumGC'].map((f) => [f, 1]),
    );
    const scrape = (t: number) => ({
      target,
      startedMs: t,
      durationSeconds: 0.01,
      results: [
        { family: 'goroutine' as const, ok: true as const, profile: { family: 'goroutine' as const, total: 5 }, source: 'x' },
        { family: 'heap' as const, ok: true as const, profile: { family: 'heap' as const, memstats: { ...memstats, PauseNs: [1, 2, 3] } as never }, source: 'y' },
      ],
    });
    const first: Point[] = [];
    const c0 = labelsIdentitiesComputed();
    deriver.derive(scrape(1000), first);
    const madeByDerive = labelsIdentitiesComputed() - c0;
    // The target's own labels once, and one set per quantile: 6, not one per point.
    assert.equal(madeByDerive, 6);
    assert.ok(first.length > 30);
    const second: Point[] = [];
    deriver.derive(scrape(2000), second);
    const c1 = labelsIdentitiesComputed();
    const hashes = second.map((p) => seriesHash(p.name, p.labels, makeLabels(), []));
    for (const p of second) seriesKey(p.name, p.labels);
    // Neither the second scrape nor the sharder nor seriesKey computed an identity: they carried it.
    assert.equal(labelsIdentitiesComputed(), c1);
    assert.equal(c1 - c0, madeByDerive);
    // The carried hash is the hash of the labels: the same as for a fresh copy, whose identity is new.
    for (let i = 0; i < second.length; i++) {
      assert.equal(hashes[i], seriesHash(second[i].name, copyLabels(second[i].labels), makeLabels(), []));
    }
    // External labels still fill a label the point lacks, and not one it has.
    const ext = labels({ cluster: 'c1', job: 'other' });
    const p = second[0];
    assert.equal(seriesHash(p.name, p.labels, ext, ['cluster', 'job']), seriesHash(p.name, withLabels(p.labels, { cluster: 'c1' }), makeLabels(), []));
  });
});
