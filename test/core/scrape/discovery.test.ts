// file_sd refreshes run one at a time: an older refresh that outlives a newer one must not drop the
// files the newer one read.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../../core/logger.js';
import { fileSdConfig } from '../../../core/scrape/config.js';
import { TargetDiscovery } from '../../../core/scrape/discovery.js';

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('file_sd discovery', () => {
  it('a slow refresh does not drop a file a newer change added', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-discovery-'));
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    writeFileSync(a, JSON.stringify([{ targets: ['a:1'] }]));

    // Once armed, the next read of a.json waits for the test: a refresh slower than the 100 ms debounce.
    let armed = false;
    let entered = false;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const emitted: string[][] = [];
    const discovery = new TargetDiscovery({
      job: 'sd',
      scheme: 'http',
      staticConfigs: [],
      fileSdConfigs: [fileSdConfig.parse({ files: [path.join(dir, '*.json')], refresh_interval: '1h' })],
      configDir: dir,
      logger: silentLogger(),
      onTargets: (targets) => emitted.push(targets.map((t) => t.instance).sort()),
      readFile: async (file) => {
        if (armed && file === a) {
          armed = false;
          entered = true;
          await gate;
        }
        return readFile(file, 'utf8');
      },
    });
    await discovery.start();
    try {
      assert.deepEqual(emitted.at(-1), ['a:1']);
      armed = true;
      writeFileSync(a, JSON.stringify([{ targets: ['a:1'] }])); // a change: the refresh lists a.json only, then waits
      await until('the slow refresh to start', () => entered);
      writeFileSync(b, JSON.stringify([{ targets: ['b:1'] }]));
      await sleep(400); // past the debounce: a second refresh is asked for while the first waits
      release();
      await until('b:1 to be discovered', () => emitted.some((e) => e.includes('b:1')));
      await sleep(300);
      await discovery.idle();
      const firstWithB = emitted.findIndex((e) => e.includes('b:1'));
      const later = emitted.slice(firstWithB);
      assert.ok(
        later.every((e) => e.includes('b:1')),
        `b:1 reported gone after it was found: ${JSON.stringify(emitted)}`,
      );
      assert.deepEqual(emitted.at(-1), ['a:1', 'b:1']);
    } finally {
      discovery.stop();
    }
  });

  it('one change during a refresh runs one more refresh, not one per event', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-discovery-'));
    const a = path.join(dir, 'a.json');
    writeFileSync(a, JSON.stringify([{ targets: ['a:1'] }]));
    let reads = 0;
    let hold: Promise<void> | undefined;
    const discovery = new TargetDiscovery({
      job: 'sd',
      scheme: 'http',
      staticConfigs: [],
      fileSdConfigs: [fileSdConfig.parse({ files: [a], refresh_interval: '1h' })],
      configDir: dir,
      logger: silentLogger(),
      onTargets: () => undefined,
      readFile: async (file) => {
        reads++;
        if (hold !== undefined) await hold;
        return readFile(file, 'utf8');
      },
    });
    await discovery.start();
    try {
      let release: () => void = () => undefined;
      hold = new Promise<void>((resolve) => (release = resolve));
      const before = reads;
      writeFileSync(a, JSON.stringify([{ targets: ['a:2'] }]));
      await until('a refresh', () => reads > before);
      // Three more changes, each past the debounce, while that refresh waits.
      for (let i = 3; i <= 5; i++) {
        writeFileSync(a, JSON.stringify([{ targets: [`a:${i}`] }]));
        await sleep(200);
      }
      assert.equal(reads, before + 1, 'refreshes ran side by side');
      hold = undefined;
      release();
      await sleep(50);
      await discovery.idle();
      assert.equal(reads, before + 2);
    } finally {
      discovery.stop();
    }
  });
});
