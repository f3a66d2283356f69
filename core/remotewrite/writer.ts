/**
 * A growable byte writer for protobuf wire format. One instance is kept and reused per encoder:
 * `reset()` rewinds without freeing, so a steady stream of requests allocates nothing here once the
 * buffer has grown to the largest request seen.
 */

// Two to the power 32: varints of numbers above 32 bits are written with division, since JS bit
// operators work on 32-bit integers.
const TWO_POW_32 = 4294967296;
const TWO_POW_56 = 2 ** 56;
const TWO_POW_63 = 2 ** 63;

export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  reset(): void {
    this.pos = 0;
  }

  /** Makes room for `n` more bytes, doubling so growth is amortised O(1). */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A varint of a non-negative integer below 2^64 (above 2^32 by division by 128, exact for doubles). */
  uvarint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    let v = value;
    if (v < TWO_POW_32) {
      while (v > 0x7f) {
        buf[pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
    } else {
      while (v > 0x7f) {
        buf[pos++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** An int64 varint: negative values take ten bytes (two's complement), as protobuf wants. */
  int64(value: number): void {
    if (value >= 0) {
      this.uvarint(value);
      return;
    }
    this.ensure(10);
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** Eight raw bytes, little-endian as given: for NaN payloads that must not pass through a JS number. */
  raw(bytes: Buffer): void {
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }

  /** A length-delimited UTF-8 string (without its tag). */
  string(value: string): void {
    // Worst case 3 bytes per UTF-16 unit; the length prefix is reserved as one byte and moved when longer.
    const max = value.length * 3;
    this.ensure(max + 5);
    if (max < 128) {
      const start = this.pos + 1;
      const n = this.buf.write(value, start, 'utf8');
      this.buf[this.pos] = n;
      this.pos = start + n;
      return;
    }
    const n = Buffer.byteLength(value, 'utf8');
    this.uvarint(n);
    this.buf.write(value, this.pos, 'utf8');
    this.pos += n;
  }

  /**
   * Starts a length-delimited field whose size is not known yet: reserves `reserve` bytes for the
   * length and returns where the body starts. `endLength` writes the length and, if it needs another
   * number of bytes than reserved (rare when `reserve` is chosen well), moves the body.
   */
  beginLength(reserve: number): number {
    this.ensure(reserve);
    this.pos += reserve;
    return this.pos;
  }

  endLength(bodyStart: number, reserve: number): void {
    const len = this.pos - bodyStart;
    const size = uvarintSize(len);
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(bodyStart - reserve + size, bodyStart, this.pos);
      this.pos += size - reserve;
    }
    let at = bodyStart - reserve;
    let v = len;
    while (v > 0x7f) {
      this.buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[at] = v;
  }

  /** Bytes as they are (already encoded fields, e.g. a series' cached labels). */
  bytes(src: Uint8Array): void {
    const n = src.length;
    this.ensure(n);
    this.buf.set(src, this.pos);
    this.pos += n;
  }

  /** The bytes written so far: a view, valid until the next write or reset. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Bytes of the varint of a non-negative integer below 2^64 (every integer a double holds there; above
 * 2^53 doubles are integers spaced 2^(e-52) apart): comparisons, no division. A varint carries 7 bits
 * a byte, so n bytes hold values below 2^(7n), and 2^64 - 1 takes ten.
 */
export function uvarintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  if (value < 0x800000000) return 5; // 2^35
  if (value < 0x40000000000) return 6; // 2^42: millisecond timestamps until 2109
  if (value < 0x2000000000000) return 7; // 2^49
  if (value < TWO_POW_56) return 8;
  if (value < TWO_POW_63) return 9;
  return 10; // up to 2^64 - 1
}

/**
 * Writes the varint of a non-negative integer below 2^64 at `pos` (room must be there: ten bytes)
 * and returns the position after it. Above 32 bits it splits the number into two 32-bit halves
 * instead of dividing per byte: millisecond timestamps (~2^41) are the common case. The split is
 * exact for every integer double below 2^64: `value >>> 0` is the value modulo 2^32, and
 * `value - lo` is a multiple of 2^32 below 2^64, which a double holds, so the subtraction and the
 * division by a power of two do not round.
 */
export function putUvarint(buf: Uint8Array, pos: number, value: number): number {
  let lo: number;
  if (value >= TWO_POW_32) {
    lo = value >>> 0;
    let hi = (value - lo) / TWO_POW_32; // < 2^32
    // Four 7-bit groups come from the low half alone; the fifth takes its last 4 bits and 3 of the high half.
    buf[pos++] = (lo & 0x7f) | 0x80;
    buf[pos++] = ((lo >>> 7) & 0x7f) | 0x80;
    buf[pos++] = ((lo >>> 14) & 0x7f) | 0x80;
    buf[pos++] = ((lo >>> 21) & 0x7f) | 0x80;
    const fifth = (lo >>> 28) | ((hi & 0x7) << 4);
    // The high half's other 29 bits go on alone (shifting them in with the low bits would overflow 32 bits).
    hi >>>= 3;
    if (hi === 0) {
      buf[pos++] = fifth;
      return pos;
    }
    buf[pos++] = fifth | 0x80;
    lo = hi;
  } else lo = value;
  while (lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}
