// The pprof receiver's own metrics follow discovery: pprofcol_receiver_targets counts targets file_sd adds later.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../../core/logger.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../receivers/pprof/config.js';
import { PprofReceiver } from '../../../receivers/pprof/receiver.js';

function writeTargets(file: string, targets: string[]): void {
  writeFileSync(`${file}.tmp`, JSON.stringify([{ targets }]));
  renameSync(`${file}.tmp`, file);
}

async function targetsGauge(telemetry: Telemetry): Promise<number | undefined> {
  const metric = telemetry.registry.getSingleMetric('pprofcol_receiver_targets');
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => v.labels.receiver === 'pprof' && v.labels.job === 'sd')?.value;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('pprof receiver', () => {
  it('pprofcol_receiver_targets counts targets file_sd adds and removes after start', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-targets-'));
    const file = path.join(dir, 'targets.json');
    // Nothing listens on these ports: scrapes fail at once, which does not matter here.
    writeTargets(file, ['127.0.0.1:9']);
    const config = configSchema.parse({
      scrape_configs: [{ job_name: 'sd', scrape_interval: '1m', profiles: ['goroutine'], file_sd_configs: [{ files: [file] }] }],
    });
    const telemetry = new Telemetry();
    const receiver = new PprofReceiver({ id: 'pprof', logger: silentLogger(), telemetry, configDir: dir }, config, { consume: async () => undefined });
    await receiver.start();
    try {
      assert.equal(await targetsGauge(telemetry), 1);
      writeTargets(file, ['127.0.0.1:9', '127.0.0.1:13', '127.0.0.1:17']);
      await until('the gauge to count the added targets', async () => (await targetsGauge(telemetry)) === 3);
      writeTargets(file, ['127.0.0.1:13']);
      await until('the gauge to drop the removed targets', async () => (await targetsGauge(telemetry)) === 1);
    } finally {
      await receiver.shutdown();
    }
  });

  it('reports a scrape to the status page before handing it on: a blocked pipeline does not hold the page back', { timeout: 15_000 }, async () => {
    // Nothing listens on port 9: the scrape fails at once, and its outcome is what the page must show.
    // A 1s interval: the first scrape comes at an offset within it.
    const config = configSchema.parse({ scrape_configs: [{ job_name: 'blocked', scrape_interval: '1s', scrape_timeout: '500ms', profiles: ['goroutine'], static_configs: [{ targets: ['127.0.0.1:9'] }] }] });
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let handedOn = 0;
    // A pipeline under backpressure: the hand-off waits until the test lets it go.
    const consume = async () => {
      handedOn++;
      await released;
    };
    const receiver = new PprofReceiver({ id: 'pprof', logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() }, config, { consume });
    await receiver.start();
    try {
      await until('the scrape to be handed on', async () => handedOn >= 1);
      const [target] = receiver.status().targets ?? [];
      assert.ok(target !== undefined);
      assert.ok(target.lastScrapeMs > 0, 'the scrape is on the page while its hand-off still waits');
      assert.equal(target.health, 'down');
      assert.match(target.lastError, /goroutine/);
    } finally {
      release();
      await receiver.shutdown();
    }
  });
});
