// Our snappy decompressor against the native binding (Google's C++ snappy) as the oracle: the same
// bytes out for everything either compressor writes, and a refusal wherever the native one refuses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FUZZ_SEED } from '../../harness/fuzz.js';
import { compressSync, uncompressSync } from 'snappy';
import { SnappyCompressor } from '../../../core/remotewrite/compress.js';
import { snappyUncompressJs } from '../../../core/remotewrite/uncompress.js';

fc.configureGlobal({ seed: FUZZ_SEED });

function native(input: Uint8Array): Buffer | 'refused' {
  try {
    const out = uncompressSync(input, { asBuffer: true });
    return typeof out === 'string' ? Buffer.from(out) : out;
  } catch {
    return 'refused';
  }
}

function ours(input: Uint8Array): Buffer | 'refused' {
  try {
    return snappyUncompressJs(input);
  } catch {
    return 'refused';
  }
}

describe('snappyUncompressJs', () => {
  const compressor = new SnappyCompressor();

  it('decodes what both compressors write: empty, runs (overlapping copies), long literals, random, over 64 KiB', () => {
    const random = Buffer.alloc(300_000);
    for (let i = 0; i < random.length; i++) random[i] = (Math.imul(i, 2654435761) >>> 13) & 0xff;
    const inputs = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(1 << 20, 7), Buffer.from('abcabcabcabcabcabcx'.repeat(4000)), random];
    for (const input of inputs) {
      for (const body of [compressSync(input), compressor.compress(input)]) assert.ok(snappyUncompressJs(body).equals(input), `length ${input.length}`);
    }
  });

  it('agrees with the native decoder on arbitrary and corrupted blocks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 20 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), (bytes, repeat, flips) => {
        const input = Buffer.concat(Array.from({ length: repeat }, () => Buffer.from(bytes)));
        const body = Buffer.from(compressSync(input));
        assert.ok(snappyUncompressJs(body).equals(input));
        for (const [at, value] of flips) if (body.length > 0) body[at % body.length] = value;
        const expected = native(body);
        const got = ours(body);
        if (expected === 'refused') assert.equal(got, 'refused', 'a block the native decoder refuses');
        else assert.ok(got !== 'refused' && got.equals(expected), 'the same bytes as the native decoder');
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a copy before the start, output past the preamble, and output short of it', () => {
    assert.throws(() => snappyUncompressJs(Buffer.from([0x04, 0x01, 0x05])), /offset/); // copy with nothing written
    assert.throws(() => snappyUncompressJs(Buffer.from([0x01, 0x04, 0x61, 0x62])), /past|runs/); // 2-byte literal, preamble 1
    assert.throws(() => snappyUncompressJs(Buffer.from([0x03, 0x00, 0x61])), /decoded 1 bytes/);
    assert.throws(() => snappyUncompressJs(Buffer.from([0x80])), /preamble/);
  });
});
