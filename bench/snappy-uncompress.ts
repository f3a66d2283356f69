/**
 * Snappy decompression on the receiving side: the native binding (`snappy`, Google's C++ library via
 * napi) against our own (core/remotewrite/uncompress.ts), on a Prometheus-sized request (2000 samples)
 * and on an 8 MiB body, in throughput and in what a stream of large bodies does to RSS when nothing
 * else allocates (the receiver refusing sample bombs). Ours replaced the native one on both counts.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compressSync, uncompressSync } from 'snappy';
import type { MetricFamily, Point } from '../core/model/metrics.js';
import { encodeWriteRequest } from '../core/remotewrite/index.js';
import { snappyUncompressJs } from '../core/remotewrite/uncompress.js';

const FAMILY: MetricFamily = { name: 'm', type: 'gauge', help: '', unit: '' };
const points: Point[] = [];
for (let i = 0; i < 2000; i++) {
  points.push({ family: FAMILY, name: `metric_${i % 50}`, labels: { job: 'api', instance: `10.0.0.${i % 200}:9090`, path: `/v1/${i}` }, value: i, timestampMs: 1.7e12 + i, stale: false });
}
// Compressed by Google's library, whose output is close to what Prometheus's Go snappy sends.
const small = compressSync(encodeWriteRequest(points));
const bombRaw = Buffer.alloc(8 * 1024 * 1024);
for (let i = 0; i < bombRaw.length; i += 2) bombRaw[i] = 0x12;
const large = compressSync(bombRaw);

function mbPerSecond(decode: (b: Uint8Array) => Buffer, body: Buffer, decodedBytes: number, rounds: number): number {
  for (let i = 0; i < 5; i++) decode(body);
  const started = performance.now();
  for (let i = 0; i < rounds; i++) decode(body);
  return (decodedBytes * rounds) / 2 ** 20 / ((performance.now() - started) / 1000);
}

/** RSS growth over `rounds` decodes of `body`, yielding to the event loop between them as a server does. */
async function rssGrowth(decode: (b: Uint8Array) => Buffer, body: Buffer, rounds: number): Promise<number> {
  const before = process.memoryUsage().rss;
  let peak = before;
  for (let i = 0; i < rounds; i++) {
    decode(body);
    await new Promise((r) => setImmediate(r));
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  return (peak - before) / 2 ** 20;
}

const native = (b: Uint8Array): Buffer => uncompressSync(b, { asBuffer: true }) as Buffer;

// Each decoder is measured in a process of its own, so neither inherits the other's heap or garbage.
if (process.argv[2] === 'child') {
  const decode = process.argv[3] === 'native' ? native : snappyUncompressJs;
  const figures = {
    request_mb_per_s: mbPerSecond(decode, small, native(small).length, 2000),
    body_8mib_mb_per_s: mbPerSecond(decode, large, bombRaw.length, 20),
    rss_growth_mib: await rssGrowth(decode, large, 60),
  };
  console.log(JSON.stringify(figures));
  process.exit(0);
}
type Figures = { request_mb_per_s: number; body_8mib_mb_per_s: number; rss_growth_mib: number };
const measure = (decoder: string): Figures => JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), 'child', decoder]).toString()) as Figures;
const smallDecoded = native(small).length;
const nativeFigures = measure('native');
const ours = measure('ours');
const f = (n: number) => n.toFixed(0);
console.log(`request of 2000 samples (${smallDecoded} bytes decoded): native ${f(nativeFigures.request_mb_per_s)} MB/s, ours ${f(ours.request_mb_per_s)} MB/s`);
console.log(`8 MiB body: native ${f(nativeFigures.body_8mib_mb_per_s)} MB/s, ours ${f(ours.body_8mib_mb_per_s)} MB/s`);
console.log(`RSS growth over 60 decodes of 8 MiB, the event loop turning between them: native ${f(nativeFigures.rss_growth_mib)} MiB, ours ${f(ours.rss_growth_mib)} MiB`);
console.log(JSON.stringify({ bench: 'snappy-uncompress', native: nativeFigures, ours, node: process.version }));
