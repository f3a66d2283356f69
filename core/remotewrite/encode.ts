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
import { carriedLabelsIdentity, identityKeyOf, makeLabels, namedKey, type Labels, type MetricFamily, type MetricType, type Point } from '../model/metrics.js';
import { buildRecipe, closeLiteral, putCopy, type Recipe, type RecipeSource, recipeInScratch, SnappyBlockWriter, WrittenAt } from './fused.js';
import { ProtoWriter, putUvarint, uvarintSize } from './writer.js';
import { ByteLru, MAP_ENTRY_BYTES, stringBytes } from '../lru.js';
import { PprofcolError } from '../errors.js';

/**
 * Whether a timestamp can be encoded exactly: an integer of at most 53 bits (a JS number holds every
 * integer to 2^53 and only some beyond; a sample's int64 past that arrives rounded). Points that fail
 * are dropped before encoding (the exporter counts them, reason `invalid_timestamp`).
 */
export function isValidTimestamp(timestampMs: number): boolean {
  return Number.isSafeInteger(timestampMs);
}

/**
 * The points whose timestamps isValidTimestamp accepts: `points` itself when all are (the usual case,
 * one pass and no copy), else a new array without the others. The caller counts the difference.
 */
export function withValidTimestamps<P extends Point>(points: P[]): P[] {
  let kept: P[] | undefined;
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (Number.isSafeInteger(p.timestampMs)) kept?.push(p);
    else kept ??= points.slice(0, i);
  }
  return kept ?? points;
}

/** A point whose timestamp is not a safe integer reached the encoder (a caller's bug: it drops them first). */
export class InvalidTimestampError extends PprofcolError {
  constructor(name: string, timestampMs: number) {
    super('ERR_INVALID_TIMESTAMP', `${name}: timestamp ${timestampMs} is not an integer of at most 53 bits (milliseconds)`);
    this.name = 'InvalidTimestampError';
  }
}

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
 * Series kept with their encoded labels (both generations together). A series of four labels (name
 * of 23 characters, ~110 characters of key, ~155 bytes of Label fields) written by encodeCompressed
 * measures 1,000 bytes of heap and external memory once its recipe is kept (its second write), 735
 * written once (20k series after a gc, heapUsed + external, less what the same writes cost an encoder
 * that caches none), so 50k is ~48 MiB. (History: ~1.6 KiB with a trie of Maps by label value, 1,391
 * with one Map by canonical key, 940 since the key is one latin1 string.) The exporter keeps one
 * encoder per shard and shards split the series by hash, so all encoders together hold about the
 * number of distinct series; its byte bound (SERIES_CACHE_BYTES, shared among shards) usually binds
 * first.
 */
export const DEFAULT_MAX_CACHED_SERIES = 50_000;

/**
 * Estimated heap of one cached series beyond its strings: the 1,000 bytes measured above for four
 * labels with a kept recipe, less the ~350 that seriesBytes counts for their key (two bytes a
 * character, the worst case) and Label fields: 650 (it was 1650, when a series measured ~1.6 KiB, so
 * the byte bound held about half the series it could). Long label values count for what they hold.
 */
const SERIES_FIXED_BYTES = 650;

function seriesBytes(key: string, labels: Buffer): number {
  return SERIES_FIXED_BYTES + 2 * key.length + labels.length;
}

/**
 * Bytes (estimated, see shapeBytes) of label-name sets ("shapes") one encoder keeps. A shape of six
 * labels with 10-character names costs ~620 bytes, so 256KiB keeps ~400 shapes, more than the jobs of
 * one pipeline have; the exporter keeps one encoder per shard, so at max_shards 50 all hold <= 12.5MiB.
 * The label names come from the data (a remote-write sender chooses them): a count bound would not do.
 */
export const DEFAULT_SHAPE_CACHE_BYTES = 256 * 1024;

/**
 * Estimated heap of one cached shape: the entry, its id string, the array (a 32-byte JSArray and a
 * 16-byte backing store header, 8 bytes per slot) and its names (kept alive by the array).
 */
function shapeBytes(id: string, names: readonly string[]): number {
  let n = MAP_ENTRY_BYTES + stringBytes(id) + 48 + 8 * names.length;
  for (let i = 0; i < names.length; i++) n += stringBytes(names[i]);
  return n;
}

// A sample on the wire: tag, length, value tag + 8 bytes, timestamp tag + varint (<= 10 bytes).
const SAMPLE_FIXED_BYTES = 12;
const MAX_SAMPLE_BYTES = SAMPLE_FIXED_BYTES + 10;

/** Recently written series a recipe may copy from (a power of two: the ring's index is masked). */
const RECENT = 8;
const EMPTY_KEYS: readonly string[] = [];
const NO_CANDIDATES: readonly RecipeSource[] = [];

/**
 * A series as the encoder keeps it between requests: its Label fields encoded once (labels rarely
 * change between scrapes), and the list of its points in the request being built, as a chain of
 * indices into the request's points (no array per series per request).
 */
interface CachedSeries {
  /** Its key in the generations' maps (seriesKeyOf): the same label set from another shape or object. */
  readonly key: string;
  /** The series' TimeSeries.labels fields, tags and lengths included, ready to copy. */
  readonly labels: Buffer;
  /** Number of the request that last used it: the series is in that request when equal. */
  epoch: number;
  /** First and last point of this series in the request (indices into `points`, chained by `next`). */
  head: number;
  tail: number;
  /**
   * A point as it last reached this series: its name, its labels object's keys (in object order)
   * and their values. A point with the same name, keys and values is this series; checking that
   * compares strings instead of hashing them (see `group`).
   */
  name: string;
  keys: readonly string[];
  values: readonly string[];
  /** The series that followed this one in the last request: the guess for the next point. */
  successor: CachedSeries | undefined;
  /** The generation whose map holds it: a guess is only taken from the current one. */
  gen: Generation;
  /** For encodeCompressed: where it was written, and its labels as copies of other series' (built lazily). */
  readonly written: WrittenAt;
  recipe: Recipe | undefined;
}

/**
 * The series cache's key of a series: namedKey of its name and the identity key (core/model/metrics.ts
 * LabelsIdentity.key, injective) of its own labels that decide it: the non-empty ones, less any equal to
 * the external label of its name (the series is the same without it). Those labels and the external
 * labels make the series, so equal keys are equal series and the other way round; and for labels with
 * no empty value and no such label (nearly all) it is the key the labels object already carries, so
 * the encoder takes it instead of computing one (lookup). One form for both, so a series met with and
 * without a carried identity is one entry, never two TimeSeries in one request.
 */
function seriesKeyOf(name: string, identityKey: string): string {
  return namedKey(name, identityKey);
}

/**
 * One generation of the series cache: series by key (seriesKeyOf). One Map lookup of one string per miss:
 * a trie of one Map per label value (what this replaced) hashed the same strings one by one, but made
 * ~4 Maps per new series below a high-cardinality label, most of a new series' cost and heap.
 */
interface Generation {
  readonly canonical: Map<string, CachedSeries>;
  size: number;
  /** Estimated heap of its series (seriesBytes). */
  bytes: number;
}

/** The `gen` of a series the full cache refused (WriteRequestEncoder.transient): in no map. */
const TRANSIENT: Generation = { canonical: new Map(), size: 0, bytes: 0 };

function generation(): Generation {
  return { canonical: new Map(), size: 0, bytes: 0 };
}

/**
 * Refused new series (per series cached) after which a full cache whose old generation is empty
 * turns (EncoderOptions.maxCachedSeries): 8, so a working set of three times the bound turns every
 * four cycles and keeps ~3/4 of its cached part's hits (~1/4 of all series), where turning on every
 * fill kept none.
 */
const TURN_REFUSALS = 8;

export interface EncoderOptions {
  /** Added to every series that lacks the label (or has it empty), as Prometheus's external_labels. */
  externalLabels?: Labels;
  /** First size of the reused buffer; it grows as needed. */
  initialBufferSize?: number;
  /**
   * Series whose encoded labels are kept between requests (default DEFAULT_MAX_CACHED_SERIES), both
   * generations together; a strict bound (as is maxSeriesBytes): a new series is only cached when it
   * fits. A series met again in the old generation moves into the current one. When the cache is
   * full, a new series takes the place of one of the old generation (not met since the last turn,
   * oldest first); when the old generation is empty too, it is encoded for this request only
   * (`transient`, so a series with several points is still one TimeSeries) and not cached: a working
   * set larger than the bound keeps its cached part hitting instead of pushing everything out every
   * cycle (an LRU by generation, what this replaced, turned when full, so a cycle of 99k series
   * through a cache of 32k never hit: every point paid a new entry, most of the daemon's garbage at
   * 3,000 targets). The generations turn (current becomes old, so its series may be replaced) when
   * the old one is empty and TURN_REFUSALS times the cached series have been refused since the last
   * turn: a working set of m times the bound turns every TURN_REFUSALS / (m - 1) cycles and loses the
   * cached part's hits for about the cycle after a turn; a new series that stays (a new target) while
   * the cache is full of others waits at most that many refusals to get in.
   */
  maxCachedSeries?: number;
  /**
   * Bytes (estimated, seriesBytes) the series cache may hold, both generations together (default: no
   * bound but the count). Whichever of this and maxCachedSeries is reached first makes the cache full:
   * a remote-write sender that invents names fills the count bound long before a cache of pprof
   * series would, and each shard's encoder has its own cache.
   */
  maxSeriesBytes?: number;
  /** Bytes (estimated) of label-name sets kept (default DEFAULT_SHAPE_CACHE_BYTES); least recently used go first. */
  maxShapeBytes?: number;
  /** Called for each shape pushed out of the cache (the exporter counts them). */
  onShapeEvicted?: () => void;
}

export class WriteRequestEncoder {
  /** encode()'s buffer, made on its first use: the exporter only calls encodeCompressed. */
  private writer: ProtoWriter | undefined;
  private readonly initialBufferSize: number | undefined;
  /** Encodes one series' labels before they are copied into their cache entry. */
  private readonly labelWriter = new ProtoWriter(1024);
  private readonly externalNames: readonly string[];
  private readonly externalValues: Labels;
  /** Series and estimated bytes both generations may hold together before they turn (group). */
  private readonly maxSize: number;
  private readonly maxBytes: number;
  private current: Generation = generation();
  private previous: Generation = generation();
  /** The old generation's series in insertion order: the next one a new series may replace (admit). */
  private hand: Iterator<CachedSeries> = this.previous.canonical.values();
  /** New series not cached since the last turn (the cache was full): when to turn (group). */
  private refusedSinceTurn = 0;
  private refusedCount = 0;
  /**
   * Series of the request being built that the full cache refused, by key, so each is one TimeSeries
   * however many points it has: at most one request's series, cleared once it is written (and when
   * the next begins, after a group() that threw). Their
   * `gen` is TRANSIENT, never the current generation, so no guess lands on them in a later request.
   */
  private readonly transient = new Map<string, CachedSeries>();
  /**
   * Sorted label names by id. A shape evicted and met again is built again; its series are found by
   * key as before (lookup).
   */
  private readonly shapes: ByteLru<string, readonly string[]>;
  /** Series of the request being built, in order of first appearance. */
  private readonly series: CachedSeries[] = [];
  /** next[i]: the index of the next point of point i's series, or -1. Reused, grown as needed. */
  private next = new Int32Array(1024);
  private epoch = 0;
  // Shape cache of one: the points of a batch mostly share the key order of their labels object.
  // No shape until one is built: a fresh encoder whose first labels object is {} (a series with only a
  // name, as a recording rule makes) would otherwise match the empty key list and take an empty shape,
  // without __name__ or the external labels, and send every such series as one with no labels at all.
  private lastKeys: string[] = [];
  private lastShape: readonly string[] | undefined;
  private readonly scratch: string[] = [];
  /** How many entries of `scratch` pairsOf wrote (two a label). */
  private pairCount = 0;
  /** Per pair of `scratch`: 1 where it is an own label that decides the series (seriesKeyOf), for keyOf. */
  private decides = new Uint8Array(16);
  /** keyOf's Label fields of `scratch` (length labelLength; -1: not made, newSeries encodes them). */
  private labelBytes = Buffer.allocUnsafe(512);
  private labelLength = -1;
  private keysCount = 0;
  /** keyOf's bytes, reused; like labelBytes it grows to the largest label set met (its bytes, twice at most). */
  private keyBytes = Buffer.allocUnsafe(256);
  private encodedCount = 0;
  private readonly order: number[] = [];
  /** Series of the first point of the last request: the guess for the first point of the next. */
  private first: CachedSeries | undefined;
  /** encodeCompressed's output, reused. */
  private readonly snappy: SnappyBlockWriter;
  /** Recently written series (a ring), the sources a new series' recipe may copy from. */
  private readonly recent: (CachedSeries | undefined)[] = new Array<CachedSeries | undefined>(RECENT).fill(undefined);
  private recentAt = 0;
  /**
   * The previous Sample written by encodeCompressed in this request: where its value's eight bytes
   * start (-1: none yet), those bytes as two little-endian 32-bit halves, its timestamp and the
   * timestamp's varint length. Its value and timestamp fields follow each other, so the end of a
   * value equal to it and an equal timestamp go out as one copy.
   */
  private prevValueAt = -1;
  private prevLo = 0;
  private prevHi = 0;
  private prevTs = 0;
  private prevTsLength = 0;

  constructor(options: EncoderOptions = {}) {
    this.initialBufferSize = options.initialBufferSize;
    this.snappy = new SnappyBlockWriter(options.initialBufferSize);
    // Without a prototype, so an own label named like an Object.prototype member (toString) is no external label.
    const external: Labels = makeLabels();
    for (const [name, value] of Object.entries(options.externalLabels ?? {})) {
      if (value !== '' && name !== '__name__') external[name] = value;
    }
    this.externalValues = external;
    this.externalNames = Object.keys(external);
    this.maxSize = Math.max(1, options.maxCachedSeries ?? DEFAULT_MAX_CACHED_SERIES);
    this.maxBytes = options.maxSeriesBytes === undefined ? Infinity : Math.max(1, options.maxSeriesBytes);
    const onShapeEvicted = options.onShapeEvicted;
    this.shapes = new ByteLru({ maxBytes: options.maxShapeBytes ?? DEFAULT_SHAPE_CACHE_BYTES, onEvict: onShapeEvicted && (() => onShapeEvicted()) });
  }

  /** Shapes cached now (for tests). */
  get cachedShapes(): number {
    return this.shapes.size;
  }

  /** Series whose labels are cached now (both generations; a series is in one of them). */
  get cachedSeries(): number {
    return this.current.size + this.previous.size;
  }

  /**
   * Series keys computed since the encoder was made (for tests): a point whose labels carry their
   * identity (core/model/metrics.ts labelsIdentity) is looked up by it, and computes none.
   */
  get keysComputed(): number {
    return this.keysCount;
  }

  /** New series the full cache did not keep (encoded for their request only) since the encoder was made (for tests). */
  get seriesRefused(): number {
    return this.refusedCount;
  }

  /** Series whose labels were encoded (not found in the cache) since the encoder was made (for tests). */
  get seriesEncoded(): number {
    return this.encodedCount;
  }

  /**
   * Encodes one WriteRequest. The result is a view into the encoder's buffer, valid until the next
   * call: compress or copy it before encoding again. The points are read, never changed.
   */
  encode(points: readonly Point[], metadata: Iterable<MetricFamily> = []): Buffer {
    this.group(points);
    const w = (this.writer ??= new ProtoWriter(this.initialBufferSize));
    w.reset();
    const series = this.series;
    for (let i = 0; i < series.length; i++) this.writeSeries(series[i], points, w);
    series.length = 0;
    if (this.transient.size > 0) this.transient.clear();
    for (const family of metadata) writeMetadata(w, family);
    return w.view();
  }

  /**
   * The same WriteRequest as encode(), snappy-compressed in one pass (a Buffer of its own, safe to
   * keep across retries). No match search: a series' labels go out as copies of the label bytes of
   * series written earlier in the request where its recipe says they are equal, its first Sample
   * header with them when the source's is the same, a timestamp equal to the previous sample's as a
   * copy of it, and everything else (lengths, values, new bytes) as literals. Any snappy decoder
   * reads it and gets exactly encode()'s bytes; the compressed size is close to a snappy
   * compressor's on scrapes, since that is where their matches are too.
   */
  encodeCompressed(points: readonly Point[], metadata: Iterable<MetricFamily> = []): Buffer {
    this.group(points);
    const w = this.snappy;
    w.reset();
    this.prevValueAt = -1;
    const series = this.series;
    for (let i = 0; i < series.length; i++) this.writeSeriesCompressed(series[i], points);
    series.length = 0;
    if (this.transient.size > 0) this.transient.clear();
    const m = this.labelWriter;
    m.reset();
    for (const family of metadata) writeMetadata(m, family);
    w.literalBytes(m.buf, 0, m.pos);
    return w.finish();
  }

  /**
   * Groups the points by series into `series` (order of first appearance) and the `next` chains.
   * Each point is first tried against a guess, the series that followed the previous point's series
   * last time (scrapes repeat their order), by comparing name, keys and values with what that series
   * last saw; only a miss looks the series up by key: the identity key its labels carry, or one
   * computed when they carry none (lookup).
   */
  private group(points: readonly Point[]): void {
    if (this.previous.size === 0 && this.refusedSinceTurn > 0 && this.refusedSinceTurn >= TURN_REFUSALS * this.current.size) {
      this.previous = this.current;
      this.hand = this.previous.canonical.values();
      this.current = generation();
      this.refusedSinceTurn = 0;
    }
    if (this.transient.size > 0) this.transient.clear();
    // Epochs wrap long after any series could remember one (2^31 requests).
    const epoch = (this.epoch = (this.epoch + 1) | 0);
    if (this.next.length < points.length) this.next = new Int32Array(Math.max(points.length, this.next.length * 2));
    const next = this.next;
    const series = this.series;
    const cur = this.current;
    let prev: CachedSeries | undefined;
    let guess = this.first;
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      if (!Number.isSafeInteger(p.timestampMs)) {
        // The request would be corrupt (the varint's size and bytes disagree past 2^53, and NaN has
        // none): refused whole. Callers drop such points first (isValidTimestamp); the series seen so
        // far are forgotten, and the next request's epoch makes them fresh again.
        series.length = 0;
        if (prev !== undefined) prev.successor = undefined;
        throw new InvalidTimestampError(p.name, p.timestampMs);
      }
      const s = guess !== undefined && guess.gen === cur && sameSeries(p, guess) ? guess : this.miss(p);
      // A refused series is no cached one's guess: it would outlive its request (and the bound).
      const kept = s.gen === cur ? s : undefined;
      if (prev === undefined) this.first = kept;
      else prev.successor = kept;
      next[i] = -1;
      if (s.epoch !== epoch) {
        s.epoch = epoch;
        s.head = i;
        series.push(s);
      } else {
        next[s.tail] = i;
      }
      s.tail = i;
      guess = s.successor;
      prev = s;
    }
    // Successors only ever point within one request, so they never hold an evicted series.
    if (prev !== undefined) prev.successor = undefined;
  }

  /** A point that is not the guessed series: the key lookup, then remember how this point looked. */
  private miss(p: Point): CachedSeries {
    const s = this.lookup(p);
    const own = p.labels;
    const keys = this.lastKeys; // shapeOf just matched or set them for this labels object
    const values = new Array<string>(keys.length);
    for (let i = 0; i < keys.length; i++) values[i] = own[keys[i]];
    s.name = p.name;
    s.keys = keys;
    s.values = values;
    return s;
  }

  /**
   * The cached series of a point: by key (seriesKeyOf) in the current generation, else the old one's
   * entry (moved into the current), else a new entry. The key is the one the labels carry when they
   * carry one and it decides the series (carriesKey), else computed (keyOf); either way {a:'1', b:''}
   * and {a:'1'} find one series.
   */
  private lookup(p: Point): CachedSeries {
    const own = p.labels;
    const shape = this.shapeOf(own);
    const id = carriedLabelsIdentity(own);
    const carried = id !== undefined && this.carriesKey(own);
    const key = carried ? seriesKeyOf(p.name, id.key) : this.keyOf(p, shape);
    const cur = this.current;
    let s = cur.canonical.get(key);
    if (s !== undefined) return s;
    const old = this.previous;
    s = old.canonical.get(key);
    if (s !== undefined) {
      // Moved: the generations together hold each series once, so their sizes add up to the bound.
      old.canonical.delete(key);
      old.size--;
      old.bytes -= seriesBytes(s.key, s.labels);
    } else {
      if (this.transient.size > 0) {
        s = this.transient.get(key);
        if (s !== undefined) return s;
      }
      if (carried) {
        this.pairsOf(p, shape);
        this.labelLength = -1;
      }
      s = this.newSeries(p, key);
      if (!this.admit(seriesBytes(s.key, s.labels))) {
        s.gen = TRANSIENT;
        this.transient.set(key, s);
        this.refusedSinceTurn++;
        this.refusedCount++;
        return s;
      }
    }
    cur.canonical.set(key, s);
    s.gen = cur;
    cur.size++;
    cur.bytes += seriesBytes(s.key, s.labels);
    return s;
  }

  /**
   * Whether a new series of `bytes` fits: when the cache is full, series of the old generation (not
   * met since the last turn) make room, oldest first; false when they cannot (none left, or the
   * series alone is over the byte bound), and the series is not cached.
   */
  private admit(bytes: number): boolean {
    if (bytes > this.maxBytes) return false;
    const cur = this.current;
    const old = this.previous;
    while (cur.size + old.size >= this.maxSize || cur.bytes + old.bytes + bytes > this.maxBytes) {
      if (old.size === 0) return false;
      const r = this.hand.next();
      if (r.done === true) return false; // not reached: the hand visits every series still in `old`
      const v = r.value;
      old.canonical.delete(v.key);
      old.size--;
      old.bytes -= seriesBytes(v.key, v.labels);
    }
    return true;
  }

  /**
   * Whether the identity key a labels object carries is the one its series' key is made of: no empty
   * value, no `__name__` of its own, and no label equal to the external label of its name.
   */
  private carriesKey(own: Labels): boolean {
    const external = this.externalNames.length > 0 ? this.externalValues : undefined;
    for (const name in own) {
      const v = own[name];
      if (v === '' || name === '__name__' || (external !== undefined && external[name] === v)) return false;
    }
    return true;
  }

  /**
   * A point's series key computed from its labels (seriesKeyOf), and for newSeries its pairs and,
   * when it can, its Label fields (labelBytes). When the name and labels are ASCII (so hold no \xfe
   * or \xff: the key's plain form), one pass over their characters writes the key as bytes, read back
   * as one string (not a rope of ~20 concatenations flattened for hashing, nor a second pass looking
   * for separators as identityKeyOf makes), and the Label fields beside it (asciiLabels' bytes).
   */
  private keyOf(p: Point, shape: readonly string[]): string {
    this.pairsOf(p, shape);
    this.keysCount++;
    const pairs = this.scratch;
    const count = this.pairCount;
    const decides = this.decides;
    const name = p.name;
    const prefix = `${name.length}\x00`;
    let size = prefix.length + name.length;
    for (let i = 0; i < count; i++) size += 1 + pairs[i].length;
    const fields = size + 4 * count; // 6 + name + value bytes a Label field
    if (this.keyBytes.length < size) this.keyBytes = Buffer.allocUnsafe(Math.max(size, 2 * this.keyBytes.length));
    if (this.labelBytes.length < fields) this.labelBytes = Buffer.allocUnsafe(Math.max(fields, 2 * this.labelBytes.length));
    const out = this.keyBytes;
    const lab = this.labelBytes;
    let pos = 0;
    let lp = 0;
    for (let j = 0; j < prefix.length; j++) out[pos++] = prefix.charCodeAt(j);
    let high = 0;
    for (let j = 0; j < name.length; j++) high |= out[pos++] = name.charCodeAt(j);
    let short = true;
    for (let i = 0; i < count; i += 2) {
      const n = pairs[i];
      const v = pairs[i + 1];
      const body = 4 + n.length + v.length;
      if (body > 127) short = false;
      lab[lp] = TAG_LABEL;
      lab[lp + 1] = body;
      lab[lp + 2] = TAG_LABEL_NAME;
      lab[lp + 3] = n.length;
      lp += 4;
      // Key bytes are written for every pair but kept (pos advanced) only for those that decide the series.
      const d = decides[i >> 1];
      out[pos] = 0xff;
      pos += d;
      for (let j = 0; j < n.length; j++) {
        const c = n.charCodeAt(j);
        high |= c;
        out[pos] = c;
        pos += d;
        lab[lp++] = c;
      }
      out[pos] = 0xfe;
      pos += d;
      lab[lp++] = TAG_LABEL_VALUE;
      lab[lp++] = v.length;
      for (let j = 0; j < v.length; j++) {
        const c = v.charCodeAt(j);
        high |= c;
        out[pos] = c;
        pos += d;
        lab[lp++] = c;
      }
    }
    if (high > 0x7f) {
      this.labelLength = -1;
      return seriesKeyOf(name, identityKeyOf(this.decidingPairs()));
    }
    this.labelLength = short ? lp : -1;
    return out.toString('latin1', 0, pos);
  }

  /** The pairs of `scratch` that decide the series (pairsOf's `decides`), for identityKeyOf. */
  private decidingPairs(): string[] {
    const pairs = this.scratch;
    const out: string[] = [];
    for (let i = 0; i < this.pairCount; i += 2) if (this.decides[i >> 1] === 1) out.push(pairs[i], pairs[i + 1]);
    return out;
  }

  /**
   * A point's label pairs in name order into `scratch`: the series' labels (`__name__`, own non-empty,
   * external where own is empty), for newSeries; `decides[k]` is 1 where pair k is an own label that
   * decides the series (seriesKeyOf), for keyOf.
   */
  private pairsOf(p: Point, shape: readonly string[]): void {
    // Written by index up to pairCount (setting an array's length costs a runtime call per point).
    const labels = this.scratch;
    if (this.decides.length < shape.length) this.decides = new Uint8Array(2 * shape.length);
    const decides = this.decides;
    const own = p.labels;
    const external = this.externalValues;
    let k = 0;
    for (let i = 0; i < shape.length; i++) {
      const name = shape[i];
      let value: string | undefined;
      let decide = 0;
      if (name === '__name__') {
        if (p.name !== '') value = p.name;
      } else {
        const v = own[name];
        if (typeof v === 'string' && v !== '') {
          value = v;
          if (external[name] !== v) decide = 1;
        } else value = external[name];
      }
      if (value === undefined) continue;
      decides[k >> 1] = decide;
      labels[k] = name;
      labels[k + 1] = value;
      k += 2;
    }
    this.pairCount = k;
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
    if (same && i === last.length && this.lastShape !== undefined) return this.lastShape;
    const keys = Object.keys(own);
    const names = new Set<string>(keys);
    names.delete('__name__');
    names.add('__name__');
    for (const n of this.externalNames) names.add(n);
    const sorted = [...names].sort(compare);
    // Length-prefixed for the same reason as the canonical key: ['a\xffb'] and ['a', 'b'] are two shapes.
    let id = '';
    for (let i = 0; i < sorted.length; i++) id += `${sorted[i].length}:${sorted[i]}`;
    let shape = this.shapes.get(id);
    if (shape === undefined) {
      shape = sorted;
      // One shape over the whole bound is not kept: it is used for this point and built again next time.
      this.shapes.set(id, shape, shapeBytes(id, sorted));
    }
    this.lastKeys = keys;
    this.lastShape = shape;
    return shape;
  }

  /** A series in neither generation: its labels (in `scratch`, from keyOf) encoded now. */
  private newSeries(p: Point, key: string): CachedSeries {
    const labels = this.scratch;
    let encoded: Buffer | undefined;
    const count = this.pairCount;
    const n = this.labelLength;
    if (n >= 0) {
      encoded = Buffer.allocUnsafe(n);
      const from = this.labelBytes;
      for (let i = 0; i < n; i++) encoded[i] = from[i];
    } else encoded = asciiLabels(labels, count);
    if (encoded === undefined) {
      const w = this.labelWriter;
      w.reset();
      for (let i = 0; i < count; i += 2) {
        w.byte(TAG_LABEL);
        const start = w.beginLength(LABEL_LENGTH_RESERVE);
        w.byte(TAG_LABEL_NAME);
        w.string(labels[i]);
        w.byte(TAG_LABEL_VALUE);
        w.string(labels[i + 1]);
        w.endLength(start, LABEL_LENGTH_RESERVE);
      }
      encoded = Buffer.from(w.view());
    }
    this.encodedCount++;
    // Epoch 0 is never current once encode() has run (it starts at 1), so the entry counts as unused.
    return {
      key,
      labels: encoded,
      epoch: this.epoch - 1,
      head: -1,
      tail: -1,
      name: p.name,
      keys: EMPTY_KEYS,
      values: EMPTY_KEYS, // miss() sets them
      successor: undefined,
      gen: this.current,
      written: new WrittenAt(),
      recipe: undefined,
    };
  }

  private writeSeries(s: CachedSeries, points: readonly Point[], w: ProtoWriter): void {
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

  /**
   * One TimeSeries through the snappy writer: header, labels by recipe, samples. Same bytes as
   * writeSeries once decompressed. The writer's state is held in locals for the series; a copy
   * stays pending (cd, cl) until something else is written, and is extended in place when the next
   * copy has the same distance (the same source continued).
   */
  private writeSeriesCompressed(s: CachedSeries, points: readonly Point[]): void {
    const next = this.next;
    const epoch = this.epoch;
    let bodyLength = s.labels.length;
    let inOrder = true;
    let orderTs = -Infinity;
    for (let i = s.head; i !== -1; i = next[i]) {
      const ts = points[i].timestampMs;
      bodyLength += SAMPLE_FIXED_BYTES + (ts < 0 ? 10 : uvarintSize(ts));
      if (ts < orderTs) inOrder = false;
      orderTs = ts;
    }
    let ops: ArrayLike<number>;
    let opCount: number;
    let sources: readonly WrittenAt[];
    const kept = s.recipe;
    if (kept !== undefined && writtenNow(kept.sources, epoch)) {
      ops = kept.ops;
      opCount = kept.ops.length;
      sources = kept.sources;
    } else if (kept === undefined && s.written.epoch === 0) {
      // Never written before (epochs start at 1): the recipe is used once, from scratch, and not kept,
      // so a series met once (a churning label, a first scrape) pays for no Recipe; its second write
      // builds the one it keeps.
      const r = recipeInScratch(s.labels, this.candidatesFor(s, true));
      ops = r.ops;
      opCount = r.n;
      sources = r.sources;
    } else {
      const recipe = (s.recipe = buildRecipe(s.labels, this.candidatesFor(s)));
      ops = recipe.ops;
      opCount = ops.length;
      sources = recipe.sources;
    }
    this.recent[this.recentAt++ & (RECENT - 1)] = s;
    const labels = s.labels;
    const headerLength = 1 + uvarintSize(bodyLength);

    const w = this.snappy;
    const out = w.reserve(headerLength + bodyLength);
    let op = w.op;
    let dpos = w.dpos;
    let lit = w.lit;
    let cd = w.copyDistance;
    let cl = w.copyLength;

    const at = dpos;
    const labelsAt = at + headerLength;
    // The header as a copy when the labels start as a copy of the start of a series with the same
    // body length (so the same header bytes): the copy runs on into the labels.
    const first = opCount > 0 && ops[1] >= 0 && ops[2] === 0 ? sources[ops[1]] : undefined;
    if (first !== undefined && first.bodyLength === bodyLength) {
      const d = at - first.at;
      if (cl !== 0 && d === cd) cl += headerLength;
      else {
        if (cl !== 0) op = putCopy(out, op, cd, cl);
        else if (lit >= 0) op = closeLiteral(out, lit, op);
        lit = -1;
        cd = d;
        cl = headerLength;
      }
    } else {
      if (cl !== 0) {
        op = putCopy(out, op, cd, cl);
        cl = 0;
      }
      if (lit < 0) lit = op++;
      out[op] = TAG_TIMESERIES;
      op = putUvarint(out, op + 1, bodyLength);
    }
    dpos = labelsAt;

    let own = 0;
    let last: WrittenAt | undefined;
    for (let k = 0; k < opCount; k += 3) {
      const len = ops[k];
      const source = ops[k + 1];
      if (source >= 0) {
        last = sources[source];
        const d = dpos - (last.labelsAt + ops[k + 2]);
        if (cl !== 0 && d === cd) cl += len;
        else {
          if (cl !== 0) op = putCopy(out, op, cd, cl);
          else if (lit >= 0) op = closeLiteral(out, lit, op);
          lit = -1;
          cd = d;
          cl = len;
        }
      } else {
        last = undefined;
        if (cl !== 0) {
          op = putCopy(out, op, cd, cl);
          cl = 0;
        }
        if (lit < 0) lit = op++;
        if (len < 32) for (let i = 0; i < len; i++) out[op + i] = labels[own + i];
        else out.set(labels.subarray(own, own + len), op);
        op += len;
      }
      own += len;
      dpos += len;
    }

    const cell = s.written;
    cell.epoch = epoch;
    cell.at = at;
    cell.labelsAt = labelsAt;
    cell.samplesAt = dpos;
    cell.bodyLength = bodyLength;
    const firstPoint = points[s.head];
    const firstTs = firstPoint.timestampMs;
    const firstLength = SAMPLE_FIXED_BYTES - 2 + (firstTs < 0 ? 10 : uvarintSize(firstTs));
    // The first Sample's header (0x12, length, 0x09) continues the pending copy when the labels'
    // source ended its labels there and began its samples with the same header; so do the value's
    // leading bytes equal to the source's first value (integer-valued doubles end in zero bytes).
    let continues = inOrder && last !== undefined && last.firstSampleLength === firstLength && cl !== 0 && dpos - cd === last.samplesAt;
    const source = last;
    cell.firstSampleLength = inOrder ? firstLength : -1;
    cell.firstTs = firstTs;

    let prevValueAt = this.prevValueAt;
    let prevLo = this.prevLo;
    let prevHi = this.prevHi;
    let prevTs = this.prevTs;
    let prevTsLength = this.prevTsLength;
    const order = this.order;
    if (!inOrder) {
      // Out of order (rare): a stable sort of the indices, so equal timestamps keep their input order.
      order.length = 0;
      for (let i = s.head; i !== -1; i = next[i]) order.push(i);
      order.sort((x, y) => points[x].timestampMs - points[y].timestampMs);
    }
    let k = 0;
    for (let i = s.head; i !== -1; k++) {
      const p = inOrder ? points[i] : points[order[k]];
      i = next[i];
      const ts = p.timestampMs;
      const tsLength = ts < 0 ? 10 : uvarintSize(ts);
      let lo: number;
      let hi: number;
      if (p.stale) {
        lo = STALE_LO;
        hi = STALE_HI;
      } else {
        F64[0] = p.value;
        lo = F64_WORDS[0];
        hi = F64_WORDS[1];
      }
      if (k === 0) {
        // As int32 (leadingEqualBytes XORs them): a uint32 past 2^31 would be a boxed double per cell.
        cell.valueLo = lo | 0;
        cell.valueHi = hi | 0;
      }
      const valueAt = dpos + 3;
      // Distance back to the previous sample (same layout: header, value, timestamp), 0 if none.
      const back = prevValueAt >= 0 ? valueAt - prevValueAt : 0;
      // Bytes of the value already out (as part of a copy), from the low end.
      let done = 0;
      if (continues && source !== undefined) {
        continues = false;
        done = leadingEqualBytes(lo, hi, source.valueLo, source.valueHi);
        cl += 3 + done;
        dpos += 3 + done;
        if (done === 8 && source.firstTs === ts) {
          // The whole sample equals the source's first: the copy runs on through the timestamp.
          cl += 1 + tsLength;
          dpos += 1 + tsLength;
          prevValueAt = valueAt;
          prevLo = lo;
          prevHi = hi;
          prevTs = ts;
          prevTsLength = tsLength;
          continue;
        }
      } else if (back !== 0 && prevTsLength === tsLength) {
        // Same header as the previous sample's; with its equal leading value bytes, a copy of it.
        done = leadingEqualBytes(lo, hi, prevLo, prevHi);
        if (done >= 1) {
          if (cl !== 0 && cd === back) cl += 3 + done;
          else {
            if (cl !== 0) op = putCopy(out, op, cd, cl);
            else if (lit >= 0) op = closeLiteral(out, lit, op);
            lit = -1;
            cd = back;
            cl = 3 + done;
          }
          dpos += 3 + done;
        }
      }
      // The value's trailing bytes equal to the previous sample's (exponent, high mantissa) and an
      // equal timestamp after them: one copy of the previous sample's.
      const sameTs = back !== 0 && ts === prevTs;
      let tail = back !== 0 ? trailingEqualBytes(lo, hi, prevLo, prevHi) : 0;
      if (tail > 8 - done) tail = 8 - done;
      if (sameTs ? tail + 1 + tsLength < MIN_TAIL_COPY : tail < MIN_TAIL_COPY) tail = 0;
      const literalEnd = 8 - tail;
      if (dpos < valueAt || done < literalEnd) {
        if (cl !== 0) {
          op = putCopy(out, op, cd, cl);
          cl = 0;
        }
        if (lit < 0) lit = op++;
        if (dpos < valueAt) {
          out[op++] = TAG_SAMPLE;
          out[op++] = SAMPLE_FIXED_BYTES - 2 + tsLength;
          out[op++] = TAG_SAMPLE_VALUE;
          dpos += 3;
        }
        for (let j = done; j < literalEnd; j++) out[op++] = (j < 4 ? lo >>> (8 * j) : hi >>> (8 * (j - 4))) & 0xff;
        dpos += literalEnd - done;
      }
      const copyLength = tail + (sameTs && tail + 1 + tsLength >= MIN_TAIL_COPY ? 1 + tsLength : 0);
      if (copyLength > 0) {
        if (cl !== 0 && cd === back) cl += copyLength;
        else {
          if (cl !== 0) op = putCopy(out, op, cd, cl);
          else if (lit >= 0) op = closeLiteral(out, lit, op);
          lit = -1;
          cd = back;
          cl = copyLength;
        }
        dpos += copyLength;
      }
      if (copyLength === tail) {
        // The timestamp as a literal.
        if (cl !== 0) {
          op = putCopy(out, op, cd, cl);
          cl = 0;
        }
        if (lit < 0) lit = op++;
        out[op] = TAG_SAMPLE_TIMESTAMP;
        if (ts >= 0) op = putUvarint(out, op + 1, ts);
        else op = putNegativeInt64(out, op + 1, ts);
        dpos += 1 + tsLength;
      }
      prevValueAt = valueAt;
      prevLo = lo;
      prevHi = hi;
      prevTs = ts;
      prevTsLength = tsLength;
    }
    this.prevValueAt = prevValueAt;
    this.prevLo = prevLo;
    this.prevHi = prevHi;
    this.prevTs = prevTs;
    this.prevTsLength = prevTsLength;
    w.op = op;
    w.dpos = dpos;
    w.lit = lit;
    w.copyDistance = cd;
    w.copyLength = cl;
  }

  /**
   * What a recipe for a series about to be written compares its label fields with: the series written
   * just before it and the last one written with the same name (both already in this request's output,
   * so every copy is valid); `one`: only the first of these there is, by name first.
   */
  private candidatesFor(s: CachedSeries, one = false): readonly RecipeSource[] {
    const epoch = this.epoch;
    const recent = this.recent;
    let newest = recent[(this.recentAt - 1) & (RECENT - 1)];
    if (newest !== undefined && (newest === s || newest.written.epoch !== epoch)) newest = undefined;
    let named: CachedSeries | undefined;
    for (let k = 1; k <= RECENT; k++) {
      const r = recent[(this.recentAt - k) & (RECENT - 1)];
      if (r === undefined || r.written.epoch !== epoch || r === s) continue;
      if (r.name === s.name) {
        named = r;
        break;
      }
    }
    // Array literals: a scratch array's length reset costs more than one of these.
    if (named === undefined) return newest === undefined ? NO_CANDIDATES : [newest];
    if (one || newest === undefined || named === newest) return [named];
    return [newest, named];
  }
}

// Scratch for a double's eight little-endian bytes (every platform Node runs on is little-endian,
// and protobuf wants little-endian).
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const F64_WORDS = new Uint32Array(F64.buffer);
/** STALE_NAN_BYTES as two little-endian 32-bit halves. */
const STALE_LO = 0x00000002;
const STALE_HI = 0x7ff00000;
/** A sample's bytes copied from the previous sample: shorter than this, a copy saves nothing. */
const MIN_TAIL_COPY = 4;

/** How many of two doubles' eight little-endian bytes are equal from the low end (0-8). */
function leadingEqualBytes(lo: number, hi: number, lo2: number, hi2: number): number {
  const x = (lo ^ lo2) >>> 0;
  if (x !== 0) return (31 - Math.clz32(x & -x)) >>> 3;
  const y = (hi ^ hi2) >>> 0;
  if (y !== 0) return 4 + ((31 - Math.clz32(y & -y)) >>> 3);
  return 8;
}

/** How many of two doubles' eight little-endian bytes are equal from the high end (0-8). */
function trailingEqualBytes(lo: number, hi: number, lo2: number, hi2: number): number {
  const y = (hi ^ hi2) >>> 0;
  if (y !== 0) return Math.clz32(y) >>> 3;
  const x = (lo ^ lo2) >>> 0;
  if (x !== 0) return 4 + (Math.clz32(x) >>> 3);
  return 8;
}

/** One Sample field; the caller has ensured MAX_SAMPLE_BYTES of room. */
/**
 * The Label fields of name/value pairs, when every name and value is ASCII and each field is under
 * 128 bytes (one-byte lengths): the common case of a new series, written in one loop into a buffer
 * of the exact size (no native UTF-8 calls, no second copy). Else undefined, and the writer's path
 * handles any string.
 */
function asciiLabels(pairs: readonly string[], count: number): Buffer | undefined {
  let total = 0;
  for (let i = 0; i < count; i += 2) {
    const body = 4 + pairs[i].length + pairs[i + 1].length;
    if (body > 127) return undefined;
    total += 2 + body;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < count; i += 2) {
    const name = pairs[i];
    const value = pairs[i + 1];
    out[pos++] = TAG_LABEL;
    out[pos++] = 4 + name.length + value.length;
    out[pos++] = TAG_LABEL_NAME;
    out[pos++] = name.length;
    for (let j = 0; j < name.length; j++) {
      const c = name.charCodeAt(j);
      if (c > 0x7f) return undefined;
      out[pos++] = c;
    }
    out[pos++] = TAG_LABEL_VALUE;
    out[pos++] = value.length;
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if (c > 0x7f) return undefined;
      out[pos++] = c;
    }
  }
  return out;
}

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

/** An int64 varint of a negative number (ten bytes, two's complement) at `pos`; returns the end. */
function putNegativeInt64(buf: Uint8Array, pos: number, value: number): number {
  let v = BigInt.asUintN(64, BigInt(value));
  for (let i = 0; i < 9; i++) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos] = Number(v);
  return pos + 1;
}

/** Whether every source of a recipe has been written in request `epoch` (its copies are valid). */
function writtenNow(sources: readonly WrittenAt[], epoch: number): boolean {
  for (let i = 0; i < sources.length; i++) if (sources[i].epoch !== epoch) return false;
  return true;
}

/** Whether a point is series `s` as `s` last saw it: same name, same keys in the same order, same values. */
function sameSeries(p: Point, s: CachedSeries): boolean {
  if (p.name !== s.name) return false;
  const own = p.labels;
  const keys = s.keys;
  const values = s.values;
  let i = 0;
  for (const k in own) {
    if (i === keys.length || k !== keys[i] || own[k] !== values[i]) return false;
    i++;
  }
  return i === keys.length;
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
