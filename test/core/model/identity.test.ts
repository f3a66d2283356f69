// A series' identity is computed once, where its labels are made, and carried: the sharder reads it,
// labels are frozen once it is taken, and a changed copy gets its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { carriedLabelsIdentity, copyLabels, identityKeyOf, labelsIdentitiesComputed, labelsIdentity, makeLabels, seriesKey, withLabels, type MetricFamily, type Point } from '../../../core/model/metrics.js';
import { snappyUncompress, WriteRequestEncoder } from '../../../core/remotewrite/index.js';
import { makeTarget } from '../../../core/scrape/targets.js';
import { seriesHash } from '../../../exporters/prometheusremotewrite/request.js';
import { MetricsDeriver } from '../../../processors/pprof_metrics/derive.js';
import { decodeWriteRequest } from '../remotewrite/reference-decoder.js';

function labels(entries: Record<string, string>) {
  return copyLabels(entries);
}

describe('labels identity', () => {
  it('is the sorted key seriesKey gives after the name, and freezes the labels it was taken from', () => {
    const l = labels({ job: 'j', instance: 'i', a: '' });
    assert.equal(seriesKey('m', l), '1\x00m\xffa\xfe\xffinstance\xfei\xffjob\xfej');
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
    assert.equal(seriesKey('m', changed), '1\x00m\xffinstance\xfei\xffjob\xfej\xffteam\xfepayments');
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

  it('keys stay apart for label sets whose joined text is equal (a name or value holding \\xfe or \\xff)', () => {
    const pairs: Array<[Record<string, string>, Record<string, string>]> = [
      [{ a: 'x\u00ffb\u00fey' }, { a: 'x', b: 'y' }],
      [{ 'a\u00ffb': 'v' }, { a: 'v', b: 'v' }],
      [{ 'a\u00feb': 'c' }, { a: 'b\u00fec' }],
    ];
    for (const [a, b] of pairs) {
      assert.notEqual(labelsIdentity(labels(a)).key, labelsIdentity(labels(b)).key);
      // identityKeyOf gives the key labelsIdentity gives, in both forms.
      for (const l of [a, b]) {
        const names = Object.keys(l).sort();
        assert.equal(identityKeyOf(names.flatMap((n) => [n, l[n]])), labelsIdentity(labels(l)).key);
      }
    }
    assert.equal(carriedLabelsIdentity(labels({ a: '1' })), undefined);
  });

  it('seriesKey keeps a name apart from the labels after it (a name holding \\xfd, \\xfe or \\xff)', () => {
    // A remote-write sender may name a metric with any character: the name once ran into the key, so
    // m\xffa\xfex without labels and m with {a: x} were one series (otlphttp's counter start times).
    const pairs: Array<[string, Record<string, string>, string, Record<string, string>]> = [
      ['m\u00ffa\u00fex', {}, 'm', { a: 'x' }],
      ['m\u00fd1:a1:\u00ff', {}, 'm', { a: '\u00ff' }],
      ['m\u00ffa\u00fe', { b: 'c' }, 'm', { a: '', b: 'c' }],
    ];
    for (const [n1, l1, n2, l2] of pairs) assert.notEqual(seriesKey(n1, labels(l1)), seriesKey(n2, labels(l2)), `${JSON.stringify(n1)} vs ${JSON.stringify(n2)}`);
  });
});

describe('the remote-write encoder looks series up by the identity their labels carry', () => {
  const family: MetricFamily = { name: 'go_pprof_heap_inuse_bytes', type: 'gauge', help: 'h', unit: 'bytes' };
  const at = (l: Record<string, string>, value: number, t: number, name = family.name): Point => ({ family, name, labels: l, value, timestampMs: t, stale: false });
  const sets = Array.from({ length: 40 }, (_, i) => ({ job: 'api', instance: `10.0.0.${i % 8}:6060`, function: `main.f${i}` }));
  const carrying = () =>
    sets.map((l) => {
      const c = copyLabels(l);
      labelsIdentity(c);
      return c;
    });
  const decoded = (body: Buffer) => decodeWriteRequest(snappyUncompress(body)).timeseries.map((s) => ({ labels: s.labels.map((x) => `${x.name}=${x.value}`), samples: s.samples }));

  it('computes no key for labels that carry one, in any order, and writes what labels without one give', () => {
    const withId = new WriteRequestEncoder({ externalLabels: { cluster: 'c1' } });
    const without = new WriteRequestEncoder({ externalLabels: { cluster: 'c1' } });
    const identitiesBefore = labelsIdentitiesComputed();
    for (let r = 0; r < 4; r++) {
      // Fresh labels objects every request, carrying their identity (as pprof_metrics makes them), in an
      // order that changes (so the encoder's guess of the next series misses and it looks each one up).
      const l = carrying();
      const order = sets.map((_, i) => (i * [1, 3, 7, 11][r]) % sets.length);
      const a = withId.encodeCompressed(order.map((i) => at(l[i], i, 1000 * r)));
      const b = without.encodeCompressed(order.map((i) => at(copyLabels(sets[i]), i, 1000 * r)));
      assert.deepEqual(decoded(a), decoded(b));
      assert.equal(decoded(a).length, sets.length);
    }
    assert.equal(withId.keysComputed, 0);
    assert.ok(without.keysComputed >= sets.length, `${without.keysComputed}`);
    assert.equal(withId.seriesEncoded, sets.length);
    // The encoder reads identities, never computes them (the 4 x 40 above are carrying()'s own).
    assert.equal(labelsIdentitiesComputed() - identitiesBefore, 4 * sets.length);
  });

  it('a series met with and without a carried identity, with an empty label or one equal to an external label, is one series', () => {
    const encoder = new WriteRequestEncoder({ externalLabels: { cluster: 'c1' } });
    const [carried] = carrying();
    const points = [
      at(carried, 1, 1000),
      at(copyLabels(sets[0]), 2, 2000),
      at(copyLabels(sets[0], { team: '' }), 3, 3000),
      at(copyLabels(sets[0], { cluster: 'c1' }), 4, 4000),
      at(copyLabels(sets[0], { cluster: 'c2' }), 5, 5000),
    ];
    for (const p of points.slice(2)) labelsIdentity(p.labels);
    const keysBefore = encoder.keysComputed;
    const series = decoded(encoder.encodeCompressed(points));
    assert.equal(series.length, 2);
    assert.deepEqual(series[0].samples.map((x) => x.value), [1, 2, 3, 4]);
    assert.deepEqual(series[0].labels, ['__name__=go_pprof_heap_inuse_bytes', 'cluster=c1', 'function=main.f0', 'instance=10.0.0.0:6060', 'job=api']);
    assert.deepEqual(series[1].labels, ['__name__=go_pprof_heap_inuse_bytes', 'cluster=c2', 'function=main.f0', 'instance=10.0.0.0:6060', 'job=api']);
    // Computed for the one without an identity and the two whose carried key does not decide the series.
    assert.equal(encoder.keysComputed - keysBefore, 3);
    // Non-ASCII labels (the key computed by another path) and a separator in a value (the key's
    // escaped form): one series each, with and without a carried identity.
    const odds: Record<string, string>[] = [{ function: 'main.caf\u00e9', instance: '\u4e16\u754c' }, { function: 'main.f\u00ff\u00fex' }];
    for (const odd of odds) {
      const withId = labels(odd);
      labelsIdentity(withId);
      const both = decoded(encoder.encodeCompressed([at(withId, 1, 1000), at(copyLabels(odd), 2, 2000)]));
      assert.equal(both.length, 1, JSON.stringify(both));
      assert.equal(both[0].samples.length, 2);
    }
  });

  it('the carried key is what the cache is keyed on: label sets with one joined text are two series', () => {
    const encoder = new WriteRequestEncoder();
    const a = labels({ a: 'x\u00ffb\u00fey' });
    const b = labels({ a: 'x', b: 'y' });
    labelsIdentity(a);
    labelsIdentity(b);
    const series = decoded(encoder.encodeCompressed([at(a, 1, 1000), at(b, 2, 1000), at(a, 3, 2000)]));
    assert.deepEqual(
      series.map((s) => [s.labels, s.samples.length]),
      [
        [['__name__=go_pprof_heap_inuse_bytes', 'a=x\u00ffb\u00fey'], 2],
        [['__name__=go_pprof_heap_inuse_bytes', 'a=x', 'b=y'], 1],
      ],
    );
    assert.equal(encoder.keysComputed, 0);
  });
});
