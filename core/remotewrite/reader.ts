/**
 * Reading protobuf wire format, bounds-checked, for everything that reads remote-write bytes: the
 * 1.0 and 2.0 decoders of the receiver, and the exporter when it splits an encoded request.
 */
import { PprofcolError } from '../errors.js';

/** Malformed remote-write bytes; the message says what and where. */
export class DecodeError extends PprofcolError {
  constructor(message: string) {
    super('ERR_REMOTE_WRITE_DECODE', message);
    this.name = 'DecodeError';
  }
}

/** A bounds-checked protobuf wire reader over one message's bytes. */
export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    const buf = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new DecodeError('truncated varint');
      const b = buf[this.pos++];
      if (i === 9 && b > 1) throw new DecodeError('varint longer than 64 bits');
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new DecodeError('varint longer than 10 bytes');
  }

  /** An int64 varint; negative values (ten bytes, two's complement) come back negative. */
  int64(): number {
    const start = this.pos;
    const v = this.varint();
    if (this.pos - start === 10) {
      let big = 0n;
      for (let i = 9; i >= 0; i--) big = (big << 7n) | BigInt(this.buf[start + i] & 0x7f);
      return Number(BigInt.asIntN(64, big));
    }
    return v;
  }

  length(): number {
    const n = this.varint();
    if (this.pos + n > this.end) throw new DecodeError(`field of ${n} bytes runs past its message`);
    return n;
  }

  string(): string {
    const n = this.length();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** The bounds of a length-delimited field's body; moves past it. */
  bytes(): [number, number] {
    const n = this.length();
    const start = this.pos;
    this.pos = start + n;
    return [start, start + n];
  }

  /**
   * One Sample message (1.0 and 2.0 alike: double value = 1, int64 timestamp = 2) whose body ends at
   * `end`, appended to the three arrays. The stale NaN is told from its eight bytes before the value
   * becomes a JS number, where its payload would be lost.
   */
  sample(end: number, values: number[], stale: boolean[], times: number[]): void {
    const buf = this.buf;
    let value = 0;
    let isStale = false;
    let ts = 0;
    while (this.pos < end) {
      const t = this.varint();
      if (t === 0x09) {
        if (this.pos + 8 > end) throw new DecodeError('truncated sample value');
        // 0x7ff0000000000002, little-endian.
        isStale = buf.readUInt32LE(this.pos) === 2 && buf.readUInt32LE(this.pos + 4) === 0x7ff00000;
        value = buf.readDoubleLE(this.pos);
        this.pos += 8;
      } else if (t === 0x10) ts = this.int64();
      else this.skip(t & 7);
    }
    values.push(value);
    stale.push(isStale);
    times.push(ts);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        // Read the length first: `this.pos += this.length()` would add it to the position from
        // before the length's own varint.
        const n = this.length();
        this.pos += n;
        return;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new DecodeError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new DecodeError('truncated field');
  }
}
