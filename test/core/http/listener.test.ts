// The listener bounds on real sockets: header, body and idle timeouts held within a second of their
// setting, max_connections that makes room by evicting the oldest waiting connection, and the
// remote-write receiver's memory budget (413 for a request that can never fit, 503 while others hold
// it) with its concurrency slot taken only once a body has arrived.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Batch } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import type { MetricFamily, Point } from '../../../core/model/metrics.js';
import { encodeWriteRequest, snappyCompress } from '../../../core/remotewrite/index.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { TelemetryServer } from '../../../core/telemetry/server.js';
import { configSchema } from '../../../receivers/prometheusremotewrite/config.js';
import { RemoteWriteReceiver } from '../../../receivers/prometheusremotewrite/receiver.js';
import { eventually } from '../../harness/pprofcol.js';

/**
 * How late a timeout may fire: node looks every 500ms, and on a loaded 2-core machine the event loop
 * can lag another second behind.
 */
const LATE_MS = 1_500;

interface Probe {
  closedAfterMs: number;
  firstLine: string;
}

/** Connects, lets `send` write, and reports when the server closed the socket and what it answered. */
function probe(port: number, send: (s: net.Socket) => void): Promise<Probe> {
  return new Promise((resolve) => {
    const started = performance.now();
    let got = '';
    let timer: NodeJS.Timeout | undefined;
    const socket = net.connect(port, '127.0.0.1', () => send(socket));
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ closedAfterMs: performance.now() - started, firstLine: got.split('\r\n')[0] });
    });
    (socket as net.Socket & { dribble?: (s: string) => void }).dribble = (s: string) => {
      timer = setInterval(() => socket.writable && socket.write(s), 200);
    };
  });
}
const dribble = (s: net.Socket, text: string) => (s as net.Socket & { dribble: (t: string) => void }).dribble(text);

const GAUGE: MetricFamily = { name: 'g', type: 'gauge', help: '', unit: '' };
const request = (samples: number): Buffer => {
  const points: Point[] = [];
  for (let i = 0; i < samples; i++) points.push({ family: GAUGE, name: 'g', labels: { i: String(i) }, value: i, timestampMs: 1000, stale: false });
  return snappyCompress(encodeWriteRequest(points));
};

async function startReceiver(options: Record<string, unknown>, consume: (b: Batch) => Promise<void> = async () => undefined): Promise<RemoteWriteReceiver> {
  const config = configSchema.parse({ endpoint: '127.0.0.1:0', ...options });
  const receiver = new RemoteWriteReceiver({ id: 'prometheusremotewrite', logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() }, config, { consume });
  await receiver.start();
  return receiver;
}

const portOf = (r: RemoteWriteReceiver) => Number(r.address()!.split(':')[1]);
const post = (r: RemoteWriteReceiver, body: Buffer) =>
  fetch(`http://${r.address()}/api/v1/write`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf' } });

describe('listener timeouts', () => {
  let receiver: RemoteWriteReceiver;
  before(async () => {
    receiver = await startReceiver({ header_timeout: '2s', body_timeout: '3s', idle_timeout: '2s' });
  });
  after(() => receiver.shutdown());

  it('answers 408 to silent and slow headers after header_timeout, to a slow body after body_timeout; closes idle keep-alive after idle_timeout', { timeout: 15_000 }, async () => {
    const port = portOf(receiver);
    const [silent, slowHeaders, slowBody, idle] = await Promise.all([
      probe(port, () => undefined),
      probe(port, (s) => {
        s.write('POST /api/v1/write HTTP/1.1\r\nHost: x\r\nX-Slow: ');
        dribble(s, 'x');
      }),
      probe(port, (s) => {
        s.write('POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Encoding: snappy\r\nContent-Length: 1000\r\n\r\n');
        dribble(s, 'x');
      }),
      probe(port, (s) => s.write('POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Encoding: snappy\r\nContent-Length: 1\r\n\r\n\x00')),
    ]);
    for (const [name, p, timeoutMs, answer] of [
      ['silent', silent, 2000, /^HTTP\/1\.1 408/],
      ['slow headers', slowHeaders, 2000, /^HTTP\/1\.1 408/],
      ['slow body', slowBody, 3000, /^HTTP\/1\.1 408/],
      ['idle after an answer', idle, 2000, /^HTTP\/1\.1 204/],
    ] as const) {
      assert.match(p.firstLine, answer, name);
      assert.ok(p.closedAfterMs >= timeoutMs - 50 && p.closedAfterMs <= timeoutMs + LATE_MS, `${name}: closed after ${p.closedAfterMs.toFixed(0)}ms, timeout ${timeoutMs}ms`);
    }
  });

  it('holds the same keys on the telemetry listener', { timeout: 15_000 }, async () => {
    const server = new TelemetryServer(new Telemetry(), { listen: '127.0.0.1:0', header_timeout: 1000, body_timeout: 1000, idle_timeout: 1000, max_connections: 4 });
    const address = await server.start();
    try {
      const p = await probe(Number(address.split(':')[1]), () => undefined);
      assert.match(p.firstLine, /^HTTP\/1\.1 408/);
      assert.ok(p.closedAfterMs <= 1000 + LATE_MS, `closed after ${p.closedAfterMs.toFixed(0)}ms`);
    } finally {
      await server.stop();
    }
  });
});

describe('max_connections', () => {
  /** A whole remote-write request on a raw socket: one connection each, nothing pooled. */
  const wholeRequest = (s: net.Socket) => {
    const body = request(1);
    s.write(`POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Encoding: snappy\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`);
    s.write(body);
  };

  it('evicts the oldest connection waiting over a second to make room for a new one', { timeout: 15_000 }, async () => {
    const receiver = await startReceiver({ max_connections: 3 });
    try {
      const port = portOf(receiver);
      const idle = [probe(port, () => undefined), probe(port, () => undefined), probe(port, () => undefined)];
      await new Promise((r) => setTimeout(r, 1200));
      const answered = await probe(port, wholeRequest);
      assert.match(answered.firstLine, /^HTTP\/1\.1 204/);
      const evicted = await Promise.race([Promise.any(idle), new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000))]);
      assert.ok(evicted !== undefined, 'an idle connection was closed to make room');
      assert.equal(evicted.firstLine, '', 'an idle connection (no request begun) is closed without an answer');
    } finally {
      await receiver.shutdown();
    }
  });

  it('answers 503 to a new connection while every connection has a whole request in progress', { timeout: 15_000 }, async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let waiting = 0;
    const receiver = await startReceiver({ max_connections: 2 }, () => (waiting++, gate));
    try {
      const port = portOf(receiver);
      const connected = performance.now();
      const held = [probe(port, wholeRequest), probe(port, wholeRequest)];
      // Both requests in progress (at the gate), not merely sent: a fixed pause does not promise that on a
      // loaded machine. And both connections over a second old, so they are what eviction would pick.
      await eventually('both requests at the gate', 10_000, () => (waiting === 2 ? true : undefined));
      await new Promise((r) => setTimeout(r, Math.max(0, 1200 - (performance.now() - connected))));
      const refused = await probe(port, wholeRequest);
      assert.match(refused.firstLine, /^HTTP\/1\.1 503/, 'refused with an answer');
      release();
      for (const p of await Promise.all(held)) assert.match(p.firstLine, /^HTTP\/1\.1 204/, 'requests in progress are never cut');
    } finally {
      release();
      await receiver.shutdown();
    }
  });
});

describe('max_inflight_bytes and the concurrency slot', () => {
  it('413 for a request that alone is over the budget; 503 for one that meets a budget others hold', { timeout: 15_000 }, async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let waiting = 0;
    const receiver = await startReceiver({ max_inflight_bytes: '2MiB' }, () => (waiting++, gate));
    try {
      // 20000 samples: ~1 MiB decoded and ~200 bytes a point: over 2 MiB whatever else is in flight.
      let res = await post(receiver, request(20_000));
      assert.equal(res.status, 413);
      assert.match(await res.text(), /max_inflight_bytes/);
      // 4000 samples (~1.2 MiB charged) fit alone; the second meets the first's charge while it waits on the gate.
      const first = post(receiver, request(4000));
      // Waited for at the gate (charged), not for a fixed 300 ms that a loaded machine may not honour.
      await eventually('the first request at the gate', 10_000, () => (waiting === 1 ? true : undefined));
      res = await post(receiver, request(4000));
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      release();
      assert.equal((await first).status, 204);
      assert.equal((await post(receiver, request(4000))).status, 204, 'the budget is free again once answered');
    } finally {
      release();
      await receiver.shutdown();
    }
  });

  it('a slow body holds no concurrency slot', { timeout: 15_000 }, async () => {
    const receiver = await startReceiver({ max_concurrent_requests: 1, body_timeout: '2s' });
    try {
      const slow = probe(portOf(receiver), (s) => {
        s.write('POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Encoding: snappy\r\nContent-Length: 100000\r\n\r\n');
        dribble(s, 'x');
      });
      await new Promise((r) => setTimeout(r, 300));
      const res = await post(receiver, request(10));
      assert.equal(res.status, 204, await res.text());
      await receiver.shutdown();
      await slow;
    } finally {
      await receiver.shutdown();
    }
  });
});
