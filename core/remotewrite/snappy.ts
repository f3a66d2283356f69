/**
 * Snappy block format, as remote write requires (not the framed stream format). Compression uses
 * our own SnappyCompressor (compress.ts): on remote-write bodies it runs about twice as fast as the
 * native `snappy` binding's compressSync (bench/remotewrite-encode.ts shows both side by side).
 * Decompression, on the receiving side, stays with the native binding, a reference implementation
 * that also checks what our compressor writes (test/core/remotewrite/compress.test.ts).
 */
import { uncompressSync } from 'snappy';
import { SnappyCompressor } from './compress.js';

// One compressor for the process: compress() is synchronous and returns a Buffer of its own, so
// callers on the one JS thread never see each other's state; its tables are reused across calls.
const compressor = new SnappyCompressor();

export function snappyCompress(body: Uint8Array): Buffer {
  return compressor.compress(body);
}

export function snappyUncompress(body: Uint8Array): Buffer {
  const out = uncompressSync(body, { asBuffer: true });
  return typeof out === 'string' ? Buffer.from(out) : out;
}
