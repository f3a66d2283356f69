/**
 * One stage feeding several: each consumer gets data it may keep. Metric batches are copied for
 * all but the last consumer; profile batches are read-only by contract and are shared.
 */
import type { Batch, Consumer } from '../component.js';
import { cloneMetricBatch } from '../model/metrics.js';
import type { ProfileBatch } from '../model/profiles.js';

/**
 * Profile batches are shared, not copied: freezing them (down to each result) makes a stage that
 * breaks the read-only contract fail loudly instead of changing what another pipeline sees.
 */
function freezeProfiles(batch: ProfileBatch): ProfileBatch {
  if (Object.isFrozen(batch)) return batch;
  for (const scrape of batch.scrapes) {
    for (const result of scrape.results) Object.freeze(result);
    Object.freeze(scrape.results);
    Object.freeze(scrape);
  }
  Object.freeze(batch.scrapes);
  Object.freeze(batch.ended);
  return Object.freeze(batch);
}

export function fanOut(consumers: readonly Consumer[]): Consumer {
  if (consumers.length === 1) return consumers[0];
  return {
    async consume(batch: Batch): Promise<void> {
      const last = consumers.length - 1;
      const shared = batch.signal === 'profiles' ? freezeProfiles(batch) : batch;
      const deliveries = consumers.map((consumer, i) =>
        consumer.consume(i === last || shared.signal === 'profiles' ? shared : cloneMetricBatch(shared)),
      );
      // Every consumer gets its copy even when another fails; the first failure is reported.
      const results = await Promise.allSettled(deliveries);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
  };
}
