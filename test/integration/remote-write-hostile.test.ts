// Hostile remote-write clients against a live daemon at its defaults (max_connections lowered to 64,
// as the attack has 200 sockets): slow headers, slow bodies, idle sockets, sample bombs and decoded-size
// bombs at once. The daemon stays up with bounded memory, every request gets an answer, and a
// well-behaved sender beside the attackers gets every sample into a real Prometheus.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { MetricFamily } from '../../core/model/metrics.js';
import { encodeWriteRequest, snappyCompress } from '../../core/remotewrite/index.js';
import { eventually, startDaemonOnFreePort, type Daemon } from '../harness/pprofcol.js';
import { startPrometheus, type PromServer } from '../harness/servers.js';

const MAX_CONNECTIONS = 64;
/** The receiver's default max_inflight_bytes (receivers/prometheusremotewrite/config.ts). */
const MAX_INFLIGHT_BYTES = 256 * 1024 ** 2;
/**
 * VmHWM may pass idle RSS + max_inflight_bytes by this much: V8 frees a refused request's garbage only
 * at its next GC (young and old space slack), plus the sockets' buffers and snappy's native output.
 */
const RSS_MARGIN_BYTES = 128 * 1024 ** 2;
const ATTACK_MS = 20_000;

const GAUGE: MetricFamily = { name: 'rw_good_sample', type: 'gauge', help: 'A well-behaved sender.', unit: '' };

function vm(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
}

const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};

/** One series (`__name__` only) with `samples` empty Sample messages: two bytes each on the wire. */
function sampleBomb(samples: number): Buffer {
  const label = Buffer.from([0x0a, 0x0e, 0x0a, 0x08, ...Buffer.from('__name__'), 0x12, 0x02, ...Buffer.from('ab')]);
  const series = Buffer.alloc(label.length + samples * 2);
  label.copy(series);
  for (let i = label.length; i < series.length; i += 2) series[i] = 0x12; // field 2, length 0
  return snappyCompress(Buffer.concat([Buffer.from([0x0a, ...varint(series.length)]), series]));
}

/** The same valid series again and again: ~250MiB decoded from ~12MiB of snappy. */
function repetitiveBomb(): Buffer {
  const one = encodeWriteRequest([{ family: GAUGE, name: 'rw_repeat', labels: { pad: 'x'.repeat(200) }, value: 1, timestampMs: Date.now(), stale: false }]);
  const copies = Math.floor((250 * 1024 ** 2) / one.length);
  const body = Buffer.alloc(one.length * copies);
  for (let i = 0; i < copies; i++) one.copy(body, i * one.length);
  return snappyCompress(body);
}

interface SocketOutcome {
  answer: string | undefined;
}

/** A client that sends `head` at once and then one byte a second until the server closes the socket. */
function dribbler(port: number, head: string, outcomes: SocketOutcome[], stop: { now: boolean }): void {
  const outcome: SocketOutcome = { answer: undefined };
  const socket = net.connect(port, '127.0.0.1');
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    outcomes.push(outcome);
    socket.write(head);
    timer = setInterval(() => socket.write('x'), 1000);
  });
  socket.on('data', (d: Buffer) => {
    outcome.answer ??= d.toString('latin1').split('\r\n')[0];
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    clearInterval(timer);
    // Keep the pressure on: the attacker reconnects at once.
    if (!stop.now) setTimeout(() => dribbler(port, head, outcomes, stop), 50);
  });
}

interface GoodSender {
  /** Samples made (one a second, values 0, 1, 2, ...). */
  made: number;
  lost: string[];
  retries: number;
}

/**
 * A sender as Prometheus is one: a sample a second goes into a queue, and what is queued goes out
 * in one request, retried on 5xx and network errors with backoff (30ms doubling; capped at 1s here,
 * Prometheus's max_backoff is 5s). A 4xx would drop the request: a loss.
 */
async function goodSender(url: string, untilMs: number): Promise<GoodSender> {
  const result: GoodSender = { made: 0, lost: [], retries: 0 };
  const queue: Array<{ value: number; timestampMs: number }> = [];
  const maker = setInterval(() => queue.push({ value: result.made++, timestampMs: Date.now() }), 1000);
  queue.push({ value: result.made++, timestampMs: Date.now() });
  try {
    while (Date.now() < untilMs || queue.length > 0) {
      if (queue.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const batch = queue.splice(0, queue.length);
      const body = snappyCompress(
        encodeWriteRequest(batch.map((s) => ({ family: GAUGE, name: 'rw_good_sample', labels: { job: 'good' }, value: s.value, timestampMs: s.timestampMs, stale: false }))),
      );
      for (let backoff = 30; ; backoff = Math.min(backoff * 2, 1000)) {
        try {
          const res = await fetch(url, {
            method: 'POST',
            body: new Uint8Array(body),
            headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' },
            signal: AbortSignal.timeout(10_000),
          });
          const text = await res.text();
          if (res.status < 300) break;
          if (res.status < 500) {
            result.lost.push(`samples ${batch[0].value}-${batch.at(-1)!.value}: HTTP ${res.status} ${text}`);
            break;
          }
        } catch {
          // A reset or refused connection: Prometheus retries these too.
        }
        result.retries++;
        await new Promise((r) => setTimeout(r, backoff));
      }
      if (Date.now() >= untilMs) clearInterval(maker);
    }
  } finally {
    clearInterval(maker);
  }
  return result;
}

/**
 * Posts a bomb and returns its status. A connection error is retried (as any sender does) and counted:
 * under max_connections a new connection may be refused, and a keep-alive socket closed to make room
 * can race the next request written on it.
 */
async function post(url: string, body: Buffer, errors: string[]): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        body: new Uint8Array(body),
        headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' },
        signal: AbortSignal.timeout(30_000),
      });
      await res.text();
      return res.status;
    } catch (err) {
      errors.push(String((err as Error).cause ?? err));
      if (errors.length > 1000) throw new Error(`bomb posts keep failing: ${[...new Set(errors)].slice(0, 5).join("; ")}`);
    }
  }
}

describe('remote-write receiver under hostile clients', () => {
  let prometheus: PromServer;
  let daemon: Daemon;
  let port: number;
  before(async () => {
    prometheus = await startPrometheus({ remoteWriteReceiver: true });
    ({ daemon, port } = await startDaemonOnFreePort((port) => `
receivers:
  prometheusremotewrite: {endpoint: "127.0.0.1:${port}", max_connections: ${MAX_CONNECTIONS}}
exporters:
  prometheusremotewrite: {endpoint: "${prometheus.url}/api/v1/write"}
service:
  pipelines: {metrics: {receivers: [prometheusremotewrite], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`, /remote-write receiver listening/, 20_000));
  });
  after(async () => {
    const code = await daemon?.stop('SIGTERM');
    await prometheus?.stop();
    assert.equal(code, 0, daemon?.stderr().slice(-3000));
  });

  it('stays up, bounded and answering; the good sender loses nothing', async () => {
    const url = `http://127.0.0.1:${port}/api/v1/write`;
    const pid = daemon.child.pid!;
    const idleRss = vm(pid, 'VmRSS');
    const bombs = { samples30M: sampleBomb(30_000_000), samples4M: sampleBomb(4_000_000), repetitive: repetitiveBomb() };
    assert.ok(bombs.samples30M.length < 4 * 1024 ** 2 && bombs.repetitive.length < 16 * 1024 ** 2, 'the bombs are small on the wire');

    const stop = { now: false };
    const outcomes: SocketOutcome[] = [];
    const headerHead = `POST /api/v1/write HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nX-Slow: `;
    const bodyHead = `POST /api/v1/write HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Encoding: snappy\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n`;
    const good = goodSender(url, Date.now() + ATTACK_MS + 3_000);
    for (let i = 0; i < 150; i++) dribbler(port, headerHead, outcomes, stop);
    for (let i = 0; i < 50; i++) dribbler(port, bodyHead, outcomes, stop);
    // Idle sockets that never send a byte.
    const idle: net.Socket[] = [];
    for (let i = 0; i < 100; i++) idle.push(net.connect(port, '127.0.0.1').on('error', () => undefined));

    const bombStatuses: Array<[string, number]> = [];
    const bombErrors: string[] = [];
    const attackEnds = Date.now() + ATTACK_MS;
    while (Date.now() < attackEnds) {
      const round = await Promise.all([
        post(url, bombs.samples30M, bombErrors).then((s) => ['samples30M', s] as [string, number]),
        post(url, bombs.samples4M, bombErrors).then((s) => ['samples4M', s] as [string, number]),
        ...Array.from({ length: 5 }, () => post(url, bombs.repetitive, bombErrors).then((s) => ['repetitive', s] as [string, number])),
      ]);
      bombStatuses.push(...round);
      const health = await fetch(`${daemon.telemetryUrl}/healthz`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(health.status, 200, 'the telemetry listener answers during the attack');
    }
    stop.now = true;
    for (const s of idle) s.destroy();
    const goodResult = await good;

    // Alive, no uncaught exception, memory within the budget's bound.
    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    assert.doesNotMatch(daemon.stderr(), /uncaught|unhandled|heap out of memory/i);
    const peak = vm(pid, 'VmHWM');
    assert.ok(
      peak <= idleRss + MAX_INFLIGHT_BYTES + RSS_MARGIN_BYTES,
      `VmHWM ${(peak / 2 ** 20).toFixed(0)} MiB over idle ${(idleRss / 2 ** 20).toFixed(0)} MiB + max_inflight_bytes + ${RSS_MARGIN_BYTES / 2 ** 20} MiB`,
    );

    // Every bomb got its 413 (they can never fit), or a 503 while the budget was held; none hung or reset.
    assert.ok(bombStatuses.length >= 14, `${bombStatuses.length} bombs sent`);
    console.log(`bombs: ${bombStatuses.length} answered, ${bombErrors.length} connection errors retried: ${[...new Set(bombErrors)].join('; ')}`);
    console.log(`good sender: ${goodResult.made} samples, ${goodResult.retries} retries; VmHWM ${(vm(pid, 'VmHWM') / 2 ** 20).toFixed(0)} MiB, idle ${(idleRss / 2 ** 20).toFixed(0)} MiB`);
    for (const [name, status] of bombStatuses) assert.ok(status === 413 || status === 503, `${name}: ${status}`);
    assert.ok(bombStatuses.some(([name, s]) => name === 'samples30M' && s === 413), 'the 30M-sample request is refused as one that can never fit');

    // Every slow client that sent a request got an answer (408 past a timeout, 503 when evicted).
    await eventually('every slow socket closed', 20_000, () => (outcomes.every((o) => o.answer !== undefined) ? true : undefined)).catch(() => undefined);
    const unanswered = outcomes.filter((o) => o.answer === undefined).length;
    assert.ok(outcomes.length >= 200, `${outcomes.length} slow connections`);
    assert.equal(unanswered, 0, `${unanswered} of ${outcomes.length} slow connections closed without an answer`);
    for (const o of outcomes) assert.match(o.answer!, /^HTTP\/1\.1 (408|503) /);

    // The good sender: every sample answered 2xx and in Prometheus.
    assert.deepEqual(goodResult.lost, []);
    assert.ok(goodResult.made >= 20, `only ${goodResult.made} good samples in ${ATTACK_MS + 3000}ms`);
    const values = await eventually('every good sample in Prometheus', 30_000, async () => {
      const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent('rw_good_sample{job="good"}[5m]')}`);
      const json = (await res.json()) as { data: { result: Array<{ values: Array<[number, string]> }> } };
      const got = json.data.result[0]?.values.map((v) => Number(v[1])) ?? [];
      return got.length >= goodResult.made ? got : undefined;
    });
    assert.deepEqual(values, Array.from({ length: goodResult.made }, (_, i) => i));

    const metrics = await (await fetch(`${daemon.telemetryUrl}/metrics`)).text();
    assert.match(metrics, /pprofcol_http_connections_closed_total\{listener="prometheusremotewrite",reason="evicted"\} [1-9]/);
    assert.match(metrics, /pprofcol_receiver_write_requests_rejected_total\{receiver="prometheusremotewrite",reason="too_large"\} [1-9]/);
  });
});
