// The pprof protobuf decoder: on profiles recorded from real Go programs, checked against pprof-format
// (an independent decoder, npm), and on hand-built wire bytes for what recordings do not contain
// (packed and unpacked fields, inline frames, huge ids, negative values) and for malformed input.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeProfile, isRuntimeFrame, UNKNOWN_FUNCTION } from '../../../core/pprof/decode.js';
import { MAX_FUNCTIONS, ProfileDecodeError } from '../../../core/pprof/text.js';
import { distinctIdRecords, emptyStrings, millionFunctions } from '../../harness/crafted.js';
import { repoRoot } from '../../harness/servers.js';
import { assertSameSummary, reference, workingBytesOf } from './reference.js';

const PROGRAMS = ['prometheus-2.42', 'goprog'] as const;
const PROFILES = ['heap', 'allocs', 'goroutine', 'mutex', 'block', 'threadcreate', 'cpu'] as const;

const testdata = (file: string) => readFileSync(path.join(repoRoot(), 'test', 'testdata', file));

/** Contention profiles end in the lock API (sync.(*Mutex).Unlock): skip it too, to reach the caller. */
const skipRuntimeAndSync = (name: string) => isRuntimeFrame(name) || name.startsWith('sync.');

describe('decodeProfile on recorded profiles', () => {
  for (const program of PROGRAMS) {
    for (const name of PROFILES) {
      it(`${program}/${name}.pb.gz: same totals and per-function sums as pprof-format`, () => {
        const gz = testdata(`${program}/${name}.pb.gz`);
        const raw = gunzipSync(gz);
        for (const [label, skip] of [['no skipFrame', undefined], ['isRuntimeFrame', isRuntimeFrame], ['runtime and sync', skipRuntimeAndSync]] as const) {
          const expected = reference(raw, skip);
          assertSameSummary(decodeProfile(gz, { skipFrame: skip }), expected, `${program}/${name} gzipped, ${label}`);
          assertSameSummary(decodeProfile(raw, { skipFrame: skip }), expected, `${program}/${name} raw, ${label}`);
        }
      });
    }

    it(`${program}: goroutine total agrees with goroutine.debug1.txt of the same recording`, () => {
      const summary = decodeProfile(testdata(`${program}/goroutine.pb.gz`));
      const debug1 = Number(/^goroutine profile: total (\d+)/.exec(testdata(`${program}/goroutine.debug1.txt`).toString())![1]);
      // scripts/record-testdata.sh fetches ?debug=1 and the protobuf in separate requests moments
      // apart: only the goroutines serving those requests (a reader and a handler per connection)
      // may differ between the two, so a few either way, never a different order of magnitude.
      assert.ok(Math.abs(summary.totals[0] - debug1) <= 4, `protobuf ${summary.totals[0]}, debug=1 ${debug1}`);
    });
  }

  it('goprog goroutine: >= 200 goroutines attributed to main.parkedWorker past runtime frames', () => {
    const summary = decodeProfile(testdata('goprog/goroutine.pb.gz'), { skipFrame: isRuntimeFrame });
    assert.deepEqual([summary.columns, summary.units], [['goroutine'], ['count']]);
    const parked = summary.byFunction.get('main.parkedWorker');
    assert.ok(parked !== undefined && parked[0] >= 200, `main.parkedWorker: ${parked?.[0]}`);
    // Without skipping, the leaf is the scheduler's park function, not ours.
    assert.equal(decodeProfile(testdata('goprog/goroutine.pb.gz')).byFunction.get('main.parkedWorker'), undefined);
  });

  it('goprog mutex: contention delay attributed to main.contendLock', () => {
    const summary = decodeProfile(testdata('goprog/mutex.pb.gz'), { skipFrame: skipRuntimeAndSync });
    const delay = summary.columns.indexOf('delay');
    assert.equal(summary.units[delay], 'nanoseconds');
    const top = [...summary.byFunction].sort((a, b) => b[1][delay] - a[1][delay])[0];
    assert.equal(top[0], 'main.contendLock');
    assert.ok(top[1][delay] > 0);
    // With Go's default filter the lock wrapper is kept, as isRuntimeFrame documents.
    const byDefault = decodeProfile(testdata('goprog/mutex.pb.gz'), { skipFrame: isRuntimeFrame });
    assert.ok((byDefault.byFunction.get('sync.(*Mutex).Unlock')?.[delay] ?? 0) > 0);
  });

  it('goprog block: delay attributed to main.contendLock and main.blockOnChannel', () => {
    const summary = decodeProfile(testdata('goprog/block.pb.gz'), { skipFrame: skipRuntimeAndSync });
    const delay = summary.columns.indexOf('delay');
    assert.ok(delay >= 0);
    for (const fn of ['main.contendLock', 'main.blockOnChannel']) {
      assert.ok((summary.byFunction.get(fn)?.[delay] ?? 0) > 0, `${fn} has no block delay`);
    }
  });

  it('prometheus-2.42 mutex and block: enabled by nobody, so no samples but the sample types', () => {
    for (const name of ['mutex', 'block']) {
      const summary = decodeProfile(testdata(`prometheus-2.42/${name}.pb.gz`));
      assert.equal(summary.sampleCount, 0);
      assert.deepEqual(summary.totals, [0, 0]);
      assert.equal(summary.byFunction.size, 0);
    }
  });
});

describe('isRuntimeFrame', () => {
  it('skips runtime internals and keeps lock wrappers and user code', () => {
    for (const name of ['runtime.gopark', 'runtime.chanrecv1', 'runtime/internal/syscall.Syscall6', 'internal/poll.(*FD).Read', 'internal/sync.(*Mutex).lockSlow', 'internal/runtime/syscall/linux.Syscall6']) {
      assert.equal(isRuntimeFrame(name), true, name);
    }
    for (const name of ['sync.(*Mutex).Lock', 'sync.(*Mutex).Unlock', 'sync.(*WaitGroup).Wait', 'main.parkedWorker', 'runtime/pprof.writeGoroutine', 'net/http.(*conn).serve', 'runtimex.Foo', '']) {
      assert.equal(isRuntimeFrame(name), false, name);
    }
  });
});

// ---- hand-built profiles -------------------------------------------------------------------------------

/** A minimal protobuf writer for test input: fields are appended in the order written. */
class Pb {
  readonly bytes: number[] = [];
  varint(v: bigint | number): this {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.bytes.push(Number(x));
    return this;
  }
  tag(field: number, wireType: number): this {
    return this.varint((field << 3) | wireType);
  }
  int(field: number, v: bigint | number): this {
    return this.tag(field, 0).varint(v);
  }
  bytesField(field: number, payload: Uint8Array | number[]): this {
    this.tag(field, 2).varint(payload.length);
    this.bytes.push(...payload);
    return this;
  }
  msg(field: number, m: Pb): this {
    return this.bytesField(field, m.bytes);
  }
  str(field: number, s: string): this {
    return this.bytesField(field, [...Buffer.from(s)]);
  }
  packed(field: number, values: (bigint | number)[]): this {
    const inner = new Pb();
    for (const v of values) inner.varint(v);
    return this.bytesField(field, inner.bytes);
  }
  get buf(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

interface TestProfile {
  strings: string[];
  sampleTypes: [number, number][];
  functions: [bigint | number, number][]; // id, name string index
  locations: [bigint | number, (bigint | number)[]][]; // id, function ids of lines (innermost first)
  samples: { locations: (bigint | number)[]; values: (bigint | number)[] }[];
  packed?: boolean;
  samplesFirst?: boolean;
}

function encodeProfile(t: TestProfile): Uint8Array {
  const p = new Pb();
  const samples = () => {
    for (const s of t.samples) {
      const m = new Pb();
      if (t.packed ?? true) m.packed(1, s.locations).packed(2, s.values);
      else {
        for (const l of s.locations) m.int(1, l);
        for (const v of s.values) m.int(2, v);
      }
      p.msg(2, m);
    }
  };
  for (const [type, unit] of t.sampleTypes) p.msg(1, new Pb().int(1, type).int(2, unit));
  if (t.samplesFirst ?? true) samples();
  for (const [id, lines] of t.locations) {
    const m = new Pb().int(1, id).int(3, 0x401000);
    for (const fn of lines) m.msg(4, new Pb().int(1, fn).int(2, 42));
    p.msg(4, m);
  }
  for (const [id, name] of t.functions) p.msg(5, new Pb().int(1, id).int(2, name).int(4, 0));
  for (const s of t.strings) p.str(6, s);
  if (!(t.samplesFirst ?? true)) samples();
  p.int(9, 1_700_000_000_000_000_000n).int(10, 3_000_000_000).msg(11, new Pb().int(1, 1).int(2, 2)).int(12, 10_000_000);
  return p.buf;
}

/** strings: 0 "", 1 samples, 2 count, 3 runtime.gopark, 4 main.work (inlined into) 5 main.loop, 6 main.work again. */
const BASE: TestProfile = {
  strings: ['', 'samples', 'count', 'runtime.gopark', 'main.work', 'main.loop', 'main.work'],
  sampleTypes: [[1, 2], [1, 2]],
  functions: [[1, 3], [2, 4], [3, 5], [4, 6]],
  locations: [[10, [1]], [11, [2, 3]], [12, [4]]],
  samples: [
    { locations: [10, 11], values: [1, 100] }, // runtime.gopark <- main.work (inlined in main.loop)
    { locations: [10], values: [2, 200] }, // runtime only
    { locations: [12, 11], values: [3, 300] }, // main.work under another string index
    { locations: [], values: [4, 400] }, // no frame
  ],
};

function decodeError(data: Uint8Array, pattern: RegExp): void {
  assert.throws(() => decodeProfile(data), (err: unknown) => {
    assert.ok(err instanceof ProfileDecodeError, `not a ProfileDecodeError: ${String(err)}`);
    assert.match(err.message, pattern);
    assert.equal(err.code, 'ERR_PROFILE_DECODE');
    return true;
  });
}

describe('decodeProfile on hand-built wire bytes', () => {
  it('attributes past skipped frames, through inline frames, and merges equal names', () => {
    const s = decodeProfile(encodeProfile(BASE), { skipFrame: isRuntimeFrame });
    assert.deepEqual([s.columns, s.units], [['samples', 'samples'], ['count', 'count']]);
    assert.deepEqual(s.periodType, { type: 'samples', unit: 'count' });
    assert.equal(s.period, 10_000_000);
    assert.equal(s.timeNanos, 1_700_000_000_000_000_000);
    assert.equal(s.durationSeconds, 3);
    assert.equal(s.sampleCount, 4);
    assert.deepEqual(s.totals, [10, 1000]);
    assert.deepEqual(
      [...s.byFunction].sort(),
      [[UNKNOWN_FUNCTION, [4, 400]], ['main.work', [4, 400]], ['runtime.gopark', [2, 200]]].sort(),
    );
    const noSkip = decodeProfile(encodeProfile(BASE));
    assert.deepEqual(noSkip.byFunction.get('runtime.gopark'), [3, 300]);
    // Skipping main.work too reaches the caller it was inlined into.
    const deeper = decodeProfile(encodeProfile(BASE), { skipFrame: (n) => isRuntimeFrame(n) || n === 'main.work' });
    assert.deepEqual(deeper.byFunction.get('main.loop'), [4, 400]);
    assert.equal(deeper.byFunction.get('main.work'), undefined);
    assert.deepEqual(deeper.byFunction.get('runtime.gopark'), [2, 200], 'every frame skipped: the leaf frame');
  });

  it('reads packed and unpacked repeated fields alike, samples before or after the tables', () => {
    const expected = decodeProfile(encodeProfile(BASE));
    for (const variant of [{ packed: false }, { samplesFirst: false }, { packed: false, samplesFirst: false }]) {
      assert.deepEqual(decodeProfile(encodeProfile({ ...BASE, ...variant })), expected, JSON.stringify(variant));
    }
    // A mix within one sample: packed and unpacked location ids and values, and an empty packed run.
    const p = new Pb().msg(1, new Pb().int(1, 1).int(2, 2)).msg(1, new Pb().int(1, 1).int(2, 2));
    p.msg(2, new Pb().packed(1, [10]).int(2, 5).int(1, 11).packed(2, [6]).packed(2, []));
    p.msg(4, new Pb().int(1, 10).msg(4, new Pb().int(1, 1))).msg(4, new Pb().int(1, 11).msg(4, new Pb().int(1, 2)));
    p.msg(5, new Pb().int(1, 1).int(2, 3)).msg(5, new Pb().int(1, 2).int(2, 4));
    for (const str of ['', 'samples', 'count', 'runtime.gopark', 'main.work']) p.str(6, str);
    const mixed = decodeProfile(p.buf, { skipFrame: isRuntimeFrame });
    assert.deepEqual(mixed.totals, [5, 6]);
    assert.deepEqual([...mixed.byFunction], [['main.work', [5, 6]]]);
    p.msg(2, new Pb().packed(1, [10]).packed(2, [1, 2, 3]));
    assert.throws(() => decodeProfile(p.buf), /has more than 2 values \(one per sample_type\): extra value at byte offset \d+/);
  });

  it('reads negative int64 values, and refuses ids beyond 2n + 16 while reading (Go numbers them 1..n)', () => {
    const s = decodeProfile(
      encodeProfile({
        ...BASE,
        samples: [
          { locations: [10], values: [1, -5] },
          { locations: [11], values: [2, -9_007_199_254_740_991n] },
          { locations: [12], values: [3, 9_007_199_254_740_991n] },
        ],
      }),
    );
    assert.deepEqual(s.byFunction.get('runtime.gopark'), [1, -5]);
    assert.deepEqual(s.byFunction.get('main.work'), [5, 9_007_199_254_740_991 - 9_007_199_254_740_991]);
    // 4 functions: ids up to 2 x 4 + 16 - 1 = 23 are accepted, 24 and uint64 ids beyond 2^53 are not.
    assert.doesNotThrow(() => decodeProfile(encodeProfile({ ...BASE, functions: [[23, 3], [2, 4], [3, 5], [4, 6]], locations: [[10, [23]], [11, [2, 3]], [12, [4]]] })));
    decodeError(encodeProfile({ ...BASE, functions: [[24, 3], [2, 4], [3, 5], [4, 6]] }), /function id 24 at byte offset \d+ is out of range: the profile has 4 functions/);
    decodeError(encodeProfile({ ...BASE, locations: [[2n ** 64n - 1n, [1]], ...BASE.locations.slice(1)] }), /location id 18446744073709552000 at byte offset \d+ is out of range/);
  });

  it('accepts a profile without samples, and skips fields it does not use (mappings, labels, comments)', () => {
    const p = new Pb().msg(1, new Pb().int(1, 1).int(2, 2)).msg(3, new Pb().int(1, 1).int(2, 0x400000).str(5, 'x'));
    p.tag(20, 1).bytes.push(1, 2, 3, 4, 5, 6, 7, 8);
    p.tag(21, 5).bytes.push(1, 2, 3, 4);
    p.packed(13, [1, 2]);
    for (const s of ['', 'samples', 'count']) p.str(6, s);
    const s = decodeProfile(p.buf);
    assert.equal(s.sampleCount, 0);
    assert.deepEqual(s.totals, [0]);
    assert.equal(s.periodType, undefined);
  });

  it('rejects malformed input with ProfileDecodeError naming what and where', () => {
    const good = encodeProfile(BASE);
    decodeError(new Uint8Array(0), /empty profile/);
    decodeError(good.subarray(0, good.length - 3), /byte offset \d+/);
    decodeError(Uint8Array.from([0x48, 0x80]), /truncated varint at byte offset 1/);
    decodeError(Uint8Array.from([0x48, ...new Array<number>(10).fill(0xff), 0x01]), /varint at byte offset 1 is longer than 10 bytes/);
    decodeError(Uint8Array.from([0x0a, 0x05, 0x08]), /length 5 at byte offset 1 runs past the end/);
    decodeError(Uint8Array.from([0xa6, 0x01, 0x00]), /unknown wire type 6 \(field 20\) in tag at byte offset 0/);
    decodeError(Uint8Array.from([0x4e, 0x00]), /Profile.time_nanos has wire type 6, expected 0, in tag at byte offset 0/);
    decodeError(Uint8Array.from([0x00, 0x00]), /invalid field number 0 in tag at byte offset 0/);
    decodeError(Uint8Array.from([0x48, 0x01]), /string_table\[0\] must be the empty string/);
    decodeError(Uint8Array.from([0x12, 0x00, 0x32, 0x01, 0x41]), /string_table\[0\]/);
    decodeError(Uint8Array.from([0x0a, 0x02, 0x08, 0x07, 0x32, 0x00]), /sample_type type at byte offset 0 references string 7, but the string table has 1 entries/);
    decodeError(encodeProfile({ ...BASE, functions: [[1, 99], ...BASE.functions.slice(1)] }), /function id 1: its name at byte offset \d+ references string 99/);
    decodeError(encodeProfile({ ...BASE, functions: BASE.functions.slice(1) }), /location id 10: line at byte offset \d+ references missing function id 1/);
    decodeError(encodeProfile({ ...BASE, samples: [{ locations: [77], values: [1, 1] }] }), /sample references missing location id 77 at byte offset \d+/);
    decodeError(encodeProfile({ ...BASE, samples: [{ locations: [10], values: [1] }] }), /sample at byte offset \d+ has 1 values, expected 2/);
    decodeError(encodeProfile({ ...BASE, functions: [...BASE.functions, [1, 3]] }), /duplicate function id 1 at byte offset \d+/);
    decodeError(encodeProfile({ ...BASE, locations: [...BASE.locations, [0, [1]]] }), /location at byte offset \d+ has no id/);
    decodeError(Uint8Array.from([0x0a, 0x02, 0x10, 0x01, 0x08, 0x00]), /Profile.sample_type has wire type 0, expected 2/);
  });

  it('sizes its working memory from the record counts, and holds to maxWorkingBytes at the bound', () => {
    const raw = encodeProfile(BASE);
    const workingBytes = workingBytesOf(decodeProfile(raw));
    // 7 strings x 12 + 4 functions x 24 + 3 locations x 24 + 4 samples x 8 bytes of tables, the id slack
    // (2 x 16 x 4), 5 slots' rows, and the result entries: an upper bound of what this decode allocates.
    assert.ok(workingBytes >= 7 * 12 + 4 * 24 + 3 * 24 + 4 * 8, `${workingBytes}`);
    assert.doesNotThrow(() => decodeProfile(raw, { maxWorkingBytes: workingBytes }));
    assert.throws(
      () => decodeProfile(raw, { maxWorkingBytes: workingBytes - 1 }),
      (err: unknown) => err instanceof ProfileDecodeError && err.tooLarge && new RegExp(`decoding needs ${workingBytes} bytes .*over the decoder's budget of ${workingBytes - 1}`).test(err.message),
    );
    // The tables' share is at most 6 bytes per input byte, for each record kind at its smallest.
    for (const [what, data] of [
      ['locations', distinctIdRecords(0x22, 50_000)],
      ['functions', distinctIdRecords(0x2a, 50_000)],
      ['strings', emptyStrings(200_000)],
    ] as const) {
      const bytes = workingBytesOf(decodeProfile(data));
      assert.ok(bytes <= 6 * data.length + 1024, `${what}: ${bytes} bytes for ${data.length} input bytes`);
    }
    // Distinct attributed functions: MAX_FUNCTIONS pass, one more is refused as too large.
    assert.equal(decodeProfile(millionFunctions(MAX_FUNCTIONS)).byFunction.size, MAX_FUNCTIONS);
    assert.throws(() => decodeProfile(millionFunctions(MAX_FUNCTIONS + 1)), (err: unknown) => err instanceof ProfileDecodeError && err.tooLarge && /more than 65536 distinct functions/.test(err.message));
  });

  it('inflates gzip, rejects corrupt gzip, and bounds the inflated size', () => {
    const good = encodeProfile(BASE);
    assert.deepEqual(decodeProfile(gzipSync(good)), decodeProfile(good));
    const corrupt = gzipSync(good);
    corrupt[corrupt.length - 5] ^= 0xff; // the CRC32/ISIZE trailer
    decodeError(corrupt, /gzipped profile does not inflate/);
    decodeError(gzipSync(good).subarray(0, 12), /gzipped profile does not inflate/);
    // A 256 MiB bomb of zeros compresses to ~256 KiB; it must stop at the bound, not allocate 256 MiB.
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 });
    const before = process.memoryUsage().rss;
    assert.throws(() => decodeProfile(bomb), (err: unknown) => err instanceof ProfileDecodeError && /inflates to more than maxInflatedBytes \(67108864\)/.test(err.message));
    assert.ok(process.memoryUsage().rss - before < 200 * 1024 * 1024);
    assert.throws(() => decodeProfile(gzipSync(good), { maxInflatedBytes: good.length - 1 }), ProfileDecodeError);
    assert.throws(() => decodeProfile(good, { maxInflatedBytes: good.length - 1 }), /exceeds maxInflatedBytes/);
    assert.doesNotThrow(() => decodeProfile(gzipSync(good), { maxInflatedBytes: good.length }));
    assert.throws(() => decodeProfile(good, { maxInflatedBytes: 0 }), /maxInflatedBytes must be a positive integer/);
  });
});
