/**
 * Remote write 1.0 encoder: points -> `prometheus.WriteRequest` protobuf, written by hand into one
 * reused buffer. Pure: no I/O, no clocks. What the receiver must get (design.md): labels sorted by
 * name, unique, none empty, `__name__` present; samples of one series in timestamp order; metadata in
 * field 3; a stale point written as the eight bytes of Prometheus's stale NaN, never via a JS number.
 *
 * Wire layout (prompb/remote.proto, types.proto):
 *   WriteRequest  { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries    { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label         { string name = 1; string value = 2; }
 *   Sample        { double value = 1; int64 timestamp = 2; }
 *   MetricMetadata{ MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
 */
import type { Labels, MetricFamily, MetricType, Point } from '../model/metrics.js';
import { ProtoWriter, uvarintSize } from './writer.js';

/** Prometheus's stale marker 0x7ff0000000000002, little-endian as a protobuf double goes on the wire. */
export const STALE_NAN_BYTES: Buffer = Buffer.from([0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f]);

/** prompb.MetricMetadata.MetricType. */
export const METADATA_TYPE = {
  UNKNOWN: 0,
  COUNTER: 1,
  GAUGE: 2,
  HISTOGRAM: 3,
  GAUGEHISTOGRAM: 4,
  SUMMARY: 5,
  INFO: 6,
  STATESET: 7,
} as const;

const TYPE_OF: Record<MetricType, number> = {
  counter: METADATA_TYPE.COUNTER,
  gauge: METADATA_TYPE.GAUGE,
  histogram: METADATA_TYPE.HISTOGRAM,
  summary: METADATA_TYPE.SUMMARY,
  untyped: METADATA_TYPE.UNKNOWN,
};

// Field tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
const TAG_TIMESERIES = 0x0a; // WriteRequest.timeseries, 1:LEN
const TAG_METADATA = 0x1a; // WriteRequest.metadata, 3:LEN
const TAG_LABEL = 0x0a; // TimeSeries.labels, 1:LEN
const TAG_SAMPLE = 0x12; // TimeSeries.samples, 2:LEN
const TAG_LABEL_NAME = 0x0a; // Label.name, 1:LEN
const TAG_LABEL_VALUE = 0x12; // Label.value, 2:LEN
const TAG_SAMPLE_VALUE = 0x09; // Sample.value, 1:I64
const TAG_SAMPLE_TIMESTAMP = 0x10; // Sample.timestamp, 2:VARINT
const TAG_META_TYPE = 0x08; // MetricMetadata.type, 1:VARINT
const TAG_META_NAME = 0x12; // MetricMetadata.metric_family_name, 2:LEN
const TAG_META_HELP = 0x22; // MetricMetadata.help, 4:LEN
const TAG_META_UNIT = 0x2a; // MetricMetadata.unit, 5:LEN

// Bytes reserved for lengths not known in advance. A series of a few labels and samples is
// 128..16383 bytes (two varint bytes); a label pair and a metadata entry usually fit in 127.
const SERIES_LENGTH_RESERVE = 2;
const LABEL_LENGTH_RESERVE = 1;

/** One series of a request: its labels as sorted name/value pairs and its points. */
interface Series {
  /** [name0, value0, name1, value1, ...] sorted by name, `__name__` included, no empty value. */
  labels: string[];
  points: Point[];
}

/**
 * A node of the lookup trie: one level per label name of a shape, keyed by value (strings from the
 * same source share their cached hash, so a lookup costs no string building). The leaf holds the series.
 */
interface Node {
  children: Map<string, Node> | undefined;
  series: Series | undefined;
}

export interface EncoderOptions {
  /** Added to every series that lacks the label (or has it empty), as Prometheus's external_labels. */
  externalLabels?: Labels;
  /** First size of the reused buffer; it grows as needed. */
  initialBufferSize?: number;
}

export class WriteRequestEncoder {
  private readonly writer: ProtoWriter;
  private readonly externalNames: readonly string[];
  private readonly externalValues: Labels;
  /** Series of the request being built, in order of first appearance. */
  private readonly series: Series[] = [];
  /** Series by canonical key: catches two shapes that come to the same label set ({a:'1', b:''} and {a:'1'}). */
  private readonly canonical = new Map<string, Series>();
  /** Trie roots, one per shape (sorted label names array, interned in `shapes`). */
  private readonly roots = new Map<readonly string[], Node>();
  private readonly shapes = new Map<string, readonly string[]>();
  // Shape cache of one: the points of a batch mostly share the key order of their labels object.
  private lastKeys: string[] = [];
  private lastShape: readonly string[] = [];
  private readonly scratch: string[] = [];

  constructor(options: EncoderOptions = {}) {
    this.writer = new ProtoWriter(options.initialBufferSize);
    const external: Labels = {};
    for (const [name, value] of Object.entries(options.externalLabels ?? {})) {
      if (value !== '' && name !== '__name__') external[name] = value;
    }
    this.externalValues = external;
    this.externalNames = Object.keys(external);
  }

  /**
   * Encodes one WriteRequest. The result is a view into the encoder's buffer, valid until the next
   * call: compress or copy it before encoding again.
   */
  encode(points: readonly Point[], metadata: Iterable<MetricFamily> = []): Buffer {
    for (let i = 0; i < points.length; i++) this.add(points[i]);
    const w = this.writer;
    w.reset();
    const series = this.series;
    for (let i = 0; i < series.length; i++) this.writeSeries(series[i]);
    series.length = 0;
    this.canonical.clear();
    this.roots.clear();
    for (const family of metadata) writeMetadata(w, family);
    return w.view();
  }

  private add(p: Point): void {
    const own = p.labels;
    const shape = this.shapeOf(own);
    let node: Node | undefined = this.roots.get(shape);
    if (node === undefined) {
      node = { children: undefined, series: undefined };
      this.roots.set(shape, node);
    }
    // Walk one level per label name of the shape; '__name__' takes the point's name.
    for (let i = 0; i < shape.length; i++) {
      const name = shape[i];
      const value = name === '__name__' ? p.name : this.valueOf(own, name);
      let children: Map<string, Node> | undefined = node.children;
      if (children === undefined) {
        children = new Map();
        node.children = children;
      }
      let next: Node | undefined = children.get(value);
      if (next === undefined) {
        next = { children: undefined, series: undefined };
        children.set(value, next);
      }
      node = next;
    }
    let series = node.series;
    if (series === undefined) {
      series = this.seriesFor(p, shape);
      node.series = series;
    }
    series.points.push(p);
  }

  /** Own value when not empty, else the external label's, else '' (left out). */
  private valueOf(own: Labels, name: string): string {
    const v = own[name];
    if (v !== undefined && v !== '') return v;
    return this.externalValues[name] ?? '';
  }

  /** The sorted label names (own, external, `__name__`) of a labels object, cached by key order. */
  private shapeOf(own: Labels): readonly string[] {
    const last = this.lastKeys;
    let i = 0;
    let same = true;
    for (const name in own) {
      if (i >= last.length || last[i] !== name) {
        same = false;
        break;
      }
      i++;
    }
    if (same && i === last.length) return this.lastShape;
    const keys = Object.keys(own);
    const names = new Set<string>(keys);
    names.delete('__name__');
    names.add('__name__');
    for (const n of this.externalNames) names.add(n);
    const sorted = [...names].sort(compare);
    const id = sorted.join('\xff');
    let shape = this.shapes.get(id);
    if (shape === undefined) {
      shape = sorted;
      this.shapes.set(id, shape);
    }
    this.lastKeys = keys;
    this.lastShape = shape;
    return shape;
  }

  /** A series met for the first time in this request (or a shape that comes to a known label set). */
  private seriesFor(p: Point, shape: readonly string[]): Series {
    const labels = this.scratch;
    labels.length = 0;
    let key = '';
    for (let i = 0; i < shape.length; i++) {
      const name = shape[i];
      const value = name === '__name__' ? p.name : this.valueOf(p.labels, name);
      if (value === '') continue;
      labels.push(name, value);
      key += `${name}\xfe${value}\xff`;
    }
    let series = this.canonical.get(key);
    if (series === undefined) {
      series = { labels: labels.slice(), points: [] };
      this.canonical.set(key, series);
      this.series.push(series);
    }
    return series;
  }

  private writeSeries(s: Series): void {
    const w = this.writer;
    const points = s.points;
    if (!inTimestampOrder(points)) points.sort(byTimestamp); // Array.prototype.sort is stable
    w.byte(TAG_TIMESERIES);
    const seriesStart = w.beginLength(SERIES_LENGTH_RESERVE);
    const labels = s.labels;
    for (let i = 0; i < labels.length; i += 2) {
      w.byte(TAG_LABEL);
      const start = w.beginLength(LABEL_LENGTH_RESERVE);
      w.byte(TAG_LABEL_NAME);
      w.string(labels[i]);
      w.byte(TAG_LABEL_VALUE);
      w.string(labels[i + 1]);
      w.endLength(start, LABEL_LENGTH_RESERVE);
    }
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      const ts = p.timestampMs;
      // Sample body: 1 tag + 8 bytes of double, 1 tag + the timestamp varint (10 bytes when negative).
      const tsSize = ts < 0 ? 10 : uvarintSize(ts);
      w.byte(TAG_SAMPLE);
      w.byte(10 + tsSize);
      w.byte(TAG_SAMPLE_VALUE);
      if (p.stale) w.raw(STALE_NAN_BYTES);
      else w.double(p.value);
      w.byte(TAG_SAMPLE_TIMESTAMP);
      w.int64(ts);
    }
    w.endLength(seriesStart, SERIES_LENGTH_RESERVE);
  }
}

function writeMetadata(w: ProtoWriter, family: MetricFamily): void {
  w.byte(TAG_METADATA);
  // HELP strings of client_golang run up to ~150 bytes: reserve two length bytes for long ones.
  const reserve = family.help.length + family.name.length + family.unit.length > 100 ? 2 : 1;
  const start = w.beginLength(reserve);
  const type = TYPE_OF[family.type] ?? METADATA_TYPE.UNKNOWN;
  // proto3 leaves zero values out, as Prometheus's own marshalling does.
  if (type !== 0) {
    w.byte(TAG_META_TYPE);
    w.uvarint(type);
  }
  w.byte(TAG_META_NAME);
  w.string(family.name);
  if (family.help !== '') {
    w.byte(TAG_META_HELP);
    w.string(family.help);
  }
  if (family.unit !== '') {
    w.byte(TAG_META_UNIT);
    w.string(family.unit);
  }
  w.endLength(start, reserve);
}

/** Byte order of UTF-16 code units: what Prometheus's sort of label names does for ASCII names. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function inTimestampOrder(points: readonly Point[]): boolean {
  for (let i = 1; i < points.length; i++) if (points[i].timestampMs < points[i - 1].timestampMs) return false;
  return true;
}

function byTimestamp(a: Point, b: Point): number {
  return a.timestampMs - b.timestampMs;
}

/** Encodes into a fresh buffer (convenience for one-off use; the exporter keeps an encoder). */
export function encodeWriteRequest(points: readonly Point[], metadata: Iterable<MetricFamily> = [], options: EncoderOptions = {}): Buffer {
  return Buffer.from(new WriteRequestEncoder({ ...options, initialBufferSize: 4096 }).encode(points, metadata));
}
