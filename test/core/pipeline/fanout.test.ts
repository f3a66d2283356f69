// One stage feeding several: each consumer gets data it may keep without affecting the others.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch } from '../../../core/component.js';
import { metricBatch, type MetricFamily } from '../../../core/model/metrics.js';
import type { ProfileBatch } from '../../../core/model/profiles.js';
import { fanOut } from '../../../core/pipeline/fanout.js';
import { makeTarget } from '../../../core/scrape/targets.js';

const gauge: MetricFamily = { name: 'g', type: 'gauge', help: 'h', unit: '' };

describe('fan-out', () => {
  it('gives each consumer a metric batch of its own', async () => {
    const seen: Batch[] = [];
    const mutating = { consume: async (b: Batch) => { if (b.signal === 'metrics') { b.points[0].labels.team = 'x'; b.points.push(b.points[0]); } seen.push(b); } };
    const keeping = { consume: async (b: Batch) => { seen.push(b); } };
    await fanOut([mutating, keeping]).consume(metricBatch('pprof', [{ family: gauge, name: 'g', labels: { job: 'a' }, value: 1, timestampMs: 1, stale: false }]));
    const kept = seen[1];
    assert.equal(kept.signal, 'metrics');
    if (kept.signal === 'metrics') {
      assert.equal(kept.points.length, 1);
      assert.deepEqual(kept.points[0].labels, { job: 'a' });
    }
  });

  it('shares profile batches frozen, so a stage that breaks the read-only contract fails loudly', async () => {
    const target = makeTarget('j', 'http', '127.0.0.1:1', {});
    const batch: ProfileBatch = {
      signal: 'profiles', source: 'pprof', ended: [],
      scrapes: [{ target, startedMs: 1, durationSeconds: 0, kind: 'scrape', results: [{ family: 'goroutine', ok: true, profile: { family: 'goroutine', total: 3 }, source: 'x' }] }],
    };
    const errors: unknown[] = [];
    const tamper = { consume: async (b: Batch) => { try { if (b.signal === 'profiles') (b.scrapes as unknown[]).push({}); } catch (err) { errors.push(err); } } };
    const reader = { consume: async () => {} };
    await fanOut([tamper, reader]).consume(batch);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TypeError);
    assert.equal(batch.scrapes.length, 1);
  });
});
