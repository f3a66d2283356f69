// Fuzzing the pprof decoder, bounded in time: mutations of the recorded profiles (byte flips, truncations,
// insertions, corrupted length fields) and arbitrary bytes from fast-check. decodeProfile must either
// return or throw ProfileDecodeError: never another error type, never hang, never grow memory unboundedly.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { FUZZ_SEED, rng } from '../../harness/fuzz.js';
import type { FunctionProfile } from '../../../core/model/profiles.js';
import { decodeProfile, isRuntimeFrame } from '../../../core/pprof/decode.js';
import { ProfileDecodeError } from '../../../core/pprof/text.js';
import { deepStacks, distinctIdRecords, emptyStrings, gz, locationBomb, millionFunctions, varint } from '../../harness/crafted.js';
import { repoRoot } from '../../harness/servers.js';
import { assertSameDerived, reference, workingBytesOf, type Reference } from './reference.js';

fc.configureGlobal({ seed: FUZZ_SEED });

/** Each loop stops after this long; both together stay well under the 20 s the brief allows. */
const MUTATION_MS = 6_000;
const ARBITRARY_MS = 3_000;
const RSS_GROWTH_LIMIT = 300 * 1024 * 1024;

function recordedProfiles(): Buffer[] {
  const testdata = path.join(repoRoot(), 'test', 'testdata');
  const out: Buffer[] = [];
  for (const dir of readdirSync(testdata)) {
    if (!statSync(path.join(testdata, dir)).isDirectory()) continue;
    for (const file of readdirSync(path.join(testdata, dir))) {
      if (file.endsWith('.pb.gz')) out.push(gunzipSync(readFileSync(path.join(testdata, dir, file))));
    }
  }
  assert.ok(out.length >= 14, `expected the recorded profiles, found ${out.length}`);
  return out;
}

function mutate(src: Uint8Array, rand: (n: number) => number): Uint8Array {
  const bytes = Array.from(src);
  const rounds = 1 + rand(4);
  for (let i = 0; i < rounds && bytes.length > 0; i++) {
    const at = rand(bytes.length);
    switch (rand(6)) {
      case 0: // flip one bit
        bytes[at] ^= 1 << rand(8);
        break;
      case 1: // random byte
        bytes[at] = rand(256);
        break;
      case 2: // truncate
        bytes.length = at;
        break;
      case 3: // insert random bytes
        bytes.splice(at, 0, ...Array.from({ length: 1 + rand(8) }, () => rand(256)));
        break;
      case 4: {
        // corrupt a length field: find a length-delimited tag (wire type 2) at or after `at`, rewrite its length
        let t = at;
        while (t < bytes.length && (bytes[t] & 7) !== 2) t++;
        if (t + 1 < bytes.length) {
          const lies = [0, 1, 0x7f, 0x80, 0xffff, 0x7fffffff, 2 ** 32, 2 ** 53, rand(1 << 20)];
          bytes.splice(t + 1, 1, ...varint(lies[rand(lies.length)]));
        }
        break;
      }
      default: // an over-long varint (continuation bytes without end)
        bytes.splice(at, 0, ...new Array<number>(1 + rand(12)).fill(0xff));
    }
  }
  return Uint8Array.from(bytes);
}

/** How many accepted cases pprof-format could also decode and was compared with, and how many it refused. */
const compared = { same: 0, referenceRefused: 0 };

/**
 * Decodes and checks the outcome: a ProfileDecodeError, nothing else, or a summary that agrees with
 * pprof-format's decode of the same bytes on what pprofcol derives (totals and by-function sums under the
 * same frame skipping). pprofcol's decoder is lazy: it accepts profiles with dangling references past a
 * sample's attributed frame, which pprof-format may decode or refuse; where it refuses, there is nothing
 * to compare.
 */
function decodeOrReject(data: Uint8Array, note: string): 'ok' | 'rejected' {
  let summary: FunctionProfile;
  try {
    summary = decodeProfile(data, { skipFrame: isRuntimeFrame, maxInflatedBytes: 4 * 1024 * 1024 });
  } catch (err) {
    if (err instanceof ProfileDecodeError) return 'rejected';
    assert.fail(`${note}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} instead of ProfileDecodeError`);
  }
  assert.equal(summary.totals.length, summary.columns.length, note);
  for (const row of summary.byFunction.values()) assert.equal(row.length, summary.columns.length, note);
  let expected: Reference;
  try {
    expected = reference(data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data, isRuntimeFrame);
  } catch {
    compared.referenceRefused++;
    return 'ok';
  }
  assertSameDerived(summary, expected, note);
  compared.same++;
  return 'ok';
}

describe('decodeProfile fuzzing', () => {
  const profiles = recordedProfiles();

  it('mutated recorded profiles: returns or throws ProfileDecodeError, memory bounded', { timeout: 20_000 }, () => {
    const seed = FUZZ_SEED;
    const rand = rng(seed);
    const rssBefore = process.memoryUsage().rss;
    const counts = { ok: 0, rejected: 0 };
    const end = performance.now() + MUTATION_MS;
    let n = 0;
    while (performance.now() < end) {
      const src = profiles[rand(profiles.length)];
      const mutated = mutate(src, rand);
      counts[decodeOrReject(mutated, `seed ${seed}, case ${n}`)]++;
      // Now and then the same mutation gzipped, and a mutation of the gzip stream itself.
      if (n % 16 === 0) counts[decodeOrReject(gzipSync(mutated), `seed ${seed}, case ${n} gzipped`)]++;
      if (n % 16 === 8) counts[decodeOrReject(mutate(gzipSync(src), rand), `seed ${seed}, case ${n} gzip mutated`)]++;
      n++;
      if (n % 1024 === 0) {
        const growth = process.memoryUsage().rss - rssBefore;
        assert.ok(growth < RSS_GROWTH_LIMIT, `seed ${seed}: rss grew by ${growth} bytes after ${n} cases`);
      }
    }
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < RSS_GROWTH_LIMIT, `seed ${seed}: rss grew by ${growth} bytes`);
    // Both outcomes must occur, or the mutations are too weak (or too strong) to test anything.
    assert.ok(counts.ok > 0 && counts.rejected > 0, `seed ${seed}: ${JSON.stringify(counts)} over ${n} cases`);
    assert.ok(compared.same > 0, `seed ${seed}: no accepted case was compared with pprof-format (${JSON.stringify(compared)})`);
  });

  it('crafted bombs: refused, or decoded within the budget, and the valid ones agree with pprof-format', { timeout: 60_000 }, () => {
    const MIB = 1024 * 1024;
    // Refused: the working memory their record counts need exceeds the budget (3 x 64 MiB + 1 MiB by
    // default) before anything grows, their ids and stacks are not Go's, or they attribute samples to
    // more functions than MAX_FUNCTIONS.
    const refusals: Array<[string, () => Buffer, RegExp]> = [
      ['location bomb (64 MiB of {id: 1})', () => gz(locationBomb()), /decoding needs 402653\d+ bytes of working memory/],
      ['1.3M functions, each with its own name, location and sample', () => gz(millionFunctions()), /more than 65536 distinct functions: refused as too large/],
      ['deep stacks of runtime frames', () => gz(deepStacks()), /more than 1024 frames before its attributed one/],
      ['duplicate location ids', () => locationBomb(4096), /duplicate location id 1/],
    ];
    for (const [what, make, pattern] of refusals) {
      const data = make();
      const before = process.memoryUsage().arrayBuffers;
      assert.throws(() => decodeProfile(data, { skipFrame: isRuntimeFrame }), (err: unknown) => err instanceof ProfileDecodeError && pattern.test(err.message), what);
      // The inflated bytes (<= 64 MiB, twice while zlib joins its chunks) are all it held: before the
      // bound the location bomb took ~740 MiB.
      const grown = process.memoryUsage().arrayBuffers - before;
      assert.ok(grown <= 2 * 64 * MIB + 8 * MIB, `${what}: array buffers grew by ${grown}`);
    }
    // Valid worst cases below the limit: decoded, sized at <= 6 bytes per input byte (+ the result), and
    // the same as pprof-format says.
    for (const [what, raw] of [
      ['200k distinct locations', distinctIdRecords(0x22, 200_000)],
      ['200k distinct functions', distinctIdRecords(0x2a, 200_000)],
      ['1 MiB of empty strings', emptyStrings(MIB)],
      ['20k functions', millionFunctions(20_000)],
    ] as const) {
      const s = decodeProfile(raw, { skipFrame: isRuntimeFrame });
      const workingBytes = workingBytesOf(s);
      assert.ok(workingBytes <= 6 * raw.length + 20_000 * 128 + 1024, `${what}: ${workingBytes} bytes for ${raw.length}`);
      assertSameDerived(s, reference(raw, isRuntimeFrame), what);
    }
  });

  it('arbitrary bytes (fast-check): returns or throws ProfileDecodeError', { timeout: 20_000 }, () => {
    const rssBefore = process.memoryUsage().rss;
    const end = performance.now() + ARBITRARY_MS;
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      // A gzip header in front of arbitrary bytes, and arbitrary bytes gzipped, to reach both paths.
      fc.uint8Array({ maxLength: 256 }).map((b) => Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, ...b])),
      fc.uint8Array({ maxLength: 512 }).map((b) => new Uint8Array(gzipSync(b))),
      // A recorded profile with arbitrary bytes spliced in.
      fc.tuple(fc.nat(profiles.length - 1), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([i, at, b]) => {
        const src = profiles[i];
        const cut = at % src.length;
        return Uint8Array.from([...src.subarray(0, cut), ...b, ...src.subarray(cut)]);
      }),
    );
    fc.assert(
      fc.property(bytes, (data) => {
        decodeOrReject(data, 'fast-check');
      }),
      { numRuns: 1_000_000, interruptAfterTimeLimit: ARBITRARY_MS, markInterruptAsFailure: false },
    );
    assert.ok(performance.now() < end + 5_000);
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < RSS_GROWTH_LIMIT, `rss grew by ${growth} bytes`);
  });
});
