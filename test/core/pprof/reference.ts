// The reference for decodeProfile: the same summary computed from pprof-format's object model (an
// independent decoder, npm), shared by the decoder test and the fuzz test.
import assert from 'node:assert/strict';
import { Profile } from 'pprof-format';
import type { FunctionProfile } from '../../../core/model/profiles.js';
import { UNKNOWN_FUNCTION } from '../../../core/pprof/decode.js';
import { WireReader } from '../../../core/pprof/wire.js';


/** What the decoder's result says, minus what only the decoder knows (its working memory). */
export type Reference = Omit<FunctionProfile, 'workingBytes'>;

/** The working memory a decode was sized for: decodeProfile always says it, other producers never do. */
export function workingBytesOf(p: FunctionProfile): number {
  assert.ok(p.workingBytes !== undefined, 'decodeProfile sets workingBytes');
  return p.workingBytes;
}

/** Nested messages by field number, per message kind, as far as the summary reads them. */
const NESTED: Record<string, Record<number, string>> = {
  profile: { 1: 'leaf', 2: 'sample', 3: 'leaf', 4: 'location', 5: 'leaf', 11: 'leaf' },
  sample: { 3: 'leaf' },
  location: { 4: 'leaf' },
  leaf: {},
};

/**
 * pprof-format reads every tag as one byte (fields 1..15: `buffer[index] >> 3`), so a multi-byte tag
 * anywhere makes it read another profile than the bytes hold; and it stops quietly at bytes it cannot
 * read. Either way there is nothing to compare: this walks the messages the summary depends on and
 * throws on a multi-byte tag, and where pprof-format's record counts differ from the wire's.
 */
function checkSameRecords(raw: Uint8Array, p: Profile): void {
  const n = new Map<number, number>();
  const walk = (r: WireReader, end: number, kind: string): void => {
    while (r.pos < end) {
      const at = r.pos;
      const field = r.tag(end);
      if (r.pos - at > 1) throw new Error('a multi-byte tag, which pprof-format misreads');
      if (kind === 'profile') n.set(field, (n.get(field) ?? 0) + 1);
      const inner = NESTED[kind][field];
      if (inner !== undefined && r.wireType === 2) {
        const innerEnd = r.lenEnd(end);
        walk(r, innerEnd, inner);
        r.pos = innerEnd;
      } else {
        r.skip(r.wireType, end, at);
      }
    }
  };
  walk(new WireReader(raw), raw.length, 'profile');
  const same = (n.get(2) ?? 0) === p.sample.length && (n.get(4) ?? 0) === p.location.length && (n.get(5) ?? 0) === p.function.length && (n.get(6) ?? 0) === p.stringTable.strings.length;
  if (!same) throw new Error('pprof-format read other records than the bytes hold');
}

export function reference(raw: Uint8Array, skipFrame?: (name: string) => boolean): Reference {
  const p = Profile.decode(raw);
  checkSameRecords(raw, p);
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)];
  const functions = new Map(p.function.map((f) => [Number(f.id), str(f.name)]));
  // A line without a function (id 0) names no frame, as in decodeProfile.
  const locations = new Map(p.location.map((l) => [Number(l.id), l.line.flatMap((ln) => (Number(ln.functionId) === 0 ? [] : [functions.get(Number(ln.functionId))!]))]));
  const n = p.sampleType.length;
  const totals = new Array<number>(n).fill(0);
  const byFunction = new Map<string, number[]>();
  for (const s of p.sample) {
    const frames = s.locationId.flatMap((id) => locations.get(Number(id)) ?? []);
    const name = frames.find((f) => !(skipFrame?.(f) ?? false)) ?? frames[0] ?? UNKNOWN_FUNCTION;
    const row = byFunction.get(name) ?? new Array<number>(n).fill(0);
    byFunction.set(name, row);
    s.value.forEach((v, k) => {
      totals[k] += int64(v);
      row[k] += int64(v);
    });
  }
  const vt = (v: { type: number | bigint; unit: number | bigint }) => ({ type: str(v.type), unit: str(v.unit) });
  const sampleTypes = p.sampleType.map(vt);
  return {
    columns: sampleTypes.map((t) => t.type),
    units: sampleTypes.map((t) => t.unit),
    totals,
    byFunction,
    durationSeconds: Number(p.durationNanos) / 1e9,
    sampleCount: p.sample.length,
    periodType: p.periodType === undefined ? undefined : vt(p.periodType),
    period: Number(p.period),
    timeNanos: Number(p.timeNanos),
  };
}

/**
 * A sample value as profile.proto types it, int64: pprof-format hands a negative one (a ten-byte
 * varint) back as its unsigned value, 2^64 - |v| (a fuzz seed found -10485753 read as 1.8e19).
 */
function int64(v: number | bigint): number {
  if (typeof v === 'bigint') return Number(BigInt.asIntN(64, v));
  return v >= 2 ** 63 ? v - 2 ** 64 : v;
}

export function assertSameSummary(actual: FunctionProfile, expected: Reference, what: string): void {
  assert.deepEqual(actual.columns, expected.columns, `${what}: columns`);
  assert.deepEqual(actual.units, expected.units, `${what}: units`);
  assert.deepEqual(actual.periodType, expected.periodType, `${what}: periodType`);
  assert.equal(actual.period, expected.period, `${what}: period`);
  assert.equal(actual.timeNanos, expected.timeNanos, `${what}: timeNanos`);
  assert.equal(actual.durationSeconds, expected.durationSeconds, `${what}: durationSeconds`);
  assert.deepEqual(actual.totals, expected.totals, `${what}: totals`);
  assert.equal(actual.sampleCount, expected.sampleCount, `${what}: sampleCount`);
  const sorted = (m: ReadonlyMap<string, readonly number[]>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  assert.deepEqual(sorted(actual.byFunction), sorted(expected.byFunction), `${what}: byFunction`);
}


/** Equal within a relative 1e-9: sums past 2^53 may round differently in two decoders' arithmetic. */
function close(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/** What pprofcol derives from a summary (totals, by-function sums) matches the reference's. */
export function assertSameDerived(actual: FunctionProfile, expected: Reference, what: string): void {
  assert.equal(actual.totals.length, expected.totals.length, `${what}: columns`);
  actual.totals.forEach((v, k) => assert.ok(close(v, expected.totals[k]), `${what}: total ${k}: ${v} vs ${expected.totals[k]}`));
  assert.equal(actual.byFunction.size, expected.byFunction.size, `${what}: functions`);
  for (const [name, row] of actual.byFunction) {
    const other = expected.byFunction.get(name);
    assert.ok(other !== undefined, `${what}: function ${name} missing in the reference`);
    row.forEach((v, k) => assert.ok(close(v, other[k]), `${what}: ${name}[${k}]: ${v} vs ${other[k]}`));
  }
}
