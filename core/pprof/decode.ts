/**
 * A decoder of Go's pprof profiles (gzip + perftools.profiles.Profile, github.com/google/pprof
 * proto/profile.proto) that computes only what the derivations need: sample types, period, times, the
 * total of each value column and the sums per attributed function.
 *
 * It walks the wire format by hand in two passes over the inflated bytes, without building an object per
 * sample, location or string:
 *   1. every top-level field once: string table offsets (no string is decoded yet), functions (id, name
 *      index), locations (id, the function ids of their lines in order), sample_type, period and times;
 *      samples are only remembered by their byte range, since Go writes them before the tables they use.
 *   2. resolution: ids to dense indexes, each distinct function name decoded once and passed once to
 *      skipFrame, and each location reduced to two numbers (its leaf function, its first kept function).
 *   3. the samples: each one's values go into one reused scratch row, then are added to the totals and to
 *      the row of the function it is attributed to.
 *
 * Numbers: int64 values are read into JavaScript numbers, exact within ±2^53 (9.0e15; for bytes that is
 * 8 PiB, for nanoseconds 104 days of CPU per sample). Beyond that they lose precision, as sums do once
 * they pass 2^53. Ids are uint64 and kept exact: ids above 2^53 get a synthetic key of their own.
 *
 * Byte offsets in error messages are offsets into the inflated profile.proto bytes.
 */
import { gunzipSync } from 'node:zlib';
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

function inflate(data: Uint8Array, maxBytes: number): Uint8Array {
  if (data.length === 0) throw new ProfileDecodeError('empty profile: 0 bytes');
  if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b) {
    if (data.length > maxBytes) {
      throw new ProfileDecodeError(`profile of ${data.length} bytes exceeds maxInflatedBytes (${maxBytes})`);
    }
    return data;
  }
  let out: Buffer;
  try {
    // maxOutputLength makes zlib stop (RangeError) instead of growing its output: a gzip bomb costs at most maxBytes.
    out = gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (err) {
    const tooLarge = (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
    const e = new ProfileDecodeError(
      tooLarge
        ? `gzipped profile inflates to more than maxInflatedBytes (${maxBytes})`
        : `gzipped profile does not inflate: ${err instanceof Error ? err.message : String(err)}`,
    );
    e.cause = err;
    throw e;
  }
  if (out.length === 0) throw new ProfileDecodeError('empty profile: gzip stream inflates to 0 bytes');
  return out;
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
  /** Per string: byte offset of its tag (the payload is re-read for the few strings decoded). */
  readonly strings = new U32List(1024);
  /** Per function: id, name string index, byte offset. */
  readonly functions = new F64List(3 * 256);
  /** Per location: id, byte offset, index of its first line in `lines`. */
  readonly locations = new F64List(3 * 256);
  /** Per line with a function: function id, byte offset. */
  readonly lines = new F64List(2 * 512);
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
    this.lines.reset(RETAIN_ENTRIES);
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
  private readonly strings: WireReader;
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

  // Set by summarize() for the lazy lookups firstKept(), skipped() and slotName().
  private ints: Int32Array = new Int32Array(0);
  private lines: Float64Array = new Float64Array(0);
  private oSlotName = 0;
  private oSlotSkip = 0;
  private slotNames: (string | undefined)[] = [];

  constructor(buf: Uint8Array, skipFrame: ((functionName: string) => boolean) | undefined, scratch: Scratch) {
    this.buf = buf;
    this.text = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    this.r = new WireReader(buf);
    this.strings = new WireReader(buf);
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
    const end = this.buf.length;
    while (r.pos < end) {
      const tagAt = r.pos;
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
        case PROFILE_LOCATION:
          this.expectWireType(WIRE_LEN, 'Profile.location', tagAt);
          this.readLocation(r.lenEnd(end), tagAt);
          break;
        case PROFILE_FUNCTION:
          this.expectWireType(WIRE_LEN, 'Profile.function', tagAt);
          this.readFunction(r.lenEnd(end), tagAt);
          break;
        case PROFILE_STRING_TABLE:
          this.expectWireType(WIRE_LEN, 'Profile.string_table', tagAt);
          this.s.strings.push(tagAt);
          r.pos = r.lenEnd(end);
          break;
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
    if (this.r.wireType !== expected) {
      throw new ProfileDecodeError(`${what} has wire type ${this.r.wireType}, expected ${expected}, in tag at byte offset ${tagAt}`);
    }
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
    while (r.pos < end) {
      const tagAt = r.pos;
      const field = r.tag(end);
      if (field === FUNCTION_ID) {
        this.expectWireType(WIRE_VARINT, 'Function.id', tagAt);
        id = this.readId(end);
      } else if (field === FUNCTION_NAME) {
        this.expectWireType(WIRE_VARINT, 'Function.name', tagAt);
        name = r.int64(end);
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

  private readLocation(end: number, at: number): void {
    const r = this.r;
    const lines = this.s.lines;
    let id = 0;
    const firstLine = lines.length / 2;
    while (r.pos < end) {
      const tagAt = r.pos;
      const field = r.tag(end);
      if (field === LOCATION_ID) {
        this.expectWireType(WIRE_VARINT, 'Location.id', tagAt);
        id = this.readId(end);
      } else if (field === LOCATION_LINE) {
        this.expectWireType(WIRE_LEN, 'Location.line', tagAt);
        const lineEnd = r.lenEnd(end);
        let fnId = 0;
        while (r.pos < lineEnd) {
          const lineTagAt = r.pos;
          if (r.tag(lineEnd) === LINE_FUNCTION_ID) {
            this.expectWireType(WIRE_VARINT, 'Line.function_id', lineTagAt);
            fnId = this.readId(lineEnd);
          } else {
            r.skip(r.wireType, lineEnd, lineTagAt);
          }
        }
        // A line without a function (proto3 default 0) names no frame: nothing to keep.
        if (fnId !== 0) {
          lines.push(fnId);
          lines.push(tagAt);
        }
      } else {
        r.skip(r.wireType, end, tagAt);
      }
    }
    if (id === 0) throw new ProfileDecodeError(`location at byte offset ${at} has no id (ids are nonzero)`);
    const l = this.s.locations;
    l.push(id);
    l.push(at);
    l.push(firstLine);
  }

  /** A uint64 id as an exact number key: itself below 2^53, else a negative synthetic id. */
  private readId(limit: number): number {
    const id = this.r.uint64(limit);
    if (id <= Number.MAX_SAFE_INTEGER) return id;
    const key = `${this.r.hi}:${this.r.lo}`;
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
    if (!(index >= 0 && index < this.s.strings.length)) {
      throw new ProfileDecodeError(
        `${what} at byte offset ${at} references string ${index}, but the string table has ${this.s.strings.length} entries`,
      );
    }
  }

  private stringAt(index: number, what: string, at: number): string {
    this.checkString(index, what, at);
    // Pass 1 validated this field's tag and length; re-read them to find the payload, with a reader of
    // its own: names are decoded lazily, in the middle of reading a sample.
    const r = this.strings;
    r.pos = this.s.strings.data[index];
    r.tag(this.buf.length);
    const end = r.lenEnd(this.buf.length);
    return utf8Slice(this.text, r.pos, end);
  }

  private valueType(t: [number, number, number], what: string): ValueType {
    return { type: this.stringAt(t[0], `${what} type`, t[2]), unit: this.stringAt(t[1], `${what} unit`, t[2]) };
  }

  private summarize(): ProfileSummary {
    const s = this.s;
    const nStrings = s.strings.length;
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
    this.oSlotName = oSlotName;
    this.oSlotSkip = oSlotSkip;

    // Functions -> name slots: one per distinct name string index. Names are decoded, and judged by
    // skipFrame, only when a sample needs them: frames above the first kept one never are.
    const fnIndex = new IdIndex(fns, 3, 'function', ints, oFnDense, fnDense);
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

    // Lines: every function reference checked now; each line's function id is replaced by its slot, for
    // firstKept(). Locations: the leaf slot now, the first kept slot when a sample first reaches them.
    const locIndex = new IdIndex(locs, 3, 'location', ints, oLocDense, locDense);
    const lines = s.lines;
    const nLines = lines.length / 2;
    this.lines = lines.data;
    for (let i = 0; i < nLoc; i++) {
      const from = locs.data[3 * i + 2];
      const to = i + 1 < nLoc ? locs.data[3 * i + 5] : nLines;
      for (let l = from; l < to; l++) {
        const fnId = lines.data[2 * l];
        const fi = fnIndex.get(fnId);
        if (fi === -1) {
          throw new ProfileDecodeError(
            `location id ${idText(locs.data[3 * i])}: line at byte offset ${lines.data[2 * l + 1]} references missing function id ${idText(fnId)}`,
          );
        }
        lines.data[2 * l] = ints[oFnSlot + fi];
      }
      ints[oLocLeaf + i] = from < to ? lines.data[2 * from] : -1;
    }

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
            while (r.pos < packedEnd) {
              const li = this.locationIndex(locIndex, packedEnd, r.pos);
              if (leaf === -1) leaf = ints[oLocLeaf + li];
              if (kept === -1) kept = this.firstKept(li, oLocKept + li, locs);
            }
          } else if (wt === WIRE_VARINT) {
            const li = this.locationIndex(locIndex, end, r.pos);
            if (leaf === -1) leaf = ints[oLocLeaf + li];
            if (kept === -1) kept = this.firstKept(li, oLocKept + li, locs);
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

  /** The first slot among location li's lines that skipFrame keeps, or -1; computed once per location. */
  private firstKept(li: number, at: number, locs: F64List): number {
    const ints = this.ints;
    let kept = ints[at];
    if (kept !== NOT_YET) return kept;
    kept = -1;
    const from = locs.data[3 * li + 2];
    const to = li + 1 < locs.length / 3 ? locs.data[3 * li + 5] : this.s.lines.length / 2;
    for (let l = from; l < to; l++) {
      const slot = this.lines[2 * l];
      if (!this.skipped(slot)) {
        kept = slot;
        break;
      }
    }
    ints[at] = kept;
    return kept;
  }

  private skipped(slot: number): boolean {
    const at = this.oSlotSkip + slot;
    let state = this.ints[at];
    if (state === NOT_YET) {
      state = this.skipFrame !== undefined && this.skipFrame(this.slotName(slot)) ? 1 : 0;
      this.ints[at] = state;
    }
    return state === 1;
  }

  private slotName(slot: number): string {
    let name = this.slotNames[slot];
    if (name === undefined) {
      name = this.stringAt(this.ints[this.oSlotName + slot], 'function name', 0);
      this.slotNames[slot] = name;
    }
    return name;
  }

  private locationIndex(index: IdIndex, limit: number, at: number): number {
    const id = this.readId(limit);
    const li = index.get(id);
    if (li === -1) throw new ProfileDecodeError(`sample references missing location id ${idText(id)} at byte offset ${at}`);
    return li;
  }
}

function tooManyValues(sampleAt: number, nTypes: number, at: number): ProfileDecodeError {
  return new ProfileDecodeError(`sample at byte offset ${sampleAt} has more than ${nTypes} values (one per sample_type): extra value at byte offset ${at}`);
}
