// Refused at the door, end to end: a live daemon (remote-write receiver -> batch -> remote-write
// exporter) in front of a real Prometheus. A `__proto__` label survives the whole way; with
// sample_age_limit: 1h, one client's too-old or far-future samples are refused (400 naming them,
// counted) while everything else, that client's good samples and another client's, reaches Prometheus.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeLabels, type MetricFamily, type Point } from '../../core/model/metrics.js';
import { encodeWriteRequest, snappyCompress } from '../../core/remotewrite/index.js';
import { eventually, startDaemonOnFreePort, type Daemon } from '../harness/pprofcol.js';
import { remoteWriteTypes } from '../core/remotewrite/reference-decoder.js';
import { startPrometheus, type PromServer } from '../harness/servers.js';

const GAUGE: MetricFamily = { name: 'rw_door', type: 'gauge', help: 'Refusal test series.', unit: '' };

function point(labels: Record<string, string>, value: number, timestampMs: number): Point {
  const set = makeLabels();
  for (const [k, v] of Object.entries(labels)) set[k] = v;
  return { family: GAUGE, name: 'rw_door', labels: set, value, timestampMs, stale: false };
}

/**
 * A WriteRequest encoded by protobufjs, with each timestamp as the decimal text of an int64: how a
 * sender writes one past 2^53, which pprofcol's own encoder refuses to.
 */
function rawRequest(series: Array<{ labels: Record<string, string>; value: number; timestamp: string }>): Buffer {
  const { WriteRequest } = remoteWriteTypes();
  const message = WriteRequest.fromObject({
    timeseries: series.map((x) => ({
      labels: Object.entries({ __name__: 'rw_door', ...x.labels })
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(([name, value]) => ({ name, value })),
      samples: [{ value: x.value, timestamp: x.timestamp }],
    })),
  });
  return Buffer.from(WriteRequest.encode(message).finish());
}

async function post(url: string, points: Point[] | Buffer): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    body: new Uint8Array(snappyCompress(Buffer.isBuffer(points) ? points : encodeWriteRequest(points))),
    headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text() };
}

/** Every sample Prometheus holds of a selector over the last hour, by series (its labels as JSON). */
async function samplesIn(prometheus: PromServer, selector: string): Promise<Map<string, number[]>> {
  const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(`${selector}[1h]`)}`);
  const json = (await res.json()) as { data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> } };
  const out = new Map<string, number[]>();
  for (const r of json.data.result) out.set(JSON.stringify(r.metric), r.values.map((v) => Number(v[1])));
  return out;
}

async function startPipeline(receiverExtra: string): Promise<{ prometheus: PromServer; daemon: Daemon; url: string }> {
  const prometheus = await startPrometheus({ remoteWriteReceiver: true });
  const { daemon, port } = await startDaemonOnFreePort((port) => `
receivers:
  prometheusremotewrite: {endpoint: "127.0.0.1:${port}"${receiverExtra}}
processors:
  batch: {}
exporters:
  prometheusremotewrite:
    endpoint: ${prometheus.url}/api/v1/write
    queue_config: {batch_send_deadline: 500ms}
service:
  pipelines: {metrics: {receivers: [prometheusremotewrite], processors: [batch], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`, /remote-write receiver listening/, 20_000);
  return { prometheus, daemon, url: `http://127.0.0.1:${port}/api/v1/write` };
}

describe('remote-write receiver: refused at the door', () => {
  const running: Array<{ prometheus: PromServer; daemon: Daemon }> = [];
  after(async () => {
    for (const r of running) {
      const code = await r.daemon.stop('SIGTERM');
      await r.prometheus.stop();
      assert.equal(code, 0, r.daemon.stderr().slice(-2000));
    }
  });

  it('a __proto__ label survives receiver -> batch -> exporter -> Prometheus, and keeps two series apart', async () => {
    const p = await startPipeline('');
    running.push(p);
    const now = Date.now();
    // A computed key: `{ __proto__: 'x' }` in a literal sets the prototype and makes no property.
    const res = await post(p.url, [point({ job: 'door', ['__proto__']: 'x' }, 1, now), point({ job: 'door' }, 2, now)]);
    assert.equal(res.status, 204, res.text);
    const series = await eventually('both series in Prometheus', 20_000, async () => {
      const got = await samplesIn(p.prometheus, 'rw_door{job="door"}');
      return got.size >= 2 ? got : undefined;
    });
    assert.deepEqual(series.get(JSON.stringify({ __name__: 'rw_door', ['__proto__']: 'x', job: 'door' })), [1]);
    assert.deepEqual(series.get(JSON.stringify({ __name__: 'rw_door', job: 'door' })), [2]);
  });

  // invalid_timestamp: 2^62 + 1 ms, an int64 that reaches a JS number rounded (to 2^62); once it went on,
  // its request was corrupt and refused whole, with the good samples of every client in it.
  for (const [reason, offsetMs] of [
    ['too_old', -2 * 3600_000],
    ['too_far_in_future', 3600_000],
    ['invalid_timestamp', undefined],
  ] as const) {
    it(`with sample_age_limit 1h: a ${reason} sample is refused and counted; the same client's good sample and another client's all arrive`, async () => {
      const p = await startPipeline(', sample_age_limit: 1h');
      running.push(p);
      // The good client writes a sample every 200ms before, during and after the bad one.
      const goodSent: number[] = [];
      let stop = false;
      const good = (async () => {
        for (let i = 0; !stop; i++) {
          const r = await post(p.url, [point({ job: 'good' }, i, Date.now())]);
          assert.equal(r.status, 204, r.text);
          goodSent.push(i);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = Date.now();
      const bad = await post(
        p.url,
        offsetMs === undefined
          ? rawRequest([
              { labels: { job: 'bad', which: 'refused' }, value: 7, timestamp: (2n ** 62n + 1n).toString() },
              { labels: { job: 'bad', which: 'kept' }, value: 8, timestamp: String(now) },
            ])
          : [point({ job: 'bad', which: 'refused' }, 7, now + offsetMs), point({ job: 'bad', which: 'kept' }, 8, now)],
      );
      assert.equal(bad.status, 400, 'a refusal is a 400, never a 5xx');
      assert.match(bad.text, new RegExp(`rw_door\\{job="bad",which="refused"\\}: ${reason} \\(1 samples\\)`));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      stop = true;
      await good;

      const got = await eventually('every good sample in Prometheus', 20_000, async () => {
        const s = await samplesIn(p.prometheus, 'rw_door');
        const goodValues = s.get(JSON.stringify({ __name__: 'rw_door', job: 'good' })) ?? [];
        return goodValues.length >= goodSent.length && s.has(JSON.stringify({ __name__: 'rw_door', job: 'bad', which: 'kept' })) ? s : undefined;
      });
      assert.deepEqual(got.get(JSON.stringify({ __name__: 'rw_door', job: 'good' })), goodSent, 'the good client lost nothing');
      assert.deepEqual(got.get(JSON.stringify({ __name__: 'rw_door', job: 'bad', which: 'kept' })), [8], 'the bad client kept its good sample');
      assert.equal(got.has(JSON.stringify({ __name__: 'rw_door', job: 'bad', which: 'refused' })), false);
      const metrics = await (await fetch(`${p.daemon.telemetryUrl}/metrics`)).text();
      assert.match(metrics, new RegExp(`pprofcol_receiver_write_samples_rejected_total\\{receiver="prometheusremotewrite",reason="${reason}"\\} 1\\b`));
      // Nothing the exporter sent was refused by Prometheus.
      assert.doesNotMatch(metrics, /pprofcol_exporter_samples_dropped_total\{[^}]*\} [1-9]/);
    });
  }
});
