/**
 * Snappy block compression (the format remote write 1.0 requires) in TypeScript, with its hash table
 * and output buffer kept between calls. Why not the native binding: on remote-write bodies (label
 * bytes repeated from series to series, long matches) the napi `snappy` package's compressSync runs at
 * about half the speed of a plain JS compressor, its per-call overhead and copies costing more than the
 * matching (bench/remotewrite-encode.ts shows both). Any snappy decoder reads the output; the bytes may
 * differ from the C++ library's, as they may between any two snappy compressors.
 *
 * The algorithm is snappy's own: the input is cut into 64 KiB fragments (so every copy offset fits
 * two bytes); in each, a hash of the 4 bytes at a position finds an earlier position with the same 4
 * bytes; a match is extended byte by byte and emitted as copies of at most 64 bytes; between matches
 * the lookup steps further the longer it finds nothing (one more byte per 32 misses), so incompressible
 * data passes fast.
 */

/** Fragment size: copies inside one fragment have offsets below 2^16. */
const FRAGMENT = 1 << 16;
const HASH_BITS = 14;
const HASH_SHIFT = 32 - HASH_BITS;
/** Matching stops this many bytes before the end of a fragment, so 4-byte loads stay inside it. */
const INPUT_MARGIN = 15;

function load32(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

function hash(v: number): number {
  return Math.imul(v, 0x1e35a7bd) >>> HASH_SHIFT;
}

/** Worst case of snappy's output for `n` input bytes (snappy's MaxCompressedLength). */
export function maxCompressedLength(n: number): number {
  return 32 + n + Math.floor(n / 6);
}

export class SnappyCompressor {
  /** Positions (relative to the fragment start) by hash of their 4 bytes. */
  private readonly table = new Uint16Array(1 << HASH_BITS);
  private out: Uint8Array;
  private op = 0;

  constructor(initialSize = 64 * 1024) {
    this.out = new Uint8Array(initialSize);
  }

  /** A compressed copy of `src` in a Buffer of its own (callers keep bodies across retries). */
  compress(src: Uint8Array): Buffer {
    const n = src.length;
    const max = maxCompressedLength(n);
    if (this.out.length < max) this.out = new Uint8Array(Math.max(max, this.out.length * 2));
    this.op = 0;
    // Preamble: the uncompressed length as a varint.
    let v = n;
    const out = this.out;
    while (v > 0x7f) {
      out[this.op++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[this.op++] = v;
    for (let start = 0; start < n; start += FRAGMENT) this.fragment(src, start, Math.min(n, start + FRAGMENT));
    const body = Buffer.allocUnsafe(this.op);
    body.set(out.subarray(0, this.op));
    return body;
  }

  private fragment(src: Uint8Array, start: number, end: number): void {
    let nextEmit = start;
    if (end - start >= INPUT_MARGIN) {
      const table = this.table;
      table.fill(0);
      const ipLimit = end - INPUT_MARGIN;
      let ip = start + 1;
      let nextHash = hash(load32(src, ip));
      outer: for (;;) {
        // Look for a 4-byte match, stepping further after every 32 misses.
        let skip = 32;
        let nextIp = ip;
        let candidate: number;
        do {
          ip = nextIp;
          const h = nextHash;
          nextIp = ip + (skip++ >> 5);
          if (nextIp > ipLimit) break outer;
          nextHash = hash(load32(src, nextIp));
          candidate = start + table[h];
          table[h] = ip - start;
        } while (load32(src, ip) !== load32(src, candidate));
        this.literal(src, nextEmit, ip);
        // Emit the match, and as long as the next position matches too, the next one.
        let again: boolean;
        do {
          const base = ip;
          let matched = 4;
          while (ip + matched < end && src[candidate + matched] === src[ip + matched]) matched++;
          ip += matched;
          this.copy(base - candidate, matched);
          nextEmit = ip;
          if (ip >= ipLimit) break outer;
          table[hash(load32(src, ip - 1))] = ip - 1 - start;
          const h = hash(load32(src, ip));
          candidate = start + table[h];
          table[h] = ip - start;
          again = load32(src, ip) === load32(src, candidate);
        } while (again);
        ip++;
        nextHash = hash(load32(src, ip));
      }
    }
    if (nextEmit < end) this.literal(src, nextEmit, end);
  }

  private literal(src: Uint8Array, from: number, to: number): void {
    const out = this.out;
    let op = this.op;
    const n = to - from - 1; // the tag holds length - 1
    if (n < 60) out[op++] = n << 2;
    else if (n < 0x100) {
      out[op++] = 60 << 2;
      out[op++] = n;
    } else if (n < 0x10000) {
      out[op++] = 61 << 2;
      out[op++] = n & 0xff;
      out[op++] = n >>> 8;
    } else if (n < 0x1000000) {
      out[op++] = 62 << 2;
      out[op++] = n & 0xff;
      out[op++] = (n >>> 8) & 0xff;
      out[op++] = n >>> 16;
    } else {
      out[op++] = 63 << 2;
      out[op++] = n & 0xff;
      out[op++] = (n >>> 8) & 0xff;
      out[op++] = (n >>> 16) & 0xff;
      out[op++] = n >>> 24;
    }
    const len = to - from;
    if (len < 32) for (let i = from; i < to; i++) out[op++] = src[i];
    else {
      out.set(src.subarray(from, to), op);
      op += len;
    }
    this.op = op;
  }

  /** A copy of `len` bytes from `offset` back (offset < 2^16), as 64-byte pieces as snappy cuts them. */
  private copy(offset: number, len: number): void {
    const out = this.out;
    let op = this.op;
    // Pieces of 64 while more than 67 remain (so the last piece is at least 4, the 1-byte-offset form's minimum).
    while (len >= 68) {
      out[op++] = 2 | (63 << 2);
      out[op++] = offset & 0xff;
      out[op++] = offset >>> 8;
      len -= 64;
    }
    if (len > 64) {
      out[op++] = 2 | (59 << 2);
      out[op++] = offset & 0xff;
      out[op++] = offset >>> 8;
      len -= 60;
    }
    if (len < 12 && offset < 2048) {
      out[op++] = 1 | ((len - 4) << 2) | ((offset >>> 8) << 5);
      out[op++] = offset & 0xff;
    } else {
      out[op++] = 2 | ((len - 1) << 2);
      out[op++] = offset & 0xff;
      out[op++] = offset >>> 8;
    }
    this.op = op;
  }
}
