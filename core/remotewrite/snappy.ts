/**
 * Snappy block format, as remote write requires (not the framed stream format). Compression uses
 * our own SnappyCompressor (compress.ts): on remote-write bodies it runs about twice as fast as the
 * native `snappy` binding's compressSync (bench/remotewrite-encode.ts shows both side by side).
 * Decompression uses our own decoder too (uncompress.ts): the native binding's output is memory V8
 * does not see, so it schedules no GC for it, and a stream of large bodies refused before their
 * points exist (a sample bomb) grew RSS by their size each; ours allocates one Buffer V8 accounts
 * for, and on remote-write bodies runs 1.4-2x the binding's speed (bench/snappy-uncompress.ts). The
 * native binding stays as the oracle that checks both of ours (test/core/remotewrite/).
 */
import { SnappyCompressor } from './compress.js';
import { snappyUncompressJs } from './uncompress.js';

// One compressor for the process: compress() is synchronous and returns a Buffer of its own, so
// callers on the one JS thread never see each other's state; its tables are reused across calls.
const compressor = new SnappyCompressor();

export function snappyCompress(body: Uint8Array): Buffer {
  return compressor.compress(body);
}

export function snappyUncompress(body: Uint8Array): Buffer {
  return snappyUncompressJs(body);
}
