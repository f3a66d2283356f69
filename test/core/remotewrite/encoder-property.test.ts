// Property tests of the remote-write encoder against an independent decoder (protobufjs, with exact
// int64s) and an independent statement of what the receiver must get: for each point, its own
// non-empty labels, the external labels it lacks, and __name__, sorted; one series per label set;
// samples in timestamp order (stable); timestamps exact. Every case builds a fresh encoder, since the
// bugs that matter live in the first requests of one (a first labels object of {} once gave every
// name-only series an empty label set), and every sequence starts with name-only points.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FUZZ_SEED } from '../../harness/fuzz.js';

import { labelsIdentity, makeLabels, type Labels, type MetricFamily, type Point } from '../../../core/model/metrics.js';
import { InvalidTimestampError, snappyUncompress, WriteRequestEncoder, withValidTimestamps } from '../../../core/remotewrite/index.js';
import { ProtoWriter, putUvarint, uvarintSize } from '../../../core/remotewrite/writer.js';
import { decodeWriteRequestExact, staleSampleOffsets } from './reference-decoder.js';

fc.configureGlobal({ seed: FUZZ_SEED });

const family: MetricFamily = { name: 'cluster:cpu:sum', type: 'gauge', help: 'A recording rule.', unit: '' };

/** The varint of v (0 <= v < 2^64) by BigInt, byte by byte: the reference for the writer's. */
function referenceUvarint(v: bigint): number[] {
  const out: number[] = [];
  let x = v;
  while (x > 0x7fn) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

/** Integers a double holds exactly at each varint-size boundary 2^(7k) (k = 1..9), either side, and up to 2^64. */
function boundaries(): number[] {
  const out = [0, 1, 127, 128, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53];
  for (let k = 1; k <= 9; k++) {
    const b = 2 ** (7 * k);
    // Below 2^53 every integer is a double; above, the neighbours of b are b -/+ its spacing.
    const below = b <= 2 ** 53 ? b - 1 : b - 2 ** (Math.floor(Math.log2(b)) - 53);
    out.push(below, b, b + (b < 2 ** 53 ? 1 : 2 ** (Math.floor(Math.log2(b)) - 52)));
  }
  for (const e of [56, 60, 62, 63]) out.push(2 ** e);
  out.push(2 ** 64 - 2 ** 11); // the largest double below 2^64
  return out;
}

describe('varints to 2^64', () => {
  it('uvarintSize and putUvarint agree with a BigInt encoder at every size boundary and on random integer doubles below 2^64', () => {
    const check = (v: number): void => {
      const expected = referenceUvarint(BigInt(v));
      const buf = new Uint8Array(16);
      const end = putUvarint(buf, 3, v);
      assert.deepEqual([...buf.subarray(3, end)], expected, `putUvarint(${v})`);
      assert.equal(uvarintSize(v), expected.length, `uvarintSize(${v})`);
      const w = new ProtoWriter(1);
      w.uvarint(v);
      assert.deepEqual([...w.view()], expected, `ProtoWriter.uvarint(${v})`);
    };
    for (const v of boundaries()) check(v);
    // 2^62 once came out as five bytes that decode to 0.
    assert.deepEqual(referenceUvarint(2n ** 62n).length, 9);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (big) => {
        const v = Number(big); // rounds to a double; may round up to 2^64 itself, which has no varint
        if (v >= 2 ** 64) return;
        check(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('a negative int64 is ten bytes, and -1 is 2^64 - 1 (ff x9 01)', () => {
    const w = new ProtoWriter(1);
    w.int64(-1);
    assert.deepEqual([...w.view()], referenceUvarint(2n ** 64n - 1n));
    assert.deepEqual([...w.view()], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    w.reset();
    w.int64(-(2 ** 53) + 1);
    assert.deepEqual([...w.view()], referenceUvarint(BigInt.asUintN(64, -(2n ** 53n) + 1n)));
  });
});

interface Template {
  name: string;
  labels: Labels;
}

/** What the receiver must get for a point (design.md): the label set, sorted, as `name=value` pairs. */
function expectedLabels(p: Point, external: Labels): string[] {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(p.labels)) if (k !== '__name__' && v !== '') m.set(k, v);
  for (const [k, v] of Object.entries(external)) if (k !== '__name__' && v !== '' && !m.has(k)) m.set(k, v);
  m.set('__name__', p.name);
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
}

/** The request's series as the reference decoder reads them: label text -> [value, timestamp text]. */
function decodedSeries(body: Uint8Array): Map<string, Array<[number, string]>> {
  const out = new Map<string, Array<[number, string]>>();
  for (const s of decodeWriteRequestExact(body).timeseries) {
    const key = s.labels.map((l) => `${l.name}=${l.value}`).join(',');
    assert.ok(!out.has(key), `series ${key} twice in one request`);
    // Valid as Prometheus takes it: __name__ present, names unique and sorted, no empty value.
    const names = s.labels.map((l) => l.name);
    assert.ok(names.includes('__name__'), `series without __name__: {${key}}`);
    for (let i = 1; i < names.length; i++) assert.ok(names[i - 1] < names[i], `labels not sorted and unique: ${key}`);
    for (const l of s.labels) assert.notEqual(l.value, '', `empty label value: ${key}`);
    out.set(
      key,
      s.samples.map((x) => [x.value, x.timestamp]),
    );
  }
  return out;
}

/** The series and samples a list of valid points must become, built without the encoder. */
function expectedSeries(points: readonly Point[], external: Labels): Map<string, Array<[number, string]>> {
  const grouped = new Map<string, Point[]>();
  for (const p of points) {
    const key = expectedLabels(p, external).join(',');
    let list = grouped.get(key);
    if (list === undefined) grouped.set(key, (list = []));
    list.push(p);
  }
  const out = new Map<string, Array<[number, string]>>();
  for (const [key, list] of grouped) {
    // Array.prototype.sort is stable: equal timestamps keep their input order.
    const sorted = [...list].sort((a, b) => a.timestampMs - b.timestampMs);
    out.set(
      key,
      sorted.map((p) => [p.stale ? NaN : p.value, BigInt(p.timestampMs).toString()]),
    );
  }
  return out;
}

function assertSameSeries(actual: Map<string, Array<[number, string]>>, expected: Map<string, Array<[number, string]>>, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: label sets`);
  for (const [key, samples] of expected) {
    const got = actual.get(key)!;
    assert.equal(got.length, samples.length, `${what}: samples of {${key}}`);
    for (let i = 0; i < samples.length; i++) {
      assert.equal(got[i][1], samples[i][1], `${what}: timestamp ${i} of {${key}}`);
      assert.ok(Object.is(got[i][0], samples[i][0]), `${what}: value ${i} of {${key}}: ${got[i][0]} != ${samples[i][0]}`);
    }
  }
}

// Timestamps over the whole int64 range and past it: the encodable ones (safe integers, at the varint
// size boundaries too) and the ones that must be dropped first (past 2^53, fractions, NaN, infinities).
const EDGE_TIMESTAMPS = [0, -1, 127, 128, 2 ** 35, 2 ** 42, 2 ** 49 - 1, 2 ** 49, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 2 ** 56, 2 ** 60, 2 ** 62, 2 ** 63, -(2 ** 63), 1.5, NaN, Infinity, -Infinity];
const timestamp = fc.oneof(
  fc.constantFrom(1_700_000_000_000, 1_700_000_015_000),
  fc.constantFrom(...EDGE_TIMESTAMPS),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n }).map(Number),
);
const labelName = fc.constantFrom('job', 'instance', 'cluster', 'env', 'a', 'zz', '__name__');
const labelValue = fc.oneof(fc.constantFrom('', 'api', 'c1', 'prod', '10.0.0.1:6060'), fc.string({ maxLength: 12 }));
const metricName = fc.constantFrom('cluster:cpu:sum', 'up', 'go_goroutines', 'job:requests:rate5m');
const externalLabels = fc.constantFrom<Labels>({}, { cluster: 'c1' }, { cluster: 'c1', env: 'prod' }, { env: '' }, { __name__: 'ignored', zz: 'z' });

describe('WriteRequestEncoder: every label set and timestamp, fresh encoder per case', () => {
  it('name-only points first, then labelled ones, with and without external labels: the series a decoder reads are exactly the expected ones', () => {
    const template = fc.record({ name: metricName, labels: fc.dictionary(labelName, labelValue, { maxKeys: 4 }) });
    const sample = fc.record({ series: fc.nat(), value: fc.oneof(fc.double(), fc.constantFrom(0, 1, -0)), ts: timestamp, stale: fc.boolean() });
    fc.assert(
      fc.property(
        fc.array(metricName, { minLength: 1, maxLength: 3 }),
        fc.array(template, { maxLength: 6 }),
        fc.array(fc.array(sample, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 4 }),
        externalLabels,
        fc.boolean(),
        (nameOnly, labelled, requests, external, compressed) => {
          // The name-only templates come first, as a recording rule's series would in a fresh pipeline.
          const templates: Template[] = [...nameOnly.map((name) => ({ name, labels: {} })), ...labelled];
          const encoder = new WriteRequestEncoder({ externalLabels: external });
          for (const [r, request] of requests.entries()) {
            // Request 0 opens with a name-only point whatever the draw picked.
            const all: Point[] = request.map((x, i) => {
              const t = templates[r === 0 && i === 0 ? 0 : x.series % templates.length];
              return { family, name: t.name, labels: { ...t.labels }, value: x.value, timestampMs: x.ts, stale: x.stale };
            });
            const points = withValidTimestamps(all);
            assert.equal(
              all.length - points.length,
              all.filter((p) => !Number.isSafeInteger(p.timestampMs)).length,
              'withValidTimestamps drops exactly the timestamps that are not safe integers',
            );
            const body = compressed ? snappyUncompress(encoder.encodeCompressed(points)) : Buffer.from(encoder.encode(points));
            assertSameSeries(decodedSeries(body), expectedSeries(points, external), `request ${r}`);
            assert.equal(staleSampleOffsets(body).length, points.filter((p) => p.stale).length, `request ${r}: stale markers`);
          }
        },
      ),
      { numRuns: 600 },
    );
  });

  it('labels that carry their identity (in any key order, beside copies without one): the same series, whatever characters they hold', () => {
    // The series cache is keyed by the identity key labels carry (core/model/metrics.ts) or by one the
    // encoder computes in the same form: both must name one series for one label set and two for two,
    // with \xfd/\xfe/\xff (the key's separators and escape), non-ASCII, empty values, an own label
    // equal to an external one, and names like Object.prototype's members.
    const chars = ['a', 'x', ':', '1', '\u00fd', '\u00fe', '\u00ff', '\u00e9', '\u4e16'];
    const text = fc.array(fc.constantFrom(...chars), { maxLength: 4 }).map((a) => a.join(''));
    const oddName = fc.oneof(fc.constantFrom('job', 'a', 'cluster', '__name__', 'toString', '__proto__', 'a\u00ffb', '1:a'), text.filter((t) => t !== ''));
    const oddValue = fc.oneof(fc.constantFrom('', 'c1', 'x'), text);
    const oddMetric = fc.constantFrom('m', 'm\u00ffa\u00fex', 'm\u00fd1:a1:\u00ff', 'caf\u00e9');
    const template = fc.record({ name: oddMetric, labels: fc.array(fc.tuple(oddName, oddValue), { maxLength: 4 }) });
    const use = fc.record({ series: fc.nat(), carry: fc.boolean(), reversed: fc.boolean() });
    const external = fc.constantFrom<Labels>({}, { cluster: 'c1' }, { a: 'x', toString: '\u00ff' });
    fc.assert(
      fc.property(
        fc.array(template, { minLength: 1, maxLength: 6 }),
        fc.array(fc.array(use, { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 3 }),
        external,
        fc.boolean(),
        (drawn, requests, ext, compressed) => {
          // Beside the drawn ones, label sets one character apart from each other's keys: in the plain
          // key form the first two are one text, and the next two differ only by the external label.
          const templates = [
            { name: 'm', labels: [['a', 'x\u00ffb\u00fey']] as Array<[string, string]> },
            { name: 'm', labels: [['a', 'x'], ['b', 'y']] as Array<[string, string]> },
            { name: 'm', labels: [['cluster', 'c1'], ['a', '\u00ff']] as Array<[string, string]> },
            { name: 'm', labels: [['a', '\u00ff'], ['toString', '\u00ff']] as Array<[string, string]> },
            ...drawn,
          ];
          const encoder = new WriteRequestEncoder({ externalLabels: ext });
          let ts = 1_700_000_000_000;
          for (const [r, request] of requests.entries()) {
            const points: Point[] = request.map((u) => {
              const t = templates[u.series % templates.length];
              const labels = makeLabels();
              for (const [n, v] of u.reversed ? [...t.labels].reverse() : t.labels) labels[n] = v;
              if (u.carry) labelsIdentity(labels);
              return { family, name: t.name, labels, value: ts, timestampMs: ts++, stale: false };
            });
            const body = compressed ? snappyUncompress(encoder.encodeCompressed(points)) : Buffer.from(encoder.encode(points));
            assertSameSeries(decodedSeries(body), expectedSeries(points, ext), `request ${r}`);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a fresh encoder whose first point has labels {} sends the name and the external labels', () => {
    for (const compressed of [false, true]) {
      const encoder = new WriteRequestEncoder({ externalLabels: { cluster: 'c1' } });
      const points: Point[] = [
        { family, name: 'cluster:cpu:sum', labels: {}, value: 1, timestampMs: 1000, stale: false },
        { family, name: 'cluster:mem:sum', labels: {}, value: 2, timestampMs: 1000, stale: false },
        { family, name: 'up', labels: { job: 'a' }, value: 1, timestampMs: 1000, stale: false },
      ];
      const body = compressed ? snappyUncompress(encoder.encodeCompressed(points)) : Buffer.from(encoder.encode(points));
      assert.deepEqual([...decodedSeries(body).keys()], ['__name__=cluster:cpu:sum,cluster=c1', '__name__=cluster:mem:sum,cluster=c1', '__name__=up,cluster=c1,job=a']);
    }
  });

  it('a timestamp that is not a safe integer is refused with a coded error, and the encoder goes on working', () => {
    const encoder = new WriteRequestEncoder();
    const good: Point = { family, name: 'up', labels: { job: 'a' }, value: 1, timestampMs: 1000, stale: false };
    for (const ts of [2 ** 53, 2 ** 62, NaN, 1.5, -Infinity]) {
      assert.throws(
        () => encoder.encode([good, { ...good, labels: { job: 'b' }, timestampMs: ts }]),
        (err: unknown) => err instanceof InvalidTimestampError && err.code === 'ERR_INVALID_TIMESTAMP',
      );
      const body = Buffer.from(encoder.encode([good, { ...good, labels: { job: 'b' }, timestampMs: 2000 }]));
      assert.deepEqual([...decodedSeries(body).keys()], ['__name__=up,job=a', '__name__=up,job=b']);
    }
  });
});
