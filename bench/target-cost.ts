// What a scrape costs the target. Starts real Go targets (our test program with 1000 parked goroutines,
// and Debian's Prometheus 2.42), sends each endpoint many requests in a row, and reads the target's own
// CPU time (utime + stime from /proc/<pid>/stat) before and after, minus what it burns idle over the
// same wall time. Then the target CPU per scrape interval of pprofcol's default scrape, averaged over
// time given each source's interval, beside one /metrics scrape per interval.
//
//   node dist/bench/target-cost.js [requests per endpoint, default 300]
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { DEFAULT_PROFILE_INTERVALS_MS } from '../receivers/pprof/config.js';
import { startGoProgram, startPrometheus, type ManagedServer } from '../test/harness/servers.js';

const REQUESTS = Number(process.argv[2] ?? 300);
const SCRAPE_INTERVAL_S = 15;
const TICKS_PER_SECOND = 100; // Linux USER_HZ: /proc/<pid>/stat counts in 1/100 s

function cpuSeconds(pid: number): number {
  // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const agent = new Agent({ keepAliveTimeout: 60_000, connections: 1 });

async function get(url: string): Promise<number> {
  const res = await request(url, { dispatcher: agent, headers: { 'accept-encoding': 'gzip' } });
  const body = await res.body.arrayBuffer();
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
  return body.byteLength;
}

/** Target CPU ms per request of one endpoint, idle burn subtracted. */
async function costPerRequest(server: ManagedServer, path: string): Promise<{ ms: number; bytes: number }> {
  const url = `${server.url}${path}`;
  let bytes = 0;
  for (let i = 0; i < 5; i++) bytes = await get(url); // warm: connection, lazily built tables
  const c0 = cpuSeconds(server.pid);
  const t0 = performance.now();
  for (let i = 0; i < REQUESTS; i++) await get(url);
  const wall = (performance.now() - t0) / 1000;
  const busy = cpuSeconds(server.pid) - c0;
  // Idle burn over the same wall time (GC, timers, Prometheus's own loops).
  const i0 = cpuSeconds(server.pid);
  await new Promise((r) => setTimeout(r, Math.min(wall, 5) * 1000));
  const idle = ((cpuSeconds(server.pid) - i0) / Math.min(wall, 5)) * wall;
  return { ms: (Math.max(0, busy - idle) / REQUESTS) * 1000, bytes };
}

interface Row {
  target: string;
  endpoint: string;
  ms: number;
  bytes: number;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const go = await startGoProgram('goroutines', ['-goroutines', '1000']);
  const prom = await startPrometheus();
  const endpoints: Array<[string, string, ManagedServer[]]> = [
    ['/metrics', '/metrics', [prom]],
    ['index', '/debug/pprof/', [go, prom]],
    ['/debug/vars', '/debug/vars', [go]],
    ['goroutine?debug=1', '/debug/pprof/goroutine?debug=1', [go, prom]],
    ['goroutine?debug=2', '/debug/pprof/goroutine?debug=2', [go, prom]],
    ['heap?debug=1', '/debug/pprof/heap?debug=1', [go, prom]],
    ['heap (proto)', '/debug/pprof/heap', [go, prom]],
    ['mutex (proto)', '/debug/pprof/mutex', [go, prom]],
    ['block (proto)', '/debug/pprof/block', [go, prom]],
  ];
  try {
    for (const [name, path, servers] of endpoints) {
      for (const server of servers) {
        const { ms, bytes } = await costPerRequest(server, path);
        rows.push({ target: server === go ? 'goprog' : 'prometheus', endpoint: name, ms, bytes });
      }
    }
  } finally {
    await agent.close();
    await go.stop();
    await prom.stop();
  }
  const cost = (target: string, endpoint: string) => rows.find((r) => r.target === target && r.endpoint === endpoint)?.ms;

  console.log(`target CPU per request (${REQUESTS} requests each, idle burn subtracted)`);
  console.log(`${'target'.padEnd(12)}${'endpoint'.padEnd(20)}${'CPU ms/req'.padStart(12)}${'bytes'.padStart(10)}`);
  for (const r of rows) console.log(`${r.target.padEnd(12)}${r.endpoint.padEnd(20)}${r.ms.toFixed(3).padStart(12)}${String(r.bytes).padStart(10)}`);

  // Default scrape: goroutine + threadcreate from the index page every interval; heap (memstats) from
  // /debug/vars where served, else heap?debug=1, every profile_intervals.heap.
  const heapShare = SCRAPE_INTERVAL_S / Math.max(SCRAPE_INTERVAL_S, DEFAULT_PROFILE_INTERVALS_MS.heap / 1000);
  const perInterval: Record<string, { pprofcol: number; metrics: number | undefined; memstatsSource: string }> = {};
  for (const target of ['goprog', 'prometheus']) {
    const memstatsSource = cost(target, '/debug/vars') !== undefined ? '/debug/vars' : 'heap?debug=1';
    const pprofcol = cost(target, 'index')! + heapShare * cost(target, memstatsSource)!;
    perInterval[target] = { pprofcol, metrics: cost(target, '/metrics'), memstatsSource };
  }
  // Every family on at its default interval (cpu aside: its cost is the profiler's, during windows).
  const allShare = (target: string) =>
    cost(target, 'index')! +
    heapShare * ((cost(target, '/debug/vars') ?? cost(target, 'heap?debug=1')!) + cost(target, 'goroutine?debug=1')! + cost(target, 'goroutine?debug=2')! + cost(target, 'heap (proto)')! + cost(target, 'mutex (proto)')! + cost(target, 'block (proto)')!);
  console.log(`\ntarget CPU per ${SCRAPE_INTERVAL_S}s interval, averaged over time (heap every ${DEFAULT_PROFILE_INTERVALS_MS.heap / 1000}s)`);
  for (const [target, v] of Object.entries(perInterval)) {
    console.log(
      `${target.padEnd(12)}pprofcol default ${v.pprofcol.toFixed(3)} ms (index + ${heapShare.toFixed(2)} x ${v.memstatsSource})` +
        `${v.metrics !== undefined ? `, its own /metrics ${v.metrics.toFixed(3)} ms: ratio ${(v.pprofcol / v.metrics).toFixed(2)}` : ''}` +
        `; all families on ${allShare(target).toFixed(3)} ms`,
    );
  }
  console.log(JSON.stringify({ bench: 'target-cost', requests: REQUESTS, intervalSeconds: SCRAPE_INTERVAL_S, perRequestMs: rows, perIntervalMs: perInterval, allFamiliesPerIntervalMs: { goprog: allShare('goprog'), prometheus: allShare('prometheus') } }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
