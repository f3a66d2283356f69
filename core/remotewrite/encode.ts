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
import { ProtoWriter, putUvarint, uvarintSize } from './writer.js';

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

// Bytes reserved for a Label's length while its bytes are cached: a label pair usually fits in 127.
const LABEL_LENGTH_RESERVE = 1;

/**
 * Series kept with their encoded labels (both generations together). Each costs up to ~1.6 KiB of heap
 * (bench/queue-memory: the disk buffer's fixed heap for 10k series of four labels; mostly the trie's
 * one-entry Maps below a high-cardinality label, then the key string and ~150 bytes of labels), so
 * 50k is up to ~80 MiB. The exporter keeps one encoder per shard and shards split the series by hash,
 * so all encoders together hold about the number of distinct series.
 */
export const DEFAULT_MAX_CACHED_SERIES = 50_000;

// A sample on the wire: tag, length, value tag + 8 bytes, timestamp tag + varint (<= 10 bytes).
const SAMPLE_FIXED_BYTES = 12;
const MAX_SAMPLE_BYTES = SAMPLE_FIXED_BYTES + 10;

/**
 * A series as the encoder keeps it between requests: its Label fields encoded once (labels rarely
 * change between scrapes), and the list of its points in the request being built, as a chain of
 * indices into the request's points (no array per series per request).
 */
interface CachedSeries {
  /** Canonical key (`name\xfevalue\xff` per label in name order): the same label set from another shape. */
  readonly key: string;
  /** The series' TimeSeries.labels fields, tags and lengths included, ready to copy. */
  readonly labels: Buffer;
  /** Number of the request that last used it: the series is in that request when equal. */
  epoch: number;
  /** First and last point of this series in the request (indices into `points`, chained by `next`). */
  head: number;
  tail: number;
}

/**
 * A node of the lookup trie: one level per label name of a shape, keyed by value (strings from the
 * same source share their cached hash, so a lookup costs no string building). The leaf holds the series.
 */
interface Node {
  children: Map<string, Node> | undefined;
  series: CachedSeries | undefined;
}

/** One generation of the series cache: trie roots per shape, series by canonical key, leaves filled. */
interface Generation {
  readonly roots: Map<readonly string[], Node>;
  readonly canonical: Map<string, CachedSeries>;
  size: number;
}

function generation(): Generation {
  return { roots: new Map(), canonical: new Map(), size: 0 };
}

export interface EncoderOptions {
  /** Added to every series that lacks the label (or has it empty), as Prometheus's external_labels. */
  externalLabels?: Labels;
  /** First size of the reused buffer; it grows as needed. */
  initialBufferSize?: number;
  /**
   * Series whose encoded labels are kept between requests (default DEFAULT_MAX_CACHED_SERIES). Two
   * generations of half this each: when the current one fills, it becomes the old one and the old one
   * goes, so series seen since the last turn stay (an LRU by generation). Checked between requests,
   * so one request may overshoot it by its own series.
   */
  maxCachedSeries?: number;
}

export class WriteRequestEncoder {
  private readonly writer: ProtoWriter;
  /** Encodes one series' labels before they are copied into their cache entry. */
  private readonly labelWriter = new ProtoWriter(1024);
  private readonly externalNames: readonly string[];
  private readonly externalValues: Labels;
  private readonly generationSize: number;
  private current: Generation = generation();
  private previous: Generation = generation();
  private readonly shapes = new Map<string, readonly string[]>();
  /** Series of the request being built, in order of first appearance. */
  private readonly series: CachedSeries[] = [];
  /** next[i]: the index of the next point of point i's series, or -1. Reused, grown as needed. */
  private next = new Int32Array(1024);
  private epoch = 0;
  // Shape cache of one: the points of a batch mostly share the key order of their labels object.
  private lastKeys: string[] = [];
  private lastShape: readonly string[] = [];
  private readonly scratch: string[] = [];
  private readonly order: number[] = [];

  constructor(options: EncoderOptions = {}) {
    this.writer = new ProtoWriter(options.initialBufferSize);
    const external: Labels = {};
    for (const [name, value] of Object.entries(options.externalLabels ?? {})) {
      if (value !== '' && name !== '__name__') external[name] = value;
    }
    this.externalValues = external;
    this.externalNames = Object.keys(external);
    this.generationSize = Math.max(1, Math.ceil((options.maxCachedSeries ?? DEFAULT_MAX_CACHED_SERIES) / 2));
  }

  /** Series whose labels are cached now (both generations; a series in both counts twice). */
  get cachedSeries(): number {
    return this.current.size + this.previous.size;
  }

  /**
   * Encodes one WriteRequest. The result is a view into the encoder's buffer, valid until the next
   * call: compress or copy it before encoding again. The points are read, never changed.
   */
  encode(points: readonly Point[], metadata: Iterable<MetricFamily> = []): Buffer {
    if (this.current.size >= this.generationSize) {
      this.previous = this.current;
      this.current = generation();
    }
    // Epochs wrap long after any series could remember one (2^31 requests).
    this.epoch = (this.epoch + 1) | 0;
    if (this.next.length < points.length) this.next = new Int32Array(Math.max(points.length, this.next.length * 2));
    for (let i = 0; i < points.length; i++) this.add(points[i], i);
    const w = this.writer;
    w.reset();
    const series = this.series;
    for (let i = 0; i < series.length; i++) this.writeSeries(series[i], points);
    series.length = 0;
    for (const family of metadata) writeMetadata(w, family);
    return w.view();
  }

  private add(p: Point, index: number): void {
    const s = this.lookup(p);
    this.next[index] = -1;
    if (s.epoch !== this.epoch) {
      s.epoch = this.epoch;
      s.head = index;
      this.series.push(s);
    } else {
      this.next[s.tail] = index;
    }
    s.tail = index;
  }

  /** The cached series of a point: a walk of the current trie, else of the old one, else a new entry. */
  private lookup(p: Point): CachedSeries {
    const own = p.labels;
    const shape = this.shapeOf(own);
    const cur = this.current;
    let node: Node | undefined = cur.roots.get(shape);
    if (node === undefined) {
      node = { children: undefined, series: undefined };
      cur.roots.set(shape, node);
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
    let s = node.series;
    if (s === undefined) {
      s = this.previousSeries(p, shape) ?? this.seriesFor(p, shape);
      node.series = s;
      if (cur.canonical.get(s.key) === undefined) cur.canonical.set(s.key, s);
      cur.size++;
    }
    return s;
  }

  /** The series from the old generation's trie, if it had it (no nodes created there). */
  private previousSeries(p: Point, shape: readonly string[]): CachedSeries | undefined {
    let node: Node | undefined = this.previous.roots.get(shape);
    for (let i = 0; node !== undefined && i < shape.length; i++) {
      const name = shape[i];
      node = node.children?.get(name === '__name__' ? p.name : this.valueOf(p.labels, name));
    }
    return node?.series;
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

  /**
   * A series not in the trie under this shape: the same label set may be cached under another shape
   * ({a:'1', b:''} and {a:'1'}), else its labels are encoded now.
   */
  private seriesFor(p: Point, shape: readonly string[]): CachedSeries {
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
    const known = this.current.canonical.get(key) ?? this.previous.canonical.get(key);
    if (known !== undefined) return known;
    const w = this.labelWriter;
    w.reset();
    for (let i = 0; i < labels.length; i += 2) {
      w.byte(TAG_LABEL);
      const start = w.beginLength(LABEL_LENGTH_RESERVE);
      w.byte(TAG_LABEL_NAME);
      w.string(labels[i]);
      w.byte(TAG_LABEL_VALUE);
      w.string(labels[i + 1]);
      w.endLength(start, LABEL_LENGTH_RESERVE);
    }
    // Epoch 0 is never current once encode() has run (it starts at 1), so the entry counts as unused.
    return { key, labels: Buffer.from(w.view()), epoch: this.epoch - 1, head: -1, tail: -1 };
  }

  private writeSeries(s: CachedSeries, points: readonly Point[]): void {
    const next = this.next;
    // First pass: the series' length (known exactly, so no bytes move) and whether timestamps ascend.
    let bodyLength = s.labels.length;
    let count = 0;
    let inOrder = true;
    let prevTs = -Infinity;
    for (let i = s.head; i !== -1; i = next[i]) {
      const ts = points[i].timestampMs;
      bodyLength += SAMPLE_FIXED_BYTES + (ts < 0 ? 10 : uvarintSize(ts));
      if (ts < prevTs) inOrder = false;
      prevTs = ts;
      count++;
    }
    const w = this.writer;
    w.ensure(1 + 5 + s.labels.length + count * MAX_SAMPLE_BYTES);
    w.byte(TAG_TIMESERIES);
    w.uvarint(bodyLength);
    w.bytes(s.labels);
    if (inOrder) {
      for (let i = s.head; i !== -1; i = next[i]) writeSample(w, points[i]);
      return;
    }
    // Out of order (rare): a stable sort of the indices, so equal timestamps keep their input order.
    const order = this.order;
    order.length = 0;
    for (let i = s.head; i !== -1; i = next[i]) order.push(i);
    order.sort((a, b) => points[a].timestampMs - points[b].timestampMs);
    for (let k = 0; k < order.length; k++) writeSample(w, points[order[k]]);
  }
}

// Scratch for a double's eight little-endian bytes (every platform Node runs on is little-endian,
// and protobuf wants little-endian).
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);

/** One Sample field; the caller has ensured MAX_SAMPLE_BYTES of room. */
function writeSample(w: ProtoWriter, p: Point): void {
  const buf = w.buf;
  let pos = w.pos;
  const ts = p.timestampMs;
  buf[pos++] = TAG_SAMPLE;
  buf[pos++] = SAMPLE_FIXED_BYTES - 2 + (ts < 0 ? 10 : uvarintSize(ts));
  buf[pos++] = TAG_SAMPLE_VALUE;
  const bytes = p.stale ? STALE_NAN_BYTES : F64_BYTES;
  if (!p.stale) F64[0] = p.value;
  buf[pos++] = bytes[0];
  buf[pos++] = bytes[1];
  buf[pos++] = bytes[2];
  buf[pos++] = bytes[3];
  buf[pos++] = bytes[4];
  buf[pos++] = bytes[5];
  buf[pos++] = bytes[6];
  buf[pos++] = bytes[7];
  buf[pos++] = TAG_SAMPLE_TIMESTAMP;
  if (ts >= 0) {
    w.pos = putUvarint(buf, pos, ts);
    return;
  }
  w.pos = pos;
  w.int64(ts); // ten bytes, two's complement
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

/** Encodes into a fresh buffer (convenience for one-off use; the exporter keeps an encoder). */
export function encodeWriteRequest(points: readonly Point[], metadata: Iterable<MetricFamily> = [], options: EncoderOptions = {}): Buffer {
  return Buffer.from(new WriteRequestEncoder({ ...options, initialBufferSize: 4096 }).encode(points, metadata));
}
