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
 * Ids are looked up through a flat Int32Array when they are dense (Go numbers them 1..n), which costs at
 * most 4 bytes per possible id: allowed while the largest id is below 4x the count plus 1024, so the table
 * stays within 16 bytes per entry. Sparse or huge ids (addresses used as ids) go through a Map.
 */
const DENSE_SLACK_FACTOR = 4;
const DENSE_SLACK_CONSTANT = 1024;

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
  return new Decoder(buf, options?.skipFrame).decode();
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

/** An append-only list of numbers in a Float64Array that doubles when full (offsets, ids, string indexes). */
class NumList {
  data: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Float64Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

/** Id -> index for one table (functions or locations), dense array or Map, built once after pass 1. */
class IdIndex {
  private readonly dense: Int32Array | undefined;
  private readonly sparse: Map<number, number> | undefined;

  constructor(ids: NumList, offsets: NumList, what: string) {
    const n = ids.length;
    let max = 0;
    let min = 0;
    for (let i = 0; i < n; i++) {
      const id = ids.data[i];
      if (id > max) max = id;
      if (id < min) min = id;
    }
    // Synthetic ids (negative, for ids beyond 2^53) always go through the Map.
    if (min >= 0 && max < DENSE_SLACK_FACTOR * n + DENSE_SLACK_CONSTANT) {
      const dense = new Int32Array(max + 1).fill(-1);
      for (let i = 0; i < n; i++) {
        const id = ids.data[i];
        if (dense[id] !== -1) throw duplicateId(what, id, offsets.data[i]);
        dense[id] = i;
      }
      this.dense = dense;
    } else {
      const sparse = new Map<number, number>();
      for (let i = 0; i < n; i++) {
        const id = ids.data[i];
        if (sparse.has(id)) throw duplicateId(what, id, offsets.data[i]);
        sparse.set(id, i);
      }
      this.sparse = sparse;
    }
  }

  /** The index of `id`, or -1. */
  get(id: number): number {
    if (this.dense !== undefined) return id >= 0 && id < this.dense.length ? this.dense[id] : -1;
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
  private readonly buf: Uint8Array;
  /** The same bytes as a Buffer, for utf8 decoding of the few strings we need. */
  private readonly text: Buffer;
  private readonly skipFrame: ((functionName: string) => boolean) | undefined;

  // Pass 1 results.
  private readonly strStart = new NumList(256);
  private readonly strEnd = new NumList(256);
  /** Per sample type: type and unit string indexes, and the offset of the ValueType for messages. */
  private readonly sampleTypeIdx: number[] = [];
  private periodType: [number, number, number] | undefined;
  private period = 0;
  private timeNanos = 0;
  private durationNanos = 0;
  private readonly fnIds = new NumList(64);
  private readonly fnNames = new NumList(64);
  private readonly fnOffsets = new NumList(64);
  private readonly locIds = new NumList(64);
  private readonly locOffsets = new NumList(64);
  /** Lines of all locations, flat: location i owns lines [locLineStart[i], locLineStart[i+1]). */
  private readonly locLineStart = new NumList(64);
  private readonly lineFnIds = new NumList(128);
  private readonly lineOffsets = new NumList(128);
  private readonly sampleStart = new NumList(256);
  private readonly sampleEnd = new NumList(256);
  /** Ids beyond 2^53 cannot be numbers exactly; each distinct one gets a negative synthetic id. */
  private largeIds: Map<string, number> | undefined;

  constructor(buf: Uint8Array, skipFrame: ((functionName: string) => boolean) | undefined) {
    this.buf = buf;
    this.text = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    this.r = new WireReader(buf);
    this.skipFrame = skipFrame;
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
      const wt = r.wireType;
      switch (field) {
        case PROFILE_SAMPLE: {
          this.expectWireType(WIRE_LEN, 'Profile.sample', tagAt);
          const sEnd = r.lenEnd(end);
          this.sampleStart.push(r.pos);
          this.sampleEnd.push(sEnd);
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
        case PROFILE_STRING_TABLE: {
          this.expectWireType(WIRE_LEN, 'Profile.string_table', tagAt);
          const sEnd = r.lenEnd(end);
          this.strStart.push(r.pos);
          this.strEnd.push(sEnd);
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
          r.skip(wt, end, tagAt);
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
    this.fnIds.push(id);
    this.fnNames.push(name);
    this.fnOffsets.push(at);
  }

  private readLocation(end: number, at: number): void {
    const r = this.r;
    let id = 0;
    this.locLineStart.push(this.lineFnIds.length);
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
        this.lineFnIds.push(fnId);
        this.lineOffsets.push(tagAt);
      } else {
        r.skip(r.wireType, end, tagAt);
      }
    }
    if (id === 0) throw new ProfileDecodeError(`location at byte offset ${at} has no id (ids are nonzero)`);
    this.locIds.push(id);
    this.locOffsets.push(at);
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
    if (!(index >= 0 && index < this.strStart.length)) {
      throw new ProfileDecodeError(
        `${what} at byte offset ${at} references string ${index}, but the string table has ${this.strStart.length} entries`,
      );
    }
  }

  private stringAt(index: number, what: string, at: number): string {
    this.checkString(index, what, at);
    return this.text.toString('utf8', this.strStart.data[index], this.strEnd.data[index]);
  }

  private valueType(t: [number, number, number], what: string): ValueType {
    return { type: this.stringAt(t[0], `${what} type`, t[2]), unit: this.stringAt(t[1], `${what} unit`, t[2]) };
  }

  private summarize(): ProfileSummary {
    if (this.strStart.length === 0 || this.strEnd.data[0] !== this.strStart.data[0]) {
      throw new ProfileDecodeError(`string_table[0] must be the empty string (the string table has ${this.strStart.length} entries)`);
    }
    const sampleTypes: ValueType[] = [];
    for (let i = 0; i < this.sampleTypeIdx.length; i += 3) {
      sampleTypes.push(this.valueType([this.sampleTypeIdx[i], this.sampleTypeIdx[i + 1], this.sampleTypeIdx[i + 2]], 'sample_type'));
    }
    const periodType = this.periodType === undefined ? undefined : this.valueType(this.periodType, 'period_type');

    // Functions -> name slots: one slot per distinct name string index, named and judged by skipFrame once.
    const nFn = this.fnIds.length;
    const fnIndex = new IdIndex(this.fnIds, this.fnOffsets, 'function');
    const slotOfString = new Int32Array(this.strStart.length).fill(-1);
    const fnSlot = new Int32Array(nFn);
    const slotNames: string[] = [];
    const slotSkipped: boolean[] = [];
    for (let i = 0; i < nFn; i++) {
      const nameIdx = this.fnNames.data[i];
      this.checkString(nameIdx, `function id ${idText(this.fnIds.data[i])}: its name`, this.fnOffsets.data[i]);
      let slot = slotOfString[nameIdx];
      if (slot === -1) {
        const name = this.stringAt(nameIdx, 'function name', this.fnOffsets.data[i]);
        slot = slotNames.length;
        slotOfString[nameIdx] = slot;
        slotNames.push(name);
        slotSkipped.push(this.skipFrame !== undefined && this.skipFrame(name));
      }
      fnSlot[i] = slot;
    }
    const unknownSlot = slotNames.length;
    slotNames.push(UNKNOWN_FUNCTION);

    // Locations -> (leaf slot, first kept slot), -1 where the location has no frame or keeps none.
    const nLoc = this.locIds.length;
    const locIndex = new IdIndex(this.locIds, this.locOffsets, 'location');
    const locLeaf = new Int32Array(nLoc);
    const locKept = new Int32Array(nLoc);
    for (let i = 0; i < nLoc; i++) {
      const from = this.locLineStart.data[i];
      const to = i + 1 < nLoc ? this.locLineStart.data[i + 1] : this.lineFnIds.length;
      let leaf = -1;
      let kept = -1;
      for (let l = from; l < to; l++) {
        const fnId = this.lineFnIds.data[l];
        if (fnId === 0) continue; // a line without a function (proto3 default): no frame to name
        const fi = fnIndex.get(fnId);
        if (fi === -1) {
          throw new ProfileDecodeError(
            `location id ${idText(this.locIds.data[i])}: line at byte offset ${this.lineOffsets.data[l]} references missing function id ${idText(fnId)}`,
          );
        }
        const slot = fnSlot[fi];
        if (leaf === -1) leaf = slot;
        if (kept === -1 && !slotSkipped[slot]) kept = slot;
      }
      locLeaf[i] = leaf;
      locKept[i] = kept;
    }

    // Samples: one scratch row, one accumulator row per slot.
    const nTypes = sampleTypes.length;
    const totals = new Float64Array(nTypes);
    const sums = new Float64Array(slotNames.length * nTypes);
    const used = new Uint8Array(slotNames.length);
    const scratch = new Float64Array(nTypes);
    const r = this.r;
    const nSamples = this.sampleStart.length;
    for (let s = 0; s < nSamples; s++) {
      const start = this.sampleStart.data[s];
      const end = this.sampleEnd.data[s];
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
              const idAt = r.pos;
              const li = this.locationIndex(locIndex, packedEnd, idAt);
              if (leaf === -1) leaf = locLeaf[li];
              if (kept === -1) kept = locKept[li];
            }
          } else if (wt === WIRE_VARINT) {
            const li = this.locationIndex(locIndex, end, r.pos);
            if (leaf === -1) leaf = locLeaf[li];
            if (kept === -1) kept = locKept[li];
          } else {
            this.expectWireType(WIRE_LEN, 'Sample.location_id', tagAt);
          }
        } else if (field === SAMPLE_VALUE) {
          if (wt === WIRE_LEN) {
            const packedEnd = r.lenEnd(end);
            while (r.pos < packedEnd) {
              if (nValues === nTypes) throw tooManyValues(start, nTypes, r.pos);
              scratch[nValues++] = r.int64(packedEnd);
            }
          } else if (wt === WIRE_VARINT) {
            if (nValues === nTypes) throw tooManyValues(start, nTypes, r.pos);
            scratch[nValues++] = r.int64(end);
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
      used[slot] = 1;
      const row = slot * nTypes;
      for (let k = 0; k < nTypes; k++) {
        const v = scratch[k];
        totals[k] += v;
        sums[row + k] += v;
      }
    }

    // Distinct string indexes may hold equal names (a string table need not be deduplicated): merge them.
    const byFunction = new Map<string, number[]>();
    for (let slot = 0; slot < slotNames.length; slot++) {
      if (used[slot] === 0) continue;
      const name = slotNames[slot];
      const row = Array.from(sums.subarray(slot * nTypes, (slot + 1) * nTypes));
      const prior = byFunction.get(name);
      if (prior === undefined) byFunction.set(name, row);
      else for (let k = 0; k < nTypes; k++) prior[k] += row[k];
    }

    return {
      sampleTypes,
      periodType,
      period: this.period,
      timeNanos: this.timeNanos,
      durationNanos: this.durationNanos,
      totals: Array.from(totals),
      byFunction,
      sampleCount: nSamples,
    };
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
