// CPU cost of one scrape-derive-encode of one target, on profiles recorded from real Go programs,
// and the targets per core that leaves at a 15s interval. The target is a separate process serving
// the recorded files (index page, /debug/vars where the program had it, debug=1 texts, protos), so
// this process's CPU time is pprofcol's alone. Side by side in the same process: the fetch alone
// (the same HTTP requests, bodies discarded).
//
// Rows: the default families with every family due (the most a single scrape costs), the default
// schedule averaged over a minute (counts every 15s, memstats every 1m), and every family at once.
//
//   npm run build && node dist/bench/scrape-pipeline.js [prometheus-2.42|goprog] [seconds]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { WriteRequestEncoder } from '../core/remotewrite/index.js';
import type { Point } from '../core/model/metrics.js';
import type { ProfileFamily } from '../core/model/profiles.js';
import { HttpScraper } from '../core/scrape/http.js';
import { makeTarget } from '../core/scrape/targets.js';
import { MetricsDeriver } from '../processors/pprof_metrics/derive.js';
import { DEFAULT_PROFILE_INTERVALS_MS } from '../receivers/pprof/config.js';
import { scrapeTarget, sourcePath, TargetSourceState, type ScrapeSettings } from '../receivers/pprof/scrape.js';
import { repoRoot } from '../test/harness/servers.js';

const PROGRAM = process.argv[2] ?? 'goprog';
const SECONDS = Number(process.argv[3] ?? 3);
const INTERVAL_MS = 15_000;

// A static file server in a child process: request path -> recorded file; 404 for what the program lacked.
const SERVER = `
const http = require('node:http'); const fs = require('node:fs'); const path = require('node:path');
const dir = process.argv[1];
const routes = {
  '/debug/pprof/': 'index.html', '/debug/vars': 'vars.json',
  '/debug/pprof/goroutine?debug=1': 'goroutine.debug1.txt', '/debug/pprof/goroutine?debug=2': 'goroutine.debug2.txt',
  '/debug/pprof/threadcreate?debug=1': 'threadcreate.debug1.txt', '/debug/pprof/heap?debug=1': 'heap.debug1.txt',
  '/debug/pprof/heap': 'heap.pb.gz', '/debug/pprof/allocs': 'allocs.pb.gz', '/debug/pprof/mutex': 'mutex.pb.gz', '/debug/pprof/block': 'block.pb.gz',
};
const bodies = {};
for (const [route, file] of Object.entries(routes)) { try { bodies[route] = fs.readFileSync(path.join(dir, file)); } catch {} }
http.createServer((req, res) => {
  const body = bodies[req.url];
  if (!body) { res.writeHead(404).end('404 page not found'); return; }
  res.writeHead(200).end(body);
}).listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });
`;

async function startServer(): Promise<{ address: string; stop(): void }> {
  const dir = path.join(repoRoot(), 'test', 'testdata', PROGRAM);
  const child = spawn(process.execPath, ['-e', SERVER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return { address: `127.0.0.1:${port}`, stop: () => child.kill() };
}

interface Figures {
  iterations: number;
  cpuUsPerScrape: number;
  points: number;
}

async function measure(run: () => Promise<number>): Promise<Figures> {
  for (let i = 0; i < 50; i++) await run(); // warm-up: JIT, keep-alive connections
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let iterations = 0;
  let points = 0;
  while (performance.now() - wall0 < SECONDS * 1000) {
    points += await run();
    iterations++;
  }
  const cpu = process.cpuUsage(cpu0);
  return { iterations, cpuUsPerScrape: (cpu.user + cpu.system) / iterations, points: points / iterations };
}

async function main(): Promise<void> {
  const server = await startServer();
  const http = new HttpScraper({}, process.cwd());
  const target = makeTarget('bench', 'http', server.address, { env: 'bench' });
  const base = { pathPrefix: '/debug/pprof', timeoutMs: 10_000, bodySizeLimit: 64 * 1024 ** 2, scrapeIntervalMs: INTERVAL_MS };
  const encoder = new WriteRequestEncoder();

  /** One pipeline pass: scrape (sources chosen as the receiver does), derive, encode and compress as the exporter does. */
  const pipeline = (settings: ScrapeSettings, clock: () => number) => {
    const state = new TargetSourceState();
    const deriver = new MetricsDeriver();
    return async (): Promise<number> => {
      const scrape = await scrapeTarget(http, target, settings, clock(), undefined, state);
      const out: Point[] = [];
      deriver.derive(scrape, out);
      encoder.encodeCompressed(out, [...new Set(out.map((p) => p.family))]);
      return out.length;
    };
  };
  const everyScrape = (families: ProfileFamily[]): ScrapeSettings => ({ ...base, profiles: families, intervalMs: () => 0 });
  const defaults: ScrapeSettings = { ...base, profiles: ['goroutine', 'threadcreate', 'heap'], intervalMs: (f) => DEFAULT_PROFILE_INTERVALS_MS[f] };
  const all: ProfileFamily[] = ['goroutine', 'threadcreate', 'heap', 'goroutine_functions', 'allocs', 'mutex', 'block'];

  // A fake clock 15s further on every call walks the default schedule: 1 scrape in 4 fetches memstats.
  let fakeNow = Date.now();
  const stepping = () => (fakeNow += INTERVAL_MS);
  const wall = () => Date.now();

  const rows: Array<[string, Figures, Figures]> = [];
  for (const [label, settings, clock] of [
    ['defaults, every family due', everyScrape(['goroutine', 'threadcreate', 'heap']), wall],
    ['defaults, schedule averaged', defaults, stepping],
    ['all families but cpu', everyScrape(all), wall],
  ] as Array<[string, ScrapeSettings, () => number]>) {
    const full = await measure(pipeline(settings, clock));
    // Baseline: the same requests with nothing parsed, derived or encoded.
    const requests = await collectRequests(settings, clock === stepping ? 4 : 1);
    const fetch = await measure(async () => {
      const batch = requests[Math.floor(Math.random() * requests.length)];
      await Promise.all(batch.map((p) => http.get(`http://${server.address}${p}`, { timeoutMs: 10_000, limitBytes: base.bodySizeLimit })));
      return 0;
    });
    rows.push([label, full, fetch]);
  }

  /** The request paths of `n` consecutive scrapes under `settings` (walking a 15s clock). */
  async function collectRequests(settings: ScrapeSettings, n: number): Promise<string[][]> {
    const state = new TargetSourceState();
    let t = Date.now();
    const out: string[][] = [];
    for (let i = 0; i < n; i++) {
      const paths: string[] = [];
      await scrapeTarget(http, target, { ...settings, onRequest: (s) => paths.push(sourcePath(s, settings)) }, (t += INTERVAL_MS), undefined, state);
      // Keep only the sources that answered (a 404'd expvar is asked once per 10 minutes, not every scrape).
      out.push(paths.filter((p) => !(p === '/debug/vars' && PROGRAM !== 'goprog')));
    }
    return out;
  }

  await http.close();
  server.stop();

  console.log(`profiles recorded from ${PROGRAM}; CPU of pprofcol per scrape of one target`);
  console.log(`${'scrape'.padEnd(32)}${'points'.padStart(8)}${'fetch only us'.padStart(15)}${'full us'.padStart(10)}${'ratio'.padStart(8)}${'targets/core@15s'.padStart(18)}`);
  const json: Record<string, number | string> = { bench: 'scrape-pipeline', program: PROGRAM };
  for (const [label, full, fetch] of rows) {
    const perCore = Math.floor((INTERVAL_MS * 1000) / full.cpuUsPerScrape);
    console.log(`${label.padEnd(32)}${full.points.toFixed(0).padStart(8)}${fetch.cpuUsPerScrape.toFixed(0).padStart(15)}${full.cpuUsPerScrape.toFixed(0).padStart(10)}${(full.cpuUsPerScrape / fetch.cpuUsPerScrape).toFixed(2).padStart(8)}${String(perCore).padStart(18)}`);
    const key = label.replace(/[^a-z]+/g, '_');
    json[`${key}_full_cpu_us`] = Math.round(full.cpuUsPerScrape);
    json[`${key}_fetch_cpu_us`] = Math.round(fetch.cpuUsPerScrape);
    json[`${key}_targets_per_core_at_15s`] = perCore;
  }
  console.log(JSON.stringify(json));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
