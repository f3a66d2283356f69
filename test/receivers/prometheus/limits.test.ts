// Prometheus's scrape limits on the prometheus receiver, against a page server of the test's own: each
// limit fails the scrape (`up` 0, reason = the limit's key) and ends the target's series; the defaults
// (sample_limit 100,000, label limits off) pass a 20,000-series page; a series repeated on one page keeps
// its first sample and the rest are counted as dropped.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Batch } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import type { Point } from '../../../core/model/metrics.js';
import { DEFAULT_SAMPLE_LIMIT } from '../../../core/scrape/config.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../receivers/prometheus/config.js';
import { prometheusReceiverFactory } from '../../../receivers/prometheus/factory.js';
import { eventually } from '../../harness/pprofcol.js';

let page = '';
let server: http.Server;
let target = '';

before(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(page);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

/** One scrape with these scrape-config keys: what the receiver handed on and what it counted. */
async function scrapeOnce(extra: Record<string, unknown>): Promise<{ points: Point[]; telemetry: Telemetry }> {
  const batches: Point[][] = [];
  const telemetry = new Telemetry();
  const config = configSchema.parse({ scrape_configs: [{ job_name: 'limits', scrape_interval: '1s', static_configs: [{ targets: [target] }], ...extra }] });
  const receiver = prometheusReceiverFactory.create({ id: 'prometheus', logger: silentLogger(), telemetry, configDir: process.cwd() }, config, {
    consume: async (b: Batch) => void (b.signal === 'metrics' && batches.push(b.points)),
  });
  await receiver.start();
  try {
    await eventually('a scrape', 10_000, () => (batches.length > 0 ? true : undefined));
  } finally {
    await receiver.shutdown();
  }
  return { points: batches[0], telemetry };
}

const up = (points: Point[]) => points.find((p) => p.name === 'up')!;

async function failureCount(telemetry: Telemetry, reason: string): Promise<number> {
  const text = await telemetry.registry.metrics();
  const m = new RegExp(`pprofcol_receiver_scrape_failures_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)`).exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe('prometheus receiver: scrape limits', () => {
  it('defaults: sample_limit 100000, label limits off; a 20,000-series page passes', async () => {
    assert.equal(DEFAULT_SAMPLE_LIMIT, 100_000);
    const cfg = configSchema.parse({ scrape_configs: [{ job_name: 'x', static_configs: [{ targets: ['a:1'] }] }] }).scrape_configs[0];
    assert.deepEqual([cfg.sample_limit, cfg.label_limit, cfg.label_name_length_limit, cfg.label_value_length_limit], [100_000, 0, 0, 0]);
    page = Array.from({ length: 20_000 }, (_, i) => `series_${i % 100}{shard="${i}",a_rather_long_label_name_for_a_page="${'v'.repeat(200)}"} ${i}`).join('\n') + '\n';
    const { points } = await scrapeOnce({});
    assert.equal(up(points).value, 1);
    assert.equal(points.filter((p) => p.name.startsWith('series_')).length, 20_000);
  });

  // Each page is one over its limit; target labels count too (job="limits", instance="127.0.0.1:port"),
  // so the page's label is longer than theirs.
  for (const [key, limit, line] of [
    ['sample_limit', 3, 'a 1\nb 2\nc 3\nd 4\n'],
    ['label_limit', 5, 'a{x="1",y="2",z="3"} 1\n'], // __name__, x, y, z, job, instance: 6
    ['label_name_length_limit', 21, `a{${'n'.repeat(22)}="1"} 1\n`],
    ['label_value_length_limit', 39, `a{x="${'v'.repeat(40)}"} 1\n`],
  ] as const) {
    it(`${key}: past it the scrape fails, up 0, reason ${key} counted, nothing of the page handed on`, async () => {
      page = line;
      const { points, telemetry } = await scrapeOnce({ [key]: limit });
      assert.equal(up(points).value, 0);
      assert.match(up(points).note ?? '', new RegExp(key));
      assert.equal(points.filter((p) => !p.stale && ['a', 'b', 'c', 'd'].includes(p.name)).length, 0);
      assert.equal(await failureCount(telemetry, key), 1);
      // At the limit exactly, the scrape passes.
      const atLimit = limit + 1;
      assert.equal(up((await scrapeOnce({ [key]: atLimit })).points).value, 1, `${key}: ${atLimit} passes`);
    });
  }

  it('a series repeated on one page: the first sample is kept, the others dropped and counted', async () => {
    page = 'x{a="1"} 1\nx{a="2"} 2\nx{a="1"} 3\nx{a="1"} 4\ny_ts 5 1700000000000\ny_ts 6 1700000000000\n';
    const { points, telemetry } = await scrapeOnce({});
    assert.deepEqual(points.filter((p) => p.name === 'x').map((p) => [p.labels.a, p.value]), [['1', 1], ['2', 2]]);
    assert.deepEqual(points.filter((p) => p.name === 'y_ts').map((p) => p.value), [5]);
    const text = await telemetry.registry.metrics();
    assert.match(text, /pprofcol_receiver_samples_dropped_total\{[^}]*reason="duplicate"[^}]*\} 3/);
  });
});
