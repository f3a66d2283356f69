/**
 * A hand-written remote write 2.0 decoder (`io.prometheus.write.v2.Request`, spec 2.0-rc.4) straight
 * into points, the receiving side of `v2.ts`: one pass over the bytes for the spans, then the series.
 *
 *   Request    { repeated string symbols = 4; repeated TimeSeries timeseries = 5; }   (1 to 3 reserved)
 *   TimeSeries { repeated uint32 labels_refs = 1; repeated Sample samples = 2; repeated Histogram histograms = 3;
 *                repeated Exemplar exemplars = 4; Metadata metadata = 5; int64 created_timestamp = 6; }
 *   Sample     { double value = 1; int64 timestamp = 2; int64 start_timestamp = 3; }
 *   Metadata   { MetricType type = 1; uint32 help_ref = 3; uint32 unit_ref = 4; }
 *
 * - labels_refs are pairs of indexes into symbols (name, value), packed (proto3's default) or not; a ref
 *   past the symbol table, an odd count, a repeated label name or a missing `__name__` reject the request.
 * - The stale marker is recognised from its eight bytes, as in 1.0.
 * - Metadata comes with each series: it goes into the same FamilyRegistry as 1.0's field 3, under the
 *   family's name (a histogram's or summary's `_bucket`, `_sum`, `_count` series name their family).
 * - Native histograms and exemplars are not carried by the metrics model: counted, not written (the
 *   Written headers say so to the sender).
 */
import { copyLabels, makeLabels, type Point } from '../model/metrics.js';
import { seriesText, type RefusedSeries } from './refusal.js';
import { FamilyRegistry, METRIC_TYPES } from './decode-v1.js';
import { DecodeError, Reader } from './reader.js';
import { DecodeCost, LABEL_HEAP_BYTES, POINT_HEAP_BYTES, POINT_LABEL_HEAP_BYTES, REF_HEAP_BYTES, SPAN_HEAP_BYTES, SYMBOL_HEAP_BYTES } from './cost.js';

export interface V2DecodeResult {
  points: Point[];
  /** Native histogram samples received (field 3), not written. */
  histogramsSkipped: number;
  /** Exemplars received (field 4), not written. */
  exemplarsSkipped: number;
  /** Series left out whole: a label that refers to a symbol that is not UTF-8. */
  refused: RefusedSeries[];
}

/** The symbol table, and which of its strings were not UTF-8 (decoded with U+FFFD, so not to be used). */
interface Symbols {
  strings: string[];
  bad: Set<number>;
}

/** Series names that belong to a family of another name, for the types that have such series. */
const FAMILY_SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['_sum', '_count', '_created'],
};

function familyName(seriesName: string, type: string): string {
  for (const suffix of FAMILY_SUFFIXES[type] ?? []) if (seriesName.endsWith(suffix)) return seriesName.slice(0, -suffix.length);
  return seriesName;
}

/**
 * Decodes an uncompressed 2.0 Request. Memory: as the 1.0 decoder, charged to `cost` as read (symbols,
 * spans, refs, labels, points); past the limit it keeps nothing more and throws OverBudgetError.
 */
export function decodeV2Request(body: Buffer, families: FamilyRegistry, cost = new DecodeCost()): V2DecodeResult {
  const top = new Reader(body, 0, body.length);
  const symbols: Symbols = { strings: [], bad: new Set() };
  const seriesSpans: number[] = [];
  const out: V2DecodeResult = { points: [], histogramsSkipped: 0, exemplarsSkipped: 0, refused: [] };
  const refs: number[] = [];
  while (top.pos < top.end) {
    const tag = top.tag();
    if (tag === 0x22) {
      // Back to the length for string(): to where it starts, not by its canonical size (a length may
      // be padded, 0xe0 0x00 for 96: found by decode-fuzz.test.ts, it made the symbol's bytes fields).
      const at = top.pos;
      const n = top.length();
      top.pos = at;
      if (cost.charge(SYMBOL_HEAP_BYTES + n)) {
        top.badUtf8 = false;
        symbols.strings.push(top.string());
        if (top.badUtf8) symbols.bad.add(symbols.strings.length - 1);
      } else top.skip(2);
    } else if (tag === 0x2a) {
      const n = top.length();
      if (cost.charge(SPAN_HEAP_BYTES)) seriesSpans.push(top.pos, top.pos + n);
      // Over budget: the series is only priced, now, since its span is not kept.
      else readSeries(new Reader(body, top.pos, top.pos + n), symbols, families, refs, out, cost);
      top.pos += n;
    } else top.skip(tag & 7);
  }
  // Symbols may follow the series on the wire (field order is not guaranteed): series are read after.
  for (let i = 0; i < seriesSpans.length; i += 2) readSeries(new Reader(body, seriesSpans[i], seriesSpans[i + 1]), symbols, families, refs, out, cost);
  cost.settle();
  return out;
}

function symbol(symbols: Symbols, ref: number): string {
  if (ref >= symbols.strings.length) throw new DecodeError(`symbol ref ${ref} past the ${symbols.strings.length} symbols`);
  return symbols.strings[ref];
}

function readSeries(r: Reader, symbols: Symbols, families: FamilyRegistry, refs: number[], out: V2DecodeResult, cost: DecodeCost): void {
  refs.length = 0;
  let samples = 0;
  const values: number[] = [];
  const stale: boolean[] = [];
  const times: number[] = [];
  let metaType = 0;
  let helpRef = 0;
  let unitRef = 0;
  let hasMeta = false;
  while (r.pos < r.end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      // Packed labels_refs, bounded by their own length.
      const outer = r.enter();
      while (r.pos < r.end) {
        const ref = r.varint();
        if (cost.charge(REF_HEAP_BYTES)) refs.push(ref);
      }
      r.leave(outer);
    } else if (tag === 0x08) {
      const ref = r.varint(); // unpacked form
      if (cost.charge(REF_HEAP_BYTES)) refs.push(ref);
    } else if (tag === 0x12) {
      samples++;
      if (cost.charge(POINT_HEAP_BYTES)) r.sample(values, stale, times);
      else r.skip(2);
    } else if (tag === 0x1a) {
      out.histogramsSkipped++;
      r.skip(2);
    } else if (tag === 0x22) {
      out.exemplarsSkipped++;
      r.skip(2);
    } else if (tag === 0x2a) {
      const outer = r.enter();
      hasMeta = true;
      while (r.pos < r.end) {
        const t = r.tag();
        if (t === 0x08) metaType = r.varint();
        else if (t === 0x18) helpRef = r.varint();
        else if (t === 0x20) unitRef = r.varint();
        else r.skip(t & 7);
      }
      r.leave(outer);
    } else r.skip(tag & 7);
  }
  // Over budget: only the price is wanted now, and the refs read may be incomplete.
  const labelCount = refs.length / 2;
  if (!cost.charge(labelCount * LABEL_HEAP_BYTES + samples * labelCount * POINT_LABEL_HEAP_BYTES)) return;
  if (refs.length % 2 !== 0) throw new DecodeError(`labels_refs holds ${refs.length} refs: not name/value pairs`);
  const labels = makeLabels();
  let emptyNames: Set<string> | undefined;
  let name: string | undefined;
  let badUtf8 = false;
  for (let i = 0; i < refs.length; i += 2) {
    if (symbols.bad.has(refs[i]) || symbols.bad.has(refs[i + 1])) badUtf8 = true;
    const ln = symbol(symbols, refs[i]);
    const lv = symbol(symbols, refs[i + 1]);
    if (ln === '') throw new DecodeError('a label with an empty name');
    if (ln === '__name__') {
      if (name !== undefined) throw new DecodeError('label __name__ twice in one series');
      name = lv;
    } else {
      // Names with an empty value are not kept in `labels`, so they are remembered apart: else
      // {a="", a="x"} passed where {a="x", a=""} is refused (found by decode-fuzz.test.ts).
      if (Object.hasOwn(labels, ln) || emptyNames?.has(ln) === true) throw new DecodeError(`label ${ln} twice in one series`);
      if (lv !== '') labels[ln] = lv;
      else (emptyNames ??= new Set()).add(ln);
    }
  }
  if (badUtf8) {
    out.refused.push({ series: seriesText(name, labels), reason: 'invalid_utf8', samples });
    return;
  }
  if (name === undefined || name === '') throw new DecodeError(`a series without __name__ (labels ${JSON.stringify(labels)})`);
  if (hasMeta && (metaType !== 0 || helpRef !== 0 || unitRef !== 0) && !symbols.bad.has(helpRef) && !symbols.bad.has(unitRef)) {
    const type = METRIC_TYPES[metaType] ?? 'untyped';
    families.set(familyName(name, type), type, symbol(symbols, helpRef), symbol(symbols, unitRef));
  }
  const family = families.of(name);
  const points = out.points;
  const first = points.length;
  for (let i = 0; i < values.length; i++) {
    points.push({ family, name, labels: i === 0 ? labels : copyLabels(labels), value: values[i], timestampMs: times[i], stale: stale[i] });
  }
  for (let i = first + 1; i < points.length; i++) if (points[i].timestampMs < points[i - 1].timestampMs) throw new DecodeError(`samples of ${name} out of timestamp order`);
}
