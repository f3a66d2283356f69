import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FUZZ_SEED } from '../../harness/fuzz.js';

import { SnappyCompressor } from '../../../core/remotewrite/compress.js';
import { uncompressSync } from 'snappy';

fc.configureGlobal({ seed: FUZZ_SEED });

/** Google's decoder (the native binding) checks what our compressor writes. */
const snappyUncompress = (body: Uint8Array): Buffer => uncompressSync(body, { asBuffer: true }) as Buffer;

describe('SnappyCompressor', () => {
  const c = new SnappyCompressor(16);

  it('round-trips through the native snappy decoder: empty, short, repetitive, random, over 64 KiB', () => {
    const repetitive = Buffer.from('__name__\x12go_pprof_heap_inuse_bytes job api instance 10.0.0.1:6060 '.repeat(5000));
    const random = Buffer.alloc(200_000);
    for (let i = 0; i < random.length; i++) random[i] = (Math.imul(i, 2654435761) >>> 13) & 0xff;
    const long = Buffer.alloc(300_000, 7); // matches far longer than 64 bytes
    for (const input of [Buffer.alloc(0), Buffer.from('a'), Buffer.from('abcdabcdabcdabcdabcd'), repetitive, random, long]) {
      const body = c.compress(input);
      assert.ok(snappyUncompress(body).equals(input), `length ${input.length}`);
    }
    assert.ok(c.compress(repetitive).length < repetitive.length / 10);
  });

  it('round-trips arbitrary bytes (the compressor is reused between inputs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 40 }), (bytes, repeat) => {
        const input = Buffer.concat(Array.from({ length: repeat }, () => Buffer.from(bytes)));
        assert.ok(snappyUncompress(c.compress(input)).equals(input));
      }),
      { numRuns: 300 },
    );
  });
});
