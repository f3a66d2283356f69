// Both remote-write decoders (core/remotewrite/decode-v1.ts, v2decode.ts) fuzzed against protobufjs as
// the oracle (#10): generated WriteRequests and 2.0 Requests, then the same bytes flipped, inserted into
// and cut, decoded by pprofcol and by protobufjs; what pprofcol derives (name, labels, values,
// timestamps, stale, families, refused series, skipped counts) must be what protobufjs read, under the
// rules pprofcol adds. Then the fixed cases of the issue: nested messages that overrun their own
// length, invalid UTF-8, `__proto__`.
//
// The oracle's schemas below are the 1.0 and 2.0 protos with three changes, so that protobufjs hands
// over the wire's exact content instead of its own reading of it:
// - strings are `bytes`: protobufjs does not check UTF-8 (it decodes bad bytes to something), pprofcol
//   must, so the test checks the raw bytes itself (TextDecoder with `fatal`);
// - Sample.value is `fixed64`: a JS double cannot tell the stale NaN (0x7ff0000000000002) from another
//   NaN; its bits can;
// - histograms and exemplars are `bytes`: pprofcol counts them and skips their bytes without reading
//   inside, and so does the oracle.
//
// Before protobufjs reads a body, `normalise` walks it by the same schema (with protobufjs's reflection)
// and hands protobufjs the canonical form of what the wire says, or says it is malformed. It exists
// because protobufjs reads some bytes otherwise than the protobuf encoding rules (and pprofcol) do;
// every place where the two may differ is handled there, with the reason:
// - a known field number with another wire type (a varint where a message belongs): protobuf-go and
//   pprofcol skip it as an unknown field; protobufjs decodes by field number alone (reads the varint as
//   a length, say). Dropped before protobufjs reads.
// - a varint of 6 to 10 bytes where protobufjs reads a uint32 (tags, lengths, refs, enums): protobufjs
//   jumps 5 bytes past the fifth whatever they hold. Re-encoded canonically.
// - a singular message sent twice (2.0 Metadata): protobuf merges them, and so does pprofcol; protobufjs
//   keeps the last. Merged.
// - groups (wire types 3 and 4; deprecated, never in remote write): protobufjs skips them, pprofcol
//   refuses them. Malformed.
// - a varint past 64 bits (a tenth byte over 1, or an eleventh): protobuf-go refuses it (overflow), as
//   pprofcol does; protobufjs drops the excess bits. Malformed.
// - a nested message's field that runs past the message's own length: protobufjs 7.6 bounds nested
//   messages too (the fixed cases check it refuses the overrun), but its uint32 read jumps past
//   the bound before checking it; the walk bounds every read as pprofcol does. Malformed.
// After that, pprofcol and the oracle must agree exactly, except where pprofcol refuses for its own
// documented rules (mirrored by `expectV1` / `expectV2`, which say which DecodeError is due) and:
// - a uint32 (a 2.0 ref) holding more than 32 bits: protobufjs and protobuf-go keep the low 32 bits,
//   pprofcol takes the whole value, a ref past the symbol table: it may refuse the request.
// - an enum holding more than 32 bits: no MetricType; pprofcol reads it as an unknown type (untyped),
//   protobufjs as its low 32 bits: handed to protobufjs as an unknown value.
// - not compared at all, only "a result or a DecodeError": a tag past 32 bits (field numbers end at
//   2^29-1; pprofcol refuses such a tag (Reader.tag), protobufjs reads its low 32 bits and may alias it
//   to another field), and a string field sent twice in one message with the first not UTF-8 (pprofcol
//   checks every string it reads and refuses the series; protobufjs keeps the last).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FUZZ_SEED } from '../../harness/fuzz.js';
import protobuf from 'protobufjs';

import { decodeWriteRequest, FamilyRegistry, METRIC_TYPES } from '../../../core/remotewrite/decode-v1.js';
import { decodeV2Request } from '../../../core/remotewrite/v2decode.js';
import { DecodeError } from '../../../core/remotewrite/reader.js';
import { seriesText, type RefusedSeries } from '../../../core/remotewrite/refusal.js';
import { seriesKey, type Point } from '../../../core/model/metrics.js';
import { decodeWriteRequest as referenceDecodeV1 } from './reference-decoder.js';
import { decodeV2 as referenceDecodeV2 } from '../../harness/rw-v2.js';

fc.configureGlobal({ seed: FUZZ_SEED });

const ORACLE_V1_PROTO = `
syntax = "proto3";
package fuzz.v1;
message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; repeated MetricMetadata metadata = 3; }
message MetricMetadata {
  enum MetricType { UNKNOWN = 0; COUNTER = 1; GAUGE = 2; HISTOGRAM = 3; GAUGEHISTOGRAM = 4; SUMMARY = 5; INFO = 6; STATESET = 7; }
  MetricType type = 1; bytes metric_family_name = 2; bytes help = 4; bytes unit = 5;
}
message Sample { fixed64 value = 1; int64 timestamp = 2; }
message Label { bytes name = 1; bytes value = 2; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; repeated bytes exemplars = 3; repeated bytes histograms = 4; }
`;

const ORACLE_V2_PROTO = `
syntax = "proto3";
package fuzz.v2;
message Request { reserved 1 to 3; repeated bytes symbols = 4; repeated TimeSeries timeseries = 5; }
message TimeSeries {
  repeated uint32 labels_refs = 1; repeated Sample samples = 2; repeated bytes histograms = 3; repeated bytes exemplars = 4;
  Metadata metadata = 5; int64 created_timestamp = 6;
}
message Sample { fixed64 value = 1; int64 timestamp = 2; int64 start_timestamp = 3; }
message Metadata {
  enum MetricType { UNSPECIFIED = 0; COUNTER = 1; GAUGE = 2; HISTOGRAM = 3; GAUGEHISTOGRAM = 4; SUMMARY = 5; INFO = 6; STATESET = 7; }
  MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4;
}
`;

function rootOf(text: string): protobuf.Root {
  const root = protobuf.parse(text, { keepCase: true }).root;
  root.resolveAll();
  return root;
}
const V1 = rootOf(ORACLE_V1_PROTO).lookupType('fuzz.v1.WriteRequest');
const V2 = rootOf(ORACLE_V2_PROTO).lookupType('fuzz.v2.Request');
// The same 2.0 schema with labels_refs unpacked (one varint field per ref), which pprofcol also reads.
const V2_UNPACKED = rootOf(ORACLE_V2_PROTO.replace('labels_refs = 1;', 'labels_refs = 1 [packed = false];')).lookupType('fuzz.v2.Request');

const TO_OBJECT = { longs: String, enums: Number, defaults: true, arrays: true } as const;
const STALE_BITS = 0x7ff0000000000002n;

// ---------------------------------------------------------------------------------------------------
// The wire walk that hands protobufjs canonical bytes (see the header).

class Malformed extends Error {}

interface Notes {
  /** Differences from the raw bytes that protobufjs would have read otherwise (it may refuse them). */
  corrected: Set<string>;
  /** Why pprofcol may refuse what the oracle accepts. */
  mayRefuse: Set<string>;
  /** Why the outcome is not compared (only: a result or a DecodeError). */
  incomparable: string | undefined;
  /** Malformed: why. */
  malformed?: string;
}

function readVarint(buf: Uint8Array, pos: number, end: number): [bigint, number, number] {
  const start = pos;
  let v = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new Malformed('truncated varint');
    const b = buf[pos++];
    if (i === 9 && b > 1) throw new Malformed('varint past 64 bits');
    v |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) return [v, pos, pos - start];
  }
  throw new Malformed('varint past 64 bits');
}

function varintBytes(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

/** A varint protobufjs reads as a uint32: it misreads one of more than five bytes or 32 bits. */
function read32(buf: Uint8Array, pos: number, end: number, notes: Notes): [bigint, number] {
  const [v, next, size] = readVarint(buf, pos, end);
  if (size > 5 || v >= 1n << 32n) notes.corrected.add('a varint protobufjs reads as 32 bits');
  return [v, next];
}

type Kind = 'message' | 'enum' | 'bytes' | 'fixed64' | 'int64' | 'uint32';

function kindOf(field: protobuf.Field): Kind {
  if (field.resolvedType instanceof protobuf.Type) return 'message';
  if (field.resolvedType instanceof protobuf.Enum) return 'enum';
  return field.type as Kind;
}

function wireFits(kind: Kind, wire: number, repeated: boolean): boolean {
  if (kind === 'message' || kind === 'bytes') return wire === 2;
  if (kind === 'fixed64') return wire === 1;
  if (kind === 'uint32' && repeated) return wire === 0 || wire === 2;
  return wire === 0;
}

function isUtf8Strict(bytes: Uint8Array): boolean {
  try {
    STRICT.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** `buf[start, end)`, a message of `type`, in canonical encoding; throws Malformed. */
function normalise(type: protobuf.Type, buf: Uint8Array, start: number, end: number, notes: Notes): number[] {
  const out: number[] = [];
  const singular = new Map<number, number[][]>();
  const seenStrings = new Map<number, boolean>(); // singular bytes field -> an earlier one was not UTF-8
  let pos = start;
  while (pos < end) {
    const [tag, afterTag, tagSize] = readVarint(buf, pos, end);
    if (tagSize > 5 || tag >= 1n << 32n) notes.incomparable ??= 'a tag past 32 bits';
    pos = afterTag;
    const wire = Number(tag & 7n);
    // Groups: protobufjs skips them; pprofcol refuses them (deprecated, never written by remote write).
    if (wire === 3 || wire === 4) throw new Malformed('group');
    if (wire > 5) throw new Malformed(`wire type ${wire}`);
    const id = tag >> 3n;
    const field = id < 1n << 29n ? type.fieldsById[Number(id)] : undefined;
    const kind = field && kindOf(field);
    // Where the value is, checked to lie within this message.
    let bodyStart = pos;
    let bodyEnd: number;
    if (wire === 0) bodyEnd = readVarint(buf, pos, end)[1];
    else if (wire === 1 || wire === 5) {
      bodyEnd = pos + (wire === 1 ? 8 : 4);
      if (bodyEnd > end) throw new Malformed('truncated fixed field');
    } else {
      const [n, at] = read32(buf, pos, end, notes);
      if (n > BigInt(end - at)) throw new Malformed('a length past its message');
      bodyStart = at;
      bodyEnd = at + Number(n);
    }
    pos = bodyEnd;
    if (field === undefined || kind === undefined) continue; // unknown: both skip it (not handed over)
    if (!wireFits(kind, wire, field.repeated)) {
      notes.corrected.add('a known field with another wire type');
      continue;
    }
    const tagBytes = varintBytes(tag);
    const value: number[] = [];
    switch (kind) {
      case 'message':
        value.push(...normalise(field.resolvedType as protobuf.Type, buf, bodyStart, bodyEnd, notes));
        break;
      case 'bytes': {
        if (!field.repeated) {
          const text = buf.subarray(bodyStart, bodyEnd);
          if (seenStrings.get(field.id) === true) notes.incomparable ??= 'a string sent twice, the first not UTF-8';
          seenStrings.set(field.id, seenStrings.get(field.id) === true || !isUtf8Strict(text));
        }
        value.push(...buf.subarray(bodyStart, bodyEnd));
        break;
      }
      case 'fixed64':
        value.push(...buf.subarray(bodyStart, bodyEnd));
        break;
      case 'int64':
        value.push(...varintBytes(readVarint(buf, bodyStart, bodyEnd)[0]));
        break;
      case 'enum': {
        const [v] = read32(buf, bodyStart, bodyEnd, notes);
        // No enum value is past 32 bits: an unknown one, as pprofcol reads it.
        value.push(...varintBytes(v >= 1n << 32n ? 0x7fffffffn : v));
        break;
      }
      case 'uint32': {
        const refs: bigint[] = [];
        if (wire === 0) refs.push(read32(buf, bodyStart, bodyEnd, notes)[0]);
        else for (let p = bodyStart; p < bodyEnd; ) [refs[refs.length], p] = read32(buf, p, bodyEnd, notes);
        for (const ref of refs) if (ref >= 1n << 32n) notes.mayRefuse.add('a uint32 past 32 bits');
        const canonical = refs.flatMap((r) => varintBytes(BigInt.asUintN(32, r)));
        if (wire === 0) value.push(...canonical);
        else value.push(...varintBytes(BigInt(canonical.length)), ...canonical);
        break;
      }
    }
    if (kind === 'message' && !field.repeated) {
      const parts = singular.get(field.id) ?? [];
      parts.push(value);
      singular.set(field.id, parts);
      if (parts.length > 1) notes.corrected.add('a singular message twice (merged)');
      continue;
    }
    out.push(...tagBytes);
    if (wire === 2 && kind !== 'uint32') out.push(...varintBytes(BigInt(value.length)));
    out.push(...value);
  }
  for (const [id, parts] of singular) {
    const merged = parts.flat();
    out.push(...varintBytes(BigInt((id << 3) | 2)), ...varintBytes(BigInt(merged.length)), ...merged);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// What pprofcol must derive from what the oracle read.

const STRICT = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A string's text as pprofcol decodes it (bad bytes as U+FFFD: only used for refused series). */
function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

function doubleOf(bits: bigint): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, bits, true);
  return view.getFloat64(0, true);
}

interface PointView {
  family: { name: string; type: string; help: string; unit: string };
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs: number;
  stale: boolean;
}
interface Derived {
  points: PointView[];
  refused: RefusedSeries[];
  histogramsSkipped: number;
  exemplarsSkipped?: number;
}
/** The DecodeError due, by pprofcol's rules: its exact message, or a prefix of it. */
class Refusal extends Error {
  constructor(
    message: string,
    readonly prefix = false,
  ) {
    super(message);
  }
}

function registry(): FamilyRegistry {
  return new FamilyRegistry({ maxBytes: 1 << 26 });
}

interface OracleSample {
  value: string;
  timestamp: string;
}

/**
 * One series' labels under pprofcol's rules: `__name__` is the name; an empty name, a name twice or
 * `__name__` twice refuse the request; empty values are left out (protobufjs keeps them).
 */
function labelSet(pairs: Iterable<[Uint8Array, Uint8Array]>): { name: string | undefined; labels: Record<string, string> } {
  let name: string | undefined;
  const labels: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [n, v] of pairs) {
    const ln = text(n);
    const lv = text(v);
    if (ln === '') throw new Refusal('a label with an empty name');
    if (ln === '__name__') {
      if (name !== undefined) throw new Refusal('label __name__ twice in one series');
      name = lv;
    } else {
      if (seen.has(ln)) throw new Refusal(`label ${ln} twice in one series`);
      seen.add(ln);
      // defineProperty: `__proto__` is a label like any other.
      if (lv !== '') Object.defineProperty(labels, ln, { value: lv, enumerable: true, writable: true, configurable: true });
    }
  }
  return { name, labels };
}

/** The points of a series that passed its label checks: a name is due, samples in timestamp order. */
function seriesPoints(name: string | undefined, labels: Record<string, string>, samples: OracleSample[], families: FamilyRegistry, out: PointView[]): void {
  if (name === undefined || name === '') throw new Refusal('a series without __name__', true);
  const family = { ...families.of(name) };
  let last = Number.NEGATIVE_INFINITY;
  for (const s of samples) {
    const bits = BigInt.asUintN(64, BigInt(s.value));
    // pprofcol's timestamps are numbers: past 2^53 ms (some 285,000 years) they round, and are ordered as rounded.
    const timestampMs = Number(BigInt(s.timestamp));
    if (timestampMs < last) throw new Refusal(`samples of ${name} out of timestamp order`);
    last = timestampMs;
    out.push({ family, name, labels: { ...labels }, value: doubleOf(bits), timestampMs, stale: bits === STALE_BITS });
  }
}

interface OracleV1 {
  timeseries: { labels: { name: Uint8Array; value: Uint8Array }[]; samples: OracleSample[]; exemplars: Uint8Array[]; histograms: Uint8Array[] }[];
  metadata: { type: number; metric_family_name: Uint8Array; help: Uint8Array; unit: Uint8Array }[];
}

function expectV1(req: OracleV1): Derived {
  const families = registry();
  // Metadata first, as pprofcol reads it; one with a string that is not UTF-8 is left out.
  for (const m of req.metadata) {
    const strings = [m.metric_family_name, m.help, m.unit];
    if (m.metric_family_name.length > 0 && strings.every(isUtf8Strict)) families.set(text(m.metric_family_name), METRIC_TYPES[m.type] ?? 'untyped', text(m.help), text(m.unit));
  }
  const derived: Derived = { points: [], refused: [], histogramsSkipped: 0 };
  for (const ts of req.timeseries) {
    derived.histogramsSkipped += ts.histograms.length;
    const { name, labels } = labelSet(ts.labels.map((l) => [l.name, l.value]));
    // A string that is not UTF-8 refuses the series, not the request.
    if (!ts.labels.every((l) => isUtf8Strict(l.name) && isUtf8Strict(l.value))) {
      derived.refused.push({ series: seriesText(name, labels), reason: 'invalid_utf8', samples: ts.samples.length });
      continue;
    }
    seriesPoints(name, labels, ts.samples, families, derived.points);
  }
  return derived;
}

interface OracleV2 {
  symbols: Uint8Array[];
  timeseries: {
    labels_refs: number[];
    samples: OracleSample[];
    histograms: Uint8Array[];
    exemplars: Uint8Array[];
    metadata: { type: number; help_ref: number; unit_ref: number } | null;
  }[];
}

const FAMILY_SUFFIXES: Record<string, readonly string[]> = { histogram: ['_bucket', '_sum', '_count', '_created'], summary: ['_sum', '_count', '_created'] };

function expectV2(req: OracleV2): Derived {
  const families = registry();
  const n = req.symbols.length;
  const bad = (ref: number) => ref < n && !isUtf8Strict(req.symbols[ref]);
  const symbol = (ref: number) => {
    if (ref >= n) throw new Refusal(`symbol ref ${ref} past the ${n} symbols`);
    return req.symbols[ref];
  };
  const derived: Derived = { points: [], refused: [], histogramsSkipped: 0, exemplarsSkipped: 0 };
  for (const ts of req.timeseries) {
    derived.histogramsSkipped += ts.histograms.length;
    derived.exemplarsSkipped! += ts.exemplars.length;
    const refs = ts.labels_refs;
    if (refs.length % 2 !== 0) throw new Refusal(`labels_refs holds ${refs.length} refs: not name/value pairs`);
    // Resolved pair by pair, as pprofcol does: a ref past the table is found after the pairs before it.
    const pairs = function* (): Generator<[Uint8Array, Uint8Array]> {
      for (let i = 0; i < refs.length; i += 2) yield [symbol(refs[i]), symbol(refs[i + 1])];
    };
    const { name, labels } = labelSet(pairs());
    if (refs.some(bad)) {
      derived.refused.push({ series: seriesText(name, labels), reason: 'invalid_utf8', samples: ts.samples.length });
      continue;
    }
    const m = ts.metadata;
    // Metadata, when it says anything and its strings are UTF-8, names the series' family.
    if (name !== undefined && name !== '' && m !== null && (m.type !== 0 || m.help_ref !== 0 || m.unit_ref !== 0) && !bad(m.help_ref) && !bad(m.unit_ref)) {
      const type = METRIC_TYPES[m.type] ?? 'untyped';
      const suffix = (FAMILY_SUFFIXES[type] ?? []).find((s) => name.endsWith(s));
      families.set(suffix === undefined ? name : name.slice(0, -suffix.length), type, text(symbol(m.help_ref)), text(symbol(m.unit_ref)));
    }
    seriesPoints(name, labels, ts.samples, families, derived.points);
  }
  return derived;
}

// ---------------------------------------------------------------------------------------------------
// One body through both.

type Version = 'v1' | 'v2';
type Outcome = 'points' | 'refused-series' | 'refused-rule' | 'malformed' | 'may-refuse' | 'incomparable';

function view(points: Point[]): PointView[] {
  return points.map((p) => ({ family: { ...p.family }, name: p.name, labels: { ...p.labels }, value: p.value, timestampMs: p.timestampMs, stale: p.stale }));
}

function ours(version: Version, body: Buffer): Derived | DecodeError {
  try {
    const r = version === 'v1' ? decodeWriteRequest(body, registry()) : decodeV2Request(body, registry());
    for (let i = 0; i < r.points.length; i++) {
      const labels = r.points[i].labels;
      // No prototype: `__proto__` and `constructor` are labels like any other.
      assert.equal(labels instanceof Object, false, 'labels made by makeLabels()');
      assert.notEqual(labels, r.points[i - 1]?.labels, 'each point owns its labels');
    }
    return { ...r, points: view(r.points) };
  } catch (err) {
    assert.ok(err instanceof DecodeError, `pprofcol threw ${String(err)}, not a DecodeError`);
    return err;
  }
}

function check(version: Version, body: Buffer): Outcome {
  const type = version === 'v1' ? V1 : V2;
  const notes: Notes = { corrected: new Set(), mayRefuse: new Set(), incomparable: undefined };
  const actual = ours(version, body);
  const hex = body.toString('hex');
  let oracleRawThrew = false;
  try {
    type.decode(body);
  } catch {
    oracleRawThrew = true;
  }
  let canonical: Buffer;
  try {
    canonical = Buffer.from(normalise(type, body, 0, body.length, notes));
  } catch (err) {
    if (!(err instanceof Malformed)) throw err;
    // A tag past 32 bits before it: pprofcol may have read the rest otherwise (see the header).
    if (notes.incomparable !== undefined) return 'incomparable';
    assert.ok(actual instanceof DecodeError, `malformed (${err.message}) but pprofcol decoded it: ${hex}`);
    return 'malformed';
  }
  // protobufjs refuses the bytes: pprofcol must too, unless they are bytes protobufjs misreads.
  if (oracleRawThrew && !(actual instanceof DecodeError)) {
    assert.ok(notes.corrected.size > 0 || notes.incomparable !== undefined, `protobufjs refuses what pprofcol decoded, for no known reason: ${hex}`);
  }
  if (notes.incomparable !== undefined) return 'incomparable';
  const decoded = type.toObject(type.decode(canonical), TO_OBJECT);
  let expected: Derived;
  try {
    expected = version === 'v1' ? expectV1(decoded as OracleV1) : expectV2(decoded as OracleV2);
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    assert.ok(actual instanceof DecodeError, `pprofcol decoded what its rules refuse (${err.message}): ${hex}`);
    if (notes.mayRefuse.size > 0) return 'may-refuse';
    if (err.prefix) assert.ok(actual.message.startsWith(err.message), `${actual.message} is not "${err.message}..." in ${hex}`);
    else assert.equal(actual.message, err.message, hex);
    return 'refused-rule';
  }
  if (actual instanceof DecodeError) {
    assert.ok(notes.mayRefuse.size > 0, `pprofcol refused (${actual.message}) what protobufjs reads and its rules allow: ${hex}`);
    return 'may-refuse';
  }
  assert.deepEqual(actual, expected, hex);
  return expected.refused.length > 0 ? 'refused-series' : 'points';
}

// ---------------------------------------------------------------------------------------------------
// Generators.

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const INVALID_UTF8: Record<string, number[]> = {
  'an overlong encoding': [0xc0, 0xaf],
  'a lone continuation byte': [0x80],
  'a truncated multi-byte sequence': [0xe2, 0x82],
  'a surrogate encoded in UTF-8': [0xed, 0xa0, 0x80],
};
const badUtf8 = fc.constantFrom(...Object.values(INVALID_UTF8)).map((b) => new Uint8Array([0x76, ...b]));

const labelName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'job', 'instance', 'le', 'a').map(utf8) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).map(utf8) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }).map(utf8) },
  { weight: 1, arbitrary: badUtf8 },
);
const labelValue = fc.oneof(
  { weight: 3, arbitrary: fc.constant(new Uint8Array()) },
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).map(utf8) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }).map(utf8) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4 }) },
  { weight: 1, arbitrary: badUtf8 },
);
const metricName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('up', 'go_goroutines', 'rpc_seconds', 'rpc_seconds_bucket', 'rpc_seconds_count', 'rpc_q_sum', '__proto__').map(utf8) },
  { weight: 1, arbitrary: labelValue },
);

const doubleBits = (d: number) => {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, d, true);
  return view.getBigUint64(0, true);
};
const valueBits = fc.oneof(
  { weight: 4, arbitrary: fc.double().map(doubleBits) },
  { weight: 2, arbitrary: fc.constant(STALE_BITS) },
  { weight: 1, arbitrary: fc.constantFrom(0x7ff8000000000000n, 0xfff8000000000000n, 0x7ff0000000000001n, 0x8000000000000000n, 0x7ff0000000000000n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
);
const timestamp = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 1_600_000_000_000n, max: 1_800_000_000_000n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, -1n, 1n << 53n, -(1n << 53n), (1n << 63n) - 1n, -(1n << 63n)) },
);
const samples = fc.record({ list: fc.array(fc.record({ bits: valueBits, ts: timestamp }), { maxLength: 4 }), sorted: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }).map(({ list, sorted }) => {
  const out = sorted ? [...list].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)) : list;
  // fixed64 and int64 as strings (signed, so that protobufjs's Long parse keeps every bit).
  return out.map((s) => ({ value: BigInt.asIntN(64, s.bits).toString(), timestamp: s.ts.toString() }));
});
const opaque = fc.array(fc.uint8Array({ maxLength: 6 }), { maxLength: 2 });

interface SeriesModel {
  labels: Array<[Uint8Array, Uint8Array]>;
  samples: { value: string; timestamp: string }[];
  histograms: Uint8Array[];
  exemplars: Uint8Array[];
}
const seriesModel: fc.Arbitrary<SeriesModel> = fc
  .record({
    name: fc.option(metricName, { freq: 12 }),
    labels: fc.array(fc.tuple(labelName, labelValue), { maxLength: 4 }),
    at: fc.nat(),
    samples,
    histograms: fc.oneof({ weight: 4, arbitrary: fc.constant<Uint8Array[]>([]) }, { weight: 1, arbitrary: opaque }),
    exemplars: fc.oneof({ weight: 4, arbitrary: fc.constant<Uint8Array[]>([]) }, { weight: 1, arbitrary: opaque }),
  })
  .map(({ name, labels, at, ...rest }) => {
    const all = [...labels];
    // `__name__` anywhere among the labels (pprofcol does not need it first, nor labels sorted).
    if (name !== null) all.splice(at % (labels.length + 1), 0, [utf8('__name__'), name]);
    return { labels: all, ...rest };
  });

// Reorders a message's fields at random, keeping the order of each field number's own (which is what
// protobuf leaves free), inside series too: symbols after series, samples before labels.
function interleave(buf: Uint8Array, seed: number, nested: number | undefined): Uint8Array {
  const byField = new Map<bigint, Uint8Array[]>();
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, at] = readVarint(buf, pos, buf.length);
    const wire = Number(tag & 7n);
    if (wire === 0) pos = readVarint(buf, at, buf.length)[1];
    else if (wire === 1) pos = at + 8;
    else {
      const [n, bodyAt] = readVarint(buf, at, buf.length);
      pos = bodyAt + Number(n);
      if (nested !== undefined && tag >> 3n === BigInt(nested)) {
        const inner = interleave(buf.subarray(bodyAt, pos), seed + pos, undefined);
        byField.set(tag >> 3n, [...(byField.get(tag >> 3n) ?? []), new Uint8Array([...buf.subarray(start, bodyAt), ...inner])]);
        continue;
      }
    }
    byField.set(tag >> 3n, [...(byField.get(tag >> 3n) ?? []), buf.subarray(start, pos)]);
  }
  const queues = [...byField.values()];
  const out: number[] = [];
  let state = seed | 1;
  while (queues.length > 0) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const q = (state >>> 8) % queues.length;
    out.push(...queues[q].shift()!);
    if (queues[q].length === 0) queues.splice(q, 1);
  }
  return new Uint8Array(out);
}

const v1Request = fc
  .record({
    series: fc.array(seriesModel, { maxLength: 4 }),
    metadata: fc.array(
      fc.record({ type: fc.oneof(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 8, max: 2 ** 31 - 1 })), metric_family_name: metricName, help: labelValue, unit: labelValue }),
      { maxLength: 3 },
    ),
    seed: fc.integer(),
  })
  .map(({ series, metadata, seed }) => {
    const body = V1.encode(
      V1.fromObject({
        timeseries: series.map((s) => ({ labels: s.labels.map(([name, value]) => ({ name, value })), samples: s.samples, exemplars: s.exemplars, histograms: s.histograms })),
        metadata,
      }),
    ).finish();
    return Buffer.from(interleave(body, seed, 1));
  });

const v2Request = fc
  .record({
    series: fc.array(
      fc.record({
        model: seriesModel,
        metadata: fc.option(fc.record({ type: fc.integer({ min: 0, max: 9 }), help: labelValue, unit: labelValue }), { freq: 2 }),
        created: fc.option(timestamp, { freq: 3 }),
      }),
      { maxLength: 4 },
    ),
    extra: fc.array(labelValue, { maxLength: 2 }),
    noEmptyFirst: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    // A ref past the table, or an odd count of refs, now and then.
    spoil: fc.option(fc.record({ series: fc.nat(), at: fc.nat(), past: fc.boolean() }), { freq: 10 }),
    unpacked: fc.boolean(),
    seed: fc.integer(),
  })
  .map(({ series, extra, noEmptyFirst, spoil, unpacked, seed }) => {
    const symbols: Uint8Array[] = [];
    const index = new Map<string, number>();
    const ref = (b: Uint8Array) => {
      const key = Buffer.from(b).toString('hex');
      let i = index.get(key);
      if (i === undefined) {
        i = symbols.push(b) - 1;
        index.set(key, i);
      }
      return i;
    };
    if (!noEmptyFirst) ref(new Uint8Array());
    const timeseries = series.map(({ model, metadata, created }) => ({
      labels_refs: model.labels.flatMap(([n, v]) => [ref(n), ref(v)]),
      samples: model.samples,
      histograms: model.histograms,
      exemplars: model.exemplars,
      metadata: metadata === null ? undefined : { type: metadata.type, help_ref: ref(metadata.help), unit_ref: ref(metadata.unit) },
      created_timestamp: created === null ? undefined : created.toString(),
    }));
    for (const e of extra) ref(e);
    if (spoil !== null && timeseries.length > 0) {
      const refs = timeseries[spoil.series % timeseries.length].labels_refs;
      if (spoil.past) refs[spoil.at % (refs.length + 1)] = symbols.length + (spoil.at % 3);
      else refs.splice(spoil.at % (refs.length + 1), 1);
    }
    const type = unpacked ? V2_UNPACKED : V2;
    return Buffer.from(interleave(type.encode(type.fromObject({ symbols, timeseries })).finish(), seed, 5));
  });

const mutation = fc.record({
  kind: fc.constantFrom('flip', 'insert', 'delete', 'set'),
  at: fc.nat(),
  byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x09, 0x0a, 0x10, 0x12, 0x1a, 0x22, 0x2a, 0x0b, 0x0c)),
});

function mutate(body: Buffer, mutations: Array<{ kind: string; at: number; byte: number }>): Buffer {
  const bytes = [...body];
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    if (m.kind === 'insert') bytes.splice(at, 0, m.byte);
    else if (at === bytes.length) continue;
    else if (m.kind === 'delete') bytes.splice(at, 1);
    else if (m.kind === 'flip') bytes[at] ^= m.byte || 0x80;
    else bytes[at] = m.byte;
  }
  return Buffer.from(bytes);
}

// ---------------------------------------------------------------------------------------------------

function fuzz(version: Version, gen: fc.Arbitrary<Buffer>, mutated: boolean, numRuns: number): Record<Outcome, number> {
  const seen: Record<Outcome, number> = { points: 0, 'refused-series': 0, 'refused-rule': 0, malformed: 0, 'may-refuse': 0, incomparable: 0 };
  const arb = mutated ? fc.tuple(gen, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([b, m]) => mutate(b, m)) : gen;
  fc.assert(
    fc.property(arb, (body) => {
      seen[check(version, body)]++;
    }),
    { numRuns, includeErrorInReport: true },
  );
  return seen;
}

describe('remote-write decoders fuzzed against protobufjs', () => {
  for (const [version, gen] of [
    ['v1', v1Request],
    ['v2', v2Request],
  ] as const) {
    const label = version === 'v1' ? '1.0 WriteRequest' : '2.0 Request';

    it(`${label}: generated requests decode as protobufjs reads them, under pprofcol's rules`, () => {
      const seen = fuzz(version, gen, false, 600);
      // Generated bytes are well-formed: nothing malformed, nothing left uncompared.
      assert.equal(seen.malformed + seen.incomparable + seen['may-refuse'], 0, JSON.stringify(seen));
      // The fuzz reaches every outcome: points compared, series refused for UTF-8, requests refused by a rule.
      for (const o of ['points', 'refused-series', 'refused-rule'] as const) assert.ok(seen[o] >= 20, `${o}: ${JSON.stringify(seen)}`);
    });

    it(`${label}: mutated bytes are refused when malformed, else decoded as protobufjs reads them`, () => {
      const seen = fuzz(version, gen, true, 3000);
      for (const o of ['points', 'refused-rule', 'malformed'] as const) assert.ok(seen[o] >= 50, `${o}: ${JSON.stringify(seen)}`);
      // Nearly all of these are tags past 32 bits, read where a shifted length lands inside UTF-8 or
      // double bytes: few enough that the comparison stays the rule.
      assert.ok(seen.incomparable < 0.15 * 3000, `few left uncompared: ${JSON.stringify(seen)}`);
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// Fixed cases.

/** A length-delimited field: tag, length, the parts. */
function ld(tag: number, ...parts: Array<number[] | string>): number[] {
  const body = parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p)] : p));
  return [tag, ...varintBytes(BigInt(body.length)), ...body];
}
const sampleBytes = (value: number, ts: number) => ld(0x12, [0x09, ...Buffer.from(new Float64Array([value]).buffer)], [0x10, ...varintBytes(BigInt(ts))]);
const label = (n: string, v: string) => ld(0x0a, ld(0x0a, n), ld(0x12, v));

describe('remote-write decoders: fixed cases', () => {
  it('1.0: a Label whose name claims 9 bytes of a 3-byte Label is refused, not read into the next label', () => {
    // The next label is 8 bytes: the name's 9 would be "a" and all of it (the bug of #10).
    const next = label('b', 'c');
    assert.equal(next.length, 8);
    const body = Buffer.from(ld(0x0a, ld(0x0a, [0x0a, 0x09, 0x61]), next, label('__name__', 'up'), sampleBytes(1, 1000)));
    assert.throws(() => decodeWriteRequest(body, registry()), (err) => err instanceof DecodeError && /runs past its message/.test(err.message));
    // The oracle refuses it too (protobufjs 7.6 bounds the Label), and the walk calls it malformed.
    assert.throws(() => V1.decode(body), RangeError);
    assert.equal(check('v1', body), 'malformed');
    // With the Label's own length right, the same bytes decode.
    const fixed = Buffer.from(ld(0x0a, ld(0x0a, ld(0x0a, 'a'), ld(0x12, 'z')), next, label('__name__', 'up'), sampleBytes(1, 1000)));
    assert.deepEqual({ ...decodeWriteRequest(fixed, registry()).points[0].labels }, { a: 'z', b: 'c' });
    assert.equal(check('v1', fixed), 'points');
  });

  it('1.0 and 2.0: a Sample whose value or timestamp runs past the Sample is refused', () => {
    const nameLabel = label('__name__', 'up');
    // A value that claims 8 bytes of a 5-byte Sample, then a good sample.
    const shortValue = Buffer.from(ld(0x0a, nameLabel, ld(0x12, [0x09, 0, 0, 0, 0]), sampleBytes(1, 1000)));
    // A timestamp varint whose continuation bit reaches into the next sample's tag.
    const longTs = Buffer.from(ld(0x0a, nameLabel, ld(0x12, [0x10, 0x80]), sampleBytes(1, 1000)));
    for (const body of [shortValue, longTs]) {
      assert.throws(() => decodeWriteRequest(body, registry()), DecodeError);
      assert.equal(check('v1', body), 'malformed');
    }
    const symbols = [ld(0x22, ''), ld(0x22, '__name__'), ld(0x22, 'up')].flat();
    for (const sample of [ld(0x12, [0x09, 0, 0, 0, 0]), ld(0x12, [0x10, 0x80])]) {
      const body = Buffer.from([...symbols, ...ld(0x2a, ld(0x0a, [1, 2]), sample, sampleBytes(1, 1000))]);
      assert.throws(() => decodeV2Request(body, registry()), DecodeError);
      assert.equal(check('v2', body), 'malformed');
    }
  });

  it("2.0: packed labels_refs and a Metadata that run past their own length are refused", () => {
    const symbols = [ld(0x22, ''), ld(0x22, '__name__'), ld(0x22, 'up'), ld(0x22, 'help')].flat();
    // labels_refs of 2 bytes whose second varint (0x82) continues into the sample's tag.
    const refs = Buffer.from([...symbols, ...ld(0x2a, [0x0a, 0x02, 0x01, 0x82], sampleBytes(1, 1000))]);
    // Metadata of 2 bytes whose help_ref varint (0x83) continues into the next field.
    const meta = Buffer.from([...symbols, ...ld(0x2a, ld(0x0a, [1, 2]), [0x2a, 0x02, 0x18, 0x83], sampleBytes(1, 1000))]);
    for (const body of [refs, meta]) {
      assert.throws(() => decodeV2Request(body, registry()), (err) => err instanceof DecodeError && /truncated varint/.test(err.message));
      assert.equal(check('v2', body), 'malformed');
    }
    // Within their lengths, the same fields decode: refs 1,2 and help_ref 3.
    const good = Buffer.from([...symbols, ...ld(0x2a, ld(0x0a, [1, 2]), ld(0x2a, [0x08, 0x02, 0x18, 0x03]), sampleBytes(1, 1000))]);
    const r = decodeV2Request(good, registry());
    assert.deepEqual(r.points.map((p) => [p.name, p.family.type, p.family.help, p.value]), [['up', 'gauge', 'help', 1]]);
    assert.equal(check('v2', good), 'points');
  });

  for (const [what, bytes] of Object.entries(INVALID_UTF8)) {
    const bad = new Uint8Array([...Buffer.from('v'), ...bytes]);

    it(`1.0: ${what} in a label value refuses that series; the other series decode`, () => {
      const body = Buffer.from(
        V1.encode(
          V1.fromObject({
            timeseries: [
              { labels: [{ name: utf8('__name__'), value: utf8('up') }, { name: utf8('job'), value: utf8('a') }, { name: utf8('path'), value: bad }], samples: [{ value: '0', timestamp: '1' }, { value: '0', timestamp: '2' }] },
              { labels: [{ name: utf8('__name__'), value: utf8('up') }, { name: utf8('job'), value: utf8('b') }], samples: [{ value: doubleBits(7).toString(), timestamp: '3' }] },
            ],
          }),
        ).finish(),
      );
      // protobufjs (no UTF-8 check) reads both series, the bad bytes as some string.
      assert.equal(referenceDecodeV1(body).timeseries.length, 2);
      const r = decodeWriteRequest(body, registry());
      assert.deepEqual(r.refused, [{ series: `up{job="a",path=${JSON.stringify(text(bad))}}`, reason: 'invalid_utf8', samples: 2 }]);
      assert.match(r.refused[0].series, /\ufffd/);
      assert.deepEqual(r.points.map((p) => [p.name, { ...p.labels }, p.value, p.timestampMs]), [['up', { job: 'b' }, 7, 3]]);
      assert.equal(check('v1', body), 'refused-series');
    });

    it(`2.0: ${what} in a symbol refuses the series that uses it; the other series decode`, () => {
      const symbols = ['', '__name__', 'up', 'job', 'a', 'b', 'path'].map(utf8).concat([bad]);
      const body = Buffer.from(
        V2.encode(
          V2.fromObject({
            symbols,
            timeseries: [
              { labels_refs: [1, 2, 3, 4, 6, 7], samples: [{ value: '0', timestamp: '1' }] },
              { labels_refs: [1, 2, 3, 5], samples: [{ value: doubleBits(7).toString(), timestamp: '3' }] },
            ],
          }),
        ).finish(),
      );
      assert.equal(referenceDecodeV2(body).series.length, 2);
      const r = decodeV2Request(body, registry());
      assert.deepEqual(r.refused, [{ series: `up{job="a",path=${JSON.stringify(text(bad))}}`, reason: 'invalid_utf8', samples: 1 }]);
      assert.deepEqual(r.points.map((p) => [p.name, { ...p.labels }, p.value, p.timestampMs]), [['up', { job: 'b' }, 7, 3]]);
      assert.equal(check('v2', body), 'refused-series');
    });
  }

  it('1.0 and 2.0: `__proto__` is an own label, and two series that differ only in it stay two', () => {
    const v1 = Buffer.from(
      [
        ld(0x0a, label('__name__', 'up'), label('__proto__', 'a'), label('constructor', 'c'), sampleBytes(1, 1000)),
        ld(0x0a, label('__name__', 'up'), label('__proto__', 'b'), label('constructor', 'c'), sampleBytes(2, 1000)),
        ld(0x0a, label('__name__', 'up'), label('constructor', 'c'), sampleBytes(3, 1000)),
      ].flat(),
    );
    const symbols = ['', '__name__', 'up', '__proto__', 'a', 'b', 'constructor', 'c'].flatMap((s) => ld(0x22, s));
    const v2 = Buffer.from([
      ...symbols,
      ...ld(0x2a, ld(0x0a, [1, 2, 3, 4, 6, 7]), sampleBytes(1, 1000)),
      ...ld(0x2a, ld(0x0a, [1, 2, 3, 5, 6, 7]), sampleBytes(2, 1000)),
      ...ld(0x2a, ld(0x0a, [1, 2, 6, 7]), sampleBytes(3, 1000)),
    ]);
    for (const points of [decodeWriteRequest(v1, registry()).points, decodeV2Request(v2, registry()).points]) {
      assert.equal(points.length, 3);
      assert.ok(Object.hasOwn(points[0].labels, '__proto__'));
      assert.deepEqual(Object.keys(points[0].labels), ['__proto__', 'constructor']);
      assert.deepEqual({ ...points[0].labels }, JSON.parse('{"__proto__":"a","constructor":"c"}'));
      assert.equal(points[1].labels.__proto__, 'b');
      assert.equal(Object.hasOwn(points[2].labels, '__proto__'), false);
      assert.equal(new Set(points.map((p) => seriesKey(p.name, p.labels))).size, 3, 'three series, not merged');
    }
    assert.equal(check('v1', v1), 'points');
    assert.equal(check('v2', v2), 'points');
  });
});
