// The parser's fast path for known series (the page compared in place with the series that followed the
// last one matched): the same points whether the page keeps its order, inserts, drops or reorders series,
// and stale markers still end exactly the vanished series.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Point } from '../../../core/model/metrics.js';
import type { Target } from '../../../core/scrape/targets.js';
import { parseExposition } from '../../../core/textparse/index.js';
import { TargetSeries } from '../../../receivers/prometheus/scrape.js';

const target = { key: 'k', instance: 'h:1', labels: { job: 'app', instance: 'h:1' }, baseUrl: 'http://h:1' } as unknown as Target;
const line = (k: string, v: number) => `m_total{k="${k}",job="x"} ${v}`;
const page = (keys: string[], v: number) => `# TYPE m counter\n${keys.map((k) => line(k, v)).join('\n')}\nm_total_other ${v}\n`;

function scrape(ts: TargetSeries, keys: string[], t: number): Point[] {
  const samples = parseExposition(page(keys, t), 'text', ts.families, ts);
  const out: Point[] = [];
  ts.scraped(samples, t, 0, out);
  return out.filter((p) => p.name.startsWith('m_total'));
}

describe('prometheus receiver: known series in and out of page order', () => {
  it('gives the same labels and ends exactly the vanished series', () => {
    const ts = new TargetSeries(target, { honorLabels: false, honorTimestamps: true });
    const steps = [['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd'], ['a', 'x', 'b', 'd'], ['d', 'b', 'a', 'x'], ['d', 'b', 'a', 'x']];
    let prev: string[] = [];
    steps.forEach((keys, n) => {
      const t = 1000 * (n + 1);
      const points = scrape(ts, keys, t);
      const live = points.filter((p) => !p.stale);
      assert.deepEqual(live.map((p) => p.labels.k ?? '-'), [...keys, '-']);
      for (const p of live.filter((q) => q.name === 'm_total')) {
        assert.deepEqual({ ...p.labels }, { k: p.labels.k, job: 'app', instance: 'h:1', exported_job: 'x' }, 'target labels applied, exported_job kept');
        assert.equal(p.value, t);
      }
      const ended = points.filter((p) => p.stale).map((p) => p.labels.k).sort();
      assert.deepEqual(ended, prev.filter((k) => !keys.includes(k)).sort(), `step ${n}: stale markers for the vanished series`);
      // Each point owns its labels.
      live[0].labels.k = 'mutated';
      prev = keys;
    });
  });
});
