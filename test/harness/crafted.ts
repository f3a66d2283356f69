/**
 * Crafted hostile inputs, shared by the decoder tests, the fuzz test, the hostile-target integration test
 * and bench/pprof-bounds.ts: each is the smallest record of its kind repeated, so that it costs a decoder
 * the most memory or time per input byte. Built straight into one Buffer (a 64 MiB profile must not take
 * seconds of array pushes to make).
 */
import { gzipSync } from 'node:zlib';

/** A varint's bytes. */
export function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function field(tag: number, payload: number[]): number[] {
  return [tag, ...varint(payload.length), ...payload];
}

/** sample_type {type: 1, unit: 2} and string_table ["", "samples", "count"]: the frame every crafted profile shares. */
const HEADER = [...field(0x0a, [0x08, 1, 0x10, 2]), ...field(0x32, []), ...field(0x32, [...Buffer.from('samples')]), ...field(0x32, [...Buffer.from('count')])];

/** `head`, then `record` repeated to fill `totalBytes` (rounded down to whole records). */
function repeated(head: number[], record: number[], totalBytes: number): Buffer {
  const n = Math.floor((totalBytes - head.length) / record.length);
  const out = Buffer.alloc(head.length + n * record.length);
  Buffer.from(head).copy(out, 0);
  Buffer.from(record).copy(out, head.length);
  // Doubling copies: log2(n) copyWithin calls instead of n.
  let filled = record.length;
  const body = n * record.length;
  while (filled < body) {
    const chunk = Math.min(filled, body - filled);
    out.copyWithin(head.length + filled, head.length, head.length + chunk);
    filled += chunk;
  }
  return out;
}

/**
 * The location bomb: `totalBytes` (default 64 MiB, body_size_limit's default) of minimal Location
 * records `{id: 1}`, 4 bytes each, all the same id. Gzipped (level 9) it is ~65 KB.
 */
export function locationBomb(totalBytes = 64 * 1024 * 1024): Buffer {
  return repeated(HEADER, field(0x22, [0x08, 0x01]), totalBytes);
}

/** Minimal records of one kind with distinct ids 1..n (the valid worst case of that kind): `kind` 0x22 location, 0x2a function. */
export function distinctIdRecords(kind: 0x22 | 0x2a, count: number): Buffer {
  const parts: Buffer[] = [Buffer.from(HEADER)];
  const chunk: number[] = [];
  for (let id = 1; id <= count; id++) {
    chunk.push(...field(kind, [0x08, ...varint(id)]));
    if (chunk.length > 1 << 16) {
      parts.push(Buffer.from(chunk));
      chunk.length = 0;
    }
  }
  parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** `totalBytes` of empty strings (2 bytes each) and of empty samples' worth: the string table's worst case. */
export function emptyStrings(totalBytes: number): Buffer {
  return repeated(HEADER, [0x32, 0x00], totalBytes);
}

/**
 * A valid profile (~61 MB inflated at the default count) of `count` distinct functions, each with its own name, location and sample: the
 * worst case of what the decoder hands on (one by-function entry per function). Names are
 * `main.fNNNNNNN`, 14 bytes.
 */
export function millionFunctions(count = 1_300_000): Buffer {
  const parts: Buffer[] = [Buffer.from(HEADER)];
  let chunk: number[] = [];
  const flush = (): void => {
    parts.push(Buffer.from(chunk));
    chunk = [];
  };
  // Strings 3.. are the names; function i+1 names string 3+i; location i+1 has one line of function i+1.
  for (let i = 0; i < count; i++) {
    chunk.push(...field(0x32, [...Buffer.from(`main.f${String(i).padStart(8, '0')}`)]));
    chunk.push(...field(0x2a, [0x08, ...varint(i + 1), 0x10, ...varint(3 + i)]));
    chunk.push(...field(0x22, [0x08, ...varint(i + 1), ...field(0x22, [0x08, ...varint(i + 1)])]));
    chunk.push(...field(0x12, [...field(0x0a, varint(i + 1)), 0x10, 0x01]));
    if (chunk.length > 1 << 16) flush();
  }
  flush();
  return Buffer.concat(parts);
}

/**
 * Deep stacks: `samples` samples of `depth` frames each, every frame a runtime function (skipped when
 * attributing, so a lazy decoder must walk the whole stack).
 */
export function deepStacks(depth = 200_000, samples = 20): Buffer {
  const head = [...HEADER, ...field(0x32, [...Buffer.from('runtime.deep')])];
  head.push(...field(0x2a, [0x08, 1, 0x10, 3]));
  head.push(...field(0x22, [0x08, 1, ...field(0x22, [0x08, 1])]));
  const ids = Buffer.alloc(depth, 0x01); // location id 1, `depth` times, packed
  const inner = Buffer.concat([Buffer.from([0x0a, ...varint(depth)]), ids, Buffer.from([0x10, 0x01])]);
  const sample = Buffer.concat([Buffer.from([0x12, ...varint(inner.length)]), inner]);
  return Buffer.concat([Buffer.from(head), ...new Array<Buffer>(samples).fill(sample)]);
}

/**
 * A `goroutine?debug=2` dump of `totalBytes` in which every goroutine has a state of its own: the
 * worst case for a parser that counts goroutines by state.
 */
export function goroutineDump(totalBytes = 60 * 1024 * 1024): Buffer {
  const parts: string[] = [];
  let size = 0;
  for (let g = 1; size < totalBytes; g++) {
    const text = `goroutine ${g} [state ${g}, 5 minutes]:\nmain.f()\n\t/src/main.go:1 +0x1\n\n`;
    parts.push(text);
    size += text.length;
  }
  return Buffer.from(parts.join('')).subarray(0, totalBytes);
}

export function gz(data: Uint8Array): Buffer {
  return gzipSync(data, { level: 9 });
}
