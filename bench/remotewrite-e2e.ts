// End to end into a real VictoriaMetrics: the samples per second one pprofcol process delivers through
// the prometheusremotewrite exporter (memory buffer, default queue_config: sharding, resharding,
// encode, snappy, HTTP), its CPU seconds per million samples and its peak RSS. The exporter runs in
// this process, fed synthetic points shaped like pprof-derived series; VictoriaMetrics runs apart.
// Prints figures, then one JSON line.
//
//   npm run build && node dist/bench/remotewrite-e2e.js [seconds] [series]
//
// Delivered = pprofcol_exporter_samples_sent_total over the wall time from the first point handed
// over to the last one acknowledged; the count is then checked in VictoriaMetrics with count_over_time.
import type { MetricFamily, Point } from '../core/model/metrics.js';
import { silentLogger } from '../core/logger.js';
import { Telemetry } from '../core/telemetry/metrics.js';
import { configSchema } from '../exporters/prometheusremotewrite/config.js';
import { RemoteWriteExporter } from '../exporters/prometheusremotewrite/exporter.js';
import { startVictoriaMetrics, vmFlush } from '../test/harness/servers.js';

const SECONDS = Number(process.argv[2] ?? 20);
const SERIES = Number(process.argv[3] ?? 10_000);
/** Points handed over per consume() call, as a batch processor would. */
const CHUNK = 2_000;
/** The producer waits while this many samples are queued, so it measures delivery, not drops. */
const MAX_QUEUED = 20_000;
const JOB = 'bench_e2e';

const families: MetricFamily[] = [
  { name: 'go_pprof_heap_inuse_bytes', type: 'gauge', help: 'In-use heap bytes by function.', unit: 'bytes' },
  { name: 'go_pprof_goroutines', type: 'gauge', help: 'Goroutines by function.', unit: '' },
  { name: 'go_pprof_mutex_wait_seconds_total', type: 'counter', help: 'Mutex wait by function.', unit: 'seconds' },
];
const functions = Array.from({ length: SERIES }, (_, s) => `github.com/acme/api/internal/handler.(*Server).serve${s}`);
const profiles = ['heap', 'goroutine', 'mutex'];

/** Every series once, at one timestamp: fresh Point and labels objects, as each scrape makes them. */
function scrape(t: number): Point[] {
  const out = new Array<Point>(SERIES);
  for (let s = 0; s < SERIES; s++) {
    const k = s % families.length;
    out[s] = {
      family: families[k],
      name: families[k].name,
      labels: { job: JOB, instance: `10.0.${(s >> 6) & 255}.${s & 63}:6060`, function: functions[s], profile: profiles[k] },
      value: s + t / 1000,
      timestampMs: t,
      stale: false,
    };
  }
  return out;
}

async function metricValue(telemetry: Telemetry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = telemetry.registry.getSingleMetric(name);
  if (m === undefined) return 0;
  const data = await m.get();
  let sum = 0;
  for (const v of data.values) if (Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val)) sum += v.value;
  return sum;
}

const vm = await startVictoriaMetrics();
const telemetry = new Telemetry();
const exporter = new RemoteWriteExporter(
  { id: 'prometheusremotewrite', logger: silentLogger(), telemetry, configDir: process.cwd() },
  configSchema.parse({ endpoint: vm.writeUrl, queue_config: { capacity: 50_000 } }),
);
await exporter.start();

let peakRss = process.memoryUsage().rss;
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 100);

// Timestamps one second apart, starting two hours ago: inside VictoriaMetrics' retention, one sample
// per series per second of data.
const t0 = Math.floor(Date.now() / 1000) * 1000 - 2 * 3600_000;
let produced = 0;
let scrapes = 0;
let produceNs = 0;
const cpu0 = process.cpuUsage();
const start = process.hrtime.bigint();
const deadline = Date.now() + SECONDS * 1000;
while (Date.now() < deadline) {
  const g0 = process.hrtime.bigint();
  const points = scrape(t0 + scrapes * 1000);
  produceNs += Number(process.hrtime.bigint() - g0);
  scrapes++;
  for (let i = 0; i < points.length; i += CHUNK) {
    while ((await metricValue(telemetry, 'pprofcol_exporter_queue_samples')) > MAX_QUEUED) await new Promise((r) => setTimeout(r, 2));
    const chunk = points.slice(i, i + CHUNK);
    await exporter.consume({ signal: 'metrics', source: 'bench', points: chunk });
    produced += chunk.length;
  }
}
// Wait until everything handed over is acknowledged (or dropped, which the figures would show).
for (;;) {
  const sent = await metricValue(telemetry, 'pprofcol_exporter_samples_sent_total');
  const dropped = await metricValue(telemetry, 'pprofcol_exporter_samples_dropped_total');
  if (sent + dropped >= produced) break;
  await new Promise((r) => setTimeout(r, 5));
}
const wallS = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpu0);
clearInterval(rssTimer);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const sent = await metricValue(telemetry, 'pprofcol_exporter_samples_sent_total');
const dropped = await metricValue(telemetry, 'pprofcol_exporter_samples_dropped_total');
const requests = await metricValue(telemetry, 'pprofcol_exporter_requests_total', { result: 'success' });
const shards = await metricValue(telemetry, 'pprofcol_exporter_shards');
await exporter.shutdown();

await vmFlush(vm.url);
const res = await vm.query(`sum(count_over_time({job="${JOB}"}[3h]))`);
const inVm = res.length > 0 ? Number(res[0].value[1]) : 0;
await vm.stop();

const cpuS = (cpu.user + cpu.system) / 1e6;
const rate = sent / wallS;
const cpuPerM = (cpuS / sent) * 1e6;
const produceCpuPerM = (produceNs / 1e9 / produced) * 1e6;
console.log(`${SERIES} series x ${scrapes} timestamps: ${produced} samples handed over, ${sent} acknowledged, ${dropped} dropped, ${inVm} in VictoriaMetrics`);
console.log(`delivered          ${(rate / 1e3).toFixed(1)}k samples/s over ${wallS.toFixed(1)} s (${requests} requests, ${shards} shards at the end)`);
console.log(`CPU                ${cpuPerM.toFixed(2)} s per million samples (of which making the synthetic points ${produceCpuPerM.toFixed(2)} s)`);
console.log(`peak RSS           ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
if (inVm !== sent) console.log(`WARNING: VictoriaMetrics holds ${inVm} samples, pprofcol counted ${sent} sent`);
console.log(
  JSON.stringify({
    bench: 'remotewrite-e2e',
    series: SERIES,
    timestamps: scrapes,
    samples_produced: produced,
    samples_sent: sent,
    samples_dropped: dropped,
    samples_in_victoriametrics: inVm,
    samples_per_s: Math.round(rate),
    cpu_s_per_million_samples: Number(cpuPerM.toFixed(3)),
    synthetic_points_cpu_s_per_million: Number(produceCpuPerM.toFixed(3)),
    peak_rss_mib: Math.round(peakRss / 2 ** 20),
    wall_s: Number(wallS.toFixed(2)),
    requests,
    shards_at_end: shards,
    node: process.version,
  }),
);
