// Decoding the recorded pprof profiles (test/testdata/*/*.pb.gz): pprofcol's decodeProfile side by side
// with pprof-format's Profile.decode on the same inflated bytes, and gunzip alone, in one process.
// Speeds are MB/s of inflated profile.proto bytes (1 MB = 1e6 bytes), so the three columns compare directly:
// the goal is decodeProfile >= 10x pprof-format, which makes gunzip the larger cost of a scrape.
//
//   npm run build && node dist/bench/pprof-decode.js [ms per measurement, default 1000]
//
// Each is timed for >= 1 s per profile (in 5 interleaved rounds, best round kept), after a warm-up.
//
// decodeProfile keeps a process-wide cache of function names (core/pprof/decode.ts, NameCache): decoding
// one profile over and over, as here, finds every name in it, which is the steady state of a daemon that
// scrapes the same binaries every interval. The "cold" column empties the cache before every decode: a
// process's first profile of a binary, and the floor when more distinct names rotate than the cache holds.
//
// Profiles per second per core: one decode runs on one thread, so it is 1 / (seconds per decode) of the
// best round; the machine's other work only lowers it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { decodeProfile, isRuntimeFrame, resetNameCache } from '../core/pprof/decode.js';

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
  oursColdMBs: number;
  pprofFormatMBs: number;
  ratio: number;
  coldRatio: number;
  /** Profiles per second per core. */
  oursPerSec: number;
  pprofFormatPerSec: number;
}

const testdata = path.join(repoRoot(), 'test', 'testdata');
const rows: Row[] = [];
let oursSeconds = 0;
let coldSeconds = 0;
let theirsSeconds = 0;
let gunzipSeconds = 0;
let totalRaw = 0;
for (const program of readdirSync(testdata).filter((d) => statSync(path.join(testdata, d)).isDirectory()).sort()) {
  for (const file of readdirSync(path.join(testdata, program)).filter((f) => f.endsWith('.pb.gz')).sort()) {
    const gz = readFileSync(path.join(testdata, program, file));
    const raw = gunzipSync(gz);
    const samples = decodeProfile(raw).sampleCount;
    const mb = raw.length / 1e6;
    const [tGunzip, tOurs, tCold, tTheirs] = secondsPerCall(
      [
        () => gunzipSync(gz).length,
        () => decodeProfile(raw, { skipFrame: isRuntimeFrame }).sampleCount,
        () => {
          resetNameCache();
          return decodeProfile(raw, { skipFrame: isRuntimeFrame }).sampleCount;
        },
        () => Profile.decode(raw).sample.length,
      ],
      MIN_RUN_MS,
    );
    oursSeconds += tOurs;
    coldSeconds += tCold;
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
      oursColdMBs: mb / tCold,
      pprofFormatMBs: mb / tTheirs,
      ratio: tTheirs / tOurs,
      coldRatio: tTheirs / tCold,
      oursPerSec: 1 / tOurs,
      pprofFormatPerSec: 1 / tTheirs,
    });
  }
}

const fmt = (n: number, w: number, d = 0) => n.toFixed(d).padStart(w);
console.log(
  `${'profile'.padEnd(34)} ${'gz B'.padStart(7)} ${'raw B'.padStart(7)} ${'samples'.padStart(7)} | MB/s: ` +
    `${'gunzip'.padStart(7)} ${'decodeProfile'.padStart(13)} ${'cold'.padStart(6)} ${'pprof-format'.padStart(12)} ${'ratio'.padStart(6)} ${'cold'.padStart(6)} | ` +
    `profiles/s/core: ${'decodeProfile'.padStart(13)} ${'pprof-format'.padStart(12)}`,
);
for (const r of rows) {
  console.log(
    `${r.profile.padEnd(34)} ${fmt(r.gzBytes, 7)} ${fmt(r.rawBytes, 7)} ${fmt(r.samples, 7)} |       ` +
      `${fmt(r.gunzipMBs, 7, 1)} ${fmt(r.oursMBs, 13, 1)} ${fmt(r.oursColdMBs, 6, 1)} ${fmt(r.pprofFormatMBs, 12, 1)} ${fmt(r.ratio, 5, 1)}x ${fmt(r.coldRatio, 5, 1)}x | ` +
      `                 ${fmt(r.oursPerSec, 13)} ${fmt(r.pprofFormatPerSec, 12)}`,
  );
}
// Aggregate: every profile decoded once, i.e. all bytes over all time (larger profiles weigh more).
const aggregate = {
  gunzipMBs: totalRaw / 1e6 / gunzipSeconds,
  oursMBs: totalRaw / 1e6 / oursSeconds,
  oursColdMBs: totalRaw / 1e6 / coldSeconds,
  pprofFormatMBs: totalRaw / 1e6 / theirsSeconds,
};
const ratios = rows.map((r) => r.ratio);
const geomean = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
const coldRatios = rows.map((r) => r.coldRatio);
const coldGeomean = Math.exp(coldRatios.reduce((s, r) => s + Math.log(r), 0) / coldRatios.length);
console.log(
  `${'all profiles once'.padEnd(34)} ${''.padStart(7)} ${fmt(totalRaw, 7)} ${''.padStart(7)} |       ` +
    `${fmt(aggregate.gunzipMBs, 7, 1)} ${fmt(aggregate.oursMBs, 13, 1)} ${fmt(aggregate.oursColdMBs, 6, 1)} ${fmt(aggregate.pprofFormatMBs, 12, 1)} ` +
    `${fmt(theirsSeconds / oursSeconds, 5, 1)}x ${fmt(theirsSeconds / coldSeconds, 5, 1)}x | ` +
    `                 ${fmt(rows.length / oursSeconds, 13)} ${fmt(rows.length / theirsSeconds, 12)}`,
);
console.log(
  `decodeProfile / pprof-format: min ${Math.min(...ratios).toFixed(1)}x, geometric mean ${geomean.toFixed(1)}x ` +
    `(names cold: min ${Math.min(...coldRatios).toFixed(1)}x, geometric mean ${coldGeomean.toFixed(1)}x); ` +
    `decodeProfile / gunzip time: ${(oursSeconds / gunzipSeconds).toFixed(2)} (cold ${(coldSeconds / gunzipSeconds).toFixed(2)})`,
);
if (sink === -1) console.log(sink);

const round = (n: number) => Math.round(n * 100) / 100;
console.log(
  JSON.stringify({
    bench: 'pprof-decode',
    ratio_aggregate: round(theirsSeconds / oursSeconds),
    ratio_geomean: round(geomean),
    ratio_min: round(Math.min(...ratios)),
    ratio_aggregate_cold: round(theirsSeconds / coldSeconds),
    ratio_geomean_cold: round(coldGeomean),
    ratio_min_cold: round(Math.min(...coldRatios)),
    decode_over_gunzip_time: round(oursSeconds / gunzipSeconds),
    decode_over_gunzip_time_cold: round(coldSeconds / gunzipSeconds),
    mbps: {
      decodeProfile: round(aggregate.oursMBs),
      decodeProfile_cold: round(aggregate.oursColdMBs),
      pprof_format: round(aggregate.pprofFormatMBs),
      gunzip: round(aggregate.gunzipMBs),
    },
    ratios: Object.fromEntries(rows.map((r) => [r.profile, round(r.ratio)])),
    ratios_cold: Object.fromEntries(rows.map((r) => [r.profile, round(r.coldRatio)])),
    // Profiles per second per core (single-threaded decode: 1 / seconds per decode).
    profiles_per_second_per_core: Object.fromEntries(
      rows.map((r) => [r.profile, { decodeProfile: Math.round(r.oursPerSec), pprof_format: Math.round(r.pprofFormatPerSec) }]),
    ),
  }),
);
