// The prometheus receiver -> remote write path side by side with Debian's Prometheus in agent mode:
// both scrape the same page of SERIES series every second and remote-write into the same VictoriaMetrics.
// Figure: CPU microseconds (utime + stime from /proc/<pid>/stat) per sample delivered to VictoriaMetrics,
// for each. Prints a table, then one JSON line.
//
//   npm run build && node dist/bench/prometheus-receiver.js [series] [seconds]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startDaemon } from '../test/harness/pprofcol.js';
import { freePort, startVictoriaMetrics, vmFlush } from '../test/harness/servers.js';

const SERIES = Number(process.argv[2] ?? 20_000);
const SECONDS = Number(process.argv[3] ?? 30);
const WARMUP_S = 10;
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
  // pprofcol: the queue sized for 20k samples a second (Prometheus's agent reshards up to 200 shards of 500).
  const daemon = await startDaemon(`
receivers:
  prometheus:
    scrape_configs:
      - {job_name: bench_pprofcol, scrape_interval: 1s, static_configs: [{targets: ["${target}"]}]}
exporters:
  prometheusremotewrite:
    endpoint: ${vm.writeUrl}
    queue_config: {capacity: 200000, max_samples_per_send: 5000, batch_send_deadline: 1s}
service:
  pipelines:
    metrics: {receivers: [prometheus], exporters: [prometheusremotewrite]}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);

  // Prometheus in agent mode (the harness's startPrometheus passes TSDB flags that agent mode refuses).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-agent-'));
  const agentPort = await freePort();
  writeFileSync(
    path.join(dir, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [{ job_name: 'bench_agent', static_configs: [{ targets: [target] }] }],
      remote_write: [{ url: vm.writeUrl }],
    }),
  );
  const agent = spawn(
    '/usr/bin/prometheus',
    [
      '--enable-feature=agent',
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.agent.path=${path.join(dir, 'agent')}`,
      `--web.listen-address=127.0.0.1:${agentPort}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let agentLog = '';
  agent.stderr!.on('data', (c: Buffer) => (agentLog = (agentLog + c.toString()).slice(-4000)));

  try {
    await sleep(WARMUP_S * 1000);
    if (agent.exitCode !== null) throw new Error(`prometheus agent exited: ${agentLog}`);
    const pids = { pprofcol: daemon.child.pid!, agent: agent.pid! };
    const cpu0 = { pprofcol: cpuTicks(pids.pprofcol), agent: cpuTicks(pids.agent) };
    const t0 = Date.now();
    await sleep(SECONDS * 1000);
    const cpu1 = { pprofcol: cpuTicks(pids.pprofcol), agent: cpuTicks(pids.agent) };
    const t1 = Date.now();
    await sleep(5000); // what was scraped before t1 lands
    await vmFlush(vm.url);
    const window = Math.round((t1 - t0) / 1000);
    const delivered = async (job: string) => {
      const r = await vm.query(`sum(count_over_time({job="${job}"}[${window}s] @ ${t1 / 1000}))`);
      return Number(r[0]?.value[1] ?? 0);
    };
    const rows = [
      { name: 'pprofcol (prometheus receiver -> remote write)', key: 'pprofcol' as const, samples: await delivered('bench_pprofcol') },
      { name: 'Prometheus 2.42 agent', key: 'agent' as const, samples: await delivered('bench_agent') },
    ].map((r) => {
      const cpuUs = ((cpu1[r.key] - cpu0[r.key]) / CLK_TCK) * 1e6;
      return { ...r, cpuSeconds: cpuUs / 1e6, usPerSample: cpuUs / r.samples };
    });
    console.log(`${SERIES} series scraped every 1s, ${window}s measured after ${WARMUP_S}s warm-up, into VictoriaMetrics`);
    console.log('scraper                                          samples delivered   CPU s   CPU us/sample');
    for (const r of rows) {
      console.log(`${r.name.padEnd(48)} ${String(r.samples).padStart(17)}  ${r.cpuSeconds.toFixed(2).padStart(6)}  ${r.usPerSample.toFixed(2).padStart(13)}`);
    }
    const [ours, theirs] = rows;
    console.log(`ratio pprofcol / agent: ${(ours.usPerSample / theirs.usPerSample).toFixed(2)}`);
    console.log(
      JSON.stringify({
        bench: 'prometheus-receiver',
        series: SERIES,
        seconds: window,
        pprofcol: { samples: ours.samples, cpu_s: ours.cpuSeconds, us_per_sample: ours.usPerSample },
        prometheus_agent: { samples: theirs.samples, cpu_s: theirs.cpuSeconds, us_per_sample: theirs.usPerSample },
        ratio: ours.usPerSample / theirs.usPerSample,
      }),
    );
  } finally {
    clearInterval(timer);
    agent.kill('SIGTERM');
    await daemon.stop();
    await vm.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
