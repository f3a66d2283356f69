// Crafted profiles beside a good target, at a 1 s interval (issue 11): the location bomb, a table of
// 1.3 million functions, deep stacks and a 60 MiB goroutine?debug=2 dump, each from a server of this
// test's own. First a phase without attack (the crafted servers answer 404), then the attack:
// - each crafted target has pprof_up 0 and its reason counted (too_large: over the decoder's budget;
//   decode: stacks deeper than Go writes, a dump of more states than Go has);
// - the daemon's peak RSS (VmHWM) stays <= its idle RSS + decode_workers x the decoder's bound + the
//   bodies in flight on the main thread (see MARGIN);
// - the good target's scrape-start lag p99 during the attack is <= its p99 without attack + 50 ms.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MAX_INFLATED_BYTES, DEFAULT_WORKING_BYTES_PER_INPUT_BYTE, WORKING_BYTES_FLOOR } from '../../core/pprof/decode.js';
import { DEFAULT_DECODE_WORKERS } from '../../receivers/pprof/config.js';
import { deepStacks, goroutineDump, gz, locationBomb, millionFunctions } from '../harness/crafted.js';
import { eventually, startDaemon, type Daemon } from '../harness/pprofcol.js';
import { startGoProgram, type GoProgramServer } from '../harness/servers.js';

const MIB = 1024 * 1024;
const INTERVAL_MS = 1000;
const CALM_MS = 10_000;
const ATTACK_MS = 20_000;
/** One decode at most: the inflated bytes + the working-memory budget (core/pprof/decode.ts). */
const DECODER_BOUND = DEFAULT_MAX_INFLATED_BYTES + DEFAULT_WORKING_BYTES_PER_INPUT_BYTE * DEFAULT_MAX_INFLATED_BYTES + WORKING_BYTES_FLOOR;
/**
 * What the main thread may hold beside the workers: per crafted target one body (<= body_size_limit,
 * 64 MiB) and its inflated bytes until they move to a worker (<= 64 MiB), plus 64 MiB of V8 slack.
 */
const CRAFTED = 4;
const MARGIN = CRAFTED * 2 * 64 * MIB + 64 * MIB;

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

/** Scrape-start lags of one phase, ms: start times against the phase's own grid (the interval from its earliest start). */
function lags(starts: number[]): number[] {
  const base = Math.min(...starts.map((t, k) => t - k * INTERVAL_MS));
  return starts.map((t, k) => t - k * INTERVAL_MS - base);
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
}

describe('crafted profiles beside a good target', () => {
  let attack = false;
  const servers: Server[] = [];
  let good: GoProgramServer;
  let daemon: Daemon;

  async function serve(body: Buffer, type: string): Promise<string> {
    const server = createServer((_req, res) => {
      if (!attack) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': type, 'content-length': body.length });
      res.end(body);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  before(async () => {
    const proto = 'application/octet-stream';
    const targets = {
      bomb: ['allocs', await serve(gz(locationBomb()), proto)],
      functions: ['mutex', await serve(gz(millionFunctions()), proto)],
      deep: ['block', await serve(gz(deepStacks()), proto)],
      dump: ['goroutine_states', await serve(goroutineDump(), 'text/plain')],
    };
    good = await startGoProgram('goroutines', ['-goroutines', '20']);
    const job = (name: string, address: string, profiles: string) => `
      - job_name: ${name}
        scrape_interval: 1s
        profiles: [${profiles}]
        static_configs: [{targets: ["${address}"]}]`;
    daemon = await startDaemon(`
receivers:
  pprof:
    scrape_configs:${job('good', good.hostPort, 'goroutine, threadcreate, heap')}${Object.entries(targets).map(([name, [profiles, address]]) => job(name, address, profiles)).join('')}
processors: {pprof_metrics: {}}
exporters: {debug: {timestamps: true}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    await daemon.waitFor('stdout', /^pprof_up\{instance="[^"]+",job="good"\} 1 \d+$/m, 20_000);
  });

  after(async () => {
    const code = await daemon?.stop('SIGTERM');
    await good?.stop();
    for (const s of servers) s.close();
    assert.equal(code, 0, daemon?.stderr().slice(-3000));
  });

  it('bad targets down with their reasons, memory within the bound, the good target on schedule', { timeout: 85_000 }, async () => {
    const goodStarts = () => [...daemon.stdout().matchAll(/^pprof_up\{instance="[^"]+",job="good"\} 1 (\d+)$/gm)].map((m) => Number(m[1]));
    const pid = daemon.child.pid!;
    await sleep(CALM_MS);
    const idleRss = status(pid, 'VmRSS');
    const calm = goodStarts();
    attack = true;
    const attackFrom = Date.now();
    await sleep(ATTACK_MS);
    const during = goodStarts().filter((t) => t >= attackFrom);

    const expected = [['bomb', 'too_large'], ['functions', 'too_large'], ['deep', 'decode'], ['dump', 'decode']];
    const failures = (metrics: string, job: string, reason: string) =>
      Number(new RegExp(`pprofcol_receiver_scrape_failures_total\\{receiver="pprof",job="${job}",reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    // A million-function profile takes a worker a second or more to refuse on a loaded 2-core machine
    // (4 refusals in the 20s phase once, beside another test file): the count is awaited, not assumed.
    const metrics = await eventually('3 failures of each bad target with its reason', 20_000, async () => {
      const text = await (await fetch(`${daemon.telemetryUrl}/metrics`)).text();
      return expected.every(([job, reason]) => failures(text, job, reason) >= 3) ? text : undefined;
    }).catch(async () => (await fetch(`${daemon.telemetryUrl}/metrics`)).text());
    for (const [job, reason] of expected) {
      assert.ok(failures(metrics, job, reason) >= 3, `${job}: ${failures(metrics, job, reason)} failures with reason ${reason}\n${metrics.split('\n').filter((l) => l.includes(job)).join('\n')}`);
      assert.match(daemon.stdout(), new RegExp(`^pprof_up\\{instance="[^"]+",job="${job}"\\} 0 \\d+$`, 'm'));
    }
    const hwm = status(pid, 'VmHWM');
    assert.match(metrics, /^pprofcol_receiver_decode_queue_profiles\{receiver="pprof"\} \d+$/m);

    const bound = idleRss + DEFAULT_DECODE_WORKERS * DECODER_BOUND + MARGIN;
    assert.ok(hwm <= bound, `VmHWM ${(hwm / MIB).toFixed(0)} MiB > idle ${(idleRss / MIB).toFixed(0)} + ${DEFAULT_DECODE_WORKERS} x ${(DECODER_BOUND / MIB).toFixed(0)} + ${(MARGIN / MIB).toFixed(0)} MiB`);

    // Lag: the calm phase's scrapes (after the first two, the process warming) against the attack's.
    const calmLags = lags(calm.slice(2));
    const attackLags = lags(during);
    assert.ok(calmLags.length >= 5 && attackLags.length >= 15, `${calmLags.length} calm and ${attackLags.length} attack scrapes of the good target`);
    const calmP99 = p99(calmLags);
    const attackP99 = p99(attackLags);
    assert.ok(attackP99 <= calmP99 + 50, `good target's scrape-start lag p99: ${attackP99} ms under attack vs ${calmP99} ms calm (lags ${attackLags.join(',')})`);
    assert.doesNotMatch(daemon.stdout(), /^pprof_up\{[^}]*job="good"\} 0 /m);
    process.stdout.write(`# idle RSS ${(idleRss / MIB).toFixed(0)} MiB, VmHWM ${(hwm / MIB).toFixed(0)} MiB (bound ${(bound / MIB).toFixed(0)}); lag p99 calm ${calmP99} ms, attack ${attackP99} ms\n`);
  });
});
