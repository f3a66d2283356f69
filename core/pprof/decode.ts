/**
 * A decoder of Go's pprof profiles (gzip + perftools.profiles.Profile, github.com/google/pprof
 * proto/profile.proto) that computes only what the derivations need: sample types, period, times, the
 * total of each value column and the sums per attributed function.
 *
 * It walks the wire format by hand over the inflated bytes, without building an object per sample,
 * location or string:
 *   1. every top-level field once: string table offsets (no string is decoded yet), functions (id, name
 *      index), locations (id and byte range only: their lines are not read yet), sample_type, period and
 *      times; samples are only remembered by their byte range, since Go writes them before the tables.
 *   2. resolution: ids to dense indexes, functions to name slots (one per distinct name string).
 *   3. the samples: each one's locations are resolved, leaf first, only until the first kept frame: a
 *      location's lines are read the first time a sample reaches it, and reduced to two numbers (its leaf
 *      function, its first kept function); a name is decoded and judged by skipFrame the first time a
 *      location reaches it. Frames past the attributed one (main, goexit, most of every stack) are never
 *      read, and neither are the locations no sample reaches before its attributed frame. The sample's
 *      values go into one reused scratch row, then are added to the totals and to the row of its function.
 *
 * Laziness has one visible effect on malformed input: only what the result depends on is checked. A
 * location id, line or function reference past a sample's attributed frame is not looked up, so a
 * dangling one there is no error (pprof-format does not check references at all).
 *
 * Numbers: int64 values are read into JavaScript numbers, exact within ±2^53 (9.0e15; for bytes that is
 * 8 PiB, for nanoseconds 104 days of CPU per sample). Beyond that they lose precision, as sums do once
 * they pass 2^53. Ids are uint64 and kept exact: ids above 2^53 get a synthetic key of their own.
 *
 * Byte offsets in error messages are offsets into the inflated profile.proto bytes.
 */
import { promisify } from 'node:util';
import { gunzip, gunzipSync } from 'node:zlib';
import { PprofcolError } from '../errors.js';
import { ProfileDecodeError } from './text.js';
import { WIRE_LEN, WIRE_VARINT, WireReader } from './wire.js';

export interface ValueType {
  type: string;
  unit: string;
}

export interface ProfileSummary {
  sampleTypes: ValueType[]; // e.g. [{type:'alloc_objects',unit:'count'}, ...] for heap
  periodType: ValueType | undefined;
  period: number;
  timeNanos: number;
  durationNanos: number;
  /** Sum of each sample value column over all samples. */
  totals: number[];
  /** Per function: sums of each value column over the samples whose leaf frame (the first frame of
   *  location[0]'s lines, innermost inline first, after skipping frames for which skipFrame(name) is true)
   *  is that function. Samples whose every frame is skipped go under the name of their leaf frame. */
  byFunction: Map<string, number[]>;
  sampleCount: number;
}

export interface DecodeOptions {
  /** Frames to skip when choosing the function a sample is attributed to (e.g. runtime internals). */
  skipFrame?: (functionName: string) => boolean;
  /** Largest inflated size accepted (default 64 MiB); larger input is an error, never an unbounded allocation. */
  maxInflatedBytes?: number;
}

/** 64 MiB: the same bound as a scrape config's default body_size_limit, which applies to inflated bytes too. */
export const DEFAULT_MAX_INFLATED_BYTES = 64 * 1024 * 1024;

/** Where samples go that have no symbolized frame at all (no locations, or locations without lines). */
export const UNKNOWN_FUNCTION = '(unknown)';

// Field numbers of perftools.profiles messages (proto/profile.proto).
const PROFILE_SAMPLE_TYPE = 1;
const PROFILE_SAMPLE = 2;
const PROFILE_LOCATION = 4;
const PROFILE_FUNCTION = 5;
const PROFILE_STRING_TABLE = 6;
const PROFILE_TIME_NANOS = 9;
const PROFILE_DURATION_NANOS = 10;
const PROFILE_PERIOD_TYPE = 11;
const PROFILE_PERIOD = 12;
/** The tag byte of Profile.string_table: field 6, wire type 2 (length-delimited). */
const STRING_TABLE_TAG = (PROFILE_STRING_TABLE << 3) | WIRE_LEN;
const VALUE_TYPE_TYPE = 1;
const VALUE_TYPE_UNIT = 2;
const SAMPLE_LOCATION_ID = 1;
const SAMPLE_VALUE = 2;
const LOCATION_ID = 1;
const LOCATION_LINE = 4;
const LINE_FUNCTION_ID = 1;
const FUNCTION_ID = 1;
const FUNCTION_NAME = 2;

/**
 * Go's default runtime-frame filter: runtime.*, runtime/internal/* and internal/* (internal/runtime/*,
 * internal/poll.*, internal/sync.* since Go 1.24) are runtime internals. sync.(*Mutex).Lock/Unlock style
 * lock wrappers are NOT skipped: a contention profile attributed to them says which lock API was used.
 */
export function isRuntimeFrame(functionName: string): boolean {
  return functionName.startsWith('runtime.') || functionName.startsWith('runtime/internal/') || functionName.startsWith('internal/');
}

/** Accepts gzipped (magic 1f 8b) or raw profile.proto bytes. Throws ProfileDecodeError (from core/pprof/text.ts) on malformed input. */
export function decodeProfile(data: Uint8Array, options?: DecodeOptions): ProfileSummary {
  const maxBytes = options?.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new PprofcolError('ERR_INVALID_OPTION', `maxInflatedBytes must be a positive integer, got ${maxBytes}`);
  }
  const buf = inflate(data, maxBytes);
  // One decode at a time uses the shared scratch arrays; a skipFrame that itself decodes gets its own.
  const scratch = sharedScratch.busy ? new Scratch() : sharedScratch;
  scratch.busy = true;
  try {
    return new Decoder(buf, options?.skipFrame, scratch).decode();
  } finally {
    scratch.release();
  }
}

const gunzipAsync = promisify(gunzip);

/**
 * Output chunk of the async gunzip: each chunk is one trip between the thread pool and the main
 * thread, so zlib's default 16 KiB makes a 32 MiB profile 2,000 trips (2x the time of gunzipSync);
 * 256 KiB makes it 128 (about gunzipSync's time) at 256 KiB of buffer per inflate in progress.
 */
const INFLATE_CHUNK_BYTES = 256 * 1024;

/**
 * What decodeProfile would decode, inflated off the main thread: gzipped bytes through zlib's thread
 * pool (up to 64 MiB takes ~100 ms+ of CPU; done synchronously that stalls every other target's
 * timers), raw bytes as they are. The same checks and errors as decodeProfile's own inflate; the
 * result goes to decodeProfile, which takes raw bytes as they are. For the scrape path; tests and
 * benches may keep calling decodeProfile on gzipped bytes.
 */
export async function inflateProfile(data: Uint8Array, maxInflatedBytes: number = DEFAULT_MAX_INFLATED_BYTES): Promise<Uint8Array> {
  if (!isGzip(data)) return checkRaw(data, maxInflatedBytes);
  let out: Buffer;
  try {
    out = await gunzipAsync(data, { maxOutputLength: maxInflatedBytes, chunkSize: INFLATE_CHUNK_BYTES });
  } catch (err) {
    throw inflateError(err, maxInflatedBytes);
  }
  return checkInflated(out);
}

function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

function checkRaw(data: Uint8Array, maxBytes: number): Uint8Array {
  if (data.length === 0) throw new ProfileDecodeError('empty profile: 0 bytes');
  if (data.length > maxBytes) throw new ProfileDecodeError(`profile of ${data.length} bytes exceeds maxInflatedBytes (${maxBytes})`, { tooLarge: true });
  return data;
}

function checkInflated(out: Buffer): Buffer {
  if (out.length === 0) throw new ProfileDecodeError('empty profile: gzip stream inflates to 0 bytes');
  return out;
}

function inflateError(err: unknown, maxBytes: number): ProfileDecodeError {
  const tooLarge = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
  return new ProfileDecodeError(
    tooLarge
      ? `gzipped profile inflates to more than maxInflatedBytes (${maxBytes})`
      : `gzipped profile does not inflate: ${err instanceof Error ? err.message : String(err)}`,
    { tooLarge, cause: err },
  );
}

function inflate(data: Uint8Array, maxBytes: number): Uint8Array {
  if (!isGzip(data)) return checkRaw(data, maxBytes);
  let out: Buffer;
  try {
    // maxOutputLength makes zlib stop (RangeError) instead of growing its output: a gzip bomb costs at most maxBytes.
    out = gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (err) {
    throw inflateError(err, maxBytes);
  }
  return checkInflated(out);
}

/**
 * Append-only lists of numbers (ids, string indexes, byte offsets) in a typed array that doubles when
 * full. Records of several numbers are pushed one number after the other (a stride). Two classes, not
 * one generic one, so that each element access site sees one array type and V8 keeps it monomorphic.
 */
class F64List {
  data: Float64Array;
  length = 0;
  private readonly initial: number;
  constructor(initial: number) {
    this.initial = initial;
    this.data = new Float64Array(initial);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** Empties the list; one grown past `retain` entries by a large profile goes back to its initial size. */
  reset(retain: number): void {
    this.length = 0;
    if (this.data.length > retain) this.data = new Float64Array(this.initial);
  }
}

class U32List {
  data: Uint32Array;
  length = 0;
  private readonly initial: number;
  constructor(initial: number) {
    this.initial = initial;
    this.data = new Uint32Array(initial);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  reset(retain: number): void {
    this.length = 0;
    if (this.data.length > retain) this.data = new Uint32Array(this.initial);
  }
}

/**
 * Arrays longer than this many entries (8 MiB of Float64) are not kept for the next decode: a one-off huge
 * profile must not pin its scratch memory, while the profiles of an ordinary service (KBs to a few MBs)
 * reuse theirs. Allocating typed arrays anew costs more than decoding a small profile does.
 */
const RETAIN_ENTRIES = 1 << 20;

/**
 * The decoder's working memory, reused from one decode to the next: decoding is synchronous, so one set
 * serves a whole process. Worst case, for adversarial input made only of the smallest possible records,
 * it takes about 6 bytes per input byte; real profiles take well under 1.
 */
class Scratch {
  busy = false;
  /** Per string: start and end offsets of its payload (only the few strings needed are decoded). */
  readonly strings = new U32List(2 * 1024);
  /** Per function: id, name string index, byte offset. */
  readonly functions = new F64List(3 * 256);
  /** Per location: id, start and end offsets of its payload (its lines are read when a sample needs them). */
  readonly locations = new F64List(3 * 256);
  /** Per sample: start and end offsets of its payload. */
  readonly samples = new U32List(2 * 512);
  /** Int32 arena for the per-decode tables (see Decoder.summarize). */
  ints = new Int32Array(8192);
  /** Float64 arena: totals, the scratch row of one sample, then one row per function with samples. */
  floats = new Float64Array(1024);

  intArena(n: number): Int32Array {
    if (this.ints.length < n) this.ints = new Int32Array(Math.max(n, this.ints.length * 2));
    return this.ints;
  }

  /** Grows the float arena to at least n entries, keeping its first `keep` entries. */
  floatArena(n: number, keep: number): Float64Array {
    if (this.floats.length < n) {
      const next = new Float64Array(Math.max(n, this.floats.length * 2));
      next.set(this.floats.subarray(0, keep));
      this.floats = next;
    }
    return this.floats;
  }

  release(): void {
    this.busy = false;
    this.strings.reset(RETAIN_ENTRIES);
    this.functions.reset(RETAIN_ENTRIES);
    this.locations.reset(RETAIN_ENTRIES);
    this.samples.reset(RETAIN_ENTRIES);
    if (this.ints.length > RETAIN_ENTRIES) this.ints = new Int32Array(8192);
    if (this.floats.length > RETAIN_ENTRIES) this.floats = new Float64Array(1024);
  }
}

const sharedScratch = new Scratch();

/**
 * Buffer's own utf8Slice, when this Node.js has it, skips toString()'s argument handling, which costs as
 * much as decoding a short function name does (measured: ~45 ns vs ~50 ns per 50-byte name, and 7% of
 * decoding a CPU profile). It is not in Node's documented API, hence the probe and the fallback.
 */
type Utf8Sliceable = { utf8Slice?: (start: number, end: number) => string };
const hasUtf8Slice = typeof (Buffer.prototype as unknown as Utf8Sliceable).utf8Slice === 'function';
function utf8Slice(buf: Buffer, start: number, end: number): string {
  if (hasUtf8Slice) return (buf as unknown as Required<Utf8Sliceable>).utf8Slice(start, end);
  return buf.toString('utf8', start, end);
}

/** A decoded function name and what the last skipFrame it met said of it. */
interface CachedName {
  readonly name: string;
  /** A copy of the name's UTF-8 bytes when it is not ASCII; ASCII names (Go's) compare with `name` itself. */
  readonly bytes: Uint8Array | undefined;
  skipFrame: ((functionName: string) => boolean) | undefined;
  skip: boolean;
  /** The next name with the same hash. */
  next: CachedName | undefined;
}

/**
 * Function names by their UTF-8 bytes, shared by every decode in the process. A target's profiles, one
 * scrape after another, name the same functions (its binary's), and so do different targets built from
 * the same code (the runtime, net/http): a hit costs a hash and a compare of the bytes in place, where a
 * miss costs a string allocation, UTF-8 decoding and skipFrame's checks, and gives the Maps downstream a
 * string whose hash V8 has not computed yet. Measured on the recorded profiles, names were 15-20% of
 * decoding (bench/pprof-decode.ts).
 *
 * The key hashes the length and up to 16 bytes (the first 4, 4 from the middle, the last 8: Go names share
 * prefixes like "runtime." and differ at their end), and every hit is confirmed by comparing all bytes.
 * Bounded by two generations: names go into `young`; when it holds NAME_CACHE_GENERATION names it
 * becomes `old` and the previous `old` is dropped; a hit in `old` moves the name back to `young`. So at most
 * 2 x NAME_CACHE_GENERATION names (~100 bytes each) are held, and the names still in use survive.
 */
const NAME_CACHE_GENERATION = 8192;
/** Names with one hash beyond this many are decoded but not cached: a crafted profile cannot build long chains. */
const NAME_CACHE_MAX_CHAIN = 8;

class NameCache {
  private young = new Map<number, CachedName>();
  private old = new Map<number, CachedName>();
  private youngSize = 0;

  get(buf: Buffer, start: number, end: number): CachedName {
    const len = end - start;
    let h = Math.imul(len, 0x9e3779b1);
    if (len >= 8) {
      const mid = start + (len >>> 1) - 2;
      h = mix(h, buf[start] | (buf[start + 1] << 8) | (buf[start + 2] << 16) | (buf[start + 3] << 24));
      h = mix(h, buf[mid] | (buf[mid + 1] << 8) | (buf[mid + 2] << 16) | (buf[mid + 3] << 24));
      h = mix(h, buf[end - 8] | (buf[end - 7] << 8) | (buf[end - 6] << 16) | (buf[end - 5] << 24));
      h = mix(h, buf[end - 4] | (buf[end - 3] << 8) | (buf[end - 2] << 16) | (buf[end - 1] << 24));
    } else {
      for (let i = start; i < end; i++) h = mix(h, buf[i]);
    }
    // 30 bits: a small integer (Smi) in V8, so the Map neither boxes the key nor hashes a heap number.
    h &= 0x3fffffff;
    let chain = 0;
    for (let e = this.young.get(h); e !== undefined; e = e.next, chain++) {
      if (sameName(e, buf, start, len)) return e;
    }
    const head = this.young.get(h);
    for (let e = this.old.get(h); e !== undefined; e = e.next) {
      if (sameName(e, buf, start, len)) {
        if (chain >= NAME_CACHE_MAX_CHAIN) return e;
        // Promote a copy: the old chain's links stay as they are until that generation is dropped.
        const moved: CachedName = { bytes: e.bytes, name: e.name, skipFrame: e.skipFrame, skip: e.skip, next: head };
        this.insert(h, moved);
        return moved;
      }
    }
    const name = utf8Slice(buf, start, end);
    // Not a view of `buf` (Buffer.slice shares memory): the profile's buffer must neither be pinned nor,
    // once reused by its owner, change a cached key.
    const bytes = name.length === len ? undefined : Uint8Array.prototype.slice.call(buf, start, end);
    const entry: CachedName = { name, bytes, skipFrame: undefined, skip: false, next: head };
    if (chain < NAME_CACHE_MAX_CHAIN) this.insert(h, entry);
    return entry;
  }

  private insert(h: number, entry: CachedName): void {
    if (this.youngSize >= NAME_CACHE_GENERATION) {
      this.old = this.young;
      this.young = new Map();
      this.youngSize = 0;
      entry.next = undefined;
    }
    this.young.set(h, entry);
    this.youngSize++;
  }
}

function mix(h: number, k: number): number {
  h = Math.imul(h ^ k, 0x85ebca6b);
  return h ^ (h >>> 13);
}

/**
 * Whether buf[start, start+len) holds e's name. A name decoded from as many bytes as it has UTF-16 units
 * is compared unit for unit with the bytes: a match means the bytes are ASCII and the very same, since
 * other code points take more bytes than units and invalid bytes decode to U+FFFD, which no byte equals
 * (such a name then never matches: a miss every time, not a wrong hit).
 */
function sameName(e: CachedName, buf: Uint8Array, start: number, len: number): boolean {
  const bytes = e.bytes;
  if (bytes === undefined) {
    const name = e.name;
    if (name.length !== len) return false;
    for (let i = 0; i < len; i++) if (name.charCodeAt(i) !== buf[start + i]) return false;
    return true;
  }
  if (bytes.length !== len) return false;
  for (let i = 0; i < len; i++) if (bytes[i] !== buf[start + i]) return false;
  return true;
}

let nameCache = new NameCache();

/**
 * Empties the process's function-name cache, so that the next decode starts cold, as a process's first
 * scrape of a binary does. For benchmarks and tests; decoding never needs it.
 */
export function resetNameCache(): void {
  nameCache = new NameCache();
}

/** Marks an Int32 arena entry computed on first use (a location's first kept slot, a slot's skip state). */
const NOT_YET = -2;

/**
 * Id -> index for one table (functions or locations): a slice of the Int32 arena indexed by id when ids are
 * dense (Go numbers them 1..n), else a Map. Dense while the largest id is below 4x the count plus 1024,
 * so the slice costs at most 16 bytes per entry plus 4 KiB.
 */
const DENSE_SLACK_FACTOR = 4;
const DENSE_SLACK_CONSTANT = 1024;

class IdIndex {
  private readonly arena: Int32Array;
  private readonly base: number;
  /** Slice length when dense, -1 when sparse. */
  private readonly size: number;
  private readonly sparse: Map<number, number> | undefined;

  /** Entries the dense slice needs for these ids, or 0 when the ids go to a Map. */
  static denseSize(list: F64List, stride: number): number {
    const n = list.length / stride;
    let max = 0;
    for (let i = 0; i < list.length; i += stride) {
      const id = list.data[i];
      // Synthetic ids (negative, standing for ids beyond 2^53) always go through the Map.
      if (id < 0) return 0;
      if (id > max) max = id;
    }
    return max < DENSE_SLACK_FACTOR * n + DENSE_SLACK_CONSTANT ? max + 1 : 0;
  }

  constructor(list: F64List, stride: number, what: string, arena: Int32Array, base: number, size: number) {
    this.arena = arena;
    this.base = base;
    const data = list.data;
    if (size > 0) {
      this.size = size;
      arena.fill(-1, base, base + size);
      for (let i = 0, k = 0; i < list.length; i += stride, k++) {
        const at = base + data[i];
        if (arena[at] !== -1) throw duplicateId(what, data[i], data[i + 1]);
        arena[at] = k;
      }
    } else {
      this.size = -1;
      const sparse = new Map<number, number>();
      for (let i = 0, k = 0; i < list.length; i += stride, k++) {
        if (sparse.has(data[i])) throw duplicateId(what, data[i], data[i + 1]);
        sparse.set(data[i], k);
      }
      this.sparse = sparse;
    }
  }

  /** The index of `id`, or -1. */
  get(id: number): number {
    if (this.size >= 0) return id >= 0 && id < this.size ? this.arena[this.base + id] : -1;
    return this.sparse!.get(id) ?? -1;
  }
}

function duplicateId(what: string, id: number, offset: number): ProfileDecodeError {
  return new ProfileDecodeError(`duplicate ${what} id ${idText(id)} at byte offset ${offset}`);
}

/** Synthetic ids (negative) stand for ids beyond 2^53, whose exact value messages do not need. */
function idText(id: number): string {
  return id < 0 ? '(beyond 2^53)' : String(id);
}

class Decoder {
  private readonly r: WireReader;
  /** Reads a location's lines in the middle of a sample (r is in the sample). */
  private readonly lr: WireReader;
  private readonly buf: Uint8Array;
  /** The same bytes as a Buffer, for utf8 decoding of the few strings we need. */
  private readonly text: Buffer;
  private readonly skipFrame: ((functionName: string) => boolean) | undefined;
  private readonly s: Scratch;

  // Pass 1 results besides the scratch lists.
  /** Per sample type: type and unit string indexes, and the byte offset of the ValueType. */
  private readonly sampleTypeIdx: number[] = [];
  private periodType: [number, number, number] | undefined;
  private period = 0;
  private timeNanos = 0;
  private durationNanos = 0;
  /** Ids beyond 2^53 cannot be numbers exactly; each distinct one gets a negative synthetic id. */
  private largeIds: Map<string, number> | undefined;

  // Set by summarize() for the lazy lookups resolveLocation(), skipped() and slotName().
  private ints: Int32Array = new Int32Array(0);
  private fnIndex: IdIndex | undefined;
  private oFnSlot = 0;
  private oLocLeaf = 0;
  private oLocKept = 0;
  private oSlotName = 0;
  private oSlotSkip = 0;
  private slotNames: (string | undefined)[] = [];

  constructor(buf: Uint8Array, skipFrame: ((functionName: string) => boolean) | undefined, scratch: Scratch) {
    this.buf = buf;
    this.text = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    this.r = new WireReader(buf);
    this.lr = new WireReader(buf);
    this.skipFrame = skipFrame;
    this.s = scratch;
  }

  decode(): ProfileSummary {
    this.readProfile();
    return this.summarize();
  }

  // ---- pass 1 ---------------------------------------------------------------------------------------

  private readProfile(): void {
    const r = this.r;
    const buf = this.buf;
    const end = buf.length;
    const strings = this.s.strings;
    while (r.pos < end) {
      const tagAt = r.pos;
      // The string table is most of a profile's fields (a third to a half): its usual form, a one-byte tag
      // and a one-byte length, is taken here without a call.
      if (buf[tagAt] === STRING_TABLE_TAG && tagAt + 1 < end) {
        const len = buf[tagAt + 1];
        const sEnd = tagAt + 2 + len;
        if (len < 0x80 && sEnd <= end) {
          strings.push(tagAt + 2);
          strings.push(sEnd);
          r.pos = sEnd;
          continue;
        }
      }
      const field = r.tag(end);
      switch (field) {
        case PROFILE_SAMPLE: {
          this.expectWireType(WIRE_LEN, 'Profile.sample', tagAt);
          const sEnd = r.lenEnd(end);
          this.s.samples.push(r.pos);
          this.s.samples.push(sEnd);
          r.pos = sEnd;
          break;
        }
        case PROFILE_LOCATION: {
          this.expectWireType(WIRE_LEN, 'Profile.location', tagAt);
          const lEnd = r.lenEnd(end);
          this.readLocationId(lEnd, tagAt);
          r.pos = lEnd;
          break;
        }
        case PROFILE_FUNCTION: {
          this.expectWireType(WIRE_LEN, 'Profile.function', tagAt);
          const fEnd = r.lenEnd(end);
          this.readFunction(fEnd, tagAt);
          r.pos = fEnd;
          break;
        }
        case PROFILE_STRING_TABLE: {
          this.expectWireType(WIRE_LEN, 'Profile.string_table', tagAt);
          const sEnd = r.lenEnd(end);
          this.s.strings.push(r.pos);
          this.s.strings.push(sEnd);
          r.pos = sEnd;
          break;
        }
        case PROFILE_SAMPLE_TYPE: {
          this.expectWireType(WIRE_LEN, 'Profile.sample_type', tagAt);
          const vt = this.readValueType(r.lenEnd(end), tagAt);
          this.sampleTypeIdx.push(vt[0], vt[1], vt[2]);
          break;
        }
        case PROFILE_PERIOD_TYPE:
          this.expectWireType(WIRE_LEN, 'Profile.period_type', tagAt);
          this.periodType = this.readValueType(r.lenEnd(end), tagAt);
          break;
        case PROFILE_TIME_NANOS:
          this.expectWireType(WIRE_VARINT, 'Profile.time_nanos', tagAt);
          this.timeNanos = r.int64(end);
          break;
        case PROFILE_DURATION_NANOS:
          this.expectWireType(WIRE_VARINT, 'Profile.duration_nanos', tagAt);
          this.durationNanos = r.int64(end);
          break;
        case PROFILE_PERIOD:
          this.expectWireType(WIRE_VARINT, 'Profile.period', tagAt);
          this.period = r.int64(end);
          break;
        default:
          r.skip(r.wireType, end, tagAt);
      }
    }
  }

  private expectWireType(expected: number, what: string, tagAt: number): void {
    if (this.r.wireType !== expected) throw wireTypeError(what, this.r.wireType, expected, tagAt);
  }

  /** [type string index, unit string index, offset]; proto3 absent fields are 0, i.e. "". */
  private readValueType(end: number, at: number): [number, number, number] {
    const r = this.r;
    let type = 0;
    let unit = 0;
    while (r.pos < end) {
      const tagAt = r.pos;
      const field = r.tag(end);
      if (field === VALUE_TYPE_TYPE || field === VALUE_TYPE_UNIT) {
        this.expectWireType(WIRE_VARINT, field === VALUE_TYPE_TYPE ? 'ValueType.type' : 'ValueType.unit', tagAt);
        if (field === VALUE_TYPE_TYPE) type = r.int64(end);
        else unit = r.int64(end);
      } else {
        r.skip(r.wireType, end, tagAt);
      }
    }
    return [type, unit, at];
  }

  private readFunction(end: number, at: number): void {
    const r = this.r;
    let id = 0;
    let name = 0;
    // Go writes id, name, system_name, filename, start_line: stop once id and name are read (the first
    // of each counts). The caller moves on to `end`.
    let seen = 0;
    while (seen !== 3 && r.pos < end) {
      const tagAt = r.pos;
      const field = r.tag(end);
      if (field === FUNCTION_ID && (seen & 1) === 0) {
        this.expectWireType(WIRE_VARINT, 'Function.id', tagAt);
        id = this.readId(r, end);
        seen |= 1;
      } else if (field === FUNCTION_NAME && (seen & 2) === 0) {
        this.expectWireType(WIRE_VARINT, 'Function.name', tagAt);
        name = r.int64(end);
        seen |= 2;
      } else {
        r.skip(r.wireType, end, tagAt);
      }
    }
    if (id === 0) throw new ProfileDecodeError(`function at byte offset ${at} has no id (ids are nonzero)`);
    const f = this.s.functions;
    f.push(id);
    f.push(name);
    f.push(at);
  }

  /**
   * Pass 1 of a location: its id only (Go writes it first, so this reads one field), and its byte range.
   * The first id field counts. Its lines wait for resolveLocation().
   */
  private readLocationId(end: number, at: number): void {
    const r = this.r;
    const start = r.pos;
    let id = 0;
    while (r.pos < end) {
      const tagAt = r.pos;
      if (r.tag(end) === LOCATION_ID) {
        this.expectWireType(WIRE_VARINT, 'Location.id', tagAt);
        id = this.readId(r, end);
        break;
      }
      r.skip(r.wireType, end, tagAt);
    }
    if (id === 0) throw new ProfileDecodeError(`location at byte offset ${at} has no id (ids are nonzero)`);
    const l = this.s.locations;
    l.push(id);
    l.push(start);
    l.push(end);
  }

  /** A uint64 id as an exact number key: itself below 2^53, else a negative synthetic id. */
  private readId(r: WireReader, limit: number): number {
    const id = r.uint64(limit);
    if (id <= Number.MAX_SAFE_INTEGER) return id;
    const key = `${r.hi}:${r.lo}`;
    this.largeIds ??= new Map();
    let synthetic = this.largeIds.get(key);
    if (synthetic === undefined) {
      synthetic = -(this.largeIds.size + 1);
      this.largeIds.set(key, synthetic);
    }
    return synthetic;
  }

  // ---- pass 2 and 3 ---------------------------------------------------------------------------------

  private checkString(index: number, what: string, at: number): void {
    const n = this.s.strings.length / 2;
    if (!(index >= 0 && index < n)) {
      throw new ProfileDecodeError(`${what} at byte offset ${at} references string ${index}, but the string table has ${n} entries`);
    }
  }

  private stringAt(index: number, what: string, at: number): string {
    this.checkString(index, what, at);
    const offsets = this.s.strings.data;
    return utf8Slice(this.text, offsets[2 * index], offsets[2 * index + 1]);
  }

  private valueType(t: [number, number, number], what: string): ValueType {
    return { type: this.stringAt(t[0], `${what} type`, t[2]), unit: this.stringAt(t[1], `${what} unit`, t[2]) };
  }

  private summarize(): ProfileSummary {
    const s = this.s;
    const nStrings = s.strings.length / 2;
    if (nStrings === 0 || this.stringAt(0, 'string_table[0]', 0) !== '') {
      throw new ProfileDecodeError(`string_table[0] must be the empty string (the string table has ${nStrings} entries)`);
    }
    const sampleTypes: ValueType[] = [];
    for (let i = 0; i < this.sampleTypeIdx.length; i += 3) {
      sampleTypes.push(this.valueType([this.sampleTypeIdx[i], this.sampleTypeIdx[i + 1], this.sampleTypeIdx[i + 2]], 'sample_type'));
    }
    const periodType = this.periodType === undefined ? undefined : this.valueType(this.periodType, 'period_type');

    // The Int32 arena, laid out as: slot of each string index | slot of each function | dense function
    // index | dense location index | leaf slot of each location | first kept slot of each location |
    // per slot: its name's string index, its skip state, its row in the float arena. Linear in the input.
    const fns = s.functions;
    const locs = s.locations;
    const nFn = fns.length / 3;
    const nLoc = locs.length / 3;
    const nSlots = nFn + 1; // at most one per function, plus UNKNOWN_FUNCTION
    const fnDense = IdIndex.denseSize(fns, 3);
    const locDense = IdIndex.denseSize(locs, 3);
    const oSlotOfString = 0;
    const oFnSlot = oSlotOfString + nStrings;
    const oFnDense = oFnSlot + nFn;
    const oLocDense = oFnDense + fnDense;
    const oLocLeaf = oLocDense + locDense;
    const oLocKept = oLocLeaf + nLoc;
    const oSlotName = oLocKept + nLoc;
    const oSlotSkip = oSlotName + nSlots;
    const oSlotRow = oSlotSkip + nSlots;
    const ints = s.intArena(oSlotRow + nSlots);
    ints.fill(-1, oSlotOfString, oSlotOfString + nStrings);
    ints.fill(NOT_YET, oLocKept, oLocKept + nLoc);
    ints.fill(NOT_YET, oSlotSkip, oSlotSkip + nSlots);
    ints.fill(-1, oSlotRow, oSlotRow + nSlots);
    this.ints = ints;
    this.oFnSlot = oFnSlot;
    this.oLocLeaf = oLocLeaf;
    this.oLocKept = oLocKept;
    this.oSlotName = oSlotName;
    this.oSlotSkip = oSlotSkip;

    // Functions -> name slots: one per distinct name string index. Names are decoded, and judged by
    // skipFrame, only when a sample needs them: frames above the first kept one never are.
    this.fnIndex = new IdIndex(fns, 3, 'function', ints, oFnDense, fnDense);
    let slots = 0;
    for (let i = 0; i < nFn; i++) {
      const nameIdx = fns.data[3 * i + 1];
      if (!(nameIdx >= 0 && nameIdx < nStrings)) this.checkString(nameIdx, `function id ${idText(fns.data[3 * i])}: its name`, fns.data[3 * i + 2]);
      let slot = ints[oSlotOfString + nameIdx];
      if (slot === -1) {
        slot = slots++;
        ints[oSlotOfString + nameIdx] = slot;
        ints[oSlotName + slot] = nameIdx;
      }
      ints[oFnSlot + i] = slot;
    }
    const unknownSlot = slots++;
    this.slotNames = new Array<string | undefined>(slots);
    this.slotNames[unknownSlot] = UNKNOWN_FUNCTION;
    ints[oSlotSkip + unknownSlot] = 0;

    // Locations: resolved (leaf slot, first kept slot) when a sample first reaches them.
    const locIndex = new IdIndex(locs, 3, 'location', ints, oLocDense, locDense);

    // Samples: values go to the scratch row, then into the totals and the row of the attributed slot.
    // Float arena: totals at [0, n), scratch row at [n, 2n), slot rows from 2n on, added as slots get samples
    // (so rows x columns never exceeds what the samples themselves take in bytes).
    const nTypes = sampleTypes.length;
    let floats = s.floatArena(2 * nTypes, 0);
    floats.fill(0, 0, 2 * nTypes);
    let rows = 0;
    const usedSlots: number[] = [];
    const r = this.r;
    const samples = s.samples;
    const nSamples = samples.length / 2;
    for (let si = 0; si < nSamples; si++) {
      const start = samples.data[2 * si];
      const end = samples.data[2 * si + 1];
      r.pos = start;
      let nValues = 0;
      let leaf = -1;
      let kept = -1;
      while (r.pos < end) {
        const tagAt = r.pos;
        const field = r.tag(end);
        const wt = r.wireType;
        if (field === SAMPLE_LOCATION_ID) {
          if (wt === WIRE_LEN) {
            const packedEnd = r.lenEnd(end);
            // Leaf first until a kept frame: the rest of the stack is not read.
            while (kept === -1 && r.pos < packedEnd) {
              const li = this.locationIndex(locIndex, packedEnd, r.pos);
              if (ints[oLocKept + li] === NOT_YET) this.resolveLocation(li);
              if (leaf === -1) leaf = ints[oLocLeaf + li];
              kept = ints[oLocKept + li];
            }
            r.pos = packedEnd;
          } else if (wt === WIRE_VARINT) {
            if (kept !== -1) {
              r.skipVarint(end);
            } else {
              const li = this.locationIndex(locIndex, end, r.pos);
              if (ints[oLocKept + li] === NOT_YET) this.resolveLocation(li);
              if (leaf === -1) leaf = ints[oLocLeaf + li];
              kept = ints[oLocKept + li];
            }
          } else {
            this.expectWireType(WIRE_LEN, 'Sample.location_id', tagAt);
          }
        } else if (field === SAMPLE_VALUE) {
          if (wt === WIRE_LEN) {
            const packedEnd = r.lenEnd(end);
            while (r.pos < packedEnd) {
              if (nValues === nTypes) throw tooManyValues(start, nTypes, r.pos);
              floats[nTypes + nValues++] = r.int64(packedEnd);
            }
          } else if (wt === WIRE_VARINT) {
            if (nValues === nTypes) throw tooManyValues(start, nTypes, r.pos);
            floats[nTypes + nValues++] = r.int64(end);
          } else {
            this.expectWireType(WIRE_LEN, 'Sample.value', tagAt);
          }
        } else {
          r.skip(wt, end, tagAt);
        }
      }
      if (nValues !== nTypes) {
        throw new ProfileDecodeError(`sample at byte offset ${start} has ${nValues} values, expected ${nTypes} (one per sample_type)`);
      }
      const slot = kept !== -1 ? kept : leaf !== -1 ? leaf : unknownSlot;
      let row = ints[oSlotRow + slot];
      if (row === -1) {
        row = (2 + rows++) * nTypes;
        floats = s.floatArena(row + nTypes, row);
        floats.fill(0, row, row + nTypes);
        ints[oSlotRow + slot] = row;
        usedSlots.push(slot);
      }
      for (let k = 0; k < nTypes; k++) {
        const v = floats[nTypes + k];
        floats[k] += v;
        floats[row + k] += v;
      }
    }

    // Distinct string indexes may hold equal names (a string table need not be deduplicated): merge them.
    const byFunction = new Map<string, number[]>();
    for (const slot of usedSlots) {
      const name = this.slotName(slot);
      const row = ints[oSlotRow + slot];
      const prior = byFunction.get(name);
      if (prior === undefined) {
        const values = new Array<number>(nTypes);
        for (let k = 0; k < nTypes; k++) values[k] = floats[row + k];
        byFunction.set(name, values);
      } else {
        for (let k = 0; k < nTypes; k++) prior[k] += floats[row + k];
      }
    }
    const totals = new Array<number>(nTypes);
    for (let k = 0; k < nTypes; k++) totals[k] = floats[k];

    return {
      sampleTypes,
      periodType,
      period: this.period,
      timeNanos: this.timeNanos,
      durationNanos: this.durationNanos,
      totals,
      byFunction,
      sampleCount: nSamples,
    };
  }

  /**
   * Reads location li's lines, innermost first, until one whose function skipFrame keeps, and records
   * its leaf slot (the first line's, or -1 without lines) and its first kept slot (or -1). Once per location.
   */
  private resolveLocation(li: number): void {
    const r = this.lr;
    const ints = this.ints;
    const locs = this.s.locations.data;
    const end = locs[3 * li + 2];
    r.pos = locs[3 * li + 1];
    let leaf = -1;
    let kept = -1;
    while (r.pos < end) {
      const tagAt = r.pos;
      const field = r.tag(end);
      if (field !== LOCATION_LINE) {
        r.skip(r.wireType, end, tagAt);
        continue;
      }
      const wt = r.wireType;
      if (wt !== WIRE_LEN) throw wireTypeError('Location.line', wt, WIRE_LEN, tagAt);
      const lineEnd = r.lenEnd(end);
      let fnId = 0;
      while (r.pos < lineEnd) {
        const lineTagAt = r.pos;
        if (r.tag(lineEnd) === LINE_FUNCTION_ID) {
          const lineWt = r.wireType;
          if (lineWt !== WIRE_VARINT) throw wireTypeError('Line.function_id', lineWt, WIRE_VARINT, lineTagAt);
          fnId = this.readId(r, lineEnd);
        } else {
          r.skip(r.wireType, lineEnd, lineTagAt);
        }
      }
      // A line without a function (proto3 default 0) names no frame.
      if (fnId === 0) continue;
      const fi = this.fnIndex!.get(fnId);
      if (fi === -1) {
        throw new ProfileDecodeError(`location id ${idText(locs[3 * li])}: line at byte offset ${tagAt} references missing function id ${idText(fnId)}`);
      }
      const slot = ints[this.oFnSlot + fi];
      if (leaf === -1) leaf = slot;
      if (!this.skipped(slot)) {
        kept = slot;
        break;
      }
    }
    ints[this.oLocLeaf + li] = leaf;
    ints[this.oLocKept + li] = kept;
  }

  private skipped(slot: number): boolean {
    const at = this.oSlotSkip + slot;
    let state = this.ints[at];
    if (state === NOT_YET) {
      const skipFrame = this.skipFrame;
      if (skipFrame === undefined) {
        state = 0;
      } else {
        const name = this.slotEntry(slot);
        if (name.skipFrame !== skipFrame) {
          name.skip = skipFrame(name.name);
          name.skipFrame = skipFrame;
        }
        state = name.skip ? 1 : 0;
      }
      this.ints[at] = state;
    }
    return state === 1;
  }

  private slotName(slot: number): string {
    return this.slotNames[slot] ?? this.slotEntry(slot).name;
  }

  /** The cached name of a slot (not the unknown slot, whose name is set up front), via the name cache. */
  private slotEntry(slot: number): CachedName {
    const index = this.ints[this.oSlotName + slot];
    const offsets = this.s.strings.data;
    const entry = nameCache.get(this.text, offsets[2 * index], offsets[2 * index + 1]);
    this.slotNames[slot] = entry.name;
    return entry;
  }

  private locationIndex(index: IdIndex, limit: number, at: number): number {
    const id = this.readId(this.r, limit);
    const li = index.get(id);
    if (li === -1) throw new ProfileDecodeError(`sample references missing location id ${idText(id)} at byte offset ${at}`);
    return li;
  }
}

function wireTypeError(what: string, actual: number, expected: number, tagAt: number): ProfileDecodeError {
  return new ProfileDecodeError(`${what} has wire type ${actual}, expected ${expected}, in tag at byte offset ${tagAt}`);
}

function tooManyValues(sampleAt: number, nTypes: number, at: number): ProfileDecodeError {
  return new ProfileDecodeError(`sample at byte offset ${sampleAt} has more than ${nTypes} values (one per sample_type): extra value at byte offset ${at}`);
}
