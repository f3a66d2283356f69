/**
 * pprof_metrics: profiles in, metrics out. Metric batches from other receivers in the same
 * pipeline pass through untouched.
 */
import type { Batch, Consumer, CreateSettings, Processor } from '../../core/component.js';
import { metricBatch, type Point } from '../../core/model/metrics.js';
import type { PprofMetricsConfig } from './config.js';
import { MetricsDeriver } from './derive.js';

export class PprofMetricsProcessor implements Processor {
  private readonly deriver: MetricsDeriver;

  constructor(
    _settings: CreateSettings,
    config: PprofMetricsConfig,
    private readonly next: Consumer,
  ) {
    this.deriver = new MetricsDeriver({ topN: config.top_n, seriesLimit: config.series_limit });
  }

  async start(): Promise<void> {}

  async consume(batch: Batch): Promise<void> {
    if (batch.signal === 'metrics') return this.next.consume(batch);
    const points: Point[] = [];
    for (const scrape of batch.scrapes) {
      const from = points.length;
      const failure = this.deriver.derive(scrape, points);
      if (failure !== undefined) batch.limitExceeded?.(scrape.target, failure.reason, failure.message);
      if (batch.derived !== undefined) batch.derived(scrape.target, countLive(points, from));
    }
    for (const { target, timestampMs } of batch.ended) this.deriver.end(target, timestampMs, points);
    if (points.length === 0) return;
    await this.next.consume(metricBatch(batch.source, points));
  }

  async shutdown(): Promise<void> {}
}

/** Points from `from` on that carry a value (not a stale marker). */
function countLive(points: readonly Point[], from: number): number {
  let n = 0;
  for (let i = from; i < points.length; i++) if (!points[i].stale) n++;
  return n;
}
