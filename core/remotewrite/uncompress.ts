/**
 * Snappy block decompression in TypeScript, into a Buffer that V8 accounts for. Why not the native
 * binding: the napi `snappy` package's uncompressSync returns memory V8 does not see, so it never
 * schedules a GC for it; a stream of refused 8 MiB bodies grew the daemon's RSS by 8 MiB each until
 * some unrelated GC ran (measured 100 -> 600 MiB in 15 s under a stream of sample bombs;
 * bench/snappy-uncompress.ts shows RSS and speed for both). Here the output is one Buffer.allocUnsafe of the length the preamble states, checked by the
 * caller against its budget first, and nothing else is allocated.
 *
 * The format: a varint of the decoded length, then elements, each a tag byte whose low two bits say
 * literal (00: length in the tag's upper six bits, or in the 1-4 bytes after it when those say 60-63),
 * or a copy of earlier output (01: 4-11 bytes at an 11-bit offset; 10: 1-64 bytes at a 16-bit offset;
 * 11: 1-64 bytes at a 32-bit offset). A copy may overlap what it produces (offset < length): a run.
 */
import { PprofcolError } from '../errors.js';

export class SnappyError extends PprofcolError {
  constructor(message: string) {
    super('ERR_SNAPPY', message);
    this.name = 'SnappyError';
  }
}

/** The decoded length a block announces, and where its elements start; undefined when the preamble is cut short. */
export function snappyPreamble(buf: Uint8Array): { length: number; start: number } | undefined {
  let length = 0;
  let mul = 1;
  for (let i = 0; i < 5 && i < buf.length; i++) {
    const b = buf[i];
    length += (b & 0x7f) * mul;
    if (b < 0x80) return { length, start: i + 1 };
    mul *= 128;
  }
  return undefined;
}

/** Copies shorter than this go byte by byte: copyWithin's call costs more than the loop. */
const SHORT_COPY = 8;

export function snappyUncompressJs(input: Uint8Array): Buffer {
  const preamble = snappyPreamble(input);
  if (preamble === undefined) throw new SnappyError('no length preamble');
  const out = Buffer.allocUnsafe(preamble.length);
  const end = out.length;
  let ip = preamble.start;
  let op = 0;
  while (ip < input.length) {
    const tag = input[ip++];
    let length: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        length = (tag >>> 2) + 1;
        if (length > 60) {
          const bytes = length - 60;
          if (ip + bytes > input.length) throw new SnappyError('literal length cut short');
          length = 0;
          for (let i = 0; i < bytes; i++) length += input[ip + i] * 2 ** (8 * i);
          length += 1;
          ip += bytes;
        }
        if (ip + length > input.length) throw new SnappyError(`literal of ${length} bytes runs past the input`);
        if (op + length > end) throw new SnappyError(`output past the ${end} bytes the preamble states`);
        if (length < SHORT_COPY) for (let i = 0; i < length; i++) out[op + i] = input[ip + i];
        else out.set(input.subarray(ip, ip + length), op);
        ip += length;
        op += length;
        continue;
      }
      case 1:
        if (ip >= input.length) throw new SnappyError('copy cut short');
        length = ((tag >>> 2) & 7) + 4;
        offset = ((tag >>> 5) << 8) | input[ip++];
        break;
      case 2:
        if (ip + 2 > input.length) throw new SnappyError('copy cut short');
        length = (tag >>> 2) + 1;
        offset = input[ip] | (input[ip + 1] << 8);
        ip += 2;
        break;
      default:
        if (ip + 4 > input.length) throw new SnappyError('copy cut short');
        length = (tag >>> 2) + 1;
        offset = (input[ip] | (input[ip + 1] << 8) | (input[ip + 2] << 16)) + input[ip + 3] * 2 ** 24;
        ip += 4;
    }
    if (offset === 0 || offset > op) throw new SnappyError(`copy from offset ${offset} with ${op} bytes written`);
    if (op + length > end) throw new SnappyError(`output past the ${end} bytes the preamble states`);
    const from = op - offset;
    if (offset >= length && length >= SHORT_COPY) out.copyWithin(op, from, from + length);
    else for (let i = 0; i < length; i++) out[op + i] = out[from + i];
    op += length;
  }
  if (op !== end) throw new SnappyError(`decoded ${op} bytes, the preamble states ${end}`);
  return out;
}
