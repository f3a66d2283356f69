// otlphttp's sending_queue waits for room instead of dropping (sending_queue.block_timeout), as the
// remote-write exporter's memory queue does, through the same admission (core/buffer/admission.ts).
//
// The receiver: no real OTLP receiver can be had on this machine (no OpenTelemetry Collector binary;
// Debian's VictoriaMetrics 1.79 predates its OpenTelemetry ingestion, Prometheus 2.42 its OTLP
// receiver), so it is the capture server of helpers.ts: a real HTTP server that decodes each request
// with opentelemetry-proto's generated ExportMetricsServiceRequest and answers 200 as a collector does,
// paused to stall: it reads a request but answers nothing until resumed, so the exporter's one request
// in flight hangs as it would behind a collector whose pipeline is blocked.
//
// Timing: the pauses are 400 ms against block_timeout 10s (held) or 300 ms (run out), so a loaded
// 2-core machine that delays a timer by a few hundred ms changes no outcome; the only lower bound
// asserted is that a wait lasted at least block_timeout (timers never fire early), less 5 ms of
// rounding between the clocks.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { CreateSettings } from '../../../core/component.js';
import { PprofcolError } from '../../../core/errors.js';
import { silentLogger } from '../../../core/logger.js';
import { metricBatch, type MetricFamily, type Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../exporters/otlphttp/config.js';
import { OtlpHttpExporter } from '../../../exporters/otlphttp/exporter.js';
import { metric, waitFor } from '../../harness/common.js';
import { startOtlpCaptureServer, type OtlpCaptureServer } from './helpers.js';

const SENT = 'pprofcol_exporter_samples_sent_total';
const DROPPED = 'pprofcol_exporter_samples_dropped_total';
const QUEUED = 'pprofcol_exporter_queue_samples';

const goroutines: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' };

const QUEUE_SIZE = 100;
const PER_REQUEST = 50;

/** `n` points of distinct series (one target each, so each is its own resource), in order of `seq`. */
function points(prefix: string, n: number, ts: number): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < n; i++) out.push({ family: goroutines, name: goroutines.name, labels: { job: prefix, instance: `${prefix}:${i}` }, value: i, timestampMs: ts, stale: false });
  return out;
}

function settings(id: string): CreateSettings {
  return { id, logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() };
}

const servers: OtlpCaptureServer[] = [];
const exporters: OtlpHttpExporter[] = [];
after(async () => {
  // A failed test leaves its exporter retrying against a closed server: shut each down first.
  for (const s of servers) s.resume();
  await Promise.all(exporters.map((e) => e.shutdown()));
  await Promise.all(servers.map((s) => s.close()));
});

async function pausedServer(): Promise<OtlpCaptureServer> {
  const server = await startOtlpCaptureServer();
  servers.push(server);
  server.pause();
  return server;
}

function exporter(s: CreateSettings, server: OtlpCaptureServer, blockTimeout?: string): OtlpHttpExporter {
  const exp = new OtlpHttpExporter(
    s,
    configSchema.parse({
      endpoint: server.url,
      sending_queue: { queue_size: QUEUE_SIZE, max_points_per_request: PER_REQUEST, ...(blockTimeout === undefined ? {} : { block_timeout: blockTimeout }) },
    }),
  );
  exporters.push(exp);
  return exp;
}

/** The instances the receiver was answered 200 for, one entry per data point it received. */
function delivered(server: OtlpCaptureServer): string[] {
  const out: string[] = [];
  for (const r of server.requests) for (const res of r.resources) for (const m of res.metrics) for (const _ of m.points) out.push(res.attributes['service.instance.id']);
  return out;
}

/** Tracks whether a promise settled, and how. */
function track(p: Promise<void>): { settled: boolean; error: unknown } {
  const state = { settled: false, error: undefined as unknown };
  p.then(
    () => (state.settled = true),
    (err: unknown) => {
      state.settled = true;
      state.error = err;
    },
  );
  return state;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('otlphttp sending_queue: backpressure instead of drops', () => {
  it('defaults block_timeout to 10s, as the remote-write exporter; 0 means no wait', () => {
    assert.equal(configSchema.parse({ endpoint: 'http://127.0.0.1:4318' }).sending_queue.block_timeout, 10_000);
    assert.equal(configSchema.parse({ endpoint: 'http://127.0.0.1:4318', sending_queue: { block_timeout: '0s' } }).sending_queue.block_timeout, 0);
    assert.equal(configSchema.safeParse({ endpoint: 'http://127.0.0.1:4318', sending_queue: { block_timeout: 'soon' } }).success, false);
  });

  it('a burst of 8x the queue behind a stalled receiver is held, then delivered in full and in order, nothing dropped', async () => {
    const server = await pausedServer();
    const s = settings('otlphttp/held');
    const exp = exporter(s, server);
    await exp.start();
    const ts = Date.now();
    // 8 batches of 100 from one source, handed over without waiting, as a receiver's scrapes piling up.
    const batches = Array.from({ length: 8 }, (_, b) => points(`b${b}`, 100, ts));
    const calls = batches.map((batch) => exp.consume(metricBatch('pprof', batch)));
    const states = calls.map(track);
    await waitFor('one request in flight at the stalled receiver', async () => server.held === 1);
    await sleep(400);
    // The queue holds at most queue_size beside the request in flight; the rest of the burst waits in
    // its callers, and nothing is dropped.
    assert.ok((await metric(s.telemetry, QUEUED, { exporter: s.id })) <= QUEUE_SIZE + PER_REQUEST);
    assert.equal(states.filter((st) => st.settled).length, 1, 'only the first batch is in; the others wait for room');
    assert.equal(await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'queue_full' }), 0);
    assert.equal(server.requests.length, 0);

    server.resume();
    await Promise.all(calls);
    await waitFor('all 800 points sent', async () => (await metric(s.telemetry, SENT, { exporter: s.id })) === 800, 20_000);
    const got = delivered(server);
    assert.equal(got.length, 800);
    assert.deepEqual(got, batches.flat().map((p) => p.labels.instance), 'every point once, in the order consumed');
    assert.equal(await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'queue_full' }), 0);
    await exp.shutdown();
  });

  it('past block_timeout the points still out are dropped, counted as queue_full, and the caller gets ERR_QUEUE_FULL', async () => {
    const server = await pausedServer();
    const s = settings('otlphttp/timeout');
    const exp = exporter(s, server, '300ms');
    await exp.start();
    const ts = Date.now();
    const batch = points('t', 400, ts);
    const began = performance.now();
    const err = await exp.consume(metricBatch('pprof', batch)).then(
      () => assert.fail('consume resolved although the queue stayed full'),
      (e: unknown) => e,
    );
    const waited = performance.now() - began;
    assert.ok(err instanceof PprofcolError && err.code === 'ERR_QUEUE_FULL' && err.retryable, `ERR_QUEUE_FULL, got ${String(err)}`);
    assert.ok(waited >= 295, `waited ${waited.toFixed(0)} ms, block_timeout is 300`);
    // In: one request's worth taken by the sender (in flight) and a full queue behind it.
    const dropped = (err as PprofcolError & { dropped: number }).dropped;
    assert.equal(dropped, 400 - (QUEUE_SIZE + PER_REQUEST));
    assert.equal(await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'queue_full' }), dropped);

    server.resume();
    await waitFor('what was taken is sent', async () => (await metric(s.telemetry, SENT, { exporter: s.id })) === QUEUE_SIZE + PER_REQUEST, 20_000);
    // The first 150 points, in order: what timed out is the batch's tail, not holes in it.
    assert.deepEqual(delivered(server), batch.slice(0, QUEUE_SIZE + PER_REQUEST).map((p) => p.labels.instance));
    await exp.shutdown();
  });

  it('block_timeout 0 drops at once what does not fit', async () => {
    const server = await pausedServer();
    const s = settings('otlphttp/nowait');
    const exp = exporter(s, server, '0s');
    await exp.start();
    // No wait at all: not even for the sender to take its first request out of the queue.
    await assert.rejects(exp.consume(metricBatch('pprof', points('n', 300, Date.now()))), { code: 'ERR_QUEUE_FULL', dropped: 300 - QUEUE_SIZE });
    assert.equal(await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'queue_full' }), 300 - QUEUE_SIZE);
    server.resume();
    await waitFor('what was taken is sent', async () => (await metric(s.telemetry, SENT, { exporter: s.id })) === QUEUE_SIZE, 20_000);
    await exp.shutdown();
  });

  it('a flood from one source does not hold another source behind it: the second gets the first room', async () => {
    const server = await pausedServer();
    const s = settings('otlphttp/fair');
    const exp = exporter(s, server);
    await exp.start();
    const ts = Date.now();
    const flood = track(exp.consume(metricBatch('prometheusremotewrite', points('flood', 1_000, ts))));
    await waitFor('the flood fills the queue', async () => server.held === 1 && (await metric(s.telemetry, QUEUED, { exporter: s.id })) === QUEUE_SIZE + PER_REQUEST);
    const scrape = exp.consume(metricBatch('pprof', points('scrape', 8, ts)));
    const scrapeState = track(scrape);
    await sleep(100);
    assert.equal(scrapeState.settled, false, 'no room yet for anyone');
    server.resume();
    await scrape;
    // The first request answered freed 50 points of room: the waiting source that holds least goes first.
    assert.equal(flood.settled, false, 'the scrape was taken while the flood still waited');
    await waitFor('all of both sent', async () => (await metric(s.telemetry, SENT, { exporter: s.id })) === 1_008, 30_000);
    assert.equal(flood.error, undefined);
    assert.equal(await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'queue_full' }), 0);
    await exp.shutdown();
  });

  it('shutdown ends the waits at once: the caller gets ERR_SHUTTING_DOWN and the points are counted as shutdown', async () => {
    const server = await pausedServer();
    const s = settings('otlphttp/shutdown');
    const exp = exporter(s, server);
    await exp.start();
    const call = exp.consume(metricBatch('pprof', points('s', 400, Date.now())));
    const state = track(call);
    await waitFor('one request in flight at the stalled receiver', async () => server.held === 1);
    const began = performance.now();
    exp.beginShutdown();
    await assert.rejects(call, { code: 'ERR_SHUTTING_DOWN', dropped: 400 - (QUEUE_SIZE + PER_REQUEST) });
    assert.ok(state.settled && performance.now() - began < 5_000, 'not held for block_timeout');
    assert.equal(await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'shutdown' }), 400 - (QUEUE_SIZE + PER_REQUEST));
    server.resume();
    await exp.shutdown();
    assert.equal(await metric(s.telemetry, SENT, { exporter: s.id }), QUEUE_SIZE + PER_REQUEST, 'what was queued is flushed');
  });
});
