// Encode + snappy of remote-write requests, samples per second on one core: pprofcol's fused encoder
// (WriteRequestEncoder.encodeCompressed: the snappy stream written while encoding, label bytes as
// copies of earlier series, what the exporter sends) side by side, in one process and interleaved
// rounds, with its two-pass path (encode, then our JS snappy compressor), and with the npm package
// `prometheus-remote-write` on its own path (protobufjs verify + encode, then snappyjs) and with
// protobufjs encoding the same WriteRequest beside our native snappy. Prints figures, then one JSON line.
//
//   npm run build && node dist/bench/remotewrite-encode.js [series] [batches] [ms per round] [rounds]
//
// Baselines. The npm package `prometheus-remote-write` is what a Node user would reach for, but its
// path pays for protobufjs's verify and a JavaScript snappy. The fair baseline is protobufjs encoding
// the same WriteRequest objects (no verify) with the native `snappy` binding: the best a
// protobufjs-based encoder does here. Both are printed, and the JSON names the fair one.
//
// Two workloads of `series` samples per batch, each batch a fresh scrape: new Point and labels objects,
// new function-name strings, later timestamps. So a cache keyed by object identity gains nothing; only
// what stays equal between scrapes (label values) can be reused.
//   - one timestamp: one sample of each of `series` series with four labels (job, instance, function,
//     profile: pprof-derived series), all scraped at one instant. The fused encoder's best case: every
//     sample's timestamp goes out as a copy of the previous one's.
//   - many timestamps: `series`/4 series with 4 samples each, as a batch that gathered four scrapes of
//     32 targets, each target scraped at its own offset (7 ms apart) and every value changed: 128
//     distinct timestamps per batch, in scrape order (the series interleaved, as the batch processor
//     concatenates them).
// "Cold" is a new encoder per batch: every series is new, its labels encoded and its recipe built.
// It runs twice: on plain labels objects (what a plugin or the prometheus receiver with one shard
// hands the exporter: the encoder computes each series' key), the headline; and on labels that carry
// their identity (core/model/metrics.ts labelsIdentity, taken where pprof_metrics makes the point,
// before this benchmark times anything), which the encoder looks series up by instead.
import { createRequire } from 'node:module';
import { copyLabels, labelsIdentity, type MetricFamily, type Point } from '../core/model/metrics.js';
import { SnappyCompressor } from '../core/remotewrite/compress.js';
import { compressSync as nativeSnappyCompress } from 'snappy';
import { snappyUncompress, WriteRequestEncoder } from '../core/remotewrite/index.js';
import { decodeWriteRequest, remoteWriteTypes } from '../test/core/remotewrite/reference-decoder.js';

const SERIES = Number(process.argv[2] ?? 2_000);
const BATCHES = Number(process.argv[3] ?? 16);
const ROUND_MS = Number(process.argv[4] ?? 1_500);
const ROUNDS = Number(process.argv[5] ?? 5);

const require = createRequire(import.meta.url);

// prometheus-remote-write's input and its exported `serialize` (index.js: `type.verify(payload)`, then
// `type.encode(payload).finish()`), and snappyjs, which its pushTimeseries uses to compress the body.
interface PrwSample {
  value: number;
  timestamp: number;
}
interface PrwTimeseries {
  labels: Record<string, string>;
  samples: PrwSample[];
}
interface PrwWriteRequest {
  timeseries: { labels: { name: string; value: string }[]; samples: PrwSample[] }[];
}
const prw = require('prometheus-remote-write') as { serialize(payload: PrwWriteRequest): Promise<Uint8Array> };
const snappyjs = require('snappyjs') as { compress(input: Uint8Array): Uint8Array };

/**
 * prometheus-remote-write's pushTimeseries up to the HTTP call (index.js, version 0.5.1): the same
 * labels-object -> {name, value}[] and samples mapping, its serialize, and SnappyJS.compress.
 */
async function prwEncode(timeseries: PrwTimeseries[]): Promise<number> {
  const writeRequest: PrwWriteRequest = {
    timeseries: timeseries.map((t) => ({
      labels: Object.entries({ ...t.labels }).map((e) => ({ name: e[0], value: e[1] })),
      samples: t.samples.map((s) => ({ value: s.value, timestamp: s.timestamp ? s.timestamp : Date.now() })),
    })),
  };
  const buffer = await prw.serialize(writeRequest);
  return snappyjs.compress(buffer).length;
}

const families: MetricFamily[] = [
  { name: 'go_pprof_heap_inuse_bytes', type: 'gauge', help: 'In-use heap bytes by function.', unit: 'bytes' },
  { name: 'go_pprof_goroutines', type: 'gauge', help: 'Goroutines by function.', unit: '' },
  { name: 'go_pprof_mutex_wait_seconds_total', type: 'counter', help: 'Mutex wait by function.', unit: 'seconds' },
];

// One scrape: SERIES points, fresh objects and fresh function strings, one timestamp.
function scrape(b: number): Point[] {
  const out: Point[] = [];
  const t = 1_700_000_000_000 + b * 15_000;
  const job = 'api';
  for (let s = 0; s < SERIES; s++) {
    const family = families[s % families.length];
    out.push({
      family,
      name: family.name,
      labels: {
        job,
        instance: `10.0.${(s >> 6) & 255}.${s & 63}:6060`,
        function: ['github.com/acme/api/internal/handler.(*Server).serve', String(s)].join(''),
        profile: family === families[0] ? 'heap' : family === families[1] ? 'goroutine' : 'mutex',
      },
      value: s * 1000.5 + b,
      timestampMs: t,
      stale: false,
    });
  }
  return out;
}

/** TIMESTAMPS scrapes of SERIES / TIMESTAMPS series in one batch: each target at its own offset, values changing. */
const TIMESTAMPS = 4;
function manyTimestamps(b: number): Point[] {
  const out: Point[] = [];
  const perScrape = Math.floor(SERIES / TIMESTAMPS);
  for (let k = 0; k < TIMESTAMPS; k++) {
    const t = 1_700_000_000_000 + (b * TIMESTAMPS + k) * 15_000;
    for (let s = 0; s < perScrape; s++) {
      const family = families[s % families.length];
      out.push({
        family,
        name: family.name,
        labels: {
          job: 'api',
          instance: `10.0.${(s >> 5) & 255}.${s & 31}:6060`,
          function: ['github.com/acme/api/internal/handler.(*Server).serve', String(s)].join(''),
          profile: family === families[0] ? 'heap' : family === families[1] ? 'goroutine' : 'mutex',
        },
        value: s * 1000.5 + (b * TIMESTAMPS + k) * 17.25,
        timestampMs: t + (s & 31) * 7,
        stale: false,
      });
    }
  }
  return out;
}

// The same scrape as prometheus-remote-write input: `__name__` first, then the labels in name order,
// so that its bytes equal ours (checked below).
// A series' samples go in one TimeSeries, series in order of first appearance, as our encoder groups them.
function asTimeseries(points: Point[]): PrwTimeseries[] {
  const bySeries = new Map<string, PrwTimeseries>();
  for (const p of points) {
    const labels: Record<string, string> = { __name__: p.name };
    for (const n of Object.keys(p.labels).sort()) labels[n] = p.labels[n];
    const key = JSON.stringify(labels);
    let ts = bySeries.get(key);
    if (ts === undefined) bySeries.set(key, (ts = { labels, samples: [] }));
    ts.samples.push({ value: p.value, timestamp: p.timestampMs });
  }
  return [...bySeries.values()];
}

const scrapes: Point[][] = [];
const prwInput: PrwTimeseries[][] = [];
const multi: Point[][] = [];
const multiPrw: PrwTimeseries[][] = [];
for (let b = 0; b < BATCHES; b++) {
  scrapes.push(scrape(b));
  prwInput.push(asTimeseries(scrapes[b]));
  multi.push(manyTimestamps(b));
  multiPrw.push(asTimeseries(multi[b]));
}

/** The same scrapes with labels that carry their identity, as pprof_metrics hands them on. */
const carrying = scrapes.map((points) =>
  points.map((p) => {
    const labels = copyLabels(p.labels);
    labelsIdentity(labels);
    return { ...p, labels };
  }),
);

const encoder = new WriteRequestEncoder();
const fused = new WriteRequestEncoder();
const compressor = new SnappyCompressor();

// Same bytes: prometheus-remote-write's protobuf equals our WriteRequest (no metadata) on each scrape.
{
  const { WriteRequest } = remoteWriteTypes();
  for (let b = 0; b < 2; b++) {
    const ours = Buffer.from(encoder.encode(scrapes[b]));
    const theirs = Buffer.from(
      WriteRequest.encode(
        WriteRequest.create({
          timeseries: prwInput[b].map((t) => ({ labels: Object.entries(t.labels).map(([name, value]) => ({ name, value })), samples: t.samples })),
        }),
      ).finish(),
    );
    if (!ours.equals(theirs)) throw new Error(`scrape ${b}: our WriteRequest differs from prometheus-remote-write's`);
    if (decodeWriteRequest(ours).timeseries.length !== SERIES) throw new Error('series count');
    if (!snappyUncompress(compressor.compress(ours)).equals(ours)) throw new Error('SnappyCompressor round trip');
    if (!snappyUncompress(fused.encodeCompressed(scrapes[b])).equals(ours)) throw new Error('encodeCompressed differs from encode + snappy');
    if (!snappyUncompress(new WriteRequestEncoder().encodeCompressed(carrying[b])).equals(ours)) throw new Error('carried identity: cold encodeCompressed differs');
  }
  // The many-timestamps batches too, through a fresh encoder of each kind.
  const e = new WriteRequestEncoder();
  const f = new WriteRequestEncoder();
  for (let b = 0; b < 2; b++) {
    const ours = Buffer.from(e.encode(multi[b]));
    const theirs = Buffer.from(
      WriteRequest.encode(
        WriteRequest.create({ timeseries: multiPrw[b].map((t) => ({ labels: Object.entries(t.labels).map(([name, value]) => ({ name, value })), samples: t.samples })) }),
      ).finish(),
    );
    if (!ours.equals(theirs)) throw new Error(`many timestamps, batch ${b}: our WriteRequest differs from protobufjs's`);
    if (!snappyUncompress(f.encodeCompressed(multi[b])).equals(ours)) throw new Error('many timestamps: encodeCompressed differs from encode');
  }
}

interface Figures {
  samplesPerSec: number;
  cpuSamplesPerSec: number;
  bytes: number;
}

type Run = (b: number) => number | Promise<number>;

/** One round: batches in turn for at least ROUND_MS; samples per wall second and per CPU second. */
async function round(fn: Run): Promise<Figures> {
  let batches = 0;
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < ROUND_MS * 1e6) {
    bytes = await fn(batches % BATCHES);
    batches++;
    elapsed = Number(process.hrtime.bigint() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const samples = batches * SERIES;
  return { samplesPerSec: samples / (elapsed / 1e9), cpuSamplesPerSec: samples / ((cpu.user + cpu.system) / 1e6), bytes };
}

const { WriteRequest } = remoteWriteTypes();
/** The fair baseline: protobufjs without verify, on the same message objects, with native snappy. */
const protobufjsNative = (input: PrwTimeseries[]) =>
  nativeSnappyCompress(
    WriteRequest.encode(WriteRequest.create({ timeseries: input.map((t) => ({ labels: Object.entries(t.labels).map(([name, value]) => ({ name, value })), samples: t.samples })) })).finish(),
  ).length;
const multiFused = new WriteRequestEncoder();
const contenders: { name: string; fn: Run }[] = [
  { name: 'pprofcol encodeCompressed (fused)', fn: (b) => fused.encodeCompressed(scrapes[b]).length },
  {
    // The first scrape of every series: a new encoder each time, nothing cached.
    name: 'pprofcol fused, cold (new encoder/batch)',
    fn: (b) => new WriteRequestEncoder().encodeCompressed(scrapes[b]).length,
  },
  { name: 'prometheus-remote-write', fn: (b) => prwEncode(prwInput[b]) },
  // The fair baseline (see the header).
  { name: 'protobufjs encode + native snappy', fn: (b) => protobufjsNative(prwInput[b]) },
  // The two-pass path (encode, then compress the whole body), and its pieces: our encoder alone, and
  // with the native `snappy` binding instead of our compressor.
  { name: 'pprofcol encode + JS snappy (two pass)', fn: (b) => compressor.compress(encoder.encode(scrapes[b])).length },
  { name: 'pprofcol encoder alone', fn: (b) => encoder.encode(scrapes[b]).length },
  { name: 'pprofcol encoder + native snappy', fn: (b) => nativeSnappyCompress(encoder.encode(scrapes[b])).length },
  // Many timestamps per batch (indices 7-10).
  { name: 'many ts: pprofcol fused', fn: (b) => multiFused.encodeCompressed(multi[b]).length },
  { name: 'many ts: pprofcol fused, cold', fn: (b) => new WriteRequestEncoder().encodeCompressed(multi[b]).length },
  { name: 'many ts: prometheus-remote-write', fn: (b) => prwEncode(multiPrw[b]) },
  { name: 'many ts: protobufjs + native snappy', fn: (b) => protobufjsNative(multiPrw[b]) },
  // Index 11: the cold path on labels that carry their identity (see the header).
  { name: 'pprofcol fused, cold, carried identity', fn: (b) => new WriteRequestEncoder().encodeCompressed(carrying[b]).length },
];

// Warm-up, then ROUNDS interleaved rounds; the best round of each is kept (load from other processes
// only slows a round down), by wall time for the samples/s figures and, apart, by CPU time for the
// per-CPU-second ratios (on a shared machine a round's wall time swings with the others' load, its
// CPU time much less; the CPU of the best wall round mixed the two).
for (const c of contenders) for (let i = 0; i < 30; i++) await c.fn(i % BATCHES);
const best = new Map<string, Figures>();
const bestCpu = new Map<string, Figures>();
for (let r = 0; r < ROUNDS; r++) {
  for (const c of contenders) {
    const f = await round(c.fn);
    const prev = best.get(c.name);
    if (prev === undefined || f.samplesPerSec > prev.samplesPerSec) best.set(c.name, f);
    const prevCpu = bestCpu.get(c.name);
    if (prevCpu === undefined || f.cpuSamplesPerSec > prevCpu.cpuSamplesPerSec) bestCpu.set(c.name, f);
  }
}

/** Samples per CPU second of a contender's best round by CPU time (see the rounds above), by its best wall round. */
const cpuBest = new Map<Figures, number>();
for (const [name, f] of best) cpuBest.set(f, bestCpu.get(name)!.cpuSamplesPerSec);
const cpuOf = (a: Figures): number => cpuBest.get(a)!;
const ours = best.get(contenders[0].name)!;
const cold = best.get(contenders[1].name)!;
const theirs = best.get(contenders[2].name)!;
const pbjs = best.get(contenders[3].name)!;
const twoPass = best.get(contenders[4].name)!;
const alone = best.get(contenders[5].name)!;
const native = best.get(contenders[6].name)!;
const [mFused, mCold, mPrw, mPbjs] = [7, 8, 9, 10].map((i) => best.get(contenders[i].name)!);
const coldCarried = best.get(contenders[11].name)!;
for (const c of contenders) {
  const f = best.get(c.name)!;
  console.log(
    `${c.name.padEnd(40)} ${(f.samplesPerSec / 1e6).toFixed(3).padStart(7)} M samples/s  ${(1e9 / f.samplesPerSec).toFixed(0).padStart(6)} ns/sample  ` +
      `${(cpuOf(f) / 1e6).toFixed(3)} M samples per CPU s  ${f.bytes} bytes compressed`,
  );
}
const ratio = ours.samplesPerSec / theirs.samplesPerSec;
console.log(
  `pprofcol (fused) is ${ratio.toFixed(1)}x prometheus-remote-write (cold: ${(cold.samplesPerSec / theirs.samplesPerSec).toFixed(1)}x; ` +
    `two-pass encode + JS snappy ${(twoPass.samplesPerSec / theirs.samplesPerSec).toFixed(1)}x; ` +
    `${(ours.samplesPerSec / pbjs.samplesPerSec).toFixed(1)}x protobufjs + native snappy; encode + native snappy ${(native.samplesPerSec / theirs.samplesPerSec).toFixed(1)}x), ` +
    `${SERIES} series x 4 labels per batch, best of ${ROUNDS} interleaved rounds; compressed ${ours.bytes} bytes (fused) vs ${twoPass.bytes} (snappy)`,
);
const x = (a: Figures, b: Figures) => (a.samplesPerSec / b.samplesPerSec).toFixed(2);
const xc = (a: Figures, b: Figures) => (cpuOf(a) / cpuOf(b)).toFixed(2);
console.log(
  `against the fair baseline (protobufjs + native snappy): fused ${x(ours, pbjs)}x, cold ${x(cold, pbjs)}x; ` +
    `many timestamps (${SERIES / TIMESTAMPS} series x ${TIMESTAMPS} samples, 128 timestamps a batch): fused ${x(mFused, mPbjs)}x, cold ${x(mCold, mPbjs)}x ` +
    `(vs prometheus-remote-write: fused ${x(mFused, mPrw)}x, cold ${x(mCold, mPrw)}x); compressed ${mFused.bytes} bytes (fused) vs ${mPbjs.bytes} (snappy)`,
);
console.log(
  `cold path per CPU second: ${xc(cold, theirs)}x prometheus-remote-write, ${xc(cold, pbjs)}x the fair baseline; many timestamps ${xc(mCold, mPrw)}x and ${xc(mCold, mPbjs)}x; ` +
    `labels carrying their identity ${xc(coldCarried, theirs)}x prometheus-remote-write`,
);
console.log(
  JSON.stringify({
    bench: 'remotewrite-encode',
    series_per_batch: SERIES,
    labels_per_series: 4,
    batches: BATCHES,
    pprofcol_samples_per_s: Math.round(ours.samplesPerSec),
    pprofcol_cold_samples_per_s: Math.round(cold.samplesPerSec),
    prometheus_remote_write_samples_per_s: Math.round(theirs.samplesPerSec),
    protobufjs_native_snappy_samples_per_s: Math.round(pbjs.samplesPerSec),
    pprofcol_two_pass_samples_per_s: Math.round(twoPass.samplesPerSec),
    two_pass_speedup_vs_prometheus_remote_write: Number((twoPass.samplesPerSec / theirs.samplesPerSec).toFixed(2)),
    pprofcol_encode_only_samples_per_s: Math.round(alone.samplesPerSec),
    pprofcol_native_snappy_samples_per_s: Math.round(native.samplesPerSec),
    native_snappy_speedup_vs_prometheus_remote_write: Number((native.samplesPerSec / theirs.samplesPerSec).toFixed(2)),
    speedup_vs_prometheus_remote_write: Number(ratio.toFixed(2)),
    cold_speedup_vs_prometheus_remote_write: Number((cold.samplesPerSec / theirs.samplesPerSec).toFixed(2)),
    speedup_vs_protobufjs: Number((ours.samplesPerSec / pbjs.samplesPerSec).toFixed(2)),
    fair_baseline: 'protobufjs encode (no verify) + native snappy',
    speedup_vs_fair_baseline: Number(x(ours, pbjs)),
    cold_speedup_vs_fair_baseline: Number(x(cold, pbjs)),
    cold_cpu_ratio_vs_prometheus_remote_write: Number(xc(cold, theirs)),
    cold_cpu_ratio_vs_fair_baseline: Number(xc(cold, pbjs)),
    pprofcol_cold_carried_identity_samples_per_s: Math.round(coldCarried.samplesPerSec),
    cold_carried_identity_cpu_ratio_vs_prometheus_remote_write: Number(xc(coldCarried, theirs)),
    many_timestamps: {
      series_per_batch: SERIES / TIMESTAMPS,
      samples_per_series: TIMESTAMPS,
      timestamps_per_batch: 128,
      pprofcol_samples_per_s: Math.round(mFused.samplesPerSec),
      pprofcol_cold_samples_per_s: Math.round(mCold.samplesPerSec),
      prometheus_remote_write_samples_per_s: Math.round(mPrw.samplesPerSec),
      protobufjs_native_snappy_samples_per_s: Math.round(mPbjs.samplesPerSec),
      speedup_vs_prometheus_remote_write: Number(x(mFused, mPrw)),
      speedup_vs_fair_baseline: Number(x(mFused, mPbjs)),
      cold_speedup_vs_prometheus_remote_write: Number(x(mCold, mPrw)),
      cold_speedup_vs_fair_baseline: Number(x(mCold, mPbjs)),
      cold_cpu_ratio_vs_prometheus_remote_write: Number(xc(mCold, mPrw)),
      compressed_bytes: { pprofcol: mFused.bytes, protobufjs_native_snappy: mPbjs.bytes },
    },
    pprofcol_cpu_samples_per_s: Math.round(cpuOf(ours)),
    pprofcol_cold_cpu_samples_per_s: Math.round(cpuOf(cold)),
    prometheus_remote_write_cpu_samples_per_s: Math.round(cpuOf(theirs)),
    compressed_bytes: { pprofcol: ours.bytes, pprofcol_two_pass: twoPass.bytes, prometheus_remote_write: theirs.bytes },
    node: process.version,
  }),
);
