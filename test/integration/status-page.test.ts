// The status page in a real browser: Debian's chromium driven by playwright-core, JavaScript off (the
// page must work without it). A live daemon scrapes one good target (a real Prometheus serving
// /debug/pprof, also its remote-write receiver and native /metrics for gapfill) and one dead one (a port
// nobody listens on): the page shows both, the dead one with its error, the exporter, the loss meter and
// the configuration without its secrets; the health filter is a link; the meta refresh reloads the page.
// Screenshots go to the test's temp folder (their paths are printed as diagnostics).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { pageOptions, renderStatusPage } from '../../core/telemetry/status-page.js';
import { eventually, startDaemon, type Daemon } from '../harness/pprofcol.js';
import { freePort, startPrometheus, type PromServer } from '../harness/servers.js';
import { manyTargets } from '../core/telemetry/fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'hunter2-do-not-show';

interface ApiTarget {
  labels: Record<string, string>;
  health: string;
}

describe('the status page in chromium', () => {
  let prom: PromServer;
  let daemon: Daemon;
  let deadAddress: string;
  let context: BrowserContext;
  let page: Page;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-status-page-'));

  before(async () => {
    prom = await startPrometheus({ remoteWriteReceiver: true });
    // Nothing listens here: the port was free a moment ago and nobody is told about it.
    deadAddress = `127.0.0.1:${await freePort()}`;
    daemon = await startDaemon(`
receivers:
  pprof:
    scrape_configs:
      - job_name: api
        scrape_interval: 1s
        static_configs: [{targets: ["${prom.hostPort}", "${deadAddress}"], labels: {team: "<script>alert(1)</script>"}}]
  prometheus:
    scrape_configs:
      - job_name: api
        scrape_interval: 1s
        static_configs: [{targets: ["${prom.hostPort}"]}]
processors:
  pprof_metrics: {}
  gapfill: {native_receivers: [prometheus], interval: 1s}
exporters:
  prometheusremotewrite:
    endpoint: ${prom.url}/api/v1/write
    basic_auth: {username: writer, password: ${PASSWORD}}
    queue_config: {batch_send_deadline: 1s}
service:
  pipelines: {metrics: {receivers: [pprof, prometheus], processors: [pprof_metrics, gapfill], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    await daemon.waitFor('stderr', /pprofcol started/, 20_000);
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      javaScriptEnabled: false,
      viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await context.newPage();
  });
  after(async () => {
    await context?.close();
    await daemon?.stop();
    await prom?.stop();
    // The browser profile goes; the screenshots stay for a person to look at.
    rmSync(path.join(tmp, 'profile'), { recursive: true, force: true });
  });

  it('shows the good and the dead target, the dead one with its error; the exporter, the loss meter, the masked config', async (t) => {
    // Scrapes every second and a 1s batch deadline: the exporter has sent and both targets have a state well within 20s.
    await eventually('both targets scraped and samples sent', 20_000, async () => {
      const res = await fetch(`${daemon.telemetryUrl}/api/v1/status/pipeline`);
      const body = (await res.json()) as { data: { receivers: Array<{ targets: ApiTarget[] }>; exporters: Array<{ status?: { samplesSent: number } }>; processors: Array<{ lossMeter?: unknown[] }> } };
      const targets = body.data.receivers.flatMap((r) => r.targets);
      const dead = targets.find((x) => x.labels.instance === deadAddress);
      const good = targets.filter((x) => x.labels.instance === prom.hostPort);
      const sent = body.data.exporters[0]?.status?.samplesSent ?? 0;
      const meters = body.data.processors.find((p) => p.lossMeter !== undefined)?.lossMeter?.length ?? 0;
      return dead?.health === 'down' && good.length === 2 && good.every((x) => x.health === 'up') && sent > 0 && meters > 0 ? true : undefined;
    });

    const response = await page.goto(`${daemon.telemetryUrl}/status`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'pprofcol status');

    const group = page.locator('details.group', { hasText: 'pprof / api' });
    const goodRow = group.locator('tr.target', { hasText: prom.hostPort });
    const deadRow = group.locator('tr.target', { hasText: deadAddress });
    assert.equal(await goodRow.locator('.badge').innerText(), 'UP');
    assert.equal(await deadRow.locator('.badge').innerText(), 'DOWN');
    assert.match(await deadRow.locator('.error').innerText(), new RegExp(`${deadAddress.replace(/\./g, '\\.')}.*cannot connect: ECONNREFUSED`));
    assert.equal(await goodRow.locator('.error').count(), 0);
    assert.match(await goodRow.innerText(), /\/debug\/pprof\//, 'the sources read');
    // The label is shown as text, not run: JavaScript is off, but no <script> element may exist either.
    assert.match(await goodRow.locator('.labels').innerText(), /team="<script>alert\(1\)<\/script>"/);
    assert.equal(await page.locator('script').count(), 0);
    // The native /metrics target of the prometheus receiver, in its own group.
    assert.equal(await page.locator('details.group', { hasText: 'prometheus / api' }).locator('.badge').innerText(), 'UP');

    const exporter = page.locator('tr.exporter');
    const exporterText = await exporter.innerText();
    assert.match(exporterText, new RegExp(`${prom.url.replace(/\./g, '\\.')}/api/v1/write`));
    assert.match(exporterText, /remote write 1\.0/);
    assert.match(exporterText, /memory \(500,000 samples\)/);
    assert.match(await page.locator('#gapfill').innerText(), new RegExp(prom.hostPort.replace(/\./g, '\\.')));

    // The page as a person first sees it (the configuration folded), then with the configuration open.
    const shot = path.join(tmp, 'status.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, 'a screenshot with something on it');

    const html = await page.content();
    assert.ok(!html.includes(PASSWORD), 'the password is on the page');
    await page.locator('#config summary').click();
    assert.match(await page.locator('pre.config').innerText(), /password: <secret>/);
    await page.screenshot({ path: path.join(tmp, 'status-config.png'), fullPage: true });
    t.diagnostic(`screenshots: ${shot}, ${path.join(tmp, 'status-config.png')}`);
  });

  it('filters by health with a plain link, and refreshes itself', async () => {
    await page.goto(`${daemon.telemetryUrl}/status`);
    await page.locator('nav.filters a', { hasText: 'Down' }).click();
    assert.match(page.url(), /\?health=down$/);
    const rows = page.locator('tr.target');
    assert.equal(await rows.count(), 1);
    assert.match(await rows.innerText(), new RegExp(deadAddress.replace(/\./g, '\\.')));

    // A one-second refresh: the browser loads the page again by itself (no script runs here).
    await page.goto(`${daemon.telemetryUrl}/?refresh=1`);
    const first = await page.locator('header .meta').first().innerText();
    await page.waitForEvent('load', { timeout: 10_000 });
    const second = await page.locator('header .meta').first().innerText();
    assert.notEqual(second, first, 'the page was generated again');
  });

  it('reads well at 300 targets: grouped, the filter narrowing to the failing ones', async (t) => {
    const status = manyTargets(300, 100, 7);
    await page.setContent(renderStatusPage(status, pageOptions(new URLSearchParams('refresh=0'))));
    assert.equal(await page.locator('details.group').count(), 3);
    assert.equal(await page.locator('tr.target').count(), 300);
    await page.screenshot({ path: path.join(tmp, 'status-300.png'), fullPage: false });
    await page.setContent(renderStatusPage(status, pageOptions(new URLSearchParams('health=down&refresh=0'))));
    assert.equal(await page.locator('tr.target').count(), 42);
    assert.equal(await page.locator('tr.target .badge', { hasText: 'UP' }).count(), 0);
    await page.screenshot({ path: path.join(tmp, 'status-300-down.png'), fullPage: false });
    t.diagnostic(`screenshots: ${path.join(tmp, 'status-300.png')}, ${path.join(tmp, 'status-300-down.png')}`);
  });
});
