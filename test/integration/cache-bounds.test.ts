// 1.5 M unique metric names and a metadata flood through the remote-write receiver of a live daemon
// into its remote-write exporter: the caches of what the daemon learns from that data stay within their
// byte bounds (VmHWM read from /proc), evictions show on /metrics, and on the exporter's captured wire
// a family evicted is sent again once seen again, and a family whose HELP changed is sent with the new one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { MetricFamily, Point } from '../../core/model/metrics.js';
import { encodeWriteRequest, snappyCompress } from '../../core/remotewrite/index.js';
import { eventually, parseExposition, startDaemonOnFreePort, type Daemon } from '../harness/pprofcol.js';
import { startCaptureServer, type CaptureServer } from '../harness/rw-capture.js';

const MiB = 1024 * 1024;
const NAMES = 1_500_000;
const PER_REQUEST = 10_000;
/** Both caches' bounds in the pipeline below. */
const RECEIVER_CACHE = 4 * MiB;
const EXPORTER_CACHE = 4 * MiB;
/**
 * The daemon's heap is capped (--max-old-space-size), so the flood only passes when what it keeps
 * live fits: the two caches (8 MiB), the encoders' series caches (SERIES_CACHE_BYTES, 128 MiB), their
 * shapes (2 x 256 KiB), the exporter's queue (2 shards x 20000 points of ~300 bytes: 12 MiB), the
 * request being decoded (~10 MiB with its points) and the daemon's own ~40 MiB: ~200 MiB, capped at
 * 320 MiB for collection headroom (less, and the flood spends its time collecting). Without the bounds the same flood keeps ~720 MB of names live and
 * the daemon dies of heap exhaustion. Without a cap V8 lets garbage pile up to a limit it derives
 * from the machine's memory (VmHWM ~600 MiB here), which says nothing about what the caches keep.
 */
const HEAP_CAP = 320 * MiB;
/** RSS besides the old generation: code, young generation (2 x 16 MiB), buffers outside the heap. */
const MARGIN = 96 * MiB;
const MARKER = 'reseen_family_total';

function status(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)![1]) * 1024;
}

const family = (name: string, help: string): MetricFamily => ({ name, type: 'counter', help, unit: '' });
const pointOf = (f: MetricFamily, t: number): Point => ({ family: f, name: f.name, labels: { job: 'flood', instance: 'h:1' }, value: 1, timestampMs: t, stale: false });

describe('caches bounded by bytes under a flood of names', () => {
  let capture: CaptureServer;
  let daemon: Daemon;
  let write: string;
  before(async () => {
    // Only requests that name the marker family are decoded and kept; the flood is counted.
    capture = await startCaptureServer(undefined, (body) => body.includes(MARKER));
    let port: number;
    ({ daemon, port } = await startDaemonOnFreePort((port) => `
receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:${port}
    metadata_cache_size: ${RECEIVER_CACHE}
exporters:
  prometheusremotewrite:
    endpoint: ${capture.url}
    queue_config: {min_shards: 2, max_shards: 2, capacity: 20000, max_samples_per_send: 5000, batch_send_deadline: 200ms}
    metadata_config: {send_interval: 500ms, cache_size: ${EXPORTER_CACHE}}
service:
  pipelines: {metrics: {receivers: [prometheusremotewrite], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`, /remote-write receiver listening/, 20_000, { NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP / MiB}` }));
    write = `http://127.0.0.1:${port}/api/v1/write`;
  });
  after(async () => {
    await daemon?.stop();
    await capture?.close();
  });

  const post = async (points: Point[], metadata: MetricFamily[]): Promise<void> => {
    const res = await fetch(write, {
      method: 'POST',
      body: new Uint8Array(snappyCompress(encodeWriteRequest(points, metadata))),
      headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' },
    });
    assert.equal(res.status, 204, await res.text());
  };
  const ownMetric = async (name: string, labels: Record<string, string>): Promise<number> => {
    const samples = parseExposition(await (await fetch(`${daemon.telemetryUrl}/metrics`)).text());
    return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? 0;
  };
  /** The HELP of the marker in the periodic (metadata-only) requests received from index `from` on. */
  const periodicHelp = (from: number): string[] =>
    capture.requests
      .slice(from)
      .filter((r) => r.request.timeseries.length === 0)
      .flatMap((r) => r.request.metadata.filter((m) => m.metric_family_name === MARKER).map((m) => m.help));

  it('memory stays within the bounds, evictions are counted, evicted and changed metadata is sent again', async () => {
    const pid = daemon.child.pid!;
    const first = family(MARKER, 'first help');
    await post([pointOf(first, Date.now())], [first]);
    await eventually('the marker in a periodic metadata request', 10_000, () => (periodicHelp(0).includes('first help') ? true : undefined));

    const baseline = status(pid, 'VmRSS');
    const started = Date.now();
    // 1.5 M unique names, each with its metadata (a client_golang-sized HELP).
    for (let r = 0; r < NAMES / PER_REQUEST; r++) {
      const families: MetricFamily[] = [];
      const points: Point[] = [];
      const t = Date.now();
      for (let i = 0; i < PER_REQUEST; i++) {
        const f = family(`flood_${r}_${i}_total`, `Total number of things counted by flood metric ${r}/${i}, as a client_golang HELP reads.`);
        families.push(f);
        points.push(pointOf(f, t));
      }
      await post(points, families);
    }
    // A metadata flood: twenty 9.4 MB metadata-only requests (9000 families with 1 KB of HELP each).
    const longHelp = 'h'.repeat(1024);
    for (let r = 0; r < 20; r++) {
      const families: MetricFamily[] = [];
      for (let i = 0; i < 9000; i++) families.push(family(`meta_flood_${r}_${i}`, longHelp));
      await post([], families);
    }
    const floodS = (Date.now() - started) / 1000;

    const hwm = status(pid, 'VmHWM');
    assert.equal(daemon.child.exitCode, null, `the daemon died under the flood: ${daemon.stderr().slice(-500)}`);
    const bound = baseline + HEAP_CAP + MARGIN;
    console.log(
      `flood of ${NAMES} names + 20 x 9.4 MB metadata in ${floodS.toFixed(1)} s: VmRSS before ${(baseline / MiB).toFixed(0)} MiB, ` +
        `VmHWM ${(hwm / MiB).toFixed(0)} MiB, now ${(status(pid, 'VmRSS') / MiB).toFixed(0)} MiB; bound ${(bound / MiB).toFixed(0)} MiB`,
    );
    assert.ok(hwm <= bound, `VmHWM ${(hwm / MiB).toFixed(0)} MiB over the bound ${(bound / MiB).toFixed(0)} MiB`);

    const receiverEvictions = await ownMetric('pprofcol_receiver_cache_evictions_total', { receiver: 'prometheusremotewrite', cache: 'metadata' });
    const untypedEvictions = await ownMetric('pprofcol_receiver_cache_evictions_total', { receiver: 'prometheusremotewrite', cache: 'untyped' });
    const exporterEvictions = await eventually('exporter evictions', 20_000, async () => {
      const n = await ownMetric('pprofcol_exporter_cache_evictions_total', { exporter: 'prometheusremotewrite', cache: 'metadata' });
      return n > 0 ? n : undefined;
    });
    // 1.5 M + 180k families into caches of ~10k entries: most were pushed out (the exporter sees only the
    // families of points its queue took, and the untyped ones once per name).
    assert.ok(receiverEvictions > 1_500_000, `receiver metadata evictions ${receiverEvictions}`);
    // A request of 10k families is larger than the metadata share: its first families are gone by the time
    // its series are read, so those series are untyped, and their placeholders are evicted in turn.
    assert.ok(untypedEvictions > 0, `receiver untyped evictions ${untypedEvictions}`);
    assert.ok(exporterEvictions > 500_000, `exporter metadata evictions ${exporterEvictions}`);

    // The marker was evicted: two whole periodic rounds after the flood do not carry it.
    await new Promise((r) => setTimeout(r, 1500));
    const settled = capture.requests.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(periodicHelp(settled), [], 'the evicted marker is not in the periodic requests');

    // Seen again: sent again, periodically.
    const seenAgain = capture.requests.length;
    await post([pointOf(first, Date.now())], [first]);
    await eventually('the evicted marker sent again', 10_000, () => (periodicHelp(seenAgain).includes('first help') ? true : undefined));

    // Changed: the periodic requests carry the new HELP, and after the first of them, never the old.
    const changedAt = capture.requests.length;
    const second = family(MARKER, 'second help');
    await post([pointOf(second, Date.now())], [second]);
    await eventually('the changed marker sent', 10_000, () => (periodicHelp(changedAt).includes('second help') ? true : undefined));
    await new Promise((r) => setTimeout(r, 1200));
    const helps = periodicHelp(changedAt);
    assert.deepEqual(helps.slice(helps.indexOf('second help')).filter((h) => h !== 'second help'), [], `periodic HELPs after the change: ${helps.join(', ')}`);
    assert.ok(capture.received() > NAMES / 5000, `the exporter sent the flood on (${capture.received()} requests)`);
  });
});
