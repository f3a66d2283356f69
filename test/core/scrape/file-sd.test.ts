// file_sd_configs: the test rewrites the file; the added target is scraped and the removed one's
// series end within one interval.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, startDaemon } from '../../harness/pprofcol.js';
import { startGoProgram, type GoProgramServer } from '../../harness/servers.js';

const INTERVAL_MS = 2000;
// Watch events are coalesced for 100ms; one interval plus that and timer slack bounds the change.
const SLACK_MS = 500;

function writeTargets(file: string, groups: unknown): void {
  // Write then rename, as config management tools do, so the watcher never sees half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify(groups));
  renameSync(`${file}.tmp`, file);
}

describe('file_sd_configs', () => {
  let a: GoProgramServer;
  let b: GoProgramServer;
  before(async () => {
    [a, b] = await Promise.all([startGoProgram('goroutines', ['-goroutines', '3']), startGoProgram('goroutines', ['-goroutines', '4'])]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('scrapes an added target and ends a removed one within one interval', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-filesd-'));
    const file = path.join(dir, 'targets.json');
    writeTargets(file, [{ targets: [a.hostPort], labels: { zone: 'a' } }]);
    const daemon = await startDaemon(`
receivers:
  pprof:
    scrape_configs:
      - job_name: sd
        scrape_interval: 2s
        profiles: [goroutine]
        file_sd_configs: [{files: [${JSON.stringify(path.join(dir, '*.json'))}]}]
processors: {pprof_metrics: {}}
exporters: {debug: {timestamps: true}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    try {
      await daemon.waitFor('stdout', new RegExp(`^pprof_up\\{instance="${a.hostPort}",job="sd",zone="a"\\} 1 \\d+$`, 'm'), 10_000);
      const rewrittenAt = Date.now();
      writeTargets(file, [{ targets: [b.hostPort], labels: { zone: 'b' } }]);

      const added = await daemon.waitFor('stdout', new RegExp(`^pprof_up\\{instance="${b.hostPort}",job="sd",zone="b"\\} 1 (\\d+)$`, 'm'), 10_000);
      assert.ok(Number(added[1]) - rewrittenAt <= INTERVAL_MS + SLACK_MS, `added target first scraped ${Number(added[1]) - rewrittenAt}ms after the rewrite`);

      const ended = await daemon.waitFor('stdout', new RegExp(`^# go_goroutines\\{instance="${a.hostPort}",job="sd",zone="a"\\} ended \\(stale marker\\) (\\d+)$`, 'm'), 10_000);
      assert.ok(Number(ended[1]) - rewrittenAt <= INTERVAL_MS + SLACK_MS, `removed target ended ${Number(ended[1]) - rewrittenAt}ms after the rewrite`);
      assert.match(daemon.stdout(), new RegExp(`^# pprof_up\\{instance="${a.hostPort}",job="sd",zone="a"\\} ended`, 'm'));

      // No scrape of the removed target after its end.
      const lastA = Math.max(...[...daemon.stdout().matchAll(new RegExp(`^pprof_up\\{instance="${a.hostPort}"[^}]*\\} 1 (\\d+)$`, 'gm'))].map((m) => Number(m[1])));
      assert.ok(lastA <= Number(ended[1]));

      // A broken rewrite keeps the last good targets (as Prometheus does) and is logged.
      writeFileSync(file, '[{"targets": ["not a target"]}]');
      await daemon.waitFor('stderr', /file_sd: cannot use file/, 5_000);
      const before = daemon.stdout().length;
      await eventually('target b still scraped', 6_000, () =>
        new RegExp(`pprof_up\\{instance="${b.hostPort}"[^}]*\\} 1 `).test(daemon.stdout().slice(before)) ? true : undefined,
      );
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
  });
});
