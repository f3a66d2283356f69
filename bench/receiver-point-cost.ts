/**
 * What one decoded remote-write point costs in heap, the figure behind the receiver's
 * max_inflight_bytes charge (core/remotewrite/cost.ts). For requests of several shapes (Prometheus's
 * usual 2000 one-sample series, one series of many samples, many minimal series, wide label sets) it
 * decodes the request, keeps the result, and measures the heap after a full GC; beside it, the
 * charge the decoder computed (the model) and, as the baseline, protobufjs's decode of the same bytes.
 *
 * The model must never be below the measure (ratio >= 1): the budget would then let more in than it
 * says. Exits 1 when it is.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MetricFamily, Point } from '../core/model/metrics.js';
import { DecodeCost } from '../core/remotewrite/cost.js';
import { decodeWriteRequest, FamilyRegistry } from '../core/remotewrite/decode-v1.js';
import { encodeWriteRequest } from '../core/remotewrite/index.js';
import { decodeWriteRequest as protobufjsDecode } from '../test/core/remotewrite/reference-decoder.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Shape {
  name: string;
  series: number;
  samplesPerSeries: number;
  labels: number;
}

const SHAPES: Shape[] = [
  { name: 'prometheus-default', series: 2000, samplesPerSeries: 1, labels: 8 },
  { name: 'one-long-series', series: 1, samplesPerSeries: 200_000, labels: 3 },
  { name: 'minimal-series', series: 100_000, samplesPerSeries: 1, labels: 1 },
  { name: 'wide-labels', series: 2000, samplesPerSeries: 1, labels: 40 },
  { name: 'backfill', series: 1000, samplesPerSeries: 50, labels: 6 },
];

const FAMILY: MetricFamily = { name: 'm', type: 'gauge', help: '', unit: '' };

function request(shape: Shape): Buffer {
  const points: Point[] = [];
  for (let s = 0; s < shape.series; s++) {
    const labels: Record<string, string> = {};
    for (let l = 0; l < shape.labels; l++) labels[`label_${l}`] = `value_${s}_${l}`;
    for (let i = 0; i < shape.samplesPerSeries; i++) {
      points.push({ family: FAMILY, name: `metric_${s % 50}`, labels, value: i, timestampMs: 1_700_000_000_000 + i * 1000, stale: false });
    }
  }
  return encodeWriteRequest(points);
}

function heapOf<T>(make: () => T): { bytes: number; kept: T } {
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = make();
  gc();
  gc();
  return { bytes: process.memoryUsage().heapUsed - before, kept };
}

const rows = [];
let failed = false;
for (const shape of SHAPES) {
  const body = request(shape);
  const samples = shape.series * shape.samplesPerSeries;
  const cost = new DecodeCost();
  const families = new FamilyRegistry({ maxBytes: 1 << 30 });
  families.of('metric_0');
  const ours = heapOf(() => decodeWriteRequest(body, families, cost));
  if (ours.kept.points.length !== samples) throw new Error(`${shape.name}: decoded ${ours.kept.points.length} of ${samples} samples`);
  const baseline = heapOf(() => protobufjsDecode(body));
  // The model charges the decoded bytes apart (the receiver holds the body while decoding); the
  // point charge alone must cover what the result keeps.
  const ratio = cost.used / ours.bytes;
  if (ratio < 1) failed = true;
  rows.push({
    shape: shape.name,
    samples,
    labels: shape.labels,
    body_bytes: body.length,
    measured_heap_bytes_per_sample: Math.round(ours.bytes / samples),
    charged_bytes_per_sample: Math.round(cost.used / samples),
    charge_over_measured: Number(ratio.toFixed(2)),
    protobufjs_heap_bytes_per_sample: Math.round(baseline.bytes / samples),
  });
}

console.log('shape               samples  labels  measured B/sample  charged B/sample  charged/measured  protobufjs B/sample');
for (const r of rows) {
  console.log(
    `${r.shape.padEnd(18)} ${String(r.samples).padStart(8)} ${String(r.labels).padStart(7)} ${String(r.measured_heap_bytes_per_sample).padStart(18)} ${String(r.charged_bytes_per_sample).padStart(17)} ${r.charge_over_measured.toFixed(2).padStart(17)} ${String(r.protobufjs_heap_bytes_per_sample).padStart(20)}`,
  );
}
console.log(JSON.stringify({ bench: 'receiver-point-cost', rows, node: process.version }));
if (failed) {
  console.error('receiver-point-cost: the charge is below the measured heap for some shape; raise the constants in core/remotewrite/cost.ts');
  process.exitCode = 1;
}
