import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { MetricFamily, Point } from '../../../core/model/metrics.js';
import { encodeWriteRequest, METADATA_TYPE, snappyCompress, snappyUncompress, STALE_NAN_BYTES, WriteRequestEncoder } from '../../../core/remotewrite/index.js';
import { decodeWriteRequest, remoteWriteTypes } from './reference-decoder.js';
import { rawSeries } from './wire.js';

const goroutines: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' };
const allocTotal: MetricFamily = { name: 'go_memstats_alloc_bytes_total', type: 'counter', help: 'Total number of bytes allocated, even if freed.', unit: 'bytes' };
const gcDuration: MetricFamily = { name: 'go_gc_duration_seconds', type: 'summary', help: 'A summary of the pause duration of garbage collection cycles.', unit: 'seconds' };

function point(family: MetricFamily, labels: Record<string, string>, value: number, timestampMs: number, stale = false, name = family.name): Point {
  return { family, name, labels, value, timestampMs, stale };
}

function labelsOf(series: { labels: { name: string; value: string }[] }): string[] {
  return series.labels.map((l) => `${l.name}=${l.value}`);
}

describe('remote write codec', () => {
  it('sorts labels by name, includes __name__, drops empty values, keeps them unique', () => {
    const body = encodeWriteRequest(
      [point(goroutines, { job: 't', instance: 'x:1', empty: '', a: '1', zeta: 'z' }, 5, 1000)],
      [],
      { externalLabels: { cluster: 'c1', job: 'ignored-because-set', region: '' } },
    );
    const req = decodeWriteRequest(body);
    assert.equal(req.timeseries.length, 1);
    assert.deepEqual(labelsOf(req.timeseries[0]), ['__name__=go_goroutines', 'a=1', 'cluster=c1', 'instance=x:1', 'job=t', 'zeta=z']);
    assert.deepEqual(req.timeseries[0].samples, [{ value: 5, timestamp: 1000 }]);
  });

  it('an external label fills a label the series has empty', () => {
    const req = decodeWriteRequest(encodeWriteRequest([point(goroutines, { env: '' }, 1, 1)], [], { externalLabels: { env: 'prod' } }));
    assert.deepEqual(labelsOf(req.timeseries[0]), ['__name__=go_goroutines', 'env=prod']);
  });

  it('groups points into series (label order in the input does not matter) with samples in timestamp order', () => {
    const points = [
      point(goroutines, { job: 't', instance: 'a' }, 3, 3000),
      point(goroutines, { instance: 'b', job: 't' }, 10, 1000),
      point(goroutines, { instance: 'a', job: 't' }, 1, 1000),
      point(goroutines, { job: 't', instance: 'a' }, 2, 2000),
      // Same timestamp twice: the sort is stable, so input order is kept.
      point(goroutines, { job: 't', instance: 'a' }, 22, 2000),
    ];
    const req = decodeWriteRequest(encodeWriteRequest(points));
    assert.equal(req.timeseries.length, 2);
    const a = req.timeseries.find((s) => s.labels.some((l) => l.value === 'a'));
    assert.ok(a);
    assert.deepEqual(a.samples, [
      { value: 1, timestamp: 1000 },
      { value: 2, timestamp: 2000 },
      { value: 22, timestamp: 2000 },
      { value: 3, timestamp: 3000 },
    ]);
  });

  it('points whose labels differ only by empty values or key order are one series', () => {
    const req = decodeWriteRequest(
      encodeWriteRequest([point(goroutines, { a: '1', b: '' }, 1, 1), point(goroutines, { a: '1' }, 2, 2), point(goroutines, { c: '', a: '1' }, 3, 3)]),
    );
    assert.equal(req.timeseries.length, 1);
    assert.deepEqual(req.timeseries[0].samples.map((x) => x.value), [1, 2, 3]);
  });

  it('round-trips through protobufjs: values, large and negative timestamps, metadata of every type', () => {
    const now = 1_700_000_000_123;
    const points = [
      point(allocTotal, { job: 'j' }, 123456789.5, now),
      point(gcDuration, { job: 'j', quantile: '0.5' }, 0.000123, now),
      point(gcDuration, { job: 'j' }, 42, now, false, 'go_gc_duration_seconds_count'),
      point(goroutines, { job: 'j', long: 'é'.repeat(200) }, -7, -5),
    ];
    const body = encodeWriteRequest(points, [goroutines, allocTotal, gcDuration, { name: 'u', type: 'untyped', help: '', unit: '' }]);
    const req = decodeWriteRequest(body);
    assert.equal(req.timeseries.length, 4);
    assert.deepEqual(req.timeseries[0].samples, [{ value: 123456789.5, timestamp: now }]);
    assert.deepEqual(req.timeseries[1].samples, [{ value: 0.000123, timestamp: now }]);
    assert.deepEqual(labelsOf(req.timeseries[2]), ['__name__=go_gc_duration_seconds_count', 'job=j']);
    assert.deepEqual(req.timeseries[3].samples, [{ value: -7, timestamp: -5 }]);
    assert.equal(req.timeseries[3].labels.find((l) => l.name === 'long')?.value, 'é'.repeat(200));
    assert.deepEqual(req.metadata, [
      { type: METADATA_TYPE.GAUGE, metric_family_name: 'go_goroutines', help: goroutines.help, unit: '' },
      { type: METADATA_TYPE.COUNTER, metric_family_name: 'go_memstats_alloc_bytes_total', help: allocTotal.help, unit: 'bytes' },
      { type: METADATA_TYPE.SUMMARY, metric_family_name: 'go_gc_duration_seconds', help: gcDuration.help, unit: 'seconds' },
      { type: METADATA_TYPE.UNKNOWN, metric_family_name: 'u', help: '', unit: '' },
    ]);
  });

  it('encodes byte for byte as protobufjs does (same message, same order)', () => {
    // No zero values or empty strings: protobufjs writes '' when the field is set and leaves a 0
    // number out, while ours always writes value and timestamp and leaves '' out.
    const points: Point[] = [];
    for (let s = 0; s < 50; s++) for (let t = 0; t < 3; t++) points.push(point(allocTotal, { job: 'j', instance: `host-${s}:6060` }, s * 1.5 + t + 1, 1_700_000_000_000 + t * 15_000));
    const ours = new WriteRequestEncoder().encode(points, [allocTotal, gcDuration]);
    const { WriteRequest } = remoteWriteTypes();
    const message = WriteRequest.fromObject(decodeWriteRequest(ours));
    const theirs = WriteRequest.encode(message).finish();
    assert.ok(Buffer.from(theirs).equals(ours), 'hand-written and protobufjs encodings differ');
  });

  it('a new series\' labels encode as protobufjs does at the ASCII fast path\'s edges: fields of 127 and 128 bytes, non-ASCII', () => {
    const { WriteRequest } = remoteWriteTypes();
    // A Label field's body is 4 bytes of tags and lengths plus name and value: 'v' (1) + 122 = 127 bytes
    // fits the one-byte length of the fast path, 123 does not; 'é' and '😀' are not ASCII.
    const values = ['x'.repeat(122), 'x'.repeat(123), 'caf\u00e9', 'x'.repeat(100) + '\u{1f600}', 'a'.repeat(60)];
    for (const v of values) {
      for (const compressed of [false, true]) {
        const points = [point(goroutines, { v, job: 'j' }, 1, 1_000), point(goroutines, { v: v + 'y', job: 'j' }, 2, 1_000)];
        const enc = new WriteRequestEncoder();
        const ours = compressed ? snappyUncompress(enc.encodeCompressed(points)) : Buffer.from(enc.encode(points));
        const theirs = Buffer.from(
          WriteRequest.encode(
            WriteRequest.create({
              timeseries: points.map((p) => ({
                labels: [{ name: '__name__', value: p.name }, { name: 'job', value: 'j' }, { name: 'v', value: p.labels['v']! }],
                samples: [{ value: p.value, timestamp: p.timestampMs }],
              })),
            }),
          ).finish(),
        );
        assert.ok(ours.equals(theirs), `value of ${Buffer.byteLength(v)} bytes (${compressed ? 'encodeCompressed' : 'encode'})`);
      }
    }
  });

  it('reuses its buffer: a later, smaller request encodes correctly after a large one', () => {
    const enc = new WriteRequestEncoder({ initialBufferSize: 16 });
    const big: Point[] = [];
    for (let i = 0; i < 1000; i++) big.push(point(goroutines, { i: String(i % 10) }, i, i));
    assert.equal(decodeWriteRequest(enc.encode(big)).timeseries.length, 10);
    const small = decodeWriteRequest(enc.encode([point(goroutines, { i: 'x' }, 1, 1)]));
    assert.equal(small.timeseries.length, 1);
    assert.deepEqual(labelsOf(small.timeseries[0]), ['__name__=go_goroutines', 'i=x']);
  });

  it('writes the stale marker as the bytes 02 00 00 00 00 00 f0 7f at the sample offset, through snappy', () => {
    const points = [
      point(goroutines, { job: 't', instance: 'live' }, 12, 1000),
      point(goroutines, { job: 't', instance: 'gone' }, 7, 1000),
      point(goroutines, { job: 't', instance: 'gone' }, 0, 2000, true),
    ];
    const compressed = snappyCompress(encodeWriteRequest(points));
    const body = snappyUncompress(compressed);
    const series = rawSeries(body);
    const gone = series.find((s) => s.labels.some(([n, v]) => n === 'instance' && v === 'gone'));
    assert.ok(gone);
    assert.equal(gone.samples.length, 2);
    assert.equal(gone.samples[1].timestamp, 2000);
    const at = gone.samples[1].valueOffset;
    assert.equal(body.subarray(at, at + 8).toString('hex'), '020000000000f07f');
    assert.ok(body.subarray(at, at + 8).equals(STALE_NAN_BYTES));
    assert.equal(body.readDoubleLE(gone.samples[0].valueOffset), 7);
    // The live series holds no NaN at all.
    const live = series.find((s) => s.labels.some(([, v]) => v === 'live'));
    assert.ok(live);
    assert.equal(body.readDoubleLE(live.samples[0].valueOffset), 12);
  });

  it('a stale point sorts by timestamp within its series like any sample', () => {
    const points = [
      point(goroutines, { instance: 'a' }, 0, 3000, true),
      point(goroutines, { instance: 'a' }, 5, 1000),
    ];
    const body = encodeWriteRequest(points);
    const [s] = rawSeries(body);
    assert.deepEqual(s.samples.map((x) => x.timestamp), [1000, 3000]);
    assert.ok(body.subarray(s.samples[1].valueOffset, s.samples[1].valueOffset + 8).equals(STALE_NAN_BYTES));
  });
});

describe('remote write codec: label sets whose joined text is equal stay apart', () => {
  // Label values (and names) from the remote-write receiver may hold any character, \xfe and \xff included.
  const cases: Array<{ what: string; a: Record<string, string>; b: Record<string, string> }> = [
    { what: 'a value holding separators vs two labels', a: { a: 'x\u00ffb\u00fey' }, b: { a: 'x', b: 'y' } },
    { what: 'a name holding a separator vs two names', a: { 'a\u00ffb': 'v' }, b: { a: 'v', b: 'v' } },
    { what: 'a name holding a separator vs a name and a value', a: { 'a\u00feb': 'c' }, b: { a: 'b\u00fec' } },
  ];
  for (const { what, a, b } of cases) {
    for (const compressed of [false, true]) {
      it(`${what} (${compressed ? 'encodeCompressed' : 'encode'})`, () => {
        const encoder = new WriteRequestEncoder();
        const encodeOnce = (points: Point[]): Buffer =>
          compressed ? snappyUncompress(encoder.encodeCompressed(points)) : Buffer.from(encoder.encode(points));
        // Each on its own first (the second request finds the first one's cache entry), then both in one request.
        const first = decodeWriteRequest(encodeOnce([point(goroutines, a, 1, 1000)]));
        const second = decodeWriteRequest(encodeOnce([point(goroutines, b, 2, 1000)]));
        const both = decodeWriteRequest(encodeOnce([point(goroutines, a, 3, 2000), point(goroutines, b, 4, 2000)]));
        const expectA = ['__name__=go_goroutines', ...Object.keys(a).sort().map((n) => `${n}=${a[n]}`)];
        const expectB = ['__name__=go_goroutines', ...Object.keys(b).sort().map((n) => `${n}=${b[n]}`)];
        assert.deepEqual(labelsOf(first.timeseries[0]), expectA);
        assert.deepEqual(labelsOf(second.timeseries[0]), expectB);
        assert.equal(both.timeseries.length, 2);
        assert.deepEqual(labelsOf(both.timeseries[0]), expectA);
        assert.deepEqual(both.timeseries[0].samples, [{ value: 3, timestamp: 2000 }]);
        assert.deepEqual(labelsOf(both.timeseries[1]), expectB);
        assert.deepEqual(both.timeseries[1].samples, [{ value: 4, timestamp: 2000 }]);
      });
    }
  }
});

describe('remote write codec: the series cache', () => {
  const seriesPoints = (from: number, count: number, t: number): Point[] =>
    Array.from({ length: count }, (_, k) => point(goroutines, { job: 'j', instance: `h:${(from + k) % 8}` }, k, t));

  it('keeps a working set between half and all of its bound: each series encoded once over many requests', () => {
    // 8 series cycling through requests of 2 under a bound of 10: the generations turned at half the bound
    // (5) before, so series of the old generation were dropped before they came round again.
    for (const compressed of [false, true]) {
      const encoder = new WriteRequestEncoder({ maxCachedSeries: 10 });
      for (let r = 0; r < 40; r++) {
        const points = seriesPoints(2 * r, 2, 1000 + r);
        const body = compressed ? snappyUncompress(encoder.encodeCompressed(points)) : encoder.encode(points);
        assert.deepEqual(decodeWriteRequest(body).timeseries.map((s) => labelsOf(s)[1]), [`instance=h:${(2 * r) % 8}`, `instance=h:${(2 * r + 1) % 8}`]);
      }
      assert.equal(encoder.seriesEncoded, 8, compressed ? 'encodeCompressed' : 'encode');
      assert.equal(encoder.cachedSeries, 8);
    }
  });

  it('holds at most its bound under a flood of new series, and the flood does not push out the series that come again', () => {
    const encoder = new WriteRequestEncoder({ maxCachedSeries: 10 });
    const fresh = (r: number): Point[] => [0, 1, 2].map((k) => point(goroutines, { job: 'flood', instance: `n:${3 * r + k}` }, k, r));
    const steady = (r: number): Point[] => [0, 1, 2, 3].map((k) => point(goroutines, { job: 'steady', instance: `s:${k}` }, k, r));
    encoder.encode(steady(0));
    for (let r = 0; r < 100; r++) {
      const points = [...steady(r + 1), ...fresh(r)];
      assert.deepEqual(encoder.encode(points), new WriteRequestEncoder().encode(points), `request ${r}`);
      assert.ok(encoder.cachedSeries <= 10, `request ${r}: ${encoder.cachedSeries} series cached`);
    }
    // The four steady series were encoded once (each turn is followed by their next request, which
    // moves them before a new series can take their place); the flood's 300 each once, cached or not.
    assert.equal(encoder.seriesEncoded, 4 + 300);
    assert.ok(encoder.seriesRefused > 0 && encoder.seriesRefused < 300, `${encoder.seriesRefused} refused`);
  });

  it('keeps hitting the cached part of a cyclic working set of three times its bound, with the bytes of a fresh encoder', () => {
    // 30 series (two of them with two points a request) through a bound of 10, in requests of 7
    // series, so cycles and requests do not line up. An LRU by generation encoded all 30 every cycle.
    const bound = 10;
    const cycle = 30;
    for (const compressed of [false, true]) {
      const encoder = new WriteRequestEncoder({ maxCachedSeries: bound });
      const hits: number[] = [];
      let at = 0;
      for (let c = 0; c < 24; c++) {
        const before = encoder.seriesEncoded;
        for (let done = 0; done < cycle; ) {
          const n = Math.min(7, cycle - done);
          const points: Point[] = [];
          for (let k = 0; k < n; k++) {
            const id = (done + k) % cycle;
            points.push(point(goroutines, { job: 'cyc', instance: `c:${id}` }, at, 1000 + at));
            // A series with two points in one request is one TimeSeries, cached or refused.
            if (id % 15 === 0) points.push(point(goroutines, { job: 'cyc', instance: `c:${id}` }, at, 1001 + at));
          }
          at++;
          const body = compressed ? snappyUncompress(encoder.encodeCompressed(points)) : encoder.encode(points);
          assert.deepEqual(body, new WriteRequestEncoder().encode(points), `cycle ${c}`);
          assert.ok(encoder.cachedSeries <= bound, `cycle ${c}: ${encoder.cachedSeries} cached`);
          done += n;
        }
        hits.push(cycle - (encoder.seriesEncoded - before));
      }
      const label = compressed ? 'encodeCompressed' : 'encode';
      assert.equal(hits[0], 0, label);
      // A turn (every TURN_REFUSALS * bound / 20 = 4 cycles) may cost the hits of the cycle after
      // it; every other cycle hits the whole cached part.
      const full = hits.slice(1).filter((h) => h === bound).length;
      assert.ok(hits.every((h) => h >= 0 && h <= bound), `${label}: ${hits.join(',')}`);
      assert.ok(full >= 16, `${label}: ${full} of 23 cycles hit all ${bound} cached series (${hits.join(',')})`);
      assert.ok(hits.slice(1).reduce((x, y) => x + y, 0) >= 23 * bound * 0.7, `${label}: ${hits.join(',')}`);
    }
  });
});
