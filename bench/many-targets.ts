// Many distinct targets, as a user runs pprofcol: a replay of a real Go program's recorded pprof
// responses on N loopback ports (bench/replay/server.ts, its own process, each target's bytes
// varied), the whole daemon (`node dist/bin/pprofcol.js run --config generated.yaml`, defaults:
// pprof -> pprof_metrics -> batch -> prometheusremotewrite) and a real VictoriaMetrics (the test
// harness starts it). Beside it in the same run, the fetch-only baseline (bench/replay/fetch-only.ts:
// the same scrape loops and HTTP client asking for the same sources on the same schedule, nothing
// parsed, derived or exported), and pprofcol's CPU as a ratio to it.
//
// Per case (N, with or without /debug/vars, default profiles or with the breakdown families
// goroutine_functions and allocs) it prints figures and one JSON line:
// - cpu_ms_per_scrape: the daemon's utime+stime (/proc/PID/stat: every thread, the decode workers
//   included) over the measured window, divided by the target-scrapes in it
//   (pprofcol_receiver_scrapes_total); the replay's and VictoriaMetrics' CPU are counted apart.
// - rss_mib (VmRSS at the end), hwm_mib (peak), heap bytes per target and per active series (heapUsed
//   from a preloaded reporter, bench/replay/heap-report.ts; active series counted in VictoriaMetrics).
// - lag p50/p99: actual scrape start minus its slot, from pprofcol_receiver_scrape_lag_seconds
//   (interpolated inside the histogram's buckets: 1, 2.5, 5, 10, 25, 50, 100, 250 ms ...).
// - samples arrived (VictoriaMetrics' vm_rows_inserted_total{type="promremotewrite"}) over produced
//   (what reached the exporter: sent + dropped + queued), both as growth over the measured window
//   (a request in flight at either edge moves the ratio by one batch).
//
// File descriptors: the daemon holds at most one connection per source a target is asked for at once,
// up to HttpScraper's bound of 4 per origin; requests that answer within 50 ms share one keep-alive
// socket (core/scrape/origin-pool.ts), so 1 a target with the default profiles, more only while one of
// its requests is slow; at most 4N + ~50 (exporter, telemetry, workers), measured 3,037 at N = 3,000
// with defaults and 3,865 with the breakdowns. The replay holds
// as many plus N listening sockets. `ulimit -n` must exceed that (20,000 on this machine).
//
//   npm run build && node dist/bench/many-targets.js
// env: MT_CASES (default "300:vars:default,300:novars:default,300:vars:breakdown,3000:vars:default,
//      3000:novars:default,3000:vars:breakdown"), MT_INTERVAL_S (default 5 at N <= 300, else 15),
//      MT_WARMUP_S (default interval + 5), MT_SECONDS (measured window, default 2 intervals),
//      MT_PROGRAM (goprog), MT_CPU_PROF (a folder: the daemon runs with --cpu-prof there),
//      MT_BASELINE=0 skips the fetch-only baseline;
//      MT_AB_DIST (another build's dist folder, e.g. a clone of an older commit): its daemon runs beside
//      this one over the same window, scraping the same replay targets under job `<job>_ab`, and both
//      CPU figures are printed with their ratio. Two runs minutes apart differ by 15-30% on a shared
//      machine; two daemons side by side see the same load, so their ratio is what a change is judged by
//      (run it with MT_AB_DIST set to this build's own dist to see the method's own spread; MT_CPU_PROF
//      profiles this build's daemon alone, so leave it unset for an A/B).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitLine, stopChild, waitUp } from './replay/child.js';
import { freePort, repoRoot, startVictoriaMetrics } from '../test/harness/servers.js';

interface Case {
  n: number;
  vars: boolean;
  profiles: 'default' | 'breakdown';
}

const CASES: Case[] = (process.env.MT_CASES ?? '300:vars:default,300:novars:default,300:vars:breakdown,3000:vars:default,3000:novars:default,3000:vars:breakdown')
  .split(',')
  .map((c) => {
    const [n, vars, profiles] = c.split(':');
    return { n: Number(n), vars: vars === 'vars', profiles: profiles === 'breakdown' ? 'breakdown' : 'default' };
  });
const PROGRAM = process.env.MT_PROGRAM ?? 'goprog';
const ROOT = repoRoot();
const DIST = path.join(ROOT, 'dist');
const TICK = 100; // CLK_TCK on Linux

/** utime + stime of a process (all its threads), in ms. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

function fdCount(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

async function text(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}

/** Sum of a metric's samples whose line matches `filter` (exposition text). */
function sumMetric(exposition: string, name: string, filter = ''): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (filter !== '' && !line.includes(filter)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Cumulative bucket counts of pprofcol_receiver_scrape_lag_seconds, by `le`. */
function lagBuckets(exposition: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of exposition.split('\n')) {
    if (!line.startsWith('pprofcol_receiver_scrape_lag_seconds_bucket')) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const key = le === '+Inf' ? Infinity : Number(le);
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

/** The q-quantile of the observations between two bucket snapshots, interpolated inside its bucket (ms). */
function quantileMs(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const edges = [...after.keys()].sort((a, b) => a - b);
  const counts = edges.map((e) => (after.get(e) ?? 0) - (before.get(e) ?? 0));
  const total = counts[counts.length - 1];
  if (!(total > 0)) return NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < edges.length; i++) {
    if (counts[i] >= rank) {
      const upper = edges[i] === Infinity ? lower * 2 : edges[i];
      const inBucket = counts[i] - below;
      return 1000 * (lower + (upper - lower) * (inBucket === 0 ? 1 : (rank - below) / inBucket));
    }
    lower = edges[i];
    below = counts[i];
  }
  return NaN;
}

function configYaml(job: string, c: Case, ports: number[], intervalS: number, vmWrite: string, telemetryPort: number): string {
  const profiles = c.profiles === 'breakdown' ? '[goroutine, threadcreate, heap, goroutine_functions, allocs]' : '[goroutine, threadcreate, heap]';
  return [
    'receivers:',
    '  pprof:',
    '    scrape_configs:',
    `      - job_name: ${job}`,
    `        scrape_interval: ${intervalS}s`,
    `        profiles: ${profiles}`,
    '        static_configs:',
    '          - targets:',
    ...ports.map((p) => `              - 127.0.0.1:${p}`),
    'processors:',
    '  pprof_metrics: {}',
    '  batch: {}',
    'exporters:',
    '  prometheusremotewrite:',
    `    endpoint: ${vmWrite}`,
    'service:',
    '  pipelines:',
    '    metrics:',
    '      receivers: [pprof]',
    '      processors: [pprof_metrics, batch]',
    '      exporters: [prometheusremotewrite]',
    '  telemetry:',
    '    http:',
    `      listen: 127.0.0.1:${telemetryPort}`,
    '    logs: {level: warn}',
    '',
  ].join('\n');
}

interface Daemon {
  proc: ChildProcess;
  telemetry: string;
}

/**
 * `pprofcol run` of the build in `dist` on `configFile`, with the heap reporter preloaded (writing to
 * `heapFile`), stderr to `logFile`. Every daemon of a case starts this way, so two builds side by side
 * differ in the build alone.
 */
function startDaemon(dist: string, configFile: string, telemetryPort: number, heapFile: string, logFile: string, extraNodeArgs: string[]): Daemon {
  const proc = spawn(process.execPath, ['--import', `file://${path.join(DIST, 'bench', 'replay', 'heap-report.js')}`, ...extraNodeArgs, path.join(dist, 'bin', 'pprofcol.js'), 'run', '--config', configFile], {
    stdio: ['ignore', 'ignore', fs.openSync(logFile, 'w')],
    env: { ...process.env, PPROFCOL_BENCH_HEAP_FILE: heapFile },
  });
  return { proc, telemetry: `http://127.0.0.1:${telemetryPort}/metrics` };
}


async function vmRows(vmUrl: string): Promise<number> {
  return sumMetric(await text(`${vmUrl}/metrics`), 'vm_rows_inserted_total', 'type="promremotewrite"');
}

async function vmQuery(vmUrl: string, expr: string): Promise<number> {
  await fetch(`${vmUrl}/internal/force_flush`).then((r) => r.arrayBuffer());
  const res = (await (await fetch(`${vmUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
  return Number(res.data.result[0]?.value[1] ?? NaN);
}

async function runCase(c: Case, vm: { url: string; writeUrl: string; pid: number }, index: number): Promise<Record<string, unknown>> {
  const intervalS = Number(process.env.MT_INTERVAL_S ?? (c.n <= 300 ? 5 : 15));
  const warmupS = Number(process.env.MT_WARMUP_S ?? intervalS + 5);
  const seconds = Number(process.env.MT_SECONDS ?? intervalS * 2);
  const job = `mt${index}_${c.n}_${c.vars ? 'vars' : 'novars'}_${c.profiles}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pprofcol-mt-'));

  const replay = spawn(process.execPath, [path.join(DIST, 'bench', 'replay', 'server.js'), path.join(ROOT, 'test', 'testdata', PROGRAM), String(c.n), c.vars ? '1' : '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const { ports } = JSON.parse(await waitLine(replay, 'replay server', 120_000)) as { ports: number[] };
  const telemetryPort = await freePort();
  const configFile = path.join(dir, 'generated.yaml');
  fs.writeFileSync(configFile, configYaml(job, c, ports, intervalS, vm.writeUrl, telemetryPort));

  const abDist = process.env.MT_AB_DIST;
  let other: Daemon | undefined;
  try {
    // --- pprofcol, as a user runs it (plus the heap reporter, preloaded).
    const heapFile = path.join(dir, 'heap.json');
    const cpuProf = process.env.MT_CPU_PROF;
    const cpuProfArgs = cpuProf !== undefined && cpuProf !== '' ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`, `--cpu-prof-name=${job}.cpuprofile`] : [];
    const { proc: daemon, telemetry } = startDaemon(DIST, configFile, telemetryPort, heapFile, path.join(dir, 'daemon.log'), cpuProfArgs);
    // The side-by-side build (MT_AB_DIST): same targets, its own job and telemetry port.
    if (abDist !== undefined && abDist !== '') {
      const port = await freePort();
      const file = path.join(dir, 'generated-ab.yaml');
      fs.writeFileSync(file, configYaml(`${job}_ab`, c, ports, intervalS, vm.writeUrl, port));
      other = startDaemon(abDist, file, port, path.join(dir, 'heap-ab.json'), path.join(dir, 'daemon-ab.log'), []);
    }
    await waitUp(telemetry, daemon, path.join(dir, 'daemon.log'));
    if (other !== undefined) await waitUp(other.telemetry, other.proc, path.join(dir, 'daemon-ab.log'));
    await sleep(warmupS * 1000);
    const m0 = await text(telemetry);
    const abM0 = other === undefined ? '' : await text(other.telemetry);
    const rows0 = await vmRows(vm.url);
    const t0 = performance.now();
    const abCpu0 = other === undefined ? 0 : cpuMs(other.proc.pid!);
    const cpu0 = cpuMs(daemon.pid!);
    const replay0 = cpuMs(replay.pid!);
    const vm0 = cpuMs(vm.pid);
    await sleep(seconds * 1000);
    const m1 = await text(telemetry);
    const wallS = (performance.now() - t0) / 1000;
    const cpu = cpuMs(daemon.pid!) - cpu0;
    const abCpu = other === undefined ? 0 : cpuMs(other.proc.pid!) - abCpu0;
    const abM1 = other === undefined ? '' : await text(other.telemetry);
    const replayCpu = cpuMs(replay.pid!) - replay0;
    const vmCpu = cpuMs(vm.pid) - vm0;
    const rows = (await vmRows(vm.url)) - rows0;
    const rssKb = statusKb(daemon.pid!, 'VmRSS');
    const hwmKb = statusKb(daemon.pid!, 'VmHWM');
    const fds = fdCount(daemon.pid!);
    const heap = JSON.parse(fs.readFileSync(heapFile, 'utf8')) as { heapUsed: number; external: number };
    const scrapes = sumMetric(m1, 'pprofcol_receiver_scrapes_total') - sumMetric(m0, 'pprofcol_receiver_scrapes_total');
    const failures = sumMetric(m1, 'pprofcol_receiver_scrapes_total', 'result="failure"');
    const handed = (m: string): number =>
      sumMetric(m, 'pprofcol_exporter_samples_sent_total') + sumMetric(m, 'pprofcol_exporter_samples_dropped_total') + sumMetric(m, 'pprofcol_exporter_queue_samples');
    // With a side-by-side daemon, VictoriaMetrics' rows hold both's samples.
    const produced = handed(m1) - handed(m0) + (other === undefined ? 0 : handed(abM1) - handed(abM0));
    const abScrapes = other === undefined ? 0 : sumMetric(abM1, 'pprofcol_receiver_scrapes_total') - sumMetric(abM0, 'pprofcol_receiver_scrapes_total');
    const abCpuPerScrape = abCpu / abScrapes;
    if (other !== undefined) await stopChild(other.proc);
    const lagBefore = lagBuckets(m0);
    const lagAfter = lagBuckets(m1);
    await stopChild(daemon);
    const series = await vmQuery(vm.url, `count(last_over_time({job="${job}"}[10m]))`);

    // --- the fetch-only baseline, same targets, same schedule, after the daemon stopped.
    let baseline: { cpuMsPerScrape: number; scrapes: number } | undefined;
    if (process.env.MT_BASELINE !== '0') {
      const fetcher = spawn(process.execPath, [path.join(DIST, 'bench', 'replay', 'fetch-only.js'), configFile], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, REPLAY_VARS: c.vars ? '1' : '0' },
      });
      let last = 0;
      fetcher.stdout!.on('data', (d: Buffer) => {
        const lines = d.toString().trim().split('\n');
        last = (JSON.parse(lines[lines.length - 1]) as { scrapes: number }).scrapes;
      });
      await sleep(warmupS * 1000);
      const s0 = last;
      const f0 = cpuMs(fetcher.pid!);
      await sleep(seconds * 1000);
      const fCpu = cpuMs(fetcher.pid!) - f0;
      const fScrapes = last - s0;
      await stopChild(fetcher);
      baseline = { cpuMsPerScrape: fCpu / fScrapes, scrapes: fScrapes };
    }

    const cpuPerScrape = cpu / scrapes;
    const result = {
      bench: 'many-targets',
      program: PROGRAM,
      targets: c.n,
      debug_vars: c.vars,
      profiles: c.profiles,
      interval_s: intervalS,
      window_s: Number(wallS.toFixed(1)),
      target_scrapes: scrapes,
      failed_scrapes_total: failures,
      cpu_ms_per_scrape: Number(cpuPerScrape.toFixed(3)),
      fetch_only_cpu_ms_per_scrape: baseline === undefined ? null : Number(baseline.cpuMsPerScrape.toFixed(3)),
      ratio_to_fetch_only: baseline === undefined ? null : Number((cpuPerScrape / baseline.cpuMsPerScrape).toFixed(2)),
      daemon_cores: Number((cpu / 1000 / wallS).toFixed(2)),
      replay_cores: Number((replayCpu / 1000 / wallS).toFixed(2)),
      vm_cores: Number((vmCpu / 1000 / wallS).toFixed(2)),
      targets_per_core_at_15s: Math.floor(15_000 / cpuPerScrape),
      rss_mib: Math.round(rssKb / 1024),
      hwm_mib: Math.round(hwmKb / 1024),
      heap_used_mib: Math.round(heap.heapUsed / 1024 ** 2),
      heap_bytes_per_target: Math.round(heap.heapUsed / c.n),
      active_series: series,
      heap_bytes_per_series: Math.round(heap.heapUsed / series),
      lag_p50_ms: Number(quantileMs(lagBefore, lagAfter, 0.5).toFixed(1)),
      lag_p99_ms: Number(quantileMs(lagBefore, lagAfter, 0.99).toFixed(1)),
      samples_produced: produced,
      samples_arrived: rows,
      arrived_over_produced: Number((rows / produced).toFixed(4)),
      daemon_fds: fds,
      ...(other === undefined
        ? {}
        : { ab_dist: abDist, ab_cpu_ms_per_scrape: Number(abCpuPerScrape.toFixed(3)), ab_target_scrapes: abScrapes, ratio_to_ab: Number((cpuPerScrape / abCpuPerScrape).toFixed(3)) }),
    };
    console.log(
      `N=${c.n} vars=${c.vars} ${c.profiles}: ${result.cpu_ms_per_scrape} ms CPU/target-scrape (fetch only ${result.fetch_only_cpu_ms_per_scrape}, x${result.ratio_to_fetch_only}), ` +
        `RSS ${result.rss_mib} MiB (peak ${result.hwm_mib}), heap ${result.heap_bytes_per_target} B/target ${result.heap_bytes_per_series} B/series, ` +
        `lag p50 ${result.lag_p50_ms} ms p99 ${result.lag_p99_ms} ms, arrived/produced ${result.arrived_over_produced}, fds ${fds}`,
    );
    if (other !== undefined) console.log(`side by side with ${abDist}: ${result.ab_cpu_ms_per_scrape} ms CPU/target-scrape; this build / that one = ${result.ratio_to_ab}`);
    console.log(JSON.stringify(result));
    return result;
  } finally {
    if (other !== undefined) await stopChild(other.proc);
    await stopChild(replay);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const vm = await startVictoriaMetrics();
  try {
    for (let i = 0; i < CASES.length; i++) await runCase(CASES[i], vm, i);
  } finally {
    await vm.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
