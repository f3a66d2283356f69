/**
 * A bounds-checked reader of the protobuf wire format over one byte buffer, for hand-written decoders
 * (core/pprof/decode.ts). It knows wire types, not messages: callers walk their own fields and pass the end
 * of the enclosing message as `limit`, so nothing is ever read past a message's declared length.
 *
 * Every malformed construct throws ProfileDecodeError naming what was wrong and the byte offset (into
 * this buffer) where it starts. The reader keeps no per-call allocation: the hot path is one method call
 * per varint, which V8 inlines.
 */
import { ProfileDecodeError } from './text.js';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

const TWO_32 = 4294967296;
/** protobuf field numbers are 29 bits (1 .. 2^29-1); a tag is field << 3 | wire type, so at most 2^32-1. */
const MAX_TAG = 0xffffffff;

export class WireReader {
  readonly buf: Uint8Array;
  pos = 0;
  /** Upper and lower 32 bits of the last varint that took 5 bytes or more (read them after uint64()). */
  hi = 0;
  lo = 0;
  /** Field number and wire type of the last tag read by tag(). */
  field = 0;
  wireType = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  /**
   * Reads an unsigned varint of up to 64 bits. The result is exact below 2^53 and rounded above (ids and
   * values that large do not occur in Go's profiles; callers needing exact keys read `hi`/`lo`).
   * Shorter than 5 bytes (values < 2^28) is the fast path: no field writes besides `pos`.
   */
  uint64(limit: number): number {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    if (pos >= limit) throw truncatedVarint(start, limit);
    let b = buf[pos++];
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let lo = b & 0x7f;
    for (let shift = 7; shift < 28; shift += 7) {
      if (pos >= limit) throw truncatedVarint(start, limit);
      b = buf[pos++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return lo;
      }
    }
    // Fifth byte: bits 28..31 go to lo, bits 32..34 to hi.
    if (pos >= limit) throw truncatedVarint(start, limit);
    b = buf[pos++];
    lo = (lo | ((b & 0x0f) << 28)) >>> 0;
    let hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      // Bytes 6..9 carry bits 35..62, i.e. bits 3..30 of hi.
      let done = false;
      for (let shift = 3; shift < 31; shift += 7) {
        if (pos >= limit) throw truncatedVarint(start, limit);
        b = buf[pos++];
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) {
          done = true;
          break;
        }
      }
      if (!done) {
        // Tenth byte: only bit 63 is left; anything more overflows 64 bits (or the varint runs on).
        if (pos >= limit) throw truncatedVarint(start, limit);
        b = buf[pos++];
        if (b > 1) {
          throw new ProfileDecodeError(`varint at byte offset ${start} is longer than 10 bytes or overflows 64 bits`);
        }
        hi = (hi | (b << 31)) >>> 0;
      }
    }
    this.pos = pos;
    this.hi = hi;
    this.lo = lo;
    return hi * TWO_32 + lo;
  }

  /** Reads an int64 varint (two's complement in 10 bytes when negative), exact within ±2^53. */
  int64(limit: number): number {
    const v = this.uint64(limit);
    // Only a 10-byte varint sets bit 63; v > 2^32-1 guarantees hi/lo were written by this read.
    if (v > 0xffffffff && this.hi > 0x7fffffff) {
      return -((~this.hi >>> 0) * TWO_32 + (~this.lo >>> 0) + 1);
    }
    return v;
  }

  /** Reads a tag into `field` and `wireType` and returns the field; field 0 and fields beyond 2^29-1 are errors. */
  tag(limit: number): number {
    const at = this.pos;
    // Fast path: fields 1..15 have one-byte tags, which is every field Go writes. The rest is a method
    // of its own so that this one stays small enough for V8 to inline at every call site.
    if (at < limit) {
      const b = this.buf[at];
      if (b < 0x80 && b >= 8) {
        this.pos = at + 1;
        this.wireType = b & 7;
        return (this.field = b >>> 3);
      }
    }
    return this.longTag(limit, at);
  }

  private longTag(limit: number, at: number): number {
    const tag = this.uint64(limit);
    if (tag > MAX_TAG || tag < 8) {
      throw new ProfileDecodeError(`invalid field number ${Math.floor(tag / 8)} in tag at byte offset ${at}`);
    }
    this.field = tag >>> 3;
    this.wireType = tag & 7;
    return this.field;
  }

  /**
   * Reads the length of a length-delimited field and returns the end offset of its payload, which must
   * lie within `limit` (the end of the enclosing message). `pos` is left at the payload's start.
   */
  lenEnd(limit: number): number {
    const at = this.pos;
    // Fast path: a one-byte length (< 128), as most lines, functions, locations and strings have.
    if (at < limit) {
      const b = this.buf[at];
      if (b < 0x80 && b < limit - at) {
        this.pos = at + 1;
        return at + 1 + b;
      }
    }
    return this.longLenEnd(limit, at);
  }

  private longLenEnd(limit: number, at: number): number {
    const len = this.uint64(limit);
    if (len > limit - this.pos) {
      throw new ProfileDecodeError(
        `length ${len} at byte offset ${at} runs past the end of its enclosing message (${limit - this.pos} bytes left)`,
      );
    }
    return this.pos + len;
  }

  /** Skips the payload of a field whose tag was just read, by wire type; groups (3, 4) and 6, 7 are errors. */
  skip(wireType: number, limit: number, tagAt: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.skipVarint(limit);
        return;
      case WIRE_FIXED64:
        this.skipBytes(8, limit, tagAt);
        return;
      case WIRE_LEN:
        this.pos = this.lenEnd(limit);
        return;
      case WIRE_FIXED32:
        this.skipBytes(4, limit, tagAt);
        return;
      default:
        throw new ProfileDecodeError(`unknown wire type ${wireType} (field ${this.field}) in tag at byte offset ${tagAt}`);
    }
  }

  /** Steps over a varint without computing it (addresses, line numbers): same checks as uint64(). */
  skipVarint(limit: number): void {
    const buf = this.buf;
    const start = this.pos;
    const last = start + 9; // the tenth byte
    for (let pos = start; pos < limit; pos++) {
      const b = buf[pos];
      if (b < 0x80) {
        if (pos === last && b > 1) break;
        this.pos = pos + 1;
        return;
      }
      if (pos === last) break;
    }
    // Truncated or over-long: let uint64() produce the precise error.
    this.uint64(limit);
  }

  private skipBytes(n: number, limit: number, tagAt: number): void {
    if (limit - this.pos < n) {
      throw new ProfileDecodeError(`fixed ${n * 8}-bit field ${this.field} at byte offset ${tagAt} runs past the end of its enclosing message`);
    }
    this.pos += n;
  }
}

function truncatedVarint(start: number, limit: number): ProfileDecodeError {
  return new ProfileDecodeError(`truncated varint at byte offset ${start} (its message ends at byte offset ${limit})`);
}
