// Memory per queued sample in the prometheusremotewrite exporter's buffers while the receiver is down
// (its endpoint is a closed loopback port, so every request fails fast and the samples stay queued):
//   buffer: memory  heap and RSS growth per queued sample (the ring holds the Point objects);
//   buffer: disk    bytes of segment files and RSS growth per queued sample (requests encoded and
//                   snappy-compressed in the write-ahead log, nothing kept in memory).
// Prints figures, then one JSON line.
//
//   npm run build && node dist/bench/queue-memory.js [samples] [series]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MetricFamily, Point } from '../core/model/metrics.js';
import { silentLogger } from '../core/logger.js';
import { Telemetry } from '../core/telemetry/metrics.js';
import { configSchema } from '../exporters/prometheusremotewrite/config.js';
import { RemoteWriteExporter } from '../exporters/prometheusremotewrite/exporter.js';
import { freePort } from '../test/harness/servers.js';

const SAMPLES = Number(process.argv[2] ?? 200_000);
const SERIES = Number(process.argv[3] ?? 10_000);
const CHUNK = 2_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const families: MetricFamily[] = [
  { name: 'go_pprof_heap_inuse_bytes', type: 'gauge', help: 'In-use heap bytes by function.', unit: 'bytes' },
  { name: 'go_pprof_goroutines', type: 'gauge', help: 'Goroutines by function.', unit: '' },
  { name: 'go_pprof_mutex_wait_seconds_total', type: 'counter', help: 'Mutex wait by function.', unit: 'seconds' },
];
const functions = Array.from({ length: SERIES }, (_, s) => `github.com/acme/api/internal/handler.(*Server).serve${s}`);
const instances = Array.from({ length: SERIES }, (_, s) => `10.0.${(s >> 6) & 255}.${s & 63}:6060`);
const profiles = ['heap', 'goroutine', 'mutex'];

/** Point i: series i % SERIES, one timestamp per pass over the series; fresh Point and labels objects. */
function chunk(from: number, n: number, t0: number): Point[] {
  const out = new Array<Point>(n);
  for (let j = 0; j < n; j++) {
    const i = from + j;
    const s = i % SERIES;
    const k = s % families.length;
    out[j] = {
      family: families[k],
      name: families[k].name,
      labels: { job: 'bench_queue', instance: instances[s], function: functions[s], profile: profiles[k] },
      value: i * 0.5,
      timestampMs: t0 + Math.floor(i / SERIES) * 1000,
      stale: false,
    };
  }
  return out;
}

async function metricValue(telemetry: Telemetry, name: string): Promise<number> {
  const m = telemetry.registry.getSingleMetric(name);
  if (m === undefined) return 0;
  let sum = 0;
  for (const v of (await m.get()).values) sum += v.value;
  return sum;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 300));
}

interface Result {
  queued: number;
  dropped: number;
  heapBytesPerSample: number;
  rssBytesPerSample: number;
  diskBytesPerSample?: number;
}

async function run(buffer: Record<string, unknown>, dir: string | undefined): Promise<Result> {
  const port = await freePort(); // nothing listens there: connection refused, a recoverable failure
  const telemetry = new Telemetry();
  const exporter = new RemoteWriteExporter(
    { id: 'prometheusremotewrite', logger: silentLogger(), telemetry, configDir: process.cwd() },
    configSchema.parse({
      endpoint: `http://127.0.0.1:${port}/api/v1/write`,
      buffer,
      // One shard whose ring holds every sample (memory); backoff long enough that retries cost nothing.
      queue_config: { capacity: SAMPLES + CHUNK, min_shards: 1, max_shards: 1, min_backoff: '5s', max_backoff: '5s' },
      metadata_config: { send: false },
    }),
  );
  await exporter.start();
  await settle();
  gc();
  const before = process.memoryUsage();
  const t0 = Date.now() - 3600_000;
  for (let i = 0; i < SAMPLES; i += CHUNK) {
    await exporter.consume({ signal: 'metrics', source: 'bench', points: chunk(i, Math.min(CHUNK, SAMPLES - i), t0) });
  }
  await settle();
  gc();
  const after = process.memoryUsage();
  const queued = await metricValue(telemetry, 'pprofcol_exporter_queue_samples');
  const dropped = await metricValue(telemetry, 'pprofcol_exporter_samples_dropped_total');
  const disk = dir === undefined ? undefined : dirBytes(dir);
  // The samples stay referenced until here, so the figures above count them.
  await exporter.shutdown();
  return {
    queued,
    dropped,
    heapBytesPerSample: (after.heapUsed - before.heapUsed) / SAMPLES,
    rssBytesPerSample: (after.rss - before.rss) / SAMPLES,
    diskBytesPerSample: disk === undefined ? undefined : disk / SAMPLES,
  };
}

const memory = await run({ type: 'memory' }, undefined);
const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-bench-wal-'));
let disk: Result;
try {
  disk = await run({ type: 'disk', directory: dir }, dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const f = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(1));
console.log(`${SAMPLES} samples over ${SERIES} series (4 labels each) queued against a receiver that is down`);
console.log(`buffer: memory  ${f(memory.heapBytesPerSample)} heap bytes/sample, ${f(memory.rssBytesPerSample)} RSS bytes/sample (queue gauge ${memory.queued}, dropped ${memory.dropped})`);
console.log(`buffer: disk    ${f(disk.diskBytesPerSample)} disk bytes/sample, ${f(disk.heapBytesPerSample)} heap bytes/sample, ${f(disk.rssBytesPerSample)} RSS bytes/sample (queue gauge ${disk.queued}, dropped ${disk.dropped})`);
console.log(
  JSON.stringify({
    bench: 'queue-memory',
    samples: SAMPLES,
    series: SERIES,
    memory: {
      heap_bytes_per_sample: Number(f(memory.heapBytesPerSample)),
      rss_bytes_per_sample: Number(f(memory.rssBytesPerSample)),
      queued: memory.queued,
      dropped: memory.dropped,
    },
    disk: {
      disk_bytes_per_sample: Number(f(disk.diskBytesPerSample)),
      heap_bytes_per_sample: Number(f(disk.heapBytesPerSample)),
      rss_bytes_per_sample: Number(f(disk.rssBytesPerSample)),
      queued: disk.queued,
      dropped: disk.dropped,
    },
    node: process.version,
  }),
);
