// A page of a million series beside a small target, on the prometheus receiver at the defaults (issue 11):
// the big one fails on sample_limit (100,000 by default: the parser stops there) with the daemon's memory
// bounded; the small one loses nothing, scrape after scrape.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_SAMPLE_LIMIT } from '../../core/scrape/config.js';
import { startDaemon, type Daemon } from '../harness/pprofcol.js';

const MIB = 1024 * 1024;
const BIG_SERIES = 1_000_000;
const SMALL_SERIES = 200;
const RUN_MS = 15_000;
/**
 * What the big page may cost the daemon beyond its idle RSS: the body's chunks, the body joined and its
 * string (one byte per character for ASCII) = 3 x the page; the parsed samples up to the limit (a
 * sample, its labels and its series entry: < 1 KiB each); and 128 MiB of V8 slack, since the garbage of
 * one failed scrape per second is collected in its own time. Without the limit (sample_limit: 0, the
 * page into a remote-write exporter) the daemon peaked at 1.06 GB (VmHWM, 15 s at 1 s); with it, 355 MB.
 */
const boundOver = (pageBytes: number) => 3 * pageBytes + DEFAULT_SAMPLE_LIMIT * 1024 + 128 * MIB;

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

function page(series: number, metric: string): Buffer {
  const lines = [`# TYPE ${metric} gauge`];
  for (let i = 0; i < series; i++) lines.push(`${metric}{shard="${i}",zone="z${i % 7}"} ${i}`);
  return Buffer.from(lines.join('\n') + '\n');
}

describe('a million-series page beside a small target', () => {
  const servers: Server[] = [];
  let daemon: Daemon;
  let bigPage: Buffer;
  let serveBig = false;

  async function serve(body: () => Buffer | undefined): Promise<string> {
    const server = createServer((_req, res) => {
      const b = body();
      if (b === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': b.length }).end(b);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  before(async () => {
    bigPage = page(BIG_SERIES, 'big_series');
    const smallPage = page(SMALL_SERIES, 'small_series');
    const big = await serve(() => (serveBig ? bigPage : undefined));
    const small = await serve(() => smallPage);
    const job = (name: string, address: string) => `
      - job_name: ${name}
        scrape_interval: 1s
        static_configs: [{targets: ["${address}"]}]`;
    daemon = await startDaemon(`
receivers:
  prometheus:
    scrape_configs:${job('big', big)}${job('small', small)}
exporters: {debug: {timestamps: true}}
service:
  pipelines: {metrics: {receivers: [prometheus], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    await daemon.waitFor('stdout', /^up\{instance="[^"]+",job="small"\} 1 \d+$/m, 20_000);
  });

  after(async () => {
    const code = await daemon?.stop('SIGTERM');
    for (const s of servers) s.close();
    assert.equal(code, 0, daemon?.stderr().slice(-3000));
  });

  it('the big page fails on sample_limit within a memory bound; the small target loses nothing', { timeout: 80_000 }, async () => {
    const pid = daemon.child.pid!;
    await sleep(2_000);
    const idleRss = status(pid, 'VmRSS');
    serveBig = true;
    const from = Date.now();
    await sleep(RUN_MS);
    const hwm = status(pid, 'VmHWM');
    const out = daemon.stdout();

    const metrics = await (await fetch(`${daemon.telemetryUrl}/metrics`)).text();
    const limited = Number(/pprofcol_receiver_scrape_failures_total\{receiver="prometheus",job="big",reason="sample_limit"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    assert.ok(limited >= RUN_MS / 1000 - 4, `big: ${limited} scrapes failed on sample_limit in ${RUN_MS} ms`);
    const bigUp = [...out.matchAll(/^up\{instance="[^"]+",job="big"\} (\d) (\d+)$/gm)].filter((m) => Number(m[2]) >= from);
    assert.ok(bigUp.length > 0 && bigUp.every((m) => m[1] === '0'), 'big: up 0 on every scrape');
    assert.doesNotMatch(out, /^big_series\{/m, 'nothing of the big page is handed on');

    // The small target: every scrape up and complete.
    const smallUp = [...out.matchAll(/^up\{instance="[^"]+",job="small"\} (\d) (\d+)$/gm)].filter((m) => Number(m[2]) >= from);
    assert.ok(smallUp.length >= RUN_MS / 1000 - 2, `small: ${smallUp.length} scrapes in ${RUN_MS} ms`);
    const perScrape = new Map<string, number>();
    for (const m of out.matchAll(/^small_series\{[^}]*\} \d+ (\d+)$/gm)) perScrape.set(m[1], (perScrape.get(m[1]) ?? 0) + 1);
    for (const m of smallUp) {
      assert.equal(perScrape.get(m[2]), SMALL_SERIES, `small: scrape at ${m[2]} handed on ${perScrape.get(m[2])} of ${SMALL_SERIES} series`);
    }
    assert.ok(smallUp.every((m) => m[1] === '1'), 'small: up 1 on every scrape');

    const bound = idleRss + boundOver(bigPage.length);
    assert.ok(hwm <= bound, `VmHWM ${(hwm / MIB).toFixed(0)} MiB > idle ${(idleRss / MIB).toFixed(0)} + ${(boundOver(bigPage.length) / MIB).toFixed(0)} MiB`);
    process.stdout.write(`# page ${(bigPage.length / MIB).toFixed(1)} MiB; idle RSS ${(idleRss / MIB).toFixed(0)} MiB, VmHWM ${(hwm / MIB).toFixed(0)} MiB (bound ${(bound / MIB).toFixed(0)})\n`);
  });
});
