// What the memory queue could not send at shutdown is counted (dropped{reason="shutdown"}, in the
// service's registry, which /metrics serves) and logged once with its total. Before, the log named the
// one request that failed (2,000 samples) and not the 10,000 queued behind it; and when
// shutdown_timeout cut the flush short, what was still queued was counted nowhere.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { CreateSettings } from '../../../core/component.js';
import type { Logger } from '../../../core/logger.js';
import { metricBatch, type Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { goroutines, metric, point, waitFor } from '../../harness/common.js';
import { exporterFor, startCaptureServer, type CaptureServer } from '../../harness/rw-capture.js';

const servers: CaptureServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

interface Line {
  level: string;
  msg: string;
  obj: Record<string, unknown>;
}
/** A logger that keeps each line's level, message and fields. */
function fieldLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void =>
      void lines.push({ level, msg: msg ?? String(obj), obj: typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>) : {} });
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger as unknown as Logger;
}

function batchOf(n: number, ts: number): Point[] {
  return Array.from({ length: n }, (_, i) => point(goroutines, { job: 'loss', instance: `i${i % 1000}` }, i, ts + Math.floor(i / 1000)));
}

describe('samples lost at shutdown', () => {
  it('a receiver answering 503: the 12,000 samples queued are counted dropped{reason="shutdown"} and logged once with their total', async () => {
    const server = await startCaptureServer(() => ({ status: 503 }), () => false);
    servers.push(server);
    const lines: Line[] = [];
    const s: CreateSettings = { id: 'prometheusremotewrite', logger: fieldLogger(lines), telemetry: new Telemetry(), configDir: process.cwd() };
    const exp = exporterFor(s, {
      endpoint: server.url,
      queue_config: { batch_send_deadline: '10ms', max_samples_per_send: 2000, min_backoff: '50ms', max_backoff: '100ms', capacity: 20_000 },
      metadata_config: { send: false },
    });
    await exp.start();
    await exp.consume(metricBatch('pprof', batchOf(12_000, 1_700_000_000_000)));
    await waitFor('the first request refused', () => server.received() >= 1, 10_000);
    await exp.shutdown();
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'shutdown' }), 12_000);
    const totals = lines.filter((l) => /could not be sent/.test(l.msg));
    assert.equal(totals.length, 1, JSON.stringify(lines.map((l) => l.msg)));
    assert.equal(totals[0].level, 'warn');
    assert.equal(totals[0].obj.samples, 12_000);
  });

  it('shutdown_timeout cuts the flush short: abandon() counts what is still queued or in flight, once, and returns the total', async () => {
    // A receiver that never answers: the first request hangs (timeout 60s), the rest queues behind it.
    const server = await startCaptureServer(() => 'hang', () => false);
    servers.push(server);
    const lines: Line[] = [];
    const s: CreateSettings = { id: 'prometheusremotewrite', logger: fieldLogger(lines), telemetry: new Telemetry(), configDir: process.cwd() };
    const exp = exporterFor(s, {
      endpoint: server.url,
      timeout: '60s',
      queue_config: { batch_send_deadline: '10ms', max_samples_per_send: 1000, capacity: 20_000 },
      metadata_config: { send: false },
    });
    await exp.start();
    await exp.consume(metricBatch('pprof', batchOf(5000, 1_700_000_000_000)));
    await waitFor('the first request in flight', () => server.received() >= 1, 10_000);
    const stopping = exp.shutdown();
    // What the service does when shutdown_timeout passes before shutdown() resolves.
    assert.equal(exp.abandon(), 5000);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'shutdown' }), 5000);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_queue_samples', {}), 0);
    // The hung request ends (the receiver goes away): its samples are not counted a second time.
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    await stopping;
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'shutdown' }), 5000);
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {}), 0);
    const totals = lines.filter((l) => /could not be sent/.test(l.msg));
    assert.equal(totals.length, 1);
    assert.equal(totals[0].obj.samples, 5000);
  });
});
