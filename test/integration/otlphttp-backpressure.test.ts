// Backpressure through the otlphttp exporter, end to end: the daemon as a user runs it, remote write
// in (the tests' acking sender) and OTLP/HTTP out to a receiver that stalls. While it stalls, the
// exporter's queue fills, consume() waits for sending_queue.block_timeout, then the remote-write
// receiver answers 503 with Retry-After and the sender resends; once the OTLP receiver answers again,
// every sample the sender was answered 2xx for reaches it. No processor between: the receiver's
// consume() is the exporter's, so the count of requests taken while stalled is the queue's.
//
// The OTLP receiver is the capture server of test/exporters/otlphttp/helpers.ts (it decodes each
// request with opentelemetry-proto's generated ExportMetricsServiceRequest), paused: it reads requests
// and answers none until resumed. No real OTLP receiver can be had on this machine: no OpenTelemetry
// Collector binary, Debian's VictoriaMetrics 1.79 predates its OpenTelemetry ingestion, and
// Prometheus 2.42 its OTLP receiver.
//
// Timing: block_timeout 1s and a stall of 4s or until the first 503 (waited up to 30s); a loaded
// machine only makes the stall hold more requests, and nothing is asserted on how many.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { encodeWriteRequest, snappyCompress } from '../../core/remotewrite/index.js';
import { makeLabels, type MetricFamily } from '../../core/model/metrics.js';
import { eventually, parseExposition, startDaemonOnFreePort } from '../harness/pprofcol.js';
import { AckingSender } from '../harness/rw-sender.js';
import { startOtlpCaptureServer, type OtlpCaptureServer } from '../exporters/otlphttp/helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SERIES = 200;

async function own(telemetryUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${telemetryUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  let sum = 0;
  for (const s of parseExposition(text)) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** `s@timestampMs` of every ack_probe data point the OTLP receiver answered 200 for. */
function received(server: OtlpCaptureServer): Set<string> {
  const out = new Set<string>();
  for (const r of server.requests) {
    for (const res of r.resources) {
      for (const m of res.metrics) {
        if (m.name !== 'ack_probe') continue;
        for (const p of m.points) out.add(`${p.attributes.s}@${BigInt(p.timeUnixNano) / 1_000_000n}`);
      }
    }
  }
  return out;
}

describe('otlphttp backpressure behind the remote-write receiver', () => {
  const stops: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('a stalled OTLP receiver: the queue waits, then 503 + Retry-After, resends, and nothing acknowledged is lost', async (t) => {
    const otlp = await startOtlpCaptureServer();
    stops.push(() => otlp.close());
    otlp.pause();
    const { daemon, port } = await startDaemonOnFreePort((p) => `
receivers:
  prometheusremotewrite: {endpoint: "127.0.0.1:${p}"}
exporters:
  otlphttp:
    endpoint: ${otlp.url}
    sending_queue: {queue_size: 1000, max_points_per_request: 500, block_timeout: 1s}
service:
  pipelines: {metrics: {receivers: [prometheusremotewrite], exporters: [otlphttp]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`, /remote-write receiver listening/, 20_000);
    stops.push(() => daemon.stop('SIGKILL'));
    const writeUrl = `http://127.0.0.1:${port}/api/v1/write`;
    const sender = new AckingSender(() => writeUrl, 'otlp', SERIES);
    sender.start();
    // 1,000 queued + 500 in flight hold 7 requests of 200; the next waits block_timeout and is refused.
    await eventually('a 503 for a full queue', 30_000, () => ((sender.stats.statuses.get(503) ?? 0) > 0 ? true : undefined));
    const ackedWhileStalled = sender.stats.acked.length;
    assert.ok(ackedWhileStalled > 0 && ackedWhileStalled <= 1500 / SERIES + 1, `${ackedWhileStalled} requests taken while stalled`);
    assert.equal(otlp.requests.length, 0, 'nothing answered while stalled');

    // A request of our own while it still stalls: the answer a sender sees.
    const family: MetricFamily = { name: 'ack_probe', type: 'gauge', help: 'probe', unit: '' };
    const labels = makeLabels();
    labels.run = 'probe';
    const body = new Uint8Array(snappyCompress(encodeWriteRequest([{ family, name: 'ack_probe', labels, value: 1, timestampMs: Date.now(), stale: false }])));
    const res = await fetch(writeUrl, {
      method: 'POST',
      body,
      headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' },
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get('retry-after')) > 0, `Retry-After: ${res.headers.get('retry-after')}`);
    const refused = await own(daemon.telemetryUrl, 'pprofcol_receiver_write_requests_rejected_total', { reason: 'queue_full' });
    assert.ok(refused >= 2, `503 queue_full counted by the receiver: ${refused}`);
    assert.ok((await own(daemon.telemetryUrl, 'pprofcol_exporter_samples_dropped_total', { exporter: 'otlphttp', reason: 'queue_full' })) > 0, 'the drop counted by the exporter');

    await sleep(1_000);
    otlp.resume();
    const takenAgain = sender.stats.acked.length;
    await eventually('requests taken again', 30_000, () => (sender.stats.acked.length >= takenAgain + 5 ? true : undefined));
    await sender.stop();
    const acked = sender.stats.acked;
    const missing = await eventually('every acknowledged sample at the OTLP receiver', 30_000, () => {
      const got = received(otlp);
      let n = 0;
      for (const ts of acked) for (let s = 0; s < SERIES; s++) if (!got.has(`${s}@${ts}`)) n++;
      return n === 0 ? n : undefined;
    }).catch(() => -1);
    t.diagnostic(`acknowledged ${acked.length} requests (${ackedWhileStalled} while stalled); answers ${JSON.stringify([...sender.stats.statuses])}; receiver 503 queue_full: ${refused}`);
    assert.equal(missing, 0, `acknowledged samples missing at the OTLP receiver\n${daemon.stderr().slice(-2000)}`);
    assert.match(daemon.stderr(), /otlphttp queue stayed full for block_timeout/);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });
});
