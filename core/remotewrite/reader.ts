/**
 * Reading protobuf wire format, bounds-checked, for everything that reads remote-write bytes: the
 * 1.0 and 2.0 decoders of the receiver, and the exporter when it splits an encoded request.
 *
 * Exact: a nested message is read with `enter(length)` ... `leave(outer)`, which narrows `end` to the
 * message's own bytes, so a field inside it that claims more than its message holds is an error, not
 * a read into the next message. Strings are checked to be UTF-8; a bad one is decoded anyway (the
 * caller decides what to refuse) and raises `badUtf8`.
 */
import { isUtf8 } from 'node:buffer';
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
  /** Set by string() on bytes that are not UTF-8; the caller clears it. */
  badUtf8 = false;
  constructor(
    readonly buf: Buffer,
    start: number,
    public end: number,
  ) {
    this.pos = start;
  }

  /** Reads a length and narrows the reader to that many bytes; returns the outer end, for leave(). */
  enter(): number {
    const n = this.length();
    const outer = this.end;
    this.end = this.pos + n;
    return outer;
  }

  /** Back to the enclosing message, once the nested one is read to its end. */
  leave(outer: number): void {
    if (this.pos !== this.end) throw new DecodeError(`a nested message read to byte ${this.pos}, not its end at ${this.end}`);
    this.end = outer;
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

  /**
   * A field's tag: field number << 3 | wire type. Field numbers end at 2^29 - 1, so a tag is at most 32
   * bits; a longer one is refused, where reading it on would map it onto some real field.
   */
  tag(): number {
    const tag = this.varint();
    if (tag > 0xffffffff) throw new DecodeError(`field tag ${tag} is over 32 bits`);
    return tag;
  }

  /**
   * An int64 varint; negative values (ten bytes, two's complement) come back negative. Past seven
   * bytes (2^49) it is read again exactly: varint()'s running sum of doubles rounds twice past 2^53,
   * one off the nearest number (found by decode-fuzz.test.ts against protobufjs).
   */
  int64(): number {
    const start = this.pos;
    const v = this.varint();
    if (this.pos - start > 7) {
      let big = 0n;
      for (let i = this.pos - start - 1; i >= 0; i--) big = (big << 7n) | BigInt(this.buf[start + i] & 0x7f);
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
    const start = this.pos;
    const end = start + n;
    const buf = this.buf;
    // ASCII (nearly every label) is UTF-8: the native check only runs past the first byte over 0x7f.
    for (let i = start; i < end; i++) {
      if (buf[i] > 0x7f) {
        if (!isUtf8(buf.subarray(i, end))) this.badUtf8 = true;
        break;
      }
    }
    this.pos = end;
    return buf.toString('utf8', start, end);
  }

  /** The bounds of a length-delimited field's body; moves past it. */
  bytes(): [number, number] {
    const n = this.length();
    const start = this.pos;
    this.pos = start + n;
    return [start, start + n];
  }

  /**
   * One Sample message (1.0 and 2.0 alike: double value = 1, int64 timestamp = 2), its length next,
   * appended to the three arrays. The stale NaN is told from its eight bytes before the value
   * becomes a JS number, where its payload would be lost.
   */
  sample(values: number[], stale: boolean[], times: number[]): void {
    const outer = this.enter();
    const buf = this.buf;
    let value = 0;
    let isStale = false;
    let ts = 0;
    while (this.pos < this.end) {
      const t = this.tag();
      if (t === 0x09) {
        if (this.pos + 8 > this.end) throw new DecodeError('truncated sample value');
        // 0x7ff0000000000002, little-endian.
        isStale = buf.readUInt32LE(this.pos) === 2 && buf.readUInt32LE(this.pos + 4) === 0x7ff00000;
        value = buf.readDoubleLE(this.pos);
        this.pos += 8;
      } else if (t === 0x10) ts = this.int64();
      else this.skip(t & 7);
    }
    this.leave(outer);
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
