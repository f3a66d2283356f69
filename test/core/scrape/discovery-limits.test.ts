// file_sd bounds: a file over a bound keeps the last good targets with an error naming the file, and
// parsing a hostile file never stalls the event loop (measured with monitorEventLoopDelay while the
// real discovery reads it from disk); a literal file that is deleted takes its targets with it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { fileSdConfig } from '../../../core/scrape/config.js';
import { TargetDiscovery } from '../../../core/scrape/discovery.js';
import type { FileSdErrorReason } from '../../../core/scrape/file-sd-parse.js';
import { captureLogger, waitFor as until, type Logged } from '../../harness/common.js';
import type { Logger } from '../../../core/logger.js';

/** A logger that keeps each line's fields too, to check the file is named. */
function fieldLogger(lines: Array<Logged & { fields: Record<string, unknown> }>): Logger {
  const at = (level: string) => (fields: Record<string, unknown>, msg?: string) => void lines.push({ level, msg: msg ?? '', fields });
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger as unknown as Logger;
}

/** One group whose labels have `keys` distinct keys: the file that froze the daemon for 16.5s. */
function manyKeysYaml(keys: number): string {
  const lines = ['- targets: ["10.0.0.9:6060"]', '  labels:'];
  for (let i = 0; i < keys; i++) lines.push(`    label_key_number_${i}: v`);
  return lines.join('\n') + '\n';
}

function start(file: string, raw: Record<string, unknown>, logger: Logger, errors: FileSdErrorReason[], emitted: string[][]): TargetDiscovery {
  return new TargetDiscovery({
    job: 'sd',
    scheme: 'http',
    staticConfigs: [],
    fileSdConfigs: [fileSdConfig.parse({ files: [file], refresh_interval: '1h', ...raw })],
    configDir: path.dirname(file),
    logger,
    onFileError: (reason) => errors.push(reason),
    onTargets: (targets) => emitted.push(targets.map((t) => t.instance).sort()),
  });
}

describe('file_sd limits', () => {
  it('a 30k-key YAML file: no stall over 100 ms, the last good targets kept, the error names the file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-sd-limits-'));
    const file = path.join(dir, 'targets.yaml');
    writeFileSync(file, '- targets: ["10.0.0.1:6060", "10.0.0.2:6060"]\n  labels: {env: prod}\n');
    const lines: Array<Logged & { fields: Record<string, unknown> }> = [];
    const errors: FileSdErrorReason[] = [];
    const emitted: string[][] = [];
    const discovery = start(file, {}, fieldLogger(lines), errors, emitted);
    await discovery.start();
    try {
      assert.deepEqual(emitted.at(-1), ['10.0.0.1:6060', '10.0.0.2:6060']);
      const big = manyKeysYaml(30_000);
      assert.ok(big.length > 400_000 && big.length < 1024 * 1024, `the file is ${big.length} bytes: under max_file_size, so it is parsed`);
      const delay = monitorEventLoopDelay({ resolution: 10 });
      delay.enable();
      const t0 = performance.now();
      writeFileSync(file, big);
      await until('the error', () => errors.length > 0);
      await discovery.idle();
      const took = performance.now() - t0;
      delay.disable();
      const maxStallMs = delay.max / 1e6;
      console.log(`30k-key file_sd YAML: read and refused in ${took.toFixed(0)} ms, longest event-loop stall ${maxStallMs.toFixed(1)} ms`);
      assert.ok(maxStallMs < 100, `event loop stalled ${maxStallMs.toFixed(1)} ms`);
      assert.deepEqual(errors, ['too_many_labels']);
      const logged = lines.filter((l) => l.level === 'error');
      assert.equal(logged.length, 1);
      assert.equal(logged[0].fields.file, file);
      assert.match(String(logged[0].fields.err), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*max_labels_per_group \\(128\\)`));
      assert.deepEqual(emitted.at(-1), ['10.0.0.1:6060', '10.0.0.2:6060'], 'last good targets kept');
    } finally {
      discovery.stop();
    }
  });

  it('past max_file_size or max_targets_per_group the file is refused unparsed, logged once and counted each time', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-sd-limits-'));
    const file = path.join(dir, 'targets.json');
    writeFileSync(file, JSON.stringify([{ targets: ['a:1'] }]));
    const lines: Logged[] = [];
    const errors: FileSdErrorReason[] = [];
    const emitted: string[][] = [];
    const discovery = start(file, { max_file_size: '4KiB', max_targets_per_group: 3 }, captureLogger(lines), errors, emitted);
    await discovery.start();
    try {
      // Not even JSON: refused by size before parsing, so the reason is too_large, not parse.
      writeFileSync(file, `[${'x'.repeat(5000)}`);
      await until('too_large', () => errors.includes('too_large'));
      writeFileSync(file, JSON.stringify([{ targets: ['b:1', 'b:2', 'b:3', 'b:4'] }]));
      await until('too_many_targets', () => errors.includes('too_many_targets'));
      writeFileSync(file, JSON.stringify([{ targets: ['b:1', 'b:2', 'b:3', 'b:4'] }, { targets: ['c:1'] }]));
      await until('a second too_many_targets', () => errors.filter((e) => e === 'too_many_targets').length === 2);
      await discovery.idle();
      assert.deepEqual(emitted.at(-1), ['a:1'], 'last good targets kept');
      // The same error twice is logged once (the message names the same group), but counted twice.
      assert.equal(lines.filter((l) => l.level === 'error').length, 2);
      writeFileSync(file, JSON.stringify([{ targets: ['b:1', 'b:2', 'b:3'] }]));
      await until('the fixed file', () => emitted.at(-1)?.join() === 'b:1,b:2,b:3');
    } finally {
      discovery.stop();
    }
  });

  it('a literal file that is deleted: its targets end', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-sd-limits-'));
    const file = path.join(dir, 'only.json');
    const other = path.join(dir, 'other.json');
    writeFileSync(file, JSON.stringify([{ targets: ['gone:1'] }]));
    writeFileSync(other, JSON.stringify([{ targets: ['stays:1'] }]));
    const lines: Logged[] = [];
    const errors: FileSdErrorReason[] = [];
    const emitted: string[][] = [];
    const discovery = new TargetDiscovery({
      job: 'sd',
      scheme: 'http',
      staticConfigs: [],
      fileSdConfigs: [fileSdConfig.parse({ files: [file, other], refresh_interval: '1h' })],
      configDir: dir,
      logger: captureLogger(lines),
      onFileError: (reason) => errors.push(reason),
      onTargets: (targets) => emitted.push(targets.map((t) => t.instance).sort()),
    });
    await discovery.start();
    try {
      assert.deepEqual(emitted.at(-1), ['gone:1', 'stays:1']);
      rmSync(file);
      await until('the deleted file to take its targets', () => emitted.at(-1)?.join() === 'stays:1');
      assert.deepEqual(errors, [], 'a deleted file is not an error');
      assert.ok(lines.some((l) => l.level === 'warn' && /file is gone/.test(l.msg)));
      writeFileSync(file, JSON.stringify([{ targets: ['back:1'] }]));
      await until('the file written again', () => emitted.at(-1)?.join() === 'back:1,stays:1');
    } finally {
      discovery.stop();
    }
  });
});
