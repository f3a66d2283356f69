// A tiny walker over an uncompressed WriteRequest that reports where each sample's eight value bytes
// sit, so tests can check the stale NaN's raw bytes at their offset (a decoder reading a JS number
// could not tell them apart from another NaN).

export interface RawSample {
  /** Offset of Sample.value's eight bytes in the body. */
  valueOffset: number;
  timestamp: number;
}
export interface RawSeries {
  labels: Array<[string, string]>;
  samples: RawSample[];
}

function varint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++];
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
  }
}

function skip(buf: Buffer, pos: number, wire: number): number {
  if (wire === 0) return varint(buf, pos)[1];
  if (wire === 1) return pos + 8;
  if (wire === 5) return pos + 4;
  if (wire === 2) {
    const [len, at] = varint(buf, pos);
    return at + len;
  }
  throw new Error(`wire type ${wire} at ${pos}`);
}

export function rawSeries(body: Buffer): RawSeries[] {
  const out: RawSeries[] = [];
  let pos = 0;
  while (pos < body.length) {
    const [tag, at] = varint(body, pos);
    if (tag !== 0x0a) {
      pos = skip(body, at, tag & 7);
      continue;
    }
    const [len, start] = varint(body, at);
    const end = start + len;
    const series: RawSeries = { labels: [], samples: [] };
    let p = start;
    while (p < end) {
      const [t, a] = varint(body, p);
      const [l, s] = varint(body, a);
      if (t === 0x0a) {
        let q = s;
        let name = '';
        let value = '';
        while (q < s + l) {
          const [lt, la] = varint(body, q);
          const [ll, ls] = varint(body, la);
          const text = body.toString('utf8', ls, ls + ll);
          if (lt === 0x0a) name = text;
          else value = text;
          q = ls + ll;
        }
        series.labels.push([name, value]);
      } else if (t === 0x12) {
        let q = s;
        let valueOffset = -1;
        let timestamp = 0;
        while (q < s + l) {
          const [st, sa] = varint(body, q);
          if (st === 0x09) {
            valueOffset = sa;
            q = sa + 8;
          } else if (st === 0x10) {
            [timestamp, q] = varint(body, sa);
          } else q = skip(body, sa, st & 7);
        }
        series.samples.push({ valueOffset, timestamp });
      }
      p = s + l;
    }
    out.push(series);
    pos = end;
  }
  return out;
}
