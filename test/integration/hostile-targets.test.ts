// Hostile targets (servers of this test's own): each gets pprof_up 0 with its reason counted,
// memory stays bounded, and a good target beside them keeps its schedule.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createGzip } from 'node:zlib';
import { eventually, startDaemon, type Daemon } from '../harness/pprofcol.js';
import { startGoProgram, type GoProgramServer } from '../harness/servers.js';

const INFLATED_BOMB_BYTES = 1024 ** 3; // 1 GiB of zeros, about 1 MiB gzipped

async function gzipBomb(): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < INFLATED_BOMB_BYTES; written += zeros.length) {
    if (!gzip.write(zeros)) await new Promise((r) => gzip.once('drain', r));
  }
  gzip.end();
  await done;
  return Buffer.concat(chunks);
}

interface Hostile {
  server: Server;
  address: string;
  sockets: Set<Socket>;
}

async function serve(handler: Parameters<typeof createServer>[1]): Promise<Hostile> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, sockets, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

describe('hostile targets', () => {
  const hostiles: Record<string, Hostile> = {};
  let good: GoProgramServer;
  let daemon: Daemon;

  before(async () => {
    const bomb = await gzipBomb();
    hostiles.garbage = await serve((_req, res) => res.end('<html>this is not a profile</html>\n'));
    hostiles.endless = await serve((_req, res) => {
      // Chunked, no Content-Length, never ends: only the size limit stops the reader.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (res.write(chunk)) { /* fill the socket buffer */ }
        res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    hostiles.bomb = await serve((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': bomb.length });
      res.end(bomb);
    });
    hostiles.declared = await serve((_req, res) => {
      // Announces more than body_size_limit and starts sending: the refusal must not crash the daemon
      // (an undici body destroyed without an 'error' listener did).
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 100 * 1024 * 1024 });
      res.write(Buffer.alloc(256 * 1024, 'x'));
    });
    hostiles.silent = await serve(() => {
      /* accepts the request and never answers */
    });
    good = await startGoProgram('goroutines', ['-goroutines', '20']);
    const job = (name: string, address: string, extra = '') => `
      - job_name: ${name}
        scrape_interval: 2s
        scrape_timeout: 1500ms${extra}
        static_configs: [{targets: ["${address}"]}]`;
    daemon = await startDaemon(`
receivers:
  pprof:
    scrape_configs:${job('good', good.hostPort)}${job('garbage', hostiles.garbage.address)}${job('endless', hostiles.endless.address, '\n        body_size_limit: 8MiB')}${job('bomb', hostiles.bomb.address)}${job('declared', hostiles.declared.address, '\n        body_size_limit: 8MiB')}${job('silent', hostiles.silent.address)}
processors: {pprof_metrics: {}}
exporters: {debug: {timestamps: true}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
  });

  after(async () => {
    const code = await daemon?.stop('SIGTERM');
    await good?.stop();
    for (const h of Object.values(hostiles)) {
      for (const s of h.sockets) s.destroy();
      h.server.close();
    }
    assert.equal(code, 0, daemon?.stderr());
  });

  it('gives each pprof_up 0 and counts its reason; the good target keeps its schedule; memory stays bounded', async () => {
    const failures = (text: string, job: string, reason: string) =>
      Number(new RegExp(`pprofcol_receiver_scrape_failures_total\\{receiver="pprof",job="${job}",reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    const expected: Array<[string, string]> = [['garbage', 'decode'], ['endless', 'too_large'], ['bomb', 'too_large'], ['declared', 'too_large'], ['silent', 'timeout']];
    let peakRss = 0;
    const failedScrapes = (text: string, job: string) =>
      Number(new RegExp(`pprofcol_receiver_scrapes_total\\{receiver="pprof",job="${job}",result="failure"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    await eventually('every hostile target failed 6 scrapes', 60_000, async () => {
      peakRss = Math.max(peakRss, rssBytes(daemon.child.pid!));
      const text = await (await fetch(`${daemon.telemetryUrl}/metrics`)).text();
      return expected.every(([job]) => failedScrapes(text, job) >= 6) ? text : undefined;
    }).then((text) => {
      // Every profile of every scrape failed, each counted under its own reason.
      for (const [job, reason] of expected) assert.ok(failures(text, job, reason) >= 18, `${job}: ${failures(text, job, reason)} failures with reason ${reason}`);
    });

    for (const [job] of expected) {
      assert.match(daemon.stdout(), new RegExp(`^pprof_up\\{instance="[^"]+",job="${job}"\\} 0 \\d+$`, 'm'), `pprof_up 0 for ${job}`);
    }
    // One 64MiB-limited read at a time per profile, never the inflated GiB: well under 512MiB.
    assert.ok(peakRss < 512 * 1024 ** 2, `daemon RSS peaked at ${(peakRss / 1024 ** 2).toFixed(0)} MiB`);

    // The good target was scraped every 2s, unaffected by the 1.5s hangs beside it.
    const times = [...daemon.stdout().matchAll(/^pprof_up\{instance="[^"]+",job="good"\} 1 (\d+)$/gm)].map((m) => Number(m[1]));
    assert.ok(times.length >= 5, `only ${times.length} scrapes of the good target: ${daemon.stdout().split("\n").filter((l) => l.includes("good")).slice(-12).join("\n")}\n${daemon.stderr().slice(-3000)}`);
    for (let i = 1; i < times.length; i++) {
      const gap = times[i] - times[i - 1];
      assert.ok(Math.abs(gap - 2000) <= 300, `good target scrapes ${times[i - 1]} -> ${times[i]} are ${gap}ms apart`);
    }
    assert.doesNotMatch(daemon.stdout(), /^pprof_up\{[^}]*job="good"\} 0 /m);

    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    assert.doesNotMatch(daemon.stderr(), /uncaught|unhandled|RequestAbortedError/i);

    // Logged once per change of state, not every interval.
    const warnings = daemon.stderr().split('\n').filter((l) => l.includes('"job":"silent"') && l.includes('failing'));
    assert.equal(warnings.length, 1, daemon.stderr());
  });
});
