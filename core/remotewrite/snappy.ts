/**
 * Snappy block format, as remote write requires (not the framed stream format). Compression uses
 * our own SnappyCompressor (compress.ts): on remote-write bodies it runs about twice as fast as the
 * native `snappy` binding's compressSync (bench/remotewrite-encode.ts shows both side by side).
 * Decompression: the native binding for bodies that decode to at most NATIVE_UNCOMPRESS_MAX_BYTES
 * (about 8x faster than ours), our own (uncompress.ts) above it. The native binding's output is memory
 * V8 does not see, so it schedules no GC for it: bodies that decode to a few hundred KiB come with
 * thousands of points whose allocation drives the young-generation GCs that free it, but a stream of
 * large bodies refused before their points exist (a sample bomb) grew RSS by their size each
 * (bench/snappy-uncompress.ts). The native binding also checks what our compressor writes
 * (test/core/remotewrite/compress.test.ts).
 */
import { uncompressSync } from 'snappy';
import { SnappyCompressor } from './compress.js';
import { snappyPreamble, snappyUncompressJs } from './uncompress.js';

/** A Prometheus request of 2000 samples decodes to ~0.2-0.5 MiB: the fast path takes those. */
export const NATIVE_UNCOMPRESS_MAX_BYTES = 1024 * 1024;

// One compressor for the process: compress() is synchronous and returns a Buffer of its own, so
// callers on the one JS thread never see each other's state; its tables are reused across calls.
const compressor = new SnappyCompressor();

export function snappyCompress(body: Uint8Array): Buffer {
  return compressor.compress(body);
}

export function snappyUncompress(body: Uint8Array): Buffer {
  const length = snappyPreamble(body)?.length ?? 0;
  if (length > NATIVE_UNCOMPRESS_MAX_BYTES) return snappyUncompressJs(body);
  const out = uncompressSync(body, { asBuffer: true });
  return typeof out === 'string' ? Buffer.from(out) : out;
}
