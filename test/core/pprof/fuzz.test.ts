// Fuzzing the pprof decoder, bounded in time: mutations of the recorded profiles (byte flips, truncations,
// insertions, corrupted length fields) and arbitrary bytes from fast-check. decodeProfile must either
// return or throw ProfileDecodeError: never another error type, never hang, never grow memory unboundedly.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeProfile, isRuntimeFrame, type ProfileSummary } from '../../../core/pprof/decode.js';
import { ProfileDecodeError } from '../../../core/pprof/text.js';
import { repoRoot } from '../../harness/servers.js';

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

/** A small deterministic PRNG (xorshift32), so a failure can be replayed from the seed it prints. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** A varint of the given value, used to overwrite length fields with lengths that lie. */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
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

/** Decodes and checks the outcome: a summary of the right shape, or a ProfileDecodeError, nothing else. */
function decodeOrReject(data: Uint8Array, note: string): 'ok' | 'rejected' {
  let summary: ProfileSummary;
  try {
    summary = decodeProfile(data, { skipFrame: isRuntimeFrame, maxInflatedBytes: 4 * 1024 * 1024 });
  } catch (err) {
    if (err instanceof ProfileDecodeError) return 'rejected';
    assert.fail(`${note}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} instead of ProfileDecodeError`);
  }
  assert.equal(summary.totals.length, summary.sampleTypes.length, note);
  for (const row of summary.byFunction.values()) assert.equal(row.length, summary.sampleTypes.length, note);
  return 'ok';
}

describe('decodeProfile fuzzing', () => {
  const profiles = recordedProfiles();

  it('mutated recorded profiles: returns or throws ProfileDecodeError, memory bounded', { timeout: 20_000 }, () => {
    const seed = Date.now() >>> 0;
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
