import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FUZZ_SEED } from '../../harness/fuzz.js';

import type { Labels, MetricFamily, Point } from '../../../core/model/metrics.js';
import { SnappyCompressor } from '../../../core/remotewrite/compress.js';
import { snappyUncompress, STALE_NAN_BYTES, WriteRequestEncoder, type EncoderOptions } from '../../../core/remotewrite/index.js';
import { rawSeries } from './wire.js';

fc.configureGlobal({ seed: FUZZ_SEED });

// encodeCompressed writes a snappy block without a match search; what counts is that every decoder
// reads it as exactly encode()'s bytes. Two decoders read it here: the native binding
// (snappyUncompress) and a strict one of this test's own, which also counts the element kinds so the
// tests can show which forms (1-, 2-, 4-byte offsets, long literals) they exercised.

interface Kinds {
  literals: number;
  longLiterals: number;
  copy1: number;
  copy2: number;
  copy4: number;
  maxOffset: number;
}

/** A strict snappy block decoder (format_description.txt): every length and offset checked. */
function strictUncompress(block: Uint8Array): { body: Buffer; kinds: Kinds } {
  const kinds: Kinds = { literals: 0, longLiterals: 0, copy1: 0, copy2: 0, copy4: 0, maxOffset: 0 };
  let pos = 0;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    const b = block[pos++];
    assert.ok(b !== undefined && shift < 35, 'preamble');
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  const out = Buffer.alloc(length);
  let op = 0;
  while (pos < block.length) {
    const tag = block[pos++];
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const bytes = n - 59;
        n = 0;
        for (let i = 0; i < bytes; i++) n += block[pos++] * 2 ** (8 * i);
        kinds.longLiterals++;
      }
      n += 1;
      assert.ok(pos + n <= block.length && op + n <= length, `literal of ${n} overruns`);
      out.set(block.subarray(pos, pos + n), op);
      pos += n;
      op += n;
      kinds.literals++;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      len = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | block[pos++];
      kinds.copy1++;
    } else if (kind === 2) {
      len = 1 + (tag >>> 2);
      offset = block[pos] | (block[pos + 1] << 8);
      pos += 2;
      kinds.copy2++;
    } else {
      len = 1 + (tag >>> 2);
      offset = (block[pos] | (block[pos + 1] << 8) | (block[pos + 2] << 16)) + block[pos + 3] * 2 ** 24;
      pos += 4;
      kinds.copy4++;
    }
    assert.ok(pos <= block.length, 'truncated copy');
    assert.ok(offset >= 1 && offset <= op, `copy offset ${offset} at ${op}`);
    assert.ok(op + len <= length, 'copy overruns the preamble length');
    for (let i = 0; i < len; i++, op++) out[op] = out[op - offset];
    if (offset > kinds.maxOffset) kinds.maxOffset = offset;
  }
  assert.equal(op, length, 'output shorter than the preamble says');
  return { body: out, kinds };
}

/** Checks that both decoders read `block` as `expected`; returns the element kinds. */
function assertDecodes(block: Buffer, expected: Uint8Array, what = ''): Kinds {
  const native = snappyUncompress(block);
  assert.ok(native.equals(expected), `native snappy: differs ${what}`);
  const { body, kinds } = strictUncompress(block);
  assert.ok(body.equals(expected), `strict decoder: differs ${what}`);
  return kinds;
}

const families: MetricFamily[] = [
  { name: 'go_pprof_heap_inuse_bytes', type: 'gauge', help: 'In-use heap bytes by function.', unit: 'bytes' },
  { name: 'go_pprof_goroutines', type: 'gauge', help: 'Goroutines by function.', unit: '' },
  { name: 'go_pprof_mutex_wait_seconds_total', type: 'counter', help: 'Mutex wait by function.', unit: 'seconds' },
  { name: 'go_gc_duration_seconds', type: 'summary', help: 'A summary of the pause duration of garbage collection cycles.', unit: 'seconds' },
];

/** One scrape as the benchmark makes it: fresh objects and strings, one timestamp. */
function scrape(series: number, b: number, functionPad = 0): Point[] {
  const out: Point[] = [];
  const t = 1_700_000_000_000 + b * 15_000;
  for (let s = 0; s < series; s++) {
    const family = families[s % 3];
    out.push({
      family,
      name: family.name,
      labels: {
        job: 'api',
        instance: `10.0.${(s >> 6) & 255}.${s & 63}:6060`,
        function: ['github.com/acme/api/internal/handler.(*Server).serve', 'x'.repeat(functionPad), String(s)].join(''),
        profile: ['heap', 'goroutine', 'mutex'][s % 3],
      },
      value: s * 1000.5 + b,
      timestampMs: t,
      stale: false,
    });
  }
  return out;
}

describe('WriteRequestEncoder.encodeCompressed', () => {
  it('decompresses to exactly encode()\'s bytes on random requests (series repeating across requests, fresh objects)', () => {
    const labelName = fc.constantFrom('job', 'instance', 'function', 'le', 'quantile', 'a', 'zz', '__name__');
    const labelValue = fc.oneof(
      fc.constantFrom('', 'api', 'api-2', '10.0.0.1:6060', '10.0.0.2:6060', '0.5', '+Inf'),
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.string({ minLength: 55, maxLength: 300 }), // literal runs past 60 bytes, two-byte label lengths
    );
    const template = fc.record({
      family: fc.nat(families.length - 1),
      suffix: fc.constantFrom('', '_sum', '_count'),
      labels: fc.dictionary(labelName, labelValue, { maxKeys: 5 }),
    });
    const sample = fc.record({
      series: fc.nat(),
      reorderKeys: fc.boolean(),
      // Values repeat in real data (unchanged counters, integer gauges): a small pool beside any double.
      value: fc.oneof(fc.double(), fc.constantFrom(0, 1, 42, 1e9, 1e9 + 1, -0, 0.5)),
      ts: fc.oneof(fc.constant(1_700_000_000_000), fc.constant(1_700_000_015_000), fc.integer({ min: -5000, max: 2 ** 42 }), fc.nat(100)),
      stale: fc.boolean(),
    });
    const options = fc.record({
      externalLabels: fc.option(fc.constantFrom<Labels>({ cluster: 'c1' }, { job: 'ext', region: 'r' }, { a: '' }), { nil: undefined }),
      maxCachedSeries: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
      initialBufferSize: fc.option(fc.integer({ min: 1, max: 256 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(template, { minLength: 1, maxLength: 12 }),
        fc.array(fc.record({ samples: fc.array(sample, { maxLength: 40 }), metadata: fc.boolean() }), { minLength: 1, maxLength: 5 }),
        options,
        (templates, requests, opts) => {
          const o: EncoderOptions = {};
          if (opts.externalLabels !== undefined) o.externalLabels = opts.externalLabels;
          if (opts.maxCachedSeries !== undefined) o.maxCachedSeries = opts.maxCachedSeries;
          if (opts.initialBufferSize !== undefined) o.initialBufferSize = opts.initialBufferSize;
          const plain = new WriteRequestEncoder(o);
          const fused = new WriteRequestEncoder(o);
          for (const request of requests) {
            const points: Point[] = request.samples.map((x) => {
              const t = templates[x.series % templates.length];
              const keys = Object.keys(t.labels);
              if (x.reorderKeys) keys.reverse();
              const labels: Labels = {};
              for (const k of keys) labels[k] = t.labels[k];
              const family = families[t.family];
              return { family, name: family.name + t.suffix, labels, value: x.value, timestampMs: x.ts, stale: x.stale };
            });
            const metadata = request.metadata ? families : [];
            const expected = Buffer.from(plain.encode(points, metadata));
            assertDecodes(fused.encodeCompressed(points, metadata), expected);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a series turning from new (a recipe used once) to cached (the recipe it keeps) writes the same bytes', () => {
    // Request 1: every series new; its recipe comes from scratch and is not kept. Request 2: the same
    // series (fresh objects) build the recipes they keep. Request 3: those kept recipes are used.
    // A series new in request 2 (and 3) among cached ones: both kinds side by side in one request.
    const plain = new WriteRequestEncoder();
    const fused = new WriteRequestEncoder();
    const extra = (b: number): Point[] => scrape(40, b).map((p) => ({ ...p, labels: { ...p.labels, job: `new-${b}` } }));
    const requests = [scrape(300, 0), [...scrape(300, 1), ...extra(1)], [...extra(2), ...scrape(300, 2), ...extra(1)]];
    const bodies: Buffer[] = [];
    for (const [i, points] of requests.entries()) {
      const body = fused.encodeCompressed(points);
      assertDecodes(body, Buffer.from(plain.encode(points)), `request ${i}`);
      bodies.push(body);
    }
    // Each equals what a fresh encoder writes for the new series alone, decoded the same.
    const fresh = new WriteRequestEncoder();
    assertDecodes(fresh.encodeCompressed(extra(2)), Buffer.from(new WriteRequestEncoder().encode(extra(2))), 'fresh');
    // The compressed size of the cached request stays close to the new one's: kept recipes are as good.
    assert.ok(bodies[2].length < 1.3 * bodies[0].length * (380 / 300), `${bodies[2].length} vs ${bodies[0].length}`);
  });

  it('stays correct when series come in another order or subset than before (recipes rebuilt)', () => {
    const plain = new WriteRequestEncoder();
    const fused = new WriteRequestEncoder();
    const base = scrape(300, 0);
    const orders: Point[][] = [
      base,
      [...scrape(300, 1)].reverse(),
      scrape(300, 2).filter((_, i) => i % 7 !== 3),
      scrape(300, 3).map((p, i, all) => all[(i * 37) % all.length]),
      scrape(300, 4),
    ];
    for (const [i, points] of orders.entries()) assertDecodes(fused.encodeCompressed(points), Buffer.from(plain.encode(points)), `request ${i}`);
  });

  it('writes stale markers as 02 00 00 00 00 00 f0 7f at their offset, after native snappy', () => {
    const fam = families[1];
    const point = (instance: string, value: number, ts: number, stale = false): Point => ({ family: fam, name: fam.name, labels: { job: 't', instance }, value, timestampMs: ts, stale });
    const enc = new WriteRequestEncoder();
    // Twice: the second request takes the cached recipes (copies), the first writes literals.
    for (let round = 0; round < 2; round++) {
      const points = [point('live', 12, 1000), point('gone', 7, 1000), point('gone', 0, 2000, true), point('also-gone', 0, 2000, true)];
      const body = snappyUncompress(enc.encodeCompressed(points));
      const series = rawSeries(body);
      const gone = series.find((s) => s.labels.some(([n, v]) => n === 'instance' && v === 'gone'));
      assert.ok(gone);
      assert.deepEqual(gone.samples.map((x) => x.timestamp), [1000, 2000]);
      const at = gone.samples[1].valueOffset;
      assert.equal(body.subarray(at, at + 8).toString('hex'), '020000000000f07f');
      assert.equal(body.readDoubleLE(gone.samples[0].valueOffset), 7);
      const also = series.find((s) => s.labels.some(([, v]) => v === 'also-gone'));
      assert.ok(also);
      assert.ok(body.subarray(also.samples[0].valueOffset, also.samples[0].valueOffset + 8).equals(STALE_NAN_BYTES));
      const live = series.find((s) => s.labels.some(([, v]) => v === 'live'));
      assert.ok(live);
      assert.equal(body.readDoubleLE(live.samples[0].valueOffset), 12);
    }
  });

  it('requests over 64 KiB: copies reach back past 64 KiB with 4-byte offsets', () => {
    const plain = new WriteRequestEncoder();
    const fused = new WriteRequestEncoder();
    // First requests: series A then B, so B's recipe copies from A (twice: a series keeps the recipe
    // of its second write; its first is used once). Then A, 2,000 other series (~400 KiB), then B:
    // B's copies now reach ~400 KiB back.
    const fam = families[0];
    const mk = (name: string, labels: Labels): Point => ({ family: fam, name, labels, value: 1.5, timestampMs: 1_700_000_000_000, stale: false });
    const a = (): Point => mk('far_metric', { job: 'far-away-job', instance: 'far-away-instance:9100', function: 'pkg.(*Far).Function1' });
    const b = (): Point => mk('far_metric', { job: 'far-away-job', instance: 'far-away-instance:9100', function: 'pkg.(*Far).Function2' });
    for (let r = 0; r < 2; r++) {
      const first = [a(), b()];
      assertDecodes(fused.encodeCompressed(first), Buffer.from(plain.encode(first)));
    }
    const second = [a(), ...scrape(2000, 1), b()];
    const expected = Buffer.from(plain.encode(second));
    assert.ok(expected.length > 64 * 1024);
    const kinds = assertDecodes(fused.encodeCompressed(second), expected);
    assert.ok(kinds.copy4 > 0 && kinds.maxOffset > 0xffff, JSON.stringify(kinds));
    assert.ok(kinds.copy1 > 0 && kinds.copy2 > 0, JSON.stringify(kinds));
  });

  it('requests over 4 MiB, and long literals (labels past 60 bytes, first scrape)', () => {
    const plain = new WriteRequestEncoder();
    const fused = new WriteRequestEncoder();
    for (let b = 0; b < 2; b++) {
      const points = scrape(20_000, b, 60);
      const expected = Buffer.from(plain.encode(points, families));
      assert.ok(expected.length > 4 * 1024 * 1024, `${expected.length} bytes`);
      const block = fused.encodeCompressed(points, families);
      const kinds = assertDecodes(block, expected, `request ${b}`);
      assert.ok(kinds.longLiterals > 0);
      // Label bytes repeat from series to series: the block is a fraction of the request.
      assert.ok(block.length < expected.length / 4, `${block.length} of ${expected.length}`);
    }
  });

  it('returns a Buffer of its own: the next request leaves it unchanged', () => {
    const enc = new WriteRequestEncoder({ initialBufferSize: 16 });
    const first = enc.encodeCompressed(scrape(50, 0));
    const copy = Buffer.from(first);
    enc.encodeCompressed(scrape(500, 1));
    enc.encodeCompressed(scrape(5, 2));
    assert.ok(first.equals(copy));
    assert.equal(first.byteOffset, 0);
    assert.equal(first.buffer.byteLength, first.length);
  });

  it('compresses scrapes about as well as a snappy compressor (within 1.5x of SnappyCompressor)', () => {
    const enc = new WriteRequestEncoder();
    const compressor = new SnappyCompressor();
    for (let b = 0; b < 3; b++) {
      const points = scrape(2000, b);
      const fused = enc.encodeCompressed(points).length;
      const snappy = compressor.compress(new WriteRequestEncoder().encode(points)).length;
      assert.ok(fused < snappy * 1.5, `fused ${fused} bytes, snappy ${snappy}`);
    }
  });

  it('an empty request and metadata alone', () => {
    const enc = new WriteRequestEncoder();
    const plain = new WriteRequestEncoder();
    assertDecodes(enc.encodeCompressed([]), Buffer.from(plain.encode([])));
    assertDecodes(enc.encodeCompressed([], families), Buffer.from(plain.encode([], families)));
  });
});
