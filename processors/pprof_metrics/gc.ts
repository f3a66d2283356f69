/**
 * go_gc_duration_seconds from runtime.MemStats' pause ring, computed as client_golang does it
 * (through runtime/debug.ReadGCStats): quantiles 0, .25, .5, .75 over the sorted recent pauses
 * at index len*i/4, and 1 as the largest.
 */
import type { MemStats } from '../../core/model/profiles.js';

/** Go keeps the last 256 pauses (len(MemStats.PauseNs)). */
export const PAUSE_RING_SIZE = 256;
export const GC_QUANTILES = [0, 0.25, 0.5, 0.75, 1] as const;

const sortScratch = new Float64Array(PAUSE_RING_SIZE);

export interface GcSummary {
  /** Seconds, one per GC_QUANTILES entry. */
  quantiles: number[];
  count: number;
  /** Seconds; undefined when it cannot be known exactly (more GCs than the ring holds and no PauseTotalNs). */
  sum: number | undefined;
}

export function gcSummary(stats: MemStats): GcSummary {
  const held = Math.min(stats.NumGC, PAUSE_RING_SIZE, stats.PauseNs.length);
  // With NumGC <= 256 the ring has not wrapped: the pauses are entries 0..NumGC-1.
  // Once it has, every entry is one of the last 256 pauses.
  // A typed array sorts numerically without a comparator call per comparison (256 a scrape a target);
  // a view of one kept array, since a new 2 KiB one per scrape is an ArrayBuffer allocated and freed
  // off the heap each time. derive is synchronous, so no two summaries share it at once.
  const recent = sortScratch.subarray(0, held);
  for (let i = 0; i < held; i++) recent[i] = stats.PauseNs[i];
  recent.sort();
  const quantiles = GC_QUANTILES.map((_, i) => {
    if (recent.length === 0) return 0;
    const nq = GC_QUANTILES.length - 1;
    const index = i < nq ? Math.floor((recent.length * i) / nq) : recent.length - 1;
    return recent[index] / 1e9;
  });
  let sum: number | undefined;
  if (stats.PauseTotalNs !== undefined) sum = stats.PauseTotalNs / 1e9;
  else if (stats.NumGC <= PAUSE_RING_SIZE) {
    let total = 0;
    for (let i = 0; i < recent.length; i++) total += recent[i];
    sum = total / 1e9;
  }
  return { quantiles, count: stats.NumGC, sum };
}
