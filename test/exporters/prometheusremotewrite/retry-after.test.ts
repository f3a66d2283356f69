// Retry-After is honoured within bounds: `Retry-After: 0` (or a date in the past) does not make a
// tight retry loop, a day-long Retry-After does not stall a shard for a day, and a shard that keeps
// failing logs when it starts failing (or fails differently) and when it recovers, not every attempt.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Telemetry } from '../../../core/telemetry/metrics.js';
import { RemoteWriteError, type SendResult } from '../../../exporters/prometheusremotewrite/send/client.js';
import { Delivery, type DeliveryControl, type OutgoingRequest } from '../../../exporters/prometheusremotewrite/send/delivery.js';
import { ExporterMetrics } from '../../../exporters/prometheusremotewrite/metrics.js';
import { settings, point, goroutines, waitFor, captureLogger, type Logged } from '../../harness/common.js';
import { startCaptureServer, exporterFor } from '../../harness/rw-capture.js';
import { metricBatch } from '../../../core/model/metrics.js';

const RETRY_AFTER_CAP_MS = 300_000;
const opts = { minBackoffMs: 30, maxBackoffMs: 5000, sampleAgeLimitMs: 0, isolateRejected: false, maxSamplesPerSend: 2000 };
const req: OutgoingRequest = { body: Buffer.alloc(0), samples: 3, metadata: 0, oldestMs: 0, newestMs: 0 };


/** Answers `fail(n)` for send n (0-based) until it returns undefined, then 2xx. */
function sender(fail: (n: number) => RemoteWriteError | undefined) {
  let n = 0;
  return {
    sends: () => n,
    send: async (): Promise<SendResult> => {
      const e = fail(n++);
      return e === undefined ? { ok: true } : { ok: false, error: e };
    },
  };
}
const http503 = (retryAfterMs?: number) => new RemoteWriteError('http_503', 'answered HTTP 503', { retryable: true, status: 503, retryAfterMs });
const connectError = () => new RemoteWriteError('connect', 'ECONNREFUSED', { retryable: true });

/** Records the pauses asked for and returns at once. */
function control(): DeliveryControl & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, stopping: () => false, sleep: async (ms: number) => void sleeps.push(ms) };
}

describe('Retry-After bounds', () => {
  it('Retry-After: 0 waits at least min_backoff, growing like the backoff', async () => {
    const s = sender((n) => (n < 8 ? http503(0) : undefined));
    const c = control();
    const d = new Delivery(s, opts, new ExporterMetrics(new Telemetry(), 'x'), captureLogger([]), { now: Date.now, random: () => 1 });
    assert.equal(await d.deliver(req, c), 'sent');
    assert.equal(c.sleeps.length, 8);
    for (const ms of c.sleeps) assert.ok(ms >= opts.minBackoffMs, `slept ${ms}ms`);
    // Full jitter with random() = 1 is the backoff's ceiling: 30, 60, 120, ... up to max_backoff.
    assert.deepEqual(c.sleeps, [30, 60, 120, 240, 480, 960, 1920, 3840]);
  });

  it('a Retry-After of a day is cut to the documented cap', async () => {
    const s = sender((n) => (n < 2 ? http503(86_400_000) : undefined));
    const c = control();
    const d = new Delivery(s, opts, new ExporterMetrics(new Telemetry(), 'x'), captureLogger([]));
    assert.equal(await d.deliver(req, c), 'sent');
    assert.deepEqual(c.sleeps, [RETRY_AFTER_CAP_MS, RETRY_AFTER_CAP_MS]);
    assert.equal(RETRY_AFTER_CAP_MS, 5 * 60_000);
    // A max_backoff above the cap is the cap.
    const c2 = control();
    const d2 = new Delivery(sender((n) => (n < 1 ? http503(86_400_000) : undefined)), { ...opts, maxBackoffMs: 600_000 }, new ExporterMetrics(new Telemetry(), 'x'), captureLogger([]));
    await d2.deliver(req, c2);
    assert.deepEqual(c2.sleeps, [600_000]);
  });

  it('a longer Retry-After is still honoured', async () => {
    const c = control();
    const d = new Delivery(sender((n) => (n < 1 ? http503(2000) : undefined)), opts, new ExporterMetrics(new Telemetry(), 'x'), captureLogger([]));
    await d.deliver(req, c);
    assert.deepEqual(c.sleeps, [2000]);
  });

  it('logs a failing shard once per change of state, not once per attempt', async () => {
    const lines: Logged[] = [];
    // 20 x 503, then ok; then 5 x 503, 5 x connect error, then ok.
    const s = sender((n) => (n < 20 ? http503(0) : n === 20 ? undefined : n < 26 ? http503() : n < 31 ? connectError() : undefined));
    const d = new Delivery(s, opts, new ExporterMetrics(new Telemetry(), 'x'), captureLogger(lines));
    const c = control();
    assert.equal(await d.deliver(req, c), 'sent');
    assert.equal(await d.deliver(req, c), 'sent');
    const loud = lines.filter((l) => l.level !== 'debug');
    assert.deepEqual(
      loud.map((l) => l.level),
      ['warn', 'info', 'warn', 'warn', 'info'],
      JSON.stringify(loud),
    );
  });

  it('a receiver answering 503 with Retry-After: 0 is not hammered', async () => {
    const server = await startCaptureServer(() => ({ status: 503, headers: { 'Retry-After': '0' } }));
    const s = settings();
    const exporter = exporterFor(s, { endpoint: server.url, metadata_config: { send: false }, queue_config: { batch_send_deadline: '10ms', min_backoff: '50ms', max_backoff: '1s' } });
    try {
      await exporter.start();
      await exporter.consume(metricBatch('pprof', [point(goroutines, { job: 'a' }, 1, Date.now())]));
      await waitFor('the first request', () => server.requests.length > 0);
      const before = server.requests.length;
      await new Promise((r) => setTimeout(r, 500));
      // Backoff from 50ms doubling (full jitter): a handful in 500ms; without the floor, hundreds.
      const during = server.requests.length - before;
      assert.ok(during <= 25, `${during} requests in 500ms`);
    } finally {
      await exporter.shutdown();
      await server.close();
    }
  });
});
