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
 * they pass 2^53. Ids are refused above 2n + 16 for a table of n records (Go numbers them 1..n).
 *
 * Memory is bounded by the input, and checked before anything is allocated: pass 0 counts the records of
 * each table (reading tags and lengths only), and the decode's working memory is computed from the counts
 * times each record's stride (see Layout): at most 6 bytes per inflated input byte for the tables (every
 * record kind at its smallest encoding), plus the result's by-function entries, each of which needs a
 * function, a location and a sample (>= 12 input bytes) and costs RESULT_ENTRY_BYTES + 8 per column + its
 * name. The sum must fit `maxWorkingBytes` (default DEFAULT_WORKING_BYTES_PER_INPUT_BYTE x the inflated
 * limit + 1 MiB: 193 MiB at the default 64 MiB), else the profile is refused as too large before anything grows.
 * Measured on the recorded profiles of real Go programs, a decode is sized at 0.4-1.9 bytes per input
 * byte; crafted profiles of the smallest records at the 6 (bench/pprof-bounds.ts). Duplicate and absurd ids
 * are refused while reading, as is a sample whose run of skipped frames is deeper than Go ever writes,
 * and a profile that attributes samples to more than MAX_FUNCTIONS (65,536) functions (core/pprof/text.ts).
 * So one decode holds at most: its gzipped input + the inflated bytes (<= maxInflatedBytes) + the budget
 * + the process-wide name cache (<= 16,384 names).
 *
 * Byte offsets in error messages are offsets into the inflated profile.proto bytes.
 */
import { promisify } from 'node:util';
import { gunzip, gunzipSync } from 'node:zlib';
import { PprofcolError } from '../errors.js';
import type { FunctionProfile, ValueType } from '../model/profiles.js';
import { MAX_FUNCTIONS, ProfileDecodeError, tooManyFunctions } from './text.js';
import { WIRE_LEN, WIRE_VARINT, WireReader } from './wire.js';

export interface DecodeOptions {
  /** Frames to skip when choosing the function a sample is attributed to (e.g. runtime internals). */
  skipFrame?: (functionName: string) => boolean;
  /** Largest inflated size accepted (default 64 MiB); larger input is an error, never an unbounded allocation. */
  maxInflatedBytes?: number;
  /**
   * Working memory one decode may take, in bytes (default DEFAULT_WORKING_BYTES_PER_INPUT_BYTE x
   * maxInflatedBytes). A profile whose record counts need more is refused (too large) before anything grows.
   */
  maxWorkingBytes?: number;
}

/**
 * 3: the recorded profiles of real Go programs need 0.4-1.9 bytes of working memory per inflated byte
 * (small ones the most: the result's fixed cost per function weighs more), so three times the inflated
 * limit refuses none of them, while the crafted worst cases (6 per byte for the tables; 4.1 for a valid
 * profile of distinct functions) of a profile near the limit are refused.
 */
export const DEFAULT_WORKING_BYTES_PER_INPUT_BYTE = 3;
/** Added to the default budget: a tiny profile's fixed costs (id slack, result entries) exceed 2 per byte. */
export const WORKING_BYTES_FLOOR = 1024 * 1024;

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

/**
 * Accepts gzipped (magic 1f 8b) or raw profile.proto bytes. Throws ProfileDecodeError (from core/pprof/text.ts)
 * on malformed input. The result's columns and units are the sample types, in order; every optional field of
 * FunctionProfile (sampleCount, periodType, period, timeNanos, workingBytes) is set, periodType to undefined
 * if the profile has none.
 */
export function decodeProfile(data: Uint8Array, options?: DecodeOptions): FunctionProfile {
  const maxBytes = options?.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new PprofcolError('ERR_INVALID_OPTION', `maxInflatedBytes must be a positive integer, got ${maxBytes}`);
  }
  const budget = options?.maxWorkingBytes ?? DEFAULT_WORKING_BYTES_PER_INPUT_BYTE * maxBytes + WORKING_BYTES_FLOOR;
  const buf = inflate(data, maxBytes);
  // One decode at a time uses the shared scratch arrays; a skipFrame that itself decodes gets its own.
  const scratch = sharedScratch.busy ? new Scratch() : sharedScratch;
  scratch.busy = true;
  try {
    return new Decoder(buf, options?.skipFrame, scratch, budget).decode();
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
 * Arrays longer than this many entries (4 MiB of Int32, 8 MiB of Float64) are not kept for the next
 * decode: a one-off huge profile must not pin its working memory, while the profiles of an ordinary
 * service (KBs to a few MBs) reuse theirs. Allocating typed arrays anew costs more than decoding a small
 * profile does.
 */
const RETAIN_ENTRIES = 1 << 20;

/** The decoder's two arenas, reused from one decode to the next (decoding is synchronous). */
class Scratch {
  busy = false;
  ints = new Int32Array(8192);
  floats = new Float64Array(1024);

  /** An Int32 arena of at least n entries; allocated at its exact size when it must grow (no doubling). */
  intArena(n: number): Int32Array {
    if (this.ints.length < n) this.ints = new Int32Array(n);
    return this.ints;
  }

  floatArena(n: number): Float64Array {
    if (this.floats.length < n) this.floats = new Float64Array(n);
    return this.floats;
  }

  release(): void {
    this.busy = false;
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
 * Ids index a dense slice of the Int32 arena (Go numbers functions and locations 1..n). An id above
 * 2n + ID_SLACK, for a table of n records, is absurd and refused while reading: it bounds the slice at
 * 8 bytes per record plus 64 bytes, so an id cannot make the decoder allocate more than its input implies.
 */
const ID_SLACK = 16;
/** More sample types than this is absurd (Go writes 1 to 4); each costs a column in every row. */
export const MAX_SAMPLE_TYPES = 64;
/**
 * Frames read of one sample before its attributed frame, at most. Go records at most 1024
 * (debug.profstackdepth's ceiling, Go 1.23+; 32 to 128 before): a longer run of skipped frames is not
 * a Go profile, and would make one sample cost time in proportion to the whole input.
 */
export const MAX_STACK_DEPTH = 1024;
/**
 * JavaScript heap per by-function entry of the result, beside its name's bytes and 8 bytes per column:
 * the Map entry, the values array's header, the name string's header and its name-cache entry
 * (measured with --expose-gc on 1M distinct functions: ~70 bytes; rounded up).
 */
export const RESULT_ENTRY_BYTES = 96;

function duplicateId(what: string, id: number, offset: number): ProfileDecodeError {
  return new ProfileDecodeError(`duplicate ${what} id ${id} at byte offset ${offset}`);
}

function absurdId(what: string, id: number, offset: number, count: number): ProfileDecodeError {
  return new ProfileDecodeError(
    `${what} id ${id} at byte offset ${offset} is out of range: the profile has ${count} ${what}s, and ids above 2 x that + ${ID_SLACK} are refused (Go numbers them 1..n)`,
  );
}

/** Record counts of pass 0, which sizes everything before anything is allocated. */
interface Counts {
  strings: number;
  /** Bytes of string payloads: what decoded names can take at most (one byte per UTF-8 byte or less). */
  stringBytes: number;
  functions: number;
  locations: number;
  samples: number;
  sampleTypes: number;
}

/**
 * Where each table sits in the Int32 arena, from the counts. Per record (its smallest encoding in brackets):
 *   string [2 bytes]:    start, end, slot of the string                    12 bytes
 *   function [4 bytes]:  name index (then slot), 2 id slots, 3 slot fields  24 bytes
 *   location [4 bytes]:  start, end, 2 id slots, leaf slot, kept slot       24 bytes
 *   sample [2 bytes]:    start, end                                         8 bytes
 * So the arena takes at most 6 bytes per input byte; the Float64 arena (totals, scratch row, one row per
 * attributed function) at most (2 + min(functions + 1, samples)) x columns x 8.
 */
class Layout {
  readonly oStr = 0;
  readonly oSlotOfString: number;
  readonly oFnSlot: number;
  readonly oFnDense: number;
  readonly fnDense: number;
  readonly oLoc: number;
  readonly oLocDense: number;
  readonly locDense: number;
  readonly oLocLeaf: number;
  readonly oLocKept: number;
  readonly oSample: number;
  readonly nSlots: number;
  readonly oSlotName: number;
  readonly oSlotSkip: number;
  readonly oSlotRow: number;
  readonly ints: number;
  readonly floats: number;
  /** The result's by-function entries at most: each needs a function, a location and a sample. */
  readonly resultEntries: number;
  /** Everything this decode may allocate for this input, in bytes: checked against the budget first. */
  readonly workingBytes: number;

  constructor(c: Counts) {
    this.oSlotOfString = this.oStr + 2 * c.strings;
    this.oFnSlot = this.oSlotOfString + c.strings;
    this.oFnDense = this.oFnSlot + c.functions;
    this.fnDense = c.functions === 0 ? 0 : 2 * c.functions + ID_SLACK;
    this.oLoc = this.oFnDense + this.fnDense;
    this.oLocDense = this.oLoc + 2 * c.locations;
    this.locDense = c.locations === 0 ? 0 : 2 * c.locations + ID_SLACK;
    this.oLocLeaf = this.oLocDense + this.locDense;
    this.oLocKept = this.oLocLeaf + c.locations;
    this.oSample = this.oLocKept + c.locations;
    this.nSlots = c.functions + 1; // at most one per function, plus UNKNOWN_FUNCTION
    this.oSlotName = this.oSample + 2 * c.samples;
    this.oSlotSkip = this.oSlotName + this.nSlots;
    this.oSlotRow = this.oSlotSkip + this.nSlots;
    this.ints = this.oSlotRow + this.nSlots;
    this.resultEntries = Math.min(this.nSlots, c.samples, MAX_FUNCTIONS + 1);
    this.floats = (2 + this.resultEntries) * c.sampleTypes;
    this.workingBytes =
      4 * this.ints + 8 * this.floats + this.resultEntries * RESULT_ENTRY_BYTES + Math.min(c.stringBytes, this.resultEntries * 1024) + 8 * this.resultEntries * c.sampleTypes;
  }
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
  private readonly budget: number;

  // Pass 1 results besides the arena.
  /** Per sample type: type and unit string indexes, and the byte offset of the ValueType. */
  private readonly sampleTypeIdx: number[] = [];
  private periodType: [number, number, number] | undefined;
  private period = 0;
  private timeNanos = 0;
  private durationNanos = 0;

  private countError: ProfileDecodeError | undefined;
  private counts: Counts = { strings: 0, stringBytes: 0, functions: 0, locations: 0, samples: 0, sampleTypes: 0 };
  private L: Layout = new Layout(this.counts);
  private ints: Int32Array = new Int32Array(0);
  /** Records read so far in pass 1, per table. */
  private nStr = 0;
  private nFn = 0;
  private nLoc = 0;
  private nSample = 0;
  private slotNames: (string | undefined)[] = [];

  constructor(buf: Uint8Array, skipFrame: ((functionName: string) => boolean) | undefined, scratch: Scratch, budget: number) {
    this.buf = buf;
    this.text = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    this.r = new WireReader(buf);
    this.lr = new WireReader(buf);
    this.skipFrame = skipFrame;
    this.s = scratch;
    this.budget = budget;
  }

  decode(): FunctionProfile {
    this.count();
    const L = (this.L = new Layout(this.counts));
    if (L.workingBytes > this.budget) {
      const c = this.counts;
      throw new ProfileDecodeError(
        `decoding needs ${L.workingBytes} bytes of working memory (${c.strings} strings, ${c.functions} functions, ${c.locations} locations, ${c.samples} samples), over the decoder's budget of ${this.budget}`,
        { tooLarge: true },
      );
    }
    const ints = (this.ints = this.s.intArena(L.ints));
    ints.fill(-1, L.oFnDense, L.oFnDense + L.fnDense);
    ints.fill(-1, L.oLocDense, L.oLocDense + L.locDense);
    this.r.pos = 0;
    this.readProfile();
    // Pass 1 walks the same fields as pass 0 and throws its own, more precise error at or before
    // the place where pass 0 stopped; should it not, pass 0's error stands.
    if (this.countError !== undefined) throw this.countError;
    return this.summarize();
  }

  // ---- pass 0: counts -------------------------------------------------------------------------------

  /**
   * Counts the records of each table, reading tags and lengths only; nothing is allocated. Malformed
   * input stops the count; the records before that point are counted, and pass 1 reports the error.
   */
  private count(): void {
    try {
      this.countFields();
    } catch (err) {
      if (!(err instanceof ProfileDecodeError) || err.tooLarge) throw err;
      this.countError = err;
    }
    // Not deferred: pass 1 would read past this point into tables sized without what follows.
    if (this.counts.sampleTypes > MAX_SAMPLE_TYPES) throw new ProfileDecodeError(`more than ${MAX_SAMPLE_TYPES} sample types: not a Go profile`);
  }

  private countFields(): void {
    const r = this.r;
    const buf = this.buf;
    const end = buf.length;
    const c = this.counts;
    while (r.pos < end) {
      const tagAt = r.pos;
      if (buf[tagAt] === STRING_TABLE_TAG && tagAt + 1 < end) {
        const len = buf[tagAt + 1];
        if (len < 0x80 && tagAt + 2 + len <= end) {
          c.strings++;
          c.stringBytes += len;
          r.pos = tagAt + 2 + len;
          continue;
        }
      }
      const field = r.tag(end);
      if (r.wireType !== WIRE_LEN) {
        r.skip(r.wireType, end, tagAt);
        continue;
      }
      const fEnd = r.lenEnd(end);
      switch (field) {
        case PROFILE_STRING_TABLE:
          c.strings++;
          c.stringBytes += fEnd - r.pos;
          break;
        case PROFILE_FUNCTION:
          c.functions++;
          break;
        case PROFILE_LOCATION:
          c.locations++;
          break;
        case PROFILE_SAMPLE:
          c.samples++;
          break;
        case PROFILE_SAMPLE_TYPE:
          if (++c.sampleTypes > MAX_SAMPLE_TYPES) return;
          break;
      }
      r.pos = fEnd;
    }
  }

  // ---- pass 1 ---------------------------------------------------------------------------------------

  private readProfile(): void {
    const r = this.r;
    const buf = this.buf;
    const end = buf.length;
    const ints = this.ints;
    const oStr = this.L.oStr;
    const oSample = this.L.oSample;
    while (r.pos < end) {
      const tagAt = r.pos;
      // The string table is most of a profile's fields (a third to a half): its usual form, a one-byte tag
      // and a one-byte length, is taken here without a call.
      if (buf[tagAt] === STRING_TABLE_TAG && tagAt + 1 < end) {
        const len = buf[tagAt + 1];
        const sEnd = tagAt + 2 + len;
        if (len < 0x80 && sEnd <= end) {
          const at = oStr + 2 * this.nStr++;
          ints[at] = tagAt + 2;
          ints[at + 1] = sEnd;
          r.pos = sEnd;
          continue;
        }
      }
      const field = r.tag(end);
      switch (field) {
        case PROFILE_SAMPLE: {
          this.expectWireType(WIRE_LEN, 'Profile.sample', tagAt);
          const sEnd = r.lenEnd(end);
          const at = oSample + 2 * this.nSample++;
          ints[at] = r.pos;
          ints[at + 1] = sEnd;
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
          const at = oStr + 2 * this.nStr++;
          ints[at] = r.pos;
          ints[at + 1] = sEnd;
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

  /** Enters `id` of table `what` into its dense slice as record k, refusing an absurd or repeated id at once. */
  private enterId(base: number, size: number, count: number, id: number, k: number, what: string, at: number): void {
    if (id === 0) throw new ProfileDecodeError(`${what} at byte offset ${at} has no id (ids are nonzero)`);
    if (!(id < size)) throw absurdId(what, id, at, count);
    if (this.ints[base + id] !== -1) throw duplicateId(what, id, at);
    this.ints[base + id] = k;
  }

  private readFunction(end: number, at: number): void {
    const r = this.r;
    let id = 0;
    let name = 0;
    // Go writes each field once; where a field repeats, the last one counts, as protobuf says (and as
    // pprof-format reads it).
    while (r.pos < end) {
      const tagAt = r.pos;
      const field = r.tag(end);
      if (field === FUNCTION_ID) {
        this.expectWireType(WIRE_VARINT, 'Function.id', tagAt);
        id = r.uint64(end);
      } else if (field === FUNCTION_NAME) {
        this.expectWireType(WIRE_VARINT, 'Function.name', tagAt);
        name = r.int64(end);
      } else {
        r.skip(r.wireType, end, tagAt);
      }
    }
    const L = this.L;
    const k = this.nFn++;
    this.enterId(L.oFnDense, L.fnDense, this.counts.functions, id, k, 'function', at);
    if (!(name >= 0 && name < this.counts.strings)) this.checkString(name, `function id ${id}: its name`, at);
    this.ints[L.oFnSlot + k] = name;
  }

  /**
   * Pass 1 of a location: its id and its byte range; its lines wait for resolveLocation(). Go writes the
   * id once, first; a repeated id field: the last counts, as protobuf says, so the lines are stepped over.
   */
  private readLocationId(end: number, at: number): void {
    const r = this.r;
    const start = r.pos;
    let id = 0;
    while (r.pos < end) {
      const tagAt = r.pos;
      if (r.tag(end) === LOCATION_ID) {
        this.expectWireType(WIRE_VARINT, 'Location.id', tagAt);
        id = r.uint64(end);
      } else {
        r.skip(r.wireType, end, tagAt);
      }
    }
    const L = this.L;
    const k = this.nLoc++;
    this.enterId(L.oLocDense, L.locDense, this.counts.locations, id, k, 'location', at);
    this.ints[L.oLoc + 2 * k] = start;
    this.ints[L.oLoc + 2 * k + 1] = end;
  }

  // ---- pass 2 and 3 ---------------------------------------------------------------------------------

  private checkString(index: number, what: string, at: number): void {
    const n = this.counts.strings;
    if (!(index >= 0 && index < n)) {
      throw new ProfileDecodeError(`${what} at byte offset ${at} references string ${index}, but the string table has ${n} entries`);
    }
  }

  private stringAt(index: number, what: string, at: number): string {
    this.checkString(index, what, at);
    return utf8Slice(this.text, this.ints[this.L.oStr + 2 * index], this.ints[this.L.oStr + 2 * index + 1]);
  }

  private valueType(t: [number, number, number], what: string): ValueType {
    return { type: this.stringAt(t[0], `${what} type`, t[2]), unit: this.stringAt(t[1], `${what} unit`, t[2]) };
  }

  private summarize(): FunctionProfile {
    const L = this.L;
    const nStrings = this.counts.strings;
    if (nStrings === 0 || this.stringAt(0, 'string_table[0]', 0) !== '') {
      throw new ProfileDecodeError(`string_table[0] must be the empty string (the string table has ${nStrings} entries)`);
    }
    const sampleTypes: ValueType[] = [];
    for (let i = 0; i < this.sampleTypeIdx.length; i += 3) {
      sampleTypes.push(this.valueType([this.sampleTypeIdx[i], this.sampleTypeIdx[i + 1], this.sampleTypeIdx[i + 2]], 'sample_type'));
    }
    const periodType = this.periodType === undefined ? undefined : this.valueType(this.periodType, 'period_type');

    const ints = this.ints;
    ints.fill(-1, L.oSlotOfString, L.oSlotOfString + nStrings);
    ints.fill(NOT_YET, L.oLocKept, L.oLocKept + this.nLoc);
    ints.fill(NOT_YET, L.oSlotSkip, L.oSlotSkip + L.nSlots);
    ints.fill(-1, L.oSlotRow, L.oSlotRow + L.nSlots);

    // Functions -> name slots: one per distinct name string index. Names are decoded, and judged by
    // skipFrame, only when a sample needs them: frames above the first kept one never are.
    let slots = 0;
    for (let i = 0; i < this.nFn; i++) {
      const nameIdx = ints[L.oFnSlot + i];
      let slot = ints[L.oSlotOfString + nameIdx];
      if (slot === -1) {
        slot = slots++;
        ints[L.oSlotOfString + nameIdx] = slot;
        ints[L.oSlotName + slot] = nameIdx;
      }
      ints[L.oFnSlot + i] = slot;
    }
    const unknownSlot = slots++;
    this.slotNames = new Array<string | undefined>(slots);
    this.slotNames[unknownSlot] = UNKNOWN_FUNCTION;
    ints[L.oSlotSkip + unknownSlot] = 0;

    // Samples: values go to the scratch row, then into the totals and the row of the attributed slot.
    // Float arena: totals at [0, n), scratch row at [n, 2n), slot rows from 2n on, added as slots get samples.
    const nTypes = sampleTypes.length;
    const floats = this.s.floatArena(L.floats);
    floats.fill(0, 0, 2 * nTypes);
    let rows = 0;
    const usedSlots: number[] = [];
    const r = this.r;
    const nSamples = this.nSample;
    const oLocKept = L.oLocKept;
    const oLocLeaf = L.oLocLeaf;
    for (let si = 0; si < nSamples; si++) {
      const start = ints[L.oSample + 2 * si];
      const end = ints[L.oSample + 2 * si + 1];
      r.pos = start;
      let nValues = 0;
      let leaf = -1;
      let kept = -1;
      let depth = 0;
      while (r.pos < end) {
        const tagAt = r.pos;
        const field = r.tag(end);
        const wt = r.wireType;
        if (field === SAMPLE_LOCATION_ID) {
          if (wt === WIRE_LEN) {
            const packedEnd = r.lenEnd(end);
            // Leaf first until a kept frame: the rest of the stack is not read.
            while (kept === -1 && r.pos < packedEnd) {
              if (++depth > MAX_STACK_DEPTH) throw tooDeep(start);
              const li = this.locationIndex(packedEnd, r.pos);
              if (ints[oLocKept + li] === NOT_YET) this.resolveLocation(li);
              if (leaf === -1) leaf = ints[oLocLeaf + li];
              kept = ints[oLocKept + li];
            }
            r.pos = packedEnd;
          } else if (wt === WIRE_VARINT) {
            if (kept !== -1) {
              r.skipVarint(end);
            } else {
              if (++depth > MAX_STACK_DEPTH) throw tooDeep(start);
              const li = this.locationIndex(end, r.pos);
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
      let row = ints[L.oSlotRow + slot];
      if (row === -1) {
        // Within the arena: rows never exceed min(slots, samples, MAX_FUNCTIONS + 1 with the unknown
        // slot), which sized it. The cap counts slots, which may share a name: it errs on the safe side.
        if (slot !== unknownSlot && rows - (ints[L.oSlotRow + unknownSlot] === -1 ? 0 : 1) === MAX_FUNCTIONS) throw tooManyFunctions();
        row = (2 + rows++) * nTypes;
        floats.fill(0, row, row + nTypes);
        ints[L.oSlotRow + slot] = row;
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
      const row = ints[L.oSlotRow + slot];
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
      columns: sampleTypes.map((t) => t.type),
      units: sampleTypes.map((t) => t.unit),
      totals,
      byFunction,
      durationSeconds: this.durationNanos / 1e9,
      sampleCount: nSamples,
      periodType,
      period: this.period,
      timeNanos: this.timeNanos,
      workingBytes: L.workingBytes,
    };
  }

  /** The id of location li, read again from its bytes (for error messages only: ids are not stored). */
  private locationId(li: number): number {
    const r = new WireReader(this.buf);
    const end = this.ints[this.L.oLoc + 2 * li + 1];
    r.pos = this.ints[this.L.oLoc + 2 * li];
    let id = 0;
    while (r.pos < end) {
      const tagAt = r.pos;
      if (r.tag(end) === LOCATION_ID) id = r.uint64(end);
      else r.skip(r.wireType, end, tagAt);
    }
    return id;
  }

  /**
   * Reads location li's lines, innermost first, until one whose function skipFrame keeps, and records
   * its leaf slot (the first line's, or -1 without lines) and its first kept slot (or -1). Once per location.
   */
  private resolveLocation(li: number): void {
    const r = this.lr;
    const ints = this.ints;
    const L = this.L;
    const end = ints[L.oLoc + 2 * li + 1];
    r.pos = ints[L.oLoc + 2 * li];
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
          fnId = r.uint64(lineEnd);
        } else {
          r.skip(r.wireType, lineEnd, lineTagAt);
        }
      }
      // A line without a function (proto3 default 0) names no frame.
      if (fnId === 0) continue;
      const fi = fnId < L.fnDense ? ints[L.oFnDense + fnId] : -1;
      if (fi === -1) {
        throw new ProfileDecodeError(`location id ${this.locationId(li)}: line at byte offset ${tagAt} references missing function id ${fnId}`);
      }
      const slot = ints[L.oFnSlot + fi];
      if (leaf === -1) leaf = slot;
      if (!this.skipped(slot)) {
        kept = slot;
        break;
      }
    }
    ints[L.oLocLeaf + li] = leaf;
    ints[L.oLocKept + li] = kept;
  }

  private skipped(slot: number): boolean {
    const at = this.L.oSlotSkip + slot;
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
    const index = this.ints[this.L.oSlotName + slot];
    const at = this.L.oStr + 2 * index;
    const entry = nameCache.get(this.text, this.ints[at], this.ints[at + 1]);
    this.slotNames[slot] = entry.name;
    return entry;
  }

  private locationIndex(limit: number, at: number): number {
    const id = this.r.uint64(limit);
    const li = id < this.L.locDense ? this.ints[this.L.oLocDense + id] : -1;
    if (li === -1 || id === 0) throw new ProfileDecodeError(`sample references missing location id ${id} at byte offset ${at}`);
    return li;
  }
}

function tooDeep(sampleAt: number): ProfileDecodeError {
  return new ProfileDecodeError(`sample at byte offset ${sampleAt} has more than ${MAX_STACK_DEPTH} frames before its attributed one: not a Go profile`);
}

function wireTypeError(what: string, actual: number, expected: number, tagAt: number): ProfileDecodeError {
  return new ProfileDecodeError(`${what} has wire type ${actual}, expected ${expected}, in tag at byte offset ${tagAt}`);
}

function tooManyValues(sampleAt: number, nTypes: number, at: number): ProfileDecodeError {
  return new ProfileDecodeError(`sample at byte offset ${sampleAt} has more than ${nTypes} values (one per sample_type): extra value at byte offset ${at}`);
}
