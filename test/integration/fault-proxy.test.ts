// A fault proxy of the test's own (node:http) in front of a real Prometheus 2.42 remote-write receiver.
// It forwards bodies unchanged unless its rule for a request says otherwise: answer 500, answer 429 with
// Retry-After, answer 400 to requests holding one chosen series (decided by decoding the snappy body with
// core/remotewrite's decoder), or stall (never answer). The exporter runs in-process, so each case knows
// exactly which samples it sent, and checks what Prometheus stored and how pprofcol's own metrics
// counted the case: requests_total{result}, samples_retried_total, samples_dropped_total{reason}.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { metricBatch, type Point } from '../../core/model/metrics.js';
import { snappyUncompress } from '../../core/remotewrite/index.js';
import { decodeWriteRequest, type DecodedWriteRequest } from '../core/remotewrite/reference-decoder.js';
import { startPrometheus, type PromServer } from '../harness/servers.js';
import { goroutines, metric, point, settings, waitFor } from '../harness/common.js';
import { exporterFor } from '../harness/rw-capture.js';

const SENT = 'pprofcol_exporter_samples_sent_total';
const RETRIED = 'pprofcol_exporter_samples_retried_total';
const DROPPED = 'pprofcol_exporter_samples_dropped_total';
const REQUESTS = 'pprofcol_exporter_requests_total';

/** The exporter's `timeout` in the stall cases: long enough for a forward on a loaded machine, short for the test. */
const STALL_TIMEOUT_MS = 1500;
/** Timers run on a millisecond monotonic clock, Date.now() on the wall clock: they may disagree by a few ms. */
const CLOCK_SLACK_MS = 5;

/** What the proxy does with one request. */
type Rule = 'forward' | 'stall' | { status: number; headers?: Record<string, string>; body?: string };

interface Seen {
  /** When the whole request body had arrived. */
  at: number;
  raw: Buffer;
  request: DecodedWriteRequest;
  rule: Rule;
  /** The status the client got (undefined for a stall). */
  status?: number;
}

interface FaultProxy {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

async function startFaultProxy(upstream: string, rule: (n: number, request: DecodedWriteRequest) => Rule): Promise<FaultProxy> {
  const seen: Seen[] = [];
  const stalled: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const request = decodeWriteRequest(snappyUncompress(raw));
      const r = rule(seen.length, request);
      const entry: Seen = { at: Date.now(), raw, request, rule: r };
      seen.push(entry);
      if (r === 'stall') {
        stalled.push(res);
        return;
      }
      if (r !== 'forward') {
        entry.status = r.status;
        res.writeHead(r.status, r.headers);
        res.end(r.body ?? '');
        return;
      }
      // Forward the bytes as they came, with the headers remote write is defined by.
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'content-encoding', 'x-prometheus-remote-write-version', 'user-agent']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      fetch(upstream, { method: 'POST', headers, body: raw, signal: AbortSignal.timeout(10_000) })
        .then(async (up) => {
          const text = await up.text();
          entry.status = up.status;
          res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'text/plain' });
          res.end(text);
        })
        .catch((err: unknown) => {
          entry.status = 502;
          res.writeHead(502);
          res.end(String(err));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    seen,
    close: async () => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `series` series x `perSeries` samples of go_goroutines, one second apart, in timestamp order per series. */
function samples(job: string, series: number, perSeries: number, t0: number, instance = (i: number) => `i${i}:1`): Point[] {
  const out: Point[] = [];
  for (let t = 0; t < perSeries; t++) for (let i = 0; i < series; i++) out.push(point(goroutines, { job, instance: instance(i) }, 100 + t, t0 + t * 1000));
  return out;
}

const hasInstance = (request: DecodedWriteRequest, instance: string) => request.timeseries.some((ts) => ts.labels.some((l) => l.name === 'instance' && l.value === instance));

describe('fault proxy in front of Prometheus 2.42', () => {
  let prom: PromServer;
  const proxies: FaultProxy[] = [];
  before(async () => {
    prom = await startPrometheus({ remoteWriteReceiver: true });
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await prom?.stop();
  });

  async function proxy(rule: (n: number, request: DecodedWriteRequest) => Rule): Promise<FaultProxy> {
    const p = await startFaultProxy(`${prom.url}/api/v1/write`, rule);
    proxies.push(p);
    return p;
  }

  /**
   * One shard and no metadata requests, so one consume() is one request and the request counts are
   * exact; backoff small (10..100 ms) so that a wait of seconds can only come from Retry-After. The
   * request timeout is 5 s (a loaded machine must not turn a slow forward into a retry) except in the
   * stall cases, which set it lower.
   */
  function exporter(job: string, endpoint: string, extra: Record<string, unknown> = {}) {
    const s = settings(`prometheusremotewrite/${job}`);
    const exp = exporterFor(s, {
      endpoint,
      timeout: '5s',
      queue_config: { min_shards: 1, max_shards: 1, max_samples_per_send: 1000, batch_send_deadline: '20ms', min_backoff: '10ms', max_backoff: '100ms' },
      metadata_config: { send: false },
      ...extra,
    });
    return { s, exp };
  }

  async function stored(job: string): Promise<Map<string, number>> {
    const result = await prom.query(`count_over_time(go_goroutines{job="${job}"}[10m])`);
    return new Map(result.map((r) => [r.metric.instance, Number(r.value[1])]));
  }

  it('500: retried with backoff, the same bytes resent, everything stored', async () => {
    const job = 'fault-500';
    const p = await proxy((n) => (n === 0 ? { status: 500, body: 'boom' } : 'forward'));
    const { s, exp } = exporter(job, p.url);
    await exp.start();
    try {
      await exp.consume(metricBatch('pprof', samples(job, 10, 2, Date.now() - 10_000)));
      await waitFor('20 samples sent', async () => (await metric(s.telemetry, SENT, {})) === 20);
      assert.equal(p.seen.length, 2);
      assert.ok(p.seen[1].raw.equals(p.seen[0].raw), 'the retry is the same request, byte for byte');
      assert.equal(p.seen[1].status, 204);
      assert.equal(await metric(s.telemetry, REQUESTS, { result: 'retry' }), 1);
      assert.equal(await metric(s.telemetry, REQUESTS, { result: 'success' }), 1);
      assert.equal(await metric(s.telemetry, REQUESTS, { result: 'failed' }), 0);
      assert.equal(await metric(s.telemetry, RETRIED, {}), 20);
      assert.equal(await metric(s.telemetry, DROPPED, {}), 0);
      const got = await stored(job);
      assert.equal(got.size, 10);
      for (const [instance, n] of got) assert.equal(n, 2, instance);
    } finally {
      await exp.shutdown();
    }
  });

  it('429 with Retry-After: 2: the resend comes 2 s later, not after the 100 ms backoff', async () => {
    const job = 'fault-429';
    const p = await proxy((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '2' }, body: 'slow down' } : 'forward'));
    const { s, exp } = exporter(job, p.url);
    await exp.start();
    try {
      await exp.consume(metricBatch('pprof', samples(job, 5, 1, Date.now() - 5_000)));
      await waitFor('5 samples sent', async () => (await metric(s.telemetry, SENT, {})) === 5, 10_000);
      assert.equal(p.seen.length, 2);
      const gap = p.seen[1].at - p.seen[0].at;
      // Both instants are read with Date.now() in this process; the timer's own clock is the monotonic
      // one in whole milliseconds, so allow the resend to look up to CLOCK_SLACK_MS early.
      assert.ok(gap >= 2000 - CLOCK_SLACK_MS, `resent after ${gap} ms`);
      assert.equal(await metric(s.telemetry, REQUESTS, { result: 'retry' }), 1);
      assert.equal(await metric(s.telemetry, RETRIED, {}), 5);
      assert.equal(await metric(s.telemetry, DROPPED, {}), 0);
      assert.equal((await stored(job)).size, 5);
    } finally {
      await exp.shutdown();
    }
  });

  for (const isolate of [false, true]) {
    it(`400 for one series, isolate_rejected ${isolate ? 'on: only its samples dropped (rejected), the rest stored' : 'off: the whole request dropped (http_400), never resent'}`, async () => {
      const job = `fault-400-${isolate ? 'isolate' : 'plain'}`;
      const victim = 'victim:1';
      const p = await proxy((_n, request) => (hasInstance(request, victim) ? { status: 400, body: 'out of order sample' } : 'forward'));
      const { s, exp } = exporter(job, p.url, { isolate_rejected: isolate });
      await exp.start();
      try {
        // 20 series x 3 samples, the victim one of them: 60 samples, 3 of the victim.
        await exp.consume(metricBatch('pprof', samples(job, 20, 3, Date.now() - 20_000, (i) => (i === 7 ? victim : `i${i}:1`))));
        if (!isolate) {
          await waitFor('the drop', async () => (await metric(s.telemetry, DROPPED, { reason: 'http_400' })) === 60);
          assert.equal(p.seen.length, 1, 'a 400 is never resent');
          assert.equal(await metric(s.telemetry, REQUESTS, { result: 'failed' }), 1);
          assert.equal(await metric(s.telemetry, REQUESTS, { result: 'retry' }), 0);
          assert.equal(await metric(s.telemetry, RETRIED, {}), 0);
          assert.equal(await metric(s.telemetry, SENT, {}), 0);
          assert.equal(await metric(s.telemetry, DROPPED, { reason: 'rejected' }), 0);
          assert.equal((await stored(job)).size, 0, 'nothing of the request stored');
          return;
        }
        await waitFor('57 samples sent', async () => (await metric(s.telemetry, SENT, {})) === 57);
        await waitFor('3 rejected', async () => (await metric(s.telemetry, DROPPED, { reason: 'rejected' })) === 3);
        assert.equal(await metric(s.telemetry, DROPPED, { reason: 'http_400' }), 0);
        assert.equal(await metric(s.telemetry, RETRIED, {}), 0, 'isolation is not a retry');
        // Every request that reached Prometheus lacked the victim, and every one the proxy rejected held it.
        for (const seen of p.seen) assert.equal(seen.status === 400, hasInstance(seen.request, victim));
        const rejectedRequests = p.seen.filter((x) => x.status === 400).length;
        assert.equal(await metric(s.telemetry, REQUESTS, { result: 'failed' }), rejectedRequests);
        assert.equal(await metric(s.telemetry, REQUESTS, { result: 'success' }), p.seen.length - rejectedRequests);
        const got = await stored(job);
        assert.equal(got.size, 19, [...got.keys()].join(' '));
        assert.equal(got.has(victim), false);
        for (const [instance, n] of got) assert.equal(n, 3, instance);
      } finally {
        await exp.shutdown();
      }
    });
  }

  it('stall: the request timeout fires, the request is resent, nothing is lost once the stall ends', async () => {
    const job = 'fault-stall';
    // The first two requests never get an answer; from the third on the proxy forwards.
    const p = await proxy((n) => (n < 2 ? 'stall' : 'forward'));
    const { s, exp } = exporter(job, p.url, { timeout: `${STALL_TIMEOUT_MS}ms` });
    await exp.start();
    try {
      await exp.consume(metricBatch('pprof', samples(job, 8, 2, Date.now() - 10_000)));
      await waitFor('16 samples sent', async () => (await metric(s.telemetry, SENT, {})) === 16, 15_000);
      assert.equal(p.seen.length, 3);
      // Each resend follows a stalled request by at least the timeout.
      assert.ok(p.seen[1].at - p.seen[0].at >= STALL_TIMEOUT_MS - CLOCK_SLACK_MS, `first resend after ${p.seen[1].at - p.seen[0].at} ms`);
      assert.ok(p.seen[2].at - p.seen[1].at >= STALL_TIMEOUT_MS - CLOCK_SLACK_MS, `second resend after ${p.seen[2].at - p.seen[1].at} ms`);
      assert.ok(p.seen[2].raw.equals(p.seen[0].raw));
      assert.equal(await metric(s.telemetry, REQUESTS, { result: 'retry' }), 2);
      assert.equal(await metric(s.telemetry, RETRIED, {}), 32);
      assert.equal(await metric(s.telemetry, DROPPED, {}), 0);
      const got = await stored(job);
      assert.equal(got.size, 8);
      for (const [instance, n] of got) assert.equal(n, 2, instance);
    } finally {
      await exp.shutdown();
    }
  });

  it('a later request behind a stalled one waits in its shard and arrives after it, in order', async () => {
    const job = 'fault-stall-order';
    const p = await proxy((n) => (n === 0 ? 'stall' : 'forward'));
    const { s, exp } = exporter(job, p.url, { timeout: `${STALL_TIMEOUT_MS}ms` });
    await exp.start();
    try {
      const t0 = Date.now() - 10_000;
      await exp.consume(metricBatch('pprof', samples(job, 4, 1, t0)));
      await waitFor('the first request stalled', () => p.seen.length === 1);
      // Queued while the first request hangs: the same series one second later.
      await exp.consume(metricBatch('pprof', samples(job, 4, 1, t0 + 1000)));
      await waitFor('8 samples sent', async () => (await metric(s.telemetry, SENT, {})) === 8, 15_000);
      const forwarded = p.seen.filter((x) => x.rule === 'forward');
      const firstTs = forwarded.map((x) => Math.min(...x.request.timeseries.flatMap((ts) => ts.samples.map((sm) => sm.timestamp))));
      assert.deepEqual(firstTs, [...firstTs].sort((a, b) => a - b), 'the older samples reach Prometheus first');
      assert.equal(await metric(s.telemetry, DROPPED, {}), 0);
      const got = await stored(job);
      assert.equal(got.size, 4);
      for (const [instance, n] of got) assert.equal(n, 2, instance);
      assert.doesNotMatch(prom.logs(), /out of order/i);
    } finally {
      await exp.shutdown();
    }
  });
});
