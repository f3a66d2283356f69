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
      const failure = this.deriver.derive(scrape, points);
      if (failure !== undefined) batch.limitExceeded?.(scrape.target, failure.reason, failure.message);
    }
    for (const { target, timestampMs } of batch.ended) this.deriver.end(target, timestampMs, points);
    if (points.length === 0) return;
    await this.next.consume(metricBatch(batch.source, points));
  }

  async shutdown(): Promise<void> {}
}
