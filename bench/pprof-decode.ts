// Decoding the recorded pprof profiles (test/testdata/*/*.pb.gz): pprofcol's decodeProfile side by side
// with two full parsers on the same inflated bytes, pprof-format's Profile.decode (JavaScript) and Go's own
// github.com/google/pprof `profile.Parse` (the version pinned in bench/goparse/go.mod), and gunzip alone.
// Speeds are MB/s of inflated profile.proto bytes (1 MB = 1e6 bytes), so the columns compare directly:
// the issue's goal is decodeProfile >= 10x pprof-format, which makes gunzip the larger cost of a scrape.
//
//   npm run build && node dist/bench/pprof-decode.js [ms per measurement, default 1000]
//
// Not like for like, and the ratios say so: decodeProfile reads only what the metrics need (sample types,
// period, times, the total of each value column and the sums per attributed function; see
// core/pprof/decode.ts). It never decodes a string it does not need, reads a location's lines only when a
// sample reaches it before its attributed frame, and builds no object per sample, location or line. The
// other two build the whole profile: every sample with its location list, every location with its lines,
// every function and mapping, every string (and Go's Parse also checks the profile's validity). So the
// ratios measure what reading less buys, not a faster full parser; Go's column says where a compiled full
// parse stands, the bar a TypeScript decoder that read everything would be held to.
//
// Each JavaScript decoder is timed for >= 1 s per profile (in 5 interleaved rounds, best round kept),
// after a warm-up. Go's Parse is timed the same way (200 ms warm-up, 5 rounds, best kept) by the Go
// program bench/goparse, built here with `go build` (GOTOOLCHAIN=local: the machine's own Go; the module
// comes from the Go module proxy or the module cache, checked against go.sum) and run once over all the
// profiles with GOMAXPROCS=1, so that its garbage collector shares the one core the parse runs on. It runs
// after the JavaScript rounds, not interleaved with them (another process); if Go is missing or the build
// fails, the Go column says why and the rest is printed as before.
//
// decodeProfile keeps a process-wide cache of function names (core/pprof/decode.ts, NameCache): decoding
// one profile over and over, as here, finds every name in it, which is the steady state of a daemon that
// scrapes the same binaries every interval. The "cold" column empties the cache before every decode: a
// process's first profile of a binary, and the floor when more distinct names rotate than the cache holds.
//
// Profiles per second per core: one decode runs on one thread, so it is 1 / (seconds per decode) of the
// best round; the machine's other work only lowers it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { decodeProfile, isRuntimeFrame, resetNameCache } from '../core/pprof/decode.js';
import { goBinary } from '../test/harness/servers.js';

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
  /** Go's profile.Parse: seconds per parse, undefined when the Go column could not run. */
  goSeconds: number | undefined;
}

interface GoResult {
  file: string;
  raw_bytes: number;
  samples: number;
  seconds_per_parse: number;
}

/**
 * Builds bench/goparse and runs it over the files: seconds per profile.Parse by file, or the reason it
 * could not run. The build goes to a temporary folder, removed after.
 */
function goParseSeconds(root: string, files: string[], ms: number): Map<string, GoResult> | string {
  let go: string;
  try {
    go = goBinary();
  } catch (err) {
    return (err as Error).message;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-goparse-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, GOTOOLCHAIN: 'local' };
    delete env['GOFLAGS'];
    const bin = path.join(tmp, 'goparse');
    const build = spawnSync(go, ['build', '-o', bin, '.'], { cwd: path.join(root, 'bench', 'goparse'), env, encoding: 'utf8' });
    if (build.status !== 0) return `go build in bench/goparse failed (exit ${String(build.status)}): ${build.stderr.trim()}`;
    // 64 MiB of output is far more than one line per profile needs.
    const run = spawnSync(bin, ['-ms', String(ms), ...files], { env: { ...env, GOMAXPROCS: '1' }, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (run.status !== 0) return `goparse failed (exit ${String(run.status)}): ${run.stderr.trim()}`;
    const out = new Map<string, GoResult>();
    for (const line of run.stdout.split('\n').filter((l) => l !== '')) {
      const r = JSON.parse(line) as GoResult;
      out.set(r.file, r);
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const root = repoRoot();
const testdata = path.join(root, 'test', 'testdata');
const rows: Row[] = [];
const files: string[] = [];
let oursSeconds = 0;
let coldSeconds = 0;
let theirsSeconds = 0;
let gunzipSeconds = 0;
let totalRaw = 0;
for (const program of readdirSync(testdata).filter((d) => statSync(path.join(testdata, d)).isDirectory()).sort()) {
  for (const file of readdirSync(path.join(testdata, program)).filter((f) => f.endsWith('.pb.gz')).sort()) {
    files.push(path.join(testdata, program, file));
    const gz = readFileSync(path.join(testdata, program, file));
    const raw = gunzipSync(gz);
    const samples = decodeProfile(raw).sampleCount ?? 0;
    const mb = raw.length / 1e6;
    const [tGunzip, tOurs, tCold, tTheirs] = secondsPerCall(
      [
        () => gunzipSync(gz).length,
        () => decodeProfile(raw, { skipFrame: isRuntimeFrame }).sampleCount ?? 0,
        () => {
          resetNameCache();
          return decodeProfile(raw, { skipFrame: isRuntimeFrame }).sampleCount ?? 0;
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
      goSeconds: undefined,
    });
  }
}

// Go's column: one run over every profile, after the JavaScript rounds.
const goResults = goParseSeconds(root, files, MIN_RUN_MS);
let goSeconds = 0;
if (typeof goResults === 'string') {
  console.log(`Go profile.Parse: not measured: ${goResults}`);
} else {
  rows.forEach((r, i) => {
    const g = goResults.get(files[i]!);
    if (g === undefined) throw new Error(`goparse gave no result for ${files[i]!}`);
    // Both sides read the same inflated bytes; a different count would mean different input.
    if (g.raw_bytes !== r.rawBytes) throw new Error(`goparse read ${g.raw_bytes} bytes of ${r.profile}, we ${r.rawBytes}`);
    r.goSeconds = g.seconds_per_parse;
    goSeconds += g.seconds_per_parse;
  });
}
const haveGo = typeof goResults !== 'string';

const fmt = (n: number, w: number, d = 0) => n.toFixed(d).padStart(w);
const goCol = (seconds: number | undefined, mb: number, w: number) => (seconds === undefined ? '-'.padStart(w) : fmt(mb / seconds, w, 1));
const goRatio = (seconds: number | undefined, ours: number) => (seconds === undefined ? '-'.padStart(6) : `${fmt(seconds / ours, 5, 1)}x`);
console.log(
  `${'profile'.padEnd(34)} ${'gz B'.padStart(7)} ${'raw B'.padStart(7)} ${'samples'.padStart(7)} | MB/s: ` +
    `${'gunzip'.padStart(7)} ${'decodeProfile'.padStart(13)} ${'cold'.padStart(6)} ${'pprof-format'.padStart(12)} ${'Go Parse'.padStart(8)} | ` +
    `decodeProfile vs: ${'p-format'.padStart(8)} ${'cold'.padStart(6)} ${'Go'.padStart(6)} ${'cold'.padStart(6)} | ` +
    `profiles/s/core: ${'decodeProfile'.padStart(13)} ${'pprof-format'.padStart(12)} ${'Go Parse'.padStart(8)}`,
);
for (const r of rows) {
  const mb = r.rawBytes / 1e6;
  console.log(
    `${r.profile.padEnd(34)} ${fmt(r.gzBytes, 7)} ${fmt(r.rawBytes, 7)} ${fmt(r.samples, 7)} |       ` +
      `${fmt(r.gunzipMBs, 7, 1)} ${fmt(r.oursMBs, 13, 1)} ${fmt(r.oursColdMBs, 6, 1)} ${fmt(r.pprofFormatMBs, 12, 1)} ${goCol(r.goSeconds, mb, 8)} | ` +
      `                  ${fmt(r.ratio, 7, 1)}x ${fmt(r.coldRatio, 5, 1)}x ${goRatio(r.goSeconds, mb / r.oursMBs)} ${goRatio(r.goSeconds, mb / r.oursColdMBs)} | ` +
      `                 ${fmt(r.oursPerSec, 13)} ${fmt(r.pprofFormatPerSec, 12)} ${r.goSeconds === undefined ? '-'.padStart(8) : fmt(1 / r.goSeconds, 8)}`,
  );
}
// Aggregate: every profile decoded once, i.e. all bytes over all time (larger profiles weigh more).
const aggregate = {
  gunzipMBs: totalRaw / 1e6 / gunzipSeconds,
  oursMBs: totalRaw / 1e6 / oursSeconds,
  oursColdMBs: totalRaw / 1e6 / coldSeconds,
  pprofFormatMBs: totalRaw / 1e6 / theirsSeconds,
  goMBs: haveGo ? totalRaw / 1e6 / goSeconds : undefined,
};
const geomeanOf = (xs: number[]) => Math.exp(xs.reduce((s, r) => s + Math.log(r), 0) / xs.length);
const ratios = rows.map((r) => r.ratio);
const geomean = geomeanOf(ratios);
const coldRatios = rows.map((r) => r.coldRatio);
const coldGeomean = geomeanOf(coldRatios);
// decodeProfile against Go's Parse, per profile, warm and cold.
const goRatios = haveGo ? rows.map((r) => (r.goSeconds! * r.oursMBs) / (r.rawBytes / 1e6)) : [];
const goColdRatios = haveGo ? rows.map((r) => (r.goSeconds! * r.oursColdMBs) / (r.rawBytes / 1e6)) : [];
// Go's Parse against pprof-format: where a compiled full parse stands beside a JavaScript one.
const goOverPprofFormat = haveGo ? rows.map((r) => (r.rawBytes / 1e6 / r.pprofFormatMBs) / r.goSeconds!) : [];
console.log(
  `${'all profiles once'.padEnd(34)} ${''.padStart(7)} ${fmt(totalRaw, 7)} ${''.padStart(7)} |       ` +
    `${fmt(aggregate.gunzipMBs, 7, 1)} ${fmt(aggregate.oursMBs, 13, 1)} ${fmt(aggregate.oursColdMBs, 6, 1)} ${fmt(aggregate.pprofFormatMBs, 12, 1)} ` +
    `${aggregate.goMBs === undefined ? '-'.padStart(8) : fmt(aggregate.goMBs, 8, 1)} | ` +
    `                  ${fmt(theirsSeconds / oursSeconds, 7, 1)}x ${fmt(theirsSeconds / coldSeconds, 5, 1)}x ` +
    `${haveGo ? `${fmt(goSeconds / oursSeconds, 5, 1)}x ${fmt(goSeconds / coldSeconds, 5, 1)}x` : '     -      -'} | ` +
    `                 ${fmt(rows.length / oursSeconds, 13)} ${fmt(rows.length / theirsSeconds, 12)} ${haveGo ? fmt(rows.length / goSeconds, 8) : '-'.padStart(8)}`,
);
console.log(
  `decodeProfile / pprof-format: min ${Math.min(...ratios).toFixed(1)}x, geometric mean ${geomean.toFixed(1)}x ` +
    `(names cold: min ${Math.min(...coldRatios).toFixed(1)}x, geometric mean ${coldGeomean.toFixed(1)}x); ` +
    `decodeProfile / gunzip time: ${(oursSeconds / gunzipSeconds).toFixed(2)} (cold ${(coldSeconds / gunzipSeconds).toFixed(2)})`,
);
if (haveGo) {
  console.log(
    `decodeProfile / Go profile.Parse: min ${Math.min(...goRatios).toFixed(1)}x, geometric mean ${geomeanOf(goRatios).toFixed(1)}x ` +
      `(names cold: min ${Math.min(...goColdRatios).toFixed(1)}x, geometric mean ${geomeanOf(goColdRatios).toFixed(1)}x); ` +
      `Go profile.Parse / pprof-format: geometric mean ${geomeanOf(goOverPprofFormat).toFixed(1)}x ` +
      `(both full parses; decodeProfile reads only what the metrics need)`,
  );
}
if (sink === -1) console.log(sink);

const round = (n: number) => Math.round(n * 100) / 100;
// The pinned version, read from go.mod so the JSON names what was measured.
const GOOGLE_PPROF_VERSION = /github\.com\/google\/pprof (\S+)/.exec(readFileSync(path.join(root, 'bench', 'goparse', 'go.mod'), 'utf8'))?.[1] ?? 'unknown';
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
    // decodeProfile reads only what the metrics need; pprof-format and Go's Parse build the whole profile.
    decoder_reads: 'only what the metrics need',
    go_parse: haveGo
      ? {
          module: 'github.com/google/pprof ' + GOOGLE_PPROF_VERSION,
          ratio_aggregate: round(goSeconds / oursSeconds),
          ratio_geomean: round(geomeanOf(goRatios)),
          ratio_min: round(Math.min(...goRatios)),
          ratio_aggregate_cold: round(goSeconds / coldSeconds),
          ratio_geomean_cold: round(geomeanOf(goColdRatios)),
          go_over_pprof_format_geomean: round(geomeanOf(goOverPprofFormat)),
        }
      : { error: goResults },
    mbps: {
      decodeProfile: round(aggregate.oursMBs),
      decodeProfile_cold: round(aggregate.oursColdMBs),
      pprof_format: round(aggregate.pprofFormatMBs),
      gunzip: round(aggregate.gunzipMBs),
      go_parse: aggregate.goMBs === undefined ? null : round(aggregate.goMBs),
    },
    ratios: Object.fromEntries(rows.map((r) => [r.profile, round(r.ratio)])),
    ratios_cold: Object.fromEntries(rows.map((r) => [r.profile, round(r.coldRatio)])),
    // Profiles per second per core (single-threaded decode: 1 / seconds per decode).
    profiles_per_second_per_core: Object.fromEntries(
      rows.map((r) => [
        r.profile,
        {
          decodeProfile: Math.round(r.oursPerSec),
          pprof_format: Math.round(r.pprofFormatPerSec),
          go_parse: r.goSeconds === undefined ? null : Math.round(1 / r.goSeconds),
        },
      ]),
    ),
  }),
);
