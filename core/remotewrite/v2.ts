/**
 * Remote write 2.0 (`io.prometheus.write.v2.Request`, spec 2.0-rc.4), written by hand from a remote
 * write 1.0 request's bytes. The queue cuts, buffers (memory, disk, Redis) and splits requests as 1.0;
 * a 2.0 receiver gets the same request transcoded at send time, so every buffer and isolate_rejected
 * work unchanged and a fallback to 1.0 resends the very bytes that were cut. Pure: no I/O.
 *
 *   Request    { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }   (1 to 3 reserved)
 *   TimeSeries { repeated uint32 labels_refs = 1 (packed); repeated Sample samples = 2; Metadata metadata = 5; }
 *   Sample     { double value = 1; int64 timestamp = 2; int64 start_timestamp = 3; }
 *   Metadata   { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4; }
 *
 * - symbols starts with "" (the spec's MUST), so an absent help or unit is ref 0.
 * - A 1.0 Sample (value = 1, timestamp = 2) has the field numbers of a 2.0 Sample: it is copied as
 *   the bytes it was, so a stale marker keeps its NaN bits (0x7ff0000000000002).
 * - start_timestamp is never written (0 = unset): pprof does not say when a process's counters
 *   started, and a made-up value (pprofcol's first sight of the series) would make a receiver that
 *   injects a zero at the start timestamp see a counter reset that never happened.
 * - Metadata: each series gets its family's type, help and unit when the 1.0 request carried that
 *   family's metadata (matched by name, or by the name without `_sum`, `_count`, `_bucket`).
 *   Metadata-only 1.0 requests have no 2.0 form (2.0 carries metadata with the samples).
 */
import { Reader } from './reader.js';
import { ProtoWriter, uvarintSize } from './writer.js';

export const V2_CONTENT_TYPE = 'application/x-protobuf;proto=io.prometheus.write.v2.Request';
export const V2_VERSION_HEADER = '2.0.0';
export const V1_PROTOBUF_MESSAGE = 'prometheus.WriteRequest';
export const V2_PROTOBUF_MESSAGE = 'io.prometheus.write.v2.Request';


interface V1Metadata {
  type: number;
  help: string;
  unit: string;
}

interface V1Series {
  /** name, value, name, value ... as written (1.0 requires them sorted by name). */
  labels: string[];
  /** [start, end) of each Sample message body in the source buffer. */
  samples: number[];
  metricName: string;
}

export interface TranscodeResult {
  /** The uncompressed 2.0 Request. */
  body: Buffer;
  series: number;
  samples: number;
  /** Series that carry metadata. */
  withMetadata: number;
}


/** Reads the series and metadata of an uncompressed 1.0 WriteRequest. */
function readV1(buf: Buffer): { series: V1Series[]; metadata: Map<string, V1Metadata> } {
  const series: V1Series[] = [];
  const metadata = new Map<string, V1Metadata>();
  const r = new Reader(buf, 0, buf.length);
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x0a) {
      const [s, e] = r.bytes();
      series.push(readSeries(buf, s, e));
    } else if (tag === 0x1a) {
      const [s, e] = r.bytes();
      const m = new Reader(buf, s, e);
      const meta: V1Metadata = { type: 0, help: '', unit: '' };
      let name = '';
      while (m.pos < m.end) {
        const t = m.varint();
        if (t === 0x08) meta.type = m.varint();
        else if (t === 0x12) name = m.string();
        else if (t === 0x22) meta.help = m.string();
        else if (t === 0x2a) meta.unit = m.string();
        else m.skip(t & 7);
      }
      if (name !== '') metadata.set(name, meta);
    } else {
      r.skip(tag & 7);
    }
  }
  return { series, metadata };
}

function readSeries(buf: Buffer, start: number, end: number): V1Series {
  const out: V1Series = { labels: [], samples: [], metricName: '' };
  const r = new Reader(buf, start, end);
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag === 0x0a) {
      const [s, e] = r.bytes();
      const l = new Reader(buf, s, e);
      let name = '';
      let value = '';
      while (l.pos < l.end) {
        const t = l.varint();
        if (t === 0x0a) name = l.string();
        else if (t === 0x12) value = l.string();
        else l.skip(t & 7);
      }
      out.labels.push(name, value);
      if (name === '__name__') out.metricName = value;
    } else if (tag === 0x12) {
      const [s, e] = r.bytes();
      out.samples.push(s, e);
    } else {
      r.skip(tag & 7);
    }
  }
  return out;
}

const FAMILY_SUFFIXES = ['_sum', '_count', '_bucket'];

function metadataFor(name: string, metadata: Map<string, V1Metadata>): V1Metadata | undefined {
  const exact = metadata.get(name);
  if (exact !== undefined) return exact;
  for (const suffix of FAMILY_SUFFIXES) {
    if (name.endsWith(suffix)) {
      const m = metadata.get(name.slice(0, -suffix.length));
      if (m !== undefined) return m;
    }
  }
  return undefined;
}

/**
 * Reuses its writer and symbol table between requests (one per sender). The result's body is a view
 * into the writer's buffer, valid until the next call.
 */
export class V2Transcoder {
  private readonly writer = new ProtoWriter(64 * 1024);
  private readonly symbolIndex = new Map<string, number>();
  private readonly symbols: string[] = [];
  private readonly refs: number[] = [];

  private symbol(s: string): number {
    let i = this.symbolIndex.get(s);
    if (i === undefined) {
      i = this.symbols.length;
      this.symbols.push(s);
      this.symbolIndex.set(s, i);
    }
    return i;
  }

  /** Transcodes an uncompressed 1.0 WriteRequest into an uncompressed 2.0 Request. */
  transcode(v1: Buffer): TranscodeResult {
    const { series, metadata } = readV1(v1);
    this.symbols.length = 0;
    this.symbolIndex.clear();
    this.symbol(''); // symbols[0] MUST be the empty string
    // Pass 1: every string becomes a symbol; refs per series are kept flat: [count, refs..., type, help, unit].
    const refs = this.refs;
    refs.length = 0;
    let samples = 0;
    let withMetadata = 0;
    for (const s of series) {
      refs.push(s.labels.length);
      for (const label of s.labels) refs.push(this.symbol(label));
      const m = metadataFor(s.metricName, metadata);
      if (m === undefined) refs.push(-1, 0, 0);
      else {
        refs.push(m.type, this.symbol(m.help), this.symbol(m.unit));
        withMetadata++;
      }
      samples += s.samples.length / 2;
    }
    // Pass 2: symbols first (field 4), then the series (field 5).
    const w = this.writer;
    w.reset();
    for (const sym of this.symbols) {
      w.byte(0x22);
      w.string(sym);
    }
    let at = 0;
    for (const s of series) {
      const count = refs[at++];
      w.byte(0x2a);
      const seriesStart = w.beginLength(2);
      // labels_refs, packed varints.
      let packed = 0;
      for (let i = 0; i < count; i++) packed += uvarintSize(refs[at + i]);
      if (count > 0) {
        w.byte(0x0a);
        w.uvarint(packed);
        for (let i = 0; i < count; i++) w.uvarint(refs[at + i]);
      }
      at += count;
      for (let i = 0; i < s.samples.length; i += 2) {
        const start = s.samples[i];
        const end = s.samples[i + 1];
        w.byte(0x12);
        w.uvarint(end - start);
        w.raw(v1.subarray(start, end));
      }
      const type = refs[at];
      const help = refs[at + 1];
      const unit = refs[at + 2];
      at += 3;
      if (type >= 0) {
        w.byte(0x2a);
        const metaStart = w.beginLength(1);
        // proto3: zero values are left out.
        if (type !== 0) {
          w.byte(0x08);
          w.uvarint(type);
        }
        if (help !== 0) {
          w.byte(0x18);
          w.uvarint(help);
        }
        if (unit !== 0) {
          w.byte(0x20);
          w.uvarint(unit);
        }
        w.endLength(metaStart, 1);
      }
      w.endLength(seriesStart, 2);
    }
    return { body: w.view(), series: series.length, samples, withMetadata };
  }
}
