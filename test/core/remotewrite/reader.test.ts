// The protobuf wire reader shared by the remote-write decoders and the exporter's request splitter.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError, Reader } from '../../../core/remotewrite/reader.js';

describe('remote-write wire reader', () => {
  it('skips a length-delimited field whole, length varint included (an exemplar before a sample)', () => {
    // field 3, wire type 2, 130 bytes (a two-byte length varint), then field 1 varint 5.
    const body = Buffer.concat([Buffer.from([0x1a, 0x82, 0x01]), Buffer.alloc(130, 0x07), Buffer.from([0x08, 0x05])]);
    const r = new Reader(body, 0, body.length);
    const tag = r.varint();
    assert.equal(tag, 0x1a);
    r.skip(tag & 7);
    assert.equal(r.pos, 133);
    assert.equal(r.varint(), 0x08);
    assert.equal(r.varint(), 5);
  });

  it('skips fixed64, fixed32 and varint fields and rejects what runs past the end', () => {
    const body = Buffer.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x15, 1, 2, 3, 4, 0x18, 0x96, 0x01, 0x20, 0x07]);
    const r = new Reader(body, 0, body.length);
    for (const wire of [1, 5, 0]) {
      assert.equal(r.varint() & 7, wire);
      r.skip(wire);
    }
    assert.equal(r.varint(), 0x20);
    assert.equal(r.varint(), 7);
    const short = new Reader(Buffer.from([0x0a, 0x05, 1]), 0, 3);
    short.varint();
    assert.throws(() => short.skip(2), DecodeError);
    assert.throws(() => new Reader(Buffer.from([0x80]), 0, 1).varint(), /truncated varint/);
    assert.throws(() => new Reader(Buffer.from([0x0b]), 0, 1).skip(3), /unsupported wire type 3/);
  });

  it('reads a ten-byte int64 varint as a negative number', () => {
    const minusOne = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.equal(new Reader(minusOne, 0, minusOne.length).int64(), -1);
  });
});
