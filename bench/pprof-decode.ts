// Decoding the recorded pprof profiles (test/testdata/*/*.pb.gz): pprofcol's decodeProfile side by side
// with pprof-format's Profile.decode on the same inflated bytes, and gunzip alone, in one process.
// Speeds are MB/s of inflated profile.proto bytes (1 MB = 1e6 bytes), so the three columns compare directly:
// the goal is decodeProfile >= 10x pprof-format, which makes gunzip the larger cost of a scrape.
//
//   npm run build && node dist/bench/pprof-decode.js [ms per measurement, default 1000]
//
// Each of the three is timed for >= 1 s per profile (in 5 interleaved rounds, best round kept), after a warm-up.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { decodeProfile, isRuntimeFrame } from '../core/pprof/decode.js';

const MIN_RUN_MS = Number(process.argv[2] ?? 1_000);
const WARMUP_MS = 200;

function repoRoot(): string {
  // dist/bench/pprof-decode.js or bench/pprof-decode.ts: the root is the first folder up with test/testdata.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (readdirSync(dir).includes('package.json') && readdirSync(dir).includes('test')) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('repository root not found above ' + fileURLToPath(import.meta.url));
}

/**
 * Seconds per call of each function: after a warm-up, ROUNDS rounds that run each function in turn for
 * ms / ROUNDS, keeping each one's best round. Interleaving and the best round keep the ratio honest on a
 * shared machine, where a burst of other work would otherwise land on whichever loop ran at that moment.
 * Results go to a sink so V8 keeps the work.
 */
const ROUNDS = 5;
let sink = 0;
function secondsPerCall(fns: (() => number)[], ms: number): number[] {
  const best = fns.map(() => Infinity);
  for (const fn of fns) {
    const warmEnd = performance.now() + WARMUP_MS;
    while (performance.now() < warmEnd) sink += fn();
  }
  for (let round = 0; round < ROUNDS; round++) {
    fns.forEach((fn, i) => {
      let calls = 0;
      let batch = 1;
      const start = performance.now();
      let elapsed = 0;
      // Batches of calls between clock reads keep the timer out of sub-microsecond loops.
      while (elapsed < ms / ROUNDS) {
        for (let k = 0; k < batch; k++) sink += fn();
        calls += batch;
        elapsed = performance.now() - start;
        if (elapsed < ms / ROUNDS / 20) batch *= 2;
      }
      best[i] = Math.min(best[i], elapsed / 1000 / calls);
    });
  }
  return best;
}

interface Row {
  profile: string;
  gzBytes: number;
  rawBytes: number;
  samples: number;
  gunzipMBs: number;
  oursMBs: number;
  pprofFormatMBs: number;
  ratio: number;
}

const testdata = path.join(repoRoot(), 'test', 'testdata');
const rows: Row[] = [];
let oursSeconds = 0;
let theirsSeconds = 0;
let gunzipSeconds = 0;
let totalRaw = 0;
for (const program of readdirSync(testdata).filter((d) => statSync(path.join(testdata, d)).isDirectory()).sort()) {
  for (const file of readdirSync(path.join(testdata, program)).filter((f) => f.endsWith('.pb.gz')).sort()) {
    const gz = readFileSync(path.join(testdata, program, file));
    const raw = gunzipSync(gz);
    const samples = decodeProfile(raw).sampleCount;
    const mb = raw.length / 1e6;
    const [tGunzip, tOurs, tTheirs] = secondsPerCall(
      [
        () => gunzipSync(gz).length,
        () => decodeProfile(raw, { skipFrame: isRuntimeFrame }).sampleCount,
        () => Profile.decode(raw).sample.length,
      ],
      MIN_RUN_MS,
    );
    oursSeconds += tOurs;
    theirsSeconds += tTheirs;
    gunzipSeconds += tGunzip;
    totalRaw += raw.length;
    rows.push({
      profile: `${program}/${file}`,
      gzBytes: gz.length,
      rawBytes: raw.length,
      samples,
      gunzipMBs: mb / tGunzip,
      oursMBs: mb / tOurs,
      pprofFormatMBs: mb / tTheirs,
      ratio: tTheirs / tOurs,
    });
  }
}

const fmt = (n: number, w: number, d = 0) => n.toFixed(d).padStart(w);
console.log(
  `${'profile'.padEnd(34)} ${'gz B'.padStart(7)} ${'raw B'.padStart(7)} ${'samples'.padStart(7)} ` +
    `${'gunzip MB/s'.padStart(12)} ${'decodeProfile'.padStart(14)} ${'pprof-format'.padStart(13)} ${'ratio'.padStart(7)}`,
);
for (const r of rows) {
  console.log(
    `${r.profile.padEnd(34)} ${fmt(r.gzBytes, 7)} ${fmt(r.rawBytes, 7)} ${fmt(r.samples, 7)} ` +
      `${fmt(r.gunzipMBs, 12, 1)} ${fmt(r.oursMBs, 14, 1)} ${fmt(r.pprofFormatMBs, 13, 1)} ${fmt(r.ratio, 6, 1)}x`,
  );
}
// Aggregate: every profile decoded once, i.e. all bytes over all time (larger profiles weigh more).
const aggregate = {
  gunzipMBs: totalRaw / 1e6 / gunzipSeconds,
  oursMBs: totalRaw / 1e6 / oursSeconds,
  pprofFormatMBs: totalRaw / 1e6 / theirsSeconds,
};
const ratios = rows.map((r) => r.ratio);
const geomean = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
console.log(
  `${'all profiles once'.padEnd(34)} ${''.padStart(7)} ${fmt(totalRaw, 7)} ${''.padStart(7)} ` +
    `${fmt(aggregate.gunzipMBs, 12, 1)} ${fmt(aggregate.oursMBs, 14, 1)} ${fmt(aggregate.pprofFormatMBs, 13, 1)} ${fmt(theirsSeconds / oursSeconds, 6, 1)}x`,
);
console.log(`decodeProfile / pprof-format: min ${Math.min(...ratios).toFixed(1)}x, geometric mean ${geomean.toFixed(1)}x; decodeProfile / gunzip time: ${(oursSeconds / gunzipSeconds).toFixed(2)}`);
if (sink === -1) console.log(sink);

const round = (n: number) => Math.round(n * 100) / 100;
console.log(
  JSON.stringify({
    bench: 'pprof-decode',
    ratio_aggregate: round(theirsSeconds / oursSeconds),
    ratio_geomean: round(geomean),
    ratio_min: round(Math.min(...ratios)),
    decode_over_gunzip_time: round(oursSeconds / gunzipSeconds),
    mbps: { decodeProfile: round(aggregate.oursMBs), pprof_format: round(aggregate.pprofFormatMBs), gunzip: round(aggregate.gunzipMBs) },
    ratios: Object.fromEntries(rows.map((r) => [r.profile, round(r.ratio)])),
  }),
);
