/**
 * One stage feeding several: each consumer gets data it may keep. Metric batches are copied for
 * all but the last consumer; profile batches are read-only by contract and are shared.
 */
import type { Batch, Consumer } from '../component.js';
import { cloneMetricBatch } from '../model/metrics.js';

export function fanOut(consumers: readonly Consumer[]): Consumer {
  if (consumers.length === 1) return consumers[0];
  return {
    async consume(batch: Batch): Promise<void> {
      const last = consumers.length - 1;
      const deliveries = consumers.map((consumer, i) =>
        consumer.consume(i === last || batch.signal === 'profiles' ? batch : cloneMetricBatch(batch)),
      );
      // Every consumer gets its copy even when another fails; the first failure is reported.
      const results = await Promise.allSettled(deliveries);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
  };
}
