// The prometheus receiver -> remote write path side by side with Debian's Prometheus in agent mode,
// each at its own defaults: both scrape the same page of SERIES series every second and remote-write
// into the same VictoriaMetrics. pprofcol runs twice, with the memory buffer (its default) and with
// `buffer.type: disk` (the like-for-like to the agent's WAL). The three run one at a time, alternated
// ROUNDS times in one run, so that the machine's drift hits each alike; the median of each is compared.
// Figure: CPU microseconds (utime + stime from /proc/<pid>/stat, every thread) per sample delivered to
// VictoriaMetrics, and samples delivered / samples scraped (1.00: nothing dropped). Prints a table, then
// one JSON line.
//
//   npm run build && node dist/bench/prometheus-receiver.js [series] [seconds] [rounds]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startDaemon } from '../test/harness/pprofcol.js';
import { freePort, startVictoriaMetrics, vmFlush } from '../test/harness/servers.js';

const SERIES = Number(process.argv[2] ?? 20_000);
const SECONDS = Number(process.argv[3] ?? 20);
const ROUNDS = Number(process.argv[4] ?? 3);
const WARMUP_S = 5;
/** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK; 100 on every Linux we run on). */
const CLK_TCK = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A page like a busy service's: 200 counter families x (SERIES / 200) series of two labels, with HELP and TYPE. */
function page(tick: number): string {
  const families = 200;
  const per = Math.ceil(SERIES / families);
  const out: string[] = [];
  for (let f = 0; f < families; f++) {
    const name = `app_requests_${f}_total`;
    out.push(`# HELP ${name} Requests handled by handler ${f}.`, `# TYPE ${name} counter`);
    for (let s = 0; s < per && f * per + s < SERIES; s++) {
      out.push(`${name}{path="/api/v1/items/${s}",code="${200 + (s % 5)}"} ${tick * 3 + s}`);
    }
  }
  return out.join('\n') + '\n';
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

type Contender = 'pprofcol' | 'pprofcol_disk' | 'agent';

interface Running {
  pid: number;
  stop(): Promise<void>;
}

async function startPprofcol(target: string, writeUrl: string, job: string, disk: boolean): Promise<Running> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-bench-wal-'));
  const buffer = disk ? `\n    buffer: {type: disk, directory: ${JSON.stringify(dir)}}` : '';
  const daemon = await startDaemon(`
receivers:
  prometheus:
    scrape_configs:
      - {job_name: ${job}, scrape_interval: 1s, static_configs: [{targets: ["${target}"]}]}
exporters:
  prometheusremotewrite:
    endpoint: ${writeUrl}${buffer}
service:
  pipelines:
    metrics: {receivers: [prometheus], exporters: [prometheusremotewrite]}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
  return {
    pid: daemon.child.pid!,
    stop: async () => {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Prometheus in agent mode at its defaults (the harness's startPrometheus passes TSDB flags that agent mode refuses). */
async function startAgent(target: string, writeUrl: string, job: string): Promise<Running> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-agent-'));
  const agentPort = await freePort();
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [{ job_name: job, static_configs: [{ targets: [target] }] }],
      remote_write: [{ url: writeUrl }],
    }),
  );
  const agent: ChildProcess = spawn(
    '/usr/bin/prometheus',
    ['--enable-feature=agent', `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.agent.path=${path.join(dir, 'agent')}`, `--web.listen-address=127.0.0.1:${agentPort}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  agent.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  await sleep(500);
  if (agent.exitCode !== null) throw new Error(`prometheus agent exited: ${log}`);
  return {
    pid: agent.pid!,
    stop: async () => {
      const exited = new Promise((r) => agent.once('close', r));
      agent.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  // The page server: values change every second, as a live service's would.
  let tick = 0;
  let body = page(0);
  const timer = setInterval(() => {
    body = page(++tick);
  }, 1000);
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const vm = await startVictoriaMetrics();
  const rows: Array<{ who: Contender; round: number; samples: number; scraped: number; cpuS: number; usPerSample: number; delivered: number }> = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const who of ['pprofcol', 'agent', 'pprofcol_disk'] as Contender[]) {
        const job = `bench_${who}_${round}`;
        const run = who === 'agent' ? await startAgent(target, vm.writeUrl, job) : await startPprofcol(target, vm.writeUrl, job, who === 'pprofcol_disk');
        await sleep(WARMUP_S * 1000);
        const cpu0 = cpuTicks(run.pid);
        const t0 = Date.now();
        await sleep(SECONDS * 1000);
        const cpu1 = cpuTicks(run.pid);
        const t1 = Date.now();
        await sleep(3000); // what was scraped before t1 lands
        await run.stop();
        await vmFlush(vm.url);
        const window = (t1 - t0) / 1000;
        const samples = Number((await vm.query(`sum(count_over_time({job="${job}"}[${Math.round(window)}s] @ ${t1 / 1000}))`))[0]?.value[1] ?? 0);
        // Scraped in the window: one page (SERIES series, plus the scraper's own up/scrape_* series) a second.
        const scraped = Math.round(window) * SERIES;
        const cpuS = (cpu1 - cpu0) / CLK_TCK;
        const delivered = Number((await vm.query(`sum(count_over_time({job="${job}",__name__=~"app_requests_.*"}[${Math.round(window)}s] @ ${t1 / 1000}))`))[0]?.value[1] ?? 0);
        rows.push({ who, round, samples, scraped, cpuS, usPerSample: (cpuS * 1e6) / samples, delivered: delivered / scraped });
        const r = rows[rows.length - 1];
        console.log(`round ${round} ${who.padEnd(14)} samples ${String(samples).padStart(8)}  delivered/scraped ${r.delivered.toFixed(3)}  CPU ${cpuS.toFixed(2)} s  ${r.usPerSample.toFixed(2)} us/sample`);
      }
    }
  } finally {
    clearInterval(timer);
    await vm.stop();
    server.close();
  }
  const med = (who: Contender, key: 'usPerSample' | 'delivered') => median(rows.filter((r) => r.who === who).map((r) => r[key]));
  console.log(`\n${SERIES} series scraped every 1s, ${SECONDS}s measured after ${WARMUP_S}s warm-up, ${ROUNDS} rounds, into VictoriaMetrics; medians:`);
  console.log('scraper (its own defaults)                       CPU us/sample   delivered/scraped');
  const names: Record<Contender, string> = { pprofcol: 'pprofcol (memory buffer)', pprofcol_disk: 'pprofcol (buffer.type: disk)', agent: 'Prometheus 2.42 agent' };
  for (const who of ['pprofcol', 'pprofcol_disk', 'agent'] as Contender[]) {
    console.log(`${names[who].padEnd(48)} ${med(who, 'usPerSample').toFixed(2).padStart(13)}   ${med(who, 'delivered').toFixed(3).padStart(17)}`);
  }
  const ratio = med('pprofcol', 'usPerSample') / med('agent', 'usPerSample');
  const ratioDisk = med('pprofcol_disk', 'usPerSample') / med('agent', 'usPerSample');
  console.log(`median ratio pprofcol / agent: ${ratio.toFixed(2)}; with the disk buffer: ${ratioDisk.toFixed(2)}`);
  console.log(
    JSON.stringify({
      bench: 'prometheus-receiver',
      series: SERIES,
      seconds: SECONDS,
      rounds: ROUNDS,
      pprofcol: { us_per_sample: med('pprofcol', 'usPerSample'), delivered: med('pprofcol', 'delivered') },
      pprofcol_disk: { us_per_sample: med('pprofcol_disk', 'usPerSample'), delivered: med('pprofcol_disk', 'delivered') },
      prometheus_agent: { us_per_sample: med('agent', 'usPerSample'), delivered: med('agent', 'delivered') },
      ratio,
      ratio_disk: ratioDisk,
    }),
  );
}

await main();
