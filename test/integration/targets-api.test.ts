// /api/v1/targets against a live daemon whose target goes up -> down -> up (a real Prometheus serving
// /debug/pprof, stopped and restarted on the same port), beside a second real Prometheus scraping the
// same target: health and lastError follow the target, and pprofcol's answer has the keys and value
// types of Prometheus 2.42's own, in each state.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startDaemon, type Daemon } from '../harness/pprofcol.js';
import { startPrometheus, type PromServer } from '../harness/servers.js';

interface ApiTarget {
  labels: Record<string, string>;
  scrapePool: string;
  health: string;
  lastError: string;
  lastScrape: string;
  [key: string]: unknown;
}

async function activeTargets(base: string): Promise<ApiTarget[]> {
  const res = await fetch(`${base}/api/v1/targets`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as { status: string; data: { activeTargets: ApiTarget[]; droppedTargets: unknown[] } };
  assert.equal(body.status, 'success');
  assert.ok(Array.isArray(body.data.droppedTargets), 'droppedTargets is a list');
  return body.data.activeTargets;
}

/** Keys and the JSON type of each value, recursively: what two answers must share. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape((value as Record<string, unknown>)[k])]));
  }
  return value === null ? 'null' : typeof value;
}

/** Waits until both see the target in `health`; returns [pprofcol's, Prometheus's]. */
async function both(daemon: Daemon, observer: PromServer, health: string, timeoutMs: number): Promise<[ApiTarget, ApiTarget]> {
  return eventually(`the target ${health} in pprofcol and in Prometheus`, timeoutMs, async () => {
    const [ours] = await activeTargets(daemon.telemetryUrl);
    const [theirs] = await activeTargets(observer.url);
    return ours?.health === health && theirs?.health === health ? ([ours, theirs] as [ApiTarget, ApiTarget]) : undefined;
  });
}

describe('/api/v1/targets follows a target up -> down -> up, shaped as Prometheus 2.42 answers', () => {
  let target: PromServer;
  let observer: PromServer;
  let daemon: Daemon;

  before(async () => {
    target = await startPrometheus();
    // A second Prometheus scrapes the target's /metrics under the same job name, every second.
    observer = await startPrometheus({ scrapeTargets: [{ job: 'watched', targets: [target.hostPort], interval: '1s' }] });
    daemon = await startDaemon(`
receivers:
  pprof:
    scrape_configs:
      - job_name: watched
        scrape_interval: 1s
        static_configs: [{targets: ["${target.hostPort}"]}]
processors: {pprof_metrics: {}}
exporters: {debug: {}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    await daemon.waitFor('stderr', /pprofcol started/, 20_000);
  });
  after(async () => {
    await daemon?.stop();
    await Promise.all([target?.stop(), observer?.stop()]);
  });

  it('health and lastError follow; keys and value types equal Prometheus\'s in each state', async () => {
    // Prometheus lists a static target only after its discovery manager's first update (5s), then scrapes
    // every 1s; 30s covers that on a loaded machine. Later states need one or two scrapes: 15s.
    const [up1, promUp] = await both(daemon, observer, 'up', 30_000);
    assert.deepEqual(shape(up1), shape(promUp));
    assert.deepEqual(Object.keys(up1), Object.keys(promUp), 'the keys in Prometheus\'s order');
    assert.deepEqual(up1.labels, promUp.labels, 'the same job and instance labels as Prometheus gives the target');
    assert.equal(up1.scrapePool, 'watched');
    assert.equal(up1.lastError, '');
    assert.equal(up1.scrapeInterval, promUp.scrapeInterval);
    assert.equal(up1.scrapeTimeout, promUp.scrapeTimeout);
    assert.ok(Math.abs(Date.parse(up1.lastScrape) - Date.now()) < 10_000, `lastScrape ${up1.lastScrape}`);
    assert.equal(typeof up1.lastScrapeDuration, 'number');
    assert.ok((up1.lastScrapeDuration as number) > 0 && (up1.lastScrapeDuration as number) < 1, `lastScrapeDuration ${up1.lastScrapeDuration}`);

    await target.stopProcess();
    const [down, promDown] = await both(daemon, observer, 'down', 15_000);
    assert.deepEqual(shape(down), shape(promDown));
    assert.match(down.lastError, /cannot connect: ECONNREFUSED/);
    assert.match(down.lastError, new RegExp(target.hostPort.replace(/\./g, '\\.')), 'the error names what it could not reach');
    assert.notEqual(promDown.lastError, '');
    assert.ok(Date.parse(down.lastScrape) > Date.parse(up1.lastScrape), 'lastScrape moves on');

    await target.restart();
    const [up2, promUp2] = await both(daemon, observer, 'up', 15_000);
    assert.deepEqual(shape(up2), shape(promUp2));
    assert.equal(up2.lastError, '', 'the error clears once the target answers again');
    assert.ok(Date.parse(up2.lastScrape) > Date.parse(down.lastScrape));

    // The pipeline API tells the same, with what Prometheus's answer has no room for.
    const res = await fetch(`${daemon.telemetryUrl}/api/v1/status/pipeline`);
    const pipeline = (await res.json()) as { data: { receivers: Array<{ id: string; targets: Array<{ health: string; samples: number; sources: string[] }> }> } };
    const t = pipeline.data.receivers.find((r) => r.id === 'pprof')?.targets[0];
    assert.equal(t?.health, 'up');
    assert.ok((t?.samples ?? 0) > 0, `samples ${t?.samples}`);
    const sources = t?.sources ?? [];
    assert.ok(sources.length > 0, 'the target names the URLs it was scraped from');
    assert.ok(sources.every((s) => s.startsWith(`http://${target.hostPort}/`)), `sources ${sources}`);
  });
});
