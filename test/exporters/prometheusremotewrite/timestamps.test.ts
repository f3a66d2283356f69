// Timestamps the encoder cannot write exactly (not an integer of at most 53 bits of ms) are dropped by
// the exporter before encoding, whatever made them, and counted dropped{reason="invalid_timestamp"}:
// a batch straight from a plugin, and a page scraped with honor_timestamps. (The remote-write
// receiver refuses them at the door: test/integration/remote-write-refusal.test.ts.) Before, one such
// point made its whole request corrupt (the varint's length and bytes disagreed), refused with every
// good sample in it.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Batch, CreateSettings } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import { metricBatch, type Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema as receiverConfig } from '../../../receivers/prometheus/config.js';
import { prometheusReceiverFactory } from '../../../receivers/prometheus/factory.js';
import { captureLogger, goroutines, metric, point, waitFor, type Logged } from '../../harness/common.js';
import { exporterFor, startCaptureServer, type CaptureServer } from '../../harness/rw-capture.js';

const servers: CaptureServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Every sample the capture server got: `labels @ timestamp = value`. */
function received(server: CaptureServer): string[] {
  const out: string[] = [];
  for (const r of server.sampleRequests()) {
    for (const ts of r.request.timeseries) {
      const labels = ts.labels.map((l) => `${l.name}=${l.value}`).join(',');
      for (const s of ts.samples) out.push(`${labels} @ ${s.timestamp} = ${s.value}`);
    }
  }
  return out.sort();
}

describe('timestamps that are not safe integers', () => {
  it('from a plugin: dropped before encoding, counted invalid_timestamp, logged once; the good points of the batch arrive', async () => {
    const server = await startCaptureServer();
    servers.push(server);
    const lines: Logged[] = [];
    const s: CreateSettings = { id: 'prometheusremotewrite', logger: captureLogger(lines), telemetry: new Telemetry(), configDir: process.cwd() };
    const exp = exporterFor(s, { endpoint: server.url, queue_config: { batch_send_deadline: '10ms' }, metadata_config: { send: false } });
    await exp.start();
    const t = 1_700_000_000_000;
    const bad = [NaN, 1.5, 2 ** 53, 2 ** 62, -(2 ** 63), Infinity];
    const batch: Point[] = [
      point(goroutines, {}, 1, t), // name only, first: the case that once went out label-less
      ...bad.map((ts, i) => point(goroutines, { job: 'plugin', n: String(i) }, 9, ts)),
      point(goroutines, { job: 'plugin' }, 2, 2 ** 53 - 1), // the largest one that is exact
      point(goroutines, { job: 'plugin' }, 3, -1),
    ];
    await exp.consume(metricBatch('plugin', batch));
    await exp.consume(metricBatch('plugin', [point(goroutines, { job: 'again' }, 4, NaN), point(goroutines, { job: 'again' }, 5, t)]));
    await waitFor('four samples', () => received(server).length >= 4, 10_000);
    await exp.shutdown();
    assert.deepEqual(received(server), [
      `__name__=go_goroutines @ ${t} = 1`,
      `__name__=go_goroutines,job=again @ ${t} = 5`,
      '__name__=go_goroutines,job=plugin @ -1 = 3',
      `__name__=go_goroutines,job=plugin @ ${2 ** 53 - 1} = 2`,
    ]);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'invalid_timestamp' }), bad.length + 1);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {}), 4);
    assert.equal(lines.filter((l) => l.level === 'warn' && /invalid_timestamp/.test(l.msg)).length, 1, 'warned once, for the first batch');
    assert.equal(lines.filter((l) => l.level === 'error').length, 0);
  });

  it('from a page scraped with honor_timestamps: the sample past 2^53 is dropped and counted, the rest of the scrape arrives', async () => {
    const page = ['# TYPE huge gauge', 'huge 1 9223372036854775807', '# TYPE fine gauge', 'fine 2 1700000000000', ''].join('\n');
    const target = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(page);
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const server = await startCaptureServer();
    servers.push(server);
    const telemetry = new Telemetry();
    const s: CreateSettings = { id: 'prometheusremotewrite', logger: silentLogger(), telemetry, configDir: process.cwd() };
    const exp = exporterFor(s, { endpoint: server.url, queue_config: { batch_send_deadline: '10ms' }, metadata_config: { send: false } });
    await exp.start();
    const receiver = prometheusReceiverFactory.create(
      { id: 'prometheus', logger: silentLogger(), telemetry, configDir: process.cwd() },
      receiverConfig.parse({
        scrape_configs: [
          { job_name: 'honor', scrape_interval: '200ms', honor_timestamps: true, static_configs: [{ targets: [`127.0.0.1:${(target.address() as AddressInfo).port}`] }] },
        ],
      }),
      { consume: (b: Batch) => exp.consume(b) },
    );
    await receiver.start();
    try {
      await waitFor('the scraped sample `fine`', () => received(server).some((x) => x.includes('__name__=fine')), 10_000);
      await waitFor('the drop counted', async () => (await metric(telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'invalid_timestamp' })) >= 1, 10_000);
    } finally {
      await receiver.shutdown();
      await exp.shutdown();
      await new Promise<void>((r) => target.close(() => r()));
    }
    const all = received(server);
    assert.ok(all.some((x) => x.startsWith('__name__=fine,') && x.endsWith('@ 1700000000000 = 2')), all.join('\n'));
    assert.ok(all.some((x) => x.startsWith('__name__=up,')), 'the scrape\'s up arrives');
    assert.ok(!all.some((x) => x.includes('__name__=huge')), 'the sample past 2^53 never goes out');
    // One drop per scrape, none sent of it.
    const scrapes = all.filter((x) => x.startsWith('__name__=fine,')).length;
    const dropped = await metric(telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'invalid_timestamp' });
    assert.ok(dropped >= scrapes && dropped <= scrapes + 1, `${dropped} dropped for ${scrapes} scrapes`);
  });
});
