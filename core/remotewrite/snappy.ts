/** Snappy block format, as remote write 1.0 requires (not the framed stream format). */
import { compressSync, uncompressSync } from 'snappy';

export function snappyCompress(body: Uint8Array): Buffer {
  return compressSync(body);
}

export function snappyUncompress(body: Uint8Array): Buffer {
  const out = uncompressSync(body, { asBuffer: true });
  return typeof out === 'string' ? Buffer.from(out) : out;
}
