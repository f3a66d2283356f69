import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { Batch, Consumer } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import { metricBatch, type MetricBatch, type MetricFamily, type Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../processors/batch/config.js';
import { batchProcessorFactory } from '../../../processors/batch/factory.js';
import type { BatchProcessor } from '../../../processors/batch/processor.js';

const family: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' };

function points(n: number, tag: string): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < n; i++) out.push({ family, name: family.name, labels: { tag, i: String(i) }, value: i, timestampMs: 1000, stale: false });
  return out;
}

class Sink implements Consumer {
  batches: MetricBatch[] = [];
  async consume(batch: Batch): Promise<void> {
    if (batch.signal === 'metrics') this.batches.push(batch);
  }
  sizes(): string[] {
    return this.batches.map((b) => `${b.source}:${b.points.length}`);
  }
}

function processor(raw: Record<string, unknown>, sink: Sink): BatchProcessor {
  const settings = { id: 'batch', logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() };
  return batchProcessorFactory.create(settings, configSchema.parse(raw), sink) as BatchProcessor;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('batch processor', () => {
  it('has the OTel defaults and rejects a max below the size', () => {
    assert.deepEqual(configSchema.parse({}), { send_batch_size: 8192, send_batch_max_size: 0, timeout: 200 });
    assert.equal(configSchema.safeParse({ send_batch_size: 10, send_batch_max_size: 5 }).success, false);
    assert.equal(configSchema.safeParse({ unknown: 1 }).success, false);
  });

  it('sends when send_batch_size is reached, without waiting for the timeout', async () => {
    const sink = new Sink();
    const p = processor({ send_batch_size: 10, timeout: '1h' }, sink);
    await p.start();
    const first = p.consume(metricBatch('pprof', points(6, 'a')));
    assert.deepEqual(sink.sizes(), []);
    await p.consume(metricBatch('pprof', points(6, 'b')));
    assert.deepEqual(sink.sizes(), ['pprof:12']);
    await first;
    await p.shutdown();
  });

  it('splits by send_batch_max_size', async () => {
    const sink = new Sink();
    const p = processor({ send_batch_size: 4, send_batch_max_size: 5, timeout: '1h' }, sink);
    await p.consume(metricBatch('pprof', points(12, 'a')));
    assert.deepEqual(sink.sizes(), ['pprof:5', 'pprof:5', 'pprof:2']);
    assert.deepEqual(sink.batches.flatMap((b) => b.points.map((x) => x.labels.i)), points(12, 'a').map((x) => x.labels.i), 'order kept');
    await p.shutdown();
  });

  it('sends a partial batch when the timeout passes', async () => {
    const sink = new Sink();
    const p = processor({ send_batch_size: 1000, timeout: '50ms' }, sink);
    await p.start();
    const t0 = Date.now();
    const a = p.consume(metricBatch('pprof', points(3, 'a')));
    const b = p.consume(metricBatch('pprof', points(2, 'b')));
    await Promise.all([a, b]);
    assert.equal(sink.batches.length, 1, 'both callers resolve once the timeout flush has been taken');
    assert.ok(Date.now() - t0 >= 45);
    assert.deepEqual(sink.sizes(), ['pprof:5']);
    await p.shutdown();
  });

  it('merges only batches of the same source', async () => {
    const sink = new Sink();
    const p = processor({ send_batch_size: 5, timeout: '1h' }, sink);
    const a = p.consume(metricBatch('pprof', points(3, 'a')));
    const n = p.consume(metricBatch('prometheus/native', points(3, 'n')));
    await p.consume(metricBatch('pprof', points(3, 'b')));
    await a;
    assert.deepEqual(sink.sizes(), ['pprof:6']);
    assert.ok(sink.batches[0].points.every((x) => x.labels.tag !== 'n'));
    await p.shutdown();
    await n;
    assert.deepEqual(sink.sizes(), ['pprof:6', 'prometheus/native:3']);
  });

  it('flushes on shutdown, and shutdown is idempotent and safe before start', async () => {
    const sink = new Sink();
    const p = processor({ timeout: '1h' }, sink);
    await p.shutdown();
    const q = processor({ timeout: '1h' }, sink);
    await q.start();
    const callers = [q.consume(metricBatch('a', points(2, 'a'))), q.consume(metricBatch('b', points(1, 'b')))];
    assert.equal(sink.batches.length, 0);
    await q.shutdown();
    await Promise.all(callers);
    await q.shutdown();
    assert.deepEqual(sink.sizes().sort(), ['a:2', 'b:1']);
  });

  it('timeout 0 sends every batch at once (split by the max)', async () => {
    const sink = new Sink();
    const p = processor({ timeout: 0, send_batch_size: 2, send_batch_max_size: 2 }, sink);
    await p.consume(metricBatch('pprof', points(3, 'a')));
    assert.deepEqual(sink.sizes(), ['pprof:2', 'pprof:1']);
    await p.shutdown();
  });

  it('resolves a caller only once the next stage has taken its points', async () => {
    let release: (() => void) | undefined;
    const taken: number[] = [];
    const slow: Consumer = {
      consume: async (batch) => {
        await new Promise<void>((r) => (release = r));
        if (batch.signal === 'metrics') taken.push(batch.points.length);
      },
    };
    const settings = { id: 'batch', logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() };
    const p = batchProcessorFactory.create(settings, configSchema.parse({ send_batch_size: 1000, timeout: '20ms' }), slow);
    let settled = false;
    const caller = p.consume(metricBatch('pprof', points(3, 'a'))).then(() => (settled = true));
    await waitFor('the timeout flush to reach the next stage', () => release !== undefined);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(settled, false, 'not resolved while the next stage still holds the flush');
    release?.();
    await caller;
    assert.deepEqual(taken, [3]);
    await p.shutdown();
  });

  it('a failing flush rejects every caller whose points were in it, the timer flush included', async () => {
    const failing: Consumer = {
      consume: async () => {
        throw new Error('queue full');
      },
    };
    const settings = { id: 'batch', logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() };
    const p = batchProcessorFactory.create(settings, configSchema.parse({ send_batch_size: 1000, timeout: '20ms' }), failing);
    const a = p.consume(metricBatch('pprof', points(2, 'a')));
    const b = p.consume(metricBatch('pprof', points(2, 'b')));
    await assert.rejects(a, /queue full/);
    await assert.rejects(b, /queue full/);
    const sized = batchProcessorFactory.create(settings, configSchema.parse({ send_batch_size: 2, timeout: '1h' }), failing);
    await assert.rejects(sized.consume(metricBatch('pprof', points(2, 'c'))), /queue full/);
    await p.shutdown();
    await sized.shutdown();
  });

  it('flushes of one source leave in order: a chunked flush waiting downstream is not overtaken by a newer one', async () => {
    // The next stage holds its first call until released; every later call is taken at once.
    let releaseFirst: (() => void) | undefined;
    const seen: string[] = [];
    let calls = 0;
    const gate: Consumer = {
      consume: async (batch) => {
        if (batch.signal !== 'metrics') return;
        if (calls++ === 0) await new Promise<void>((r) => (releaseFirst = r));
        seen.push(...batch.points.map((p) => `${p.labels.tag}${p.labels.i}`));
      },
    };
    const settings = { id: 'batch', logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() };
    const p = batchProcessorFactory.create(settings, configSchema.parse({ send_batch_size: 2, send_batch_max_size: 2, timeout: '1h' }), gate);
    const older = p.consume(metricBatch('pprof', points(4, 'a'))); // two chunks; the first is held
    await waitFor('the first chunk to reach the next stage', () => releaseFirst !== undefined);
    const newer = p.consume(metricBatch('pprof', points(2, 'b')));
    await new Promise((r) => setTimeout(r, 30));
    releaseFirst?.();
    await Promise.all([older, newer]);
    assert.deepEqual(seen, ['a0', 'a1', 'a2', 'a3', 'b0', 'b1']);
    await p.shutdown();
  });
});
