/**
 * A hand-written remote write 1.0 decoder (prompb.WriteRequest) straight into points: one pass over the
 * bytes, no intermediate message objects. The receiving side of the codec (the prometheusremotewrite
 * receiver); test/core/remotewrite/reference-decoder.ts is the protobufjs decoder the tests check it
 * and the encoder against. The stale marker is recognised from its eight bytes (0x7ff0000000000002)
 * before the value becomes a JS number, where its payload would be lost.
 *
 *   WriteRequest  { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
 *   TimeSeries    { repeated Label labels = 1; repeated Sample samples = 2; exemplars = 3; histograms = 4; }
 *   Label         { string name = 1; string value = 2; }
 *   Sample        { double value = 1; int64 timestamp = 2; }
 *   MetricMetadata{ MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
 */
import { DecodeError, Reader } from './reader.js';
import { DecodeCost, LABEL_HEAP_BYTES, POINT_HEAP_BYTES, POINT_LABEL_HEAP_BYTES, SPAN_HEAP_BYTES } from './cost.js';
import { copyLabels, makeLabels, type MetricType, type Point } from '../model/metrics.js';
import { seriesText, type RefusedSeries } from './refusal.js';
import type { FamilyRegistry } from './families.js';

export { DecodeError } from './reader.js';
/** Re-exported where it was defined before it had a file of its own. */
export { FamilyRegistry } from './families.js';

/** prompb.MetricMetadata.MetricType -> the model's type (gaugehistogram: histogram; info, stateset: gauge). */
export const METRIC_TYPES: MetricType[] = ['untyped', 'counter', 'gauge', 'histogram', 'histogram', 'summary', 'gauge', 'gauge'];

export interface DecodeResult {
  points: Point[];
  /** Native histogram samples (field 4), which the metrics model does not carry. */
  histogramsSkipped: number;
  /** Series left out whole: a label name or value that is not UTF-8. */
  refused: RefusedSeries[];
}

/**
 * Decodes an uncompressed WriteRequest; metadata goes into `families` first, then the series use it.
 * Memory: what it keeps is charged to `cost` as it is read (cost.ts); past `cost.limitBytes` it keeps
 * nothing more, walks on to learn the whole price, and throws OverBudgetError.
 */
export function decodeWriteRequest(body: Buffer, families: FamilyRegistry, cost = new DecodeCost()): DecodeResult {
  // Metadata first (field 3 follows the series on the wire, but the series' points name their family).
  const top = new Reader(body, 0, body.length);
  const seriesSpans: number[] = [];
  // Where series priced over budget go: nothing of them is kept.
  const priced: DecodeResult = { points: [], histogramsSkipped: 0, refused: [] };
  while (top.pos < top.end) {
    const tag = top.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const n = top.length();
      if (cost.charge(SPAN_HEAP_BYTES)) seriesSpans.push(top.pos, top.pos + n);
      // Over budget: the series is only priced, now, since its span is not kept.
      else readSeries(new Reader(body, top.pos, top.pos + n), families, priced, cost);
      top.pos += n;
    } else if (field === 3 && wire === 2) {
      const n = top.length();
      readMetadata(new Reader(body, top.pos, top.pos + n), families);
      top.pos += n;
    } else top.skip(wire);
  }
  const result: DecodeResult = { points: [], histogramsSkipped: 0, refused: [] };
  for (let i = 0; i < seriesSpans.length; i += 2) readSeries(new Reader(body, seriesSpans[i], seriesSpans[i + 1]), families, result, cost);
  cost.settle();
  return result;
}

/** A MetricMetadata; one whose strings are not UTF-8 is left out (its series stay untyped). */
function readMetadata(r: Reader, families: FamilyRegistry): void {
  let type = 0;
  let name = '';
  let help = '';
  let unit = '';
  while (r.pos < r.end) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) type = r.varint();
    else if (field === 2 && wire === 2) name = r.string();
    else if (field === 4 && wire === 2) help = r.string();
    else if (field === 5 && wire === 2) unit = r.string();
    else r.skip(wire);
  }
  if (name !== '' && !r.badUtf8) families.set(name, METRIC_TYPES[type] ?? 'untyped', help, unit);
}

/** Reads one TimeSeries into points, or into `refused` when a string of it is not UTF-8. */
function readSeries(r: Reader, families: FamilyRegistry, result: DecodeResult, cost: DecodeCost): void {
  const labels = makeLabels();
  let emptyNames: Set<string> | undefined;
  let name: string | undefined;
  const out = result.points;
  const first = out.length;
  // Samples are read before labels may be complete (field order is not guaranteed): timestamps and values
  // are collected, the points built after the loop.
  const values: number[] = [];
  const stale: boolean[] = [];
  const times: number[] = [];
  let samples = 0;
  let labelCount = 0;
  while (r.pos < r.end) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      labelCount++;
      if (!cost.charge(LABEL_HEAP_BYTES)) {
        r.skip(2);
        continue;
      }
      // The Label's own bytes bound its fields: a string claiming more is an error, not the next label.
      const outer = r.enter();
      let ln = '';
      let lv = '';
      while (r.pos < r.end) {
        const t = r.tag();
        if (t === 0x0a) ln = r.string();
        else if (t === 0x12) lv = r.string();
        else r.skip(t & 7);
      }
      r.leave(outer);
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
    } else if (field === 2 && wire === 2) {
      samples++;
      if (cost.charge(POINT_HEAP_BYTES)) r.sample(values, stale, times);
      else r.skip(2);
    } else if (field === 4 && wire === 2) {
      result.histogramsSkipped++;
      r.skip(wire);
    } else r.skip(wire);
  }
  // Over budget: only the price is wanted now, and the labels read may be incomplete.
  if (!cost.charge(samples * labelCount * POINT_LABEL_HEAP_BYTES)) return;
  if (r.badUtf8) {
    result.refused.push({ series: seriesText(name, labels), reason: 'invalid_utf8', samples });
    return;
  }
  if (name === undefined || name === '') throw new DecodeError(`a series without __name__ (labels ${JSON.stringify(labels)})`);
  const family = families.of(name);
  for (let i = 0; i < values.length; i++) {
    // Each point owns its labels: the next stage may change them.
    out.push({ family, name, labels: i === 0 ? labels : copyLabels(labels), value: values[i], timestampMs: times[i], stale: stale[i] });
  }
  for (let i = first + 1; i < out.length; i++) if (out[i].timestampMs < out[i - 1].timestampMs) throw new DecodeError(`samples of ${name} out of timestamp order`);
}
