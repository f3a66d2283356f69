/**
 * What the remote-write receiver refuses of a request while taking the rest (design.md's partial
 * refusal): the series, the reason, and how many of its samples. The decoders refuse series whose
 * strings are not UTF-8 (decoding them would turn the bytes into U+FFFD and merge series that
 * differ); the receiver refuses samples outside its age and future limits, and timestamps past 2^53
 * (an int64 a JS number holds only rounded: passed on, the sample would be stored at another time).
 */
import type { Labels } from '../model/metrics.js';

export type RefusalReason = 'invalid_utf8' | 'invalid_timestamp' | 'too_old' | 'too_far_in_future';

export interface RefusedSeries {
  /** The series as Prometheus prints it: `name{a="b"}`. */
  series: string;
  reason: RefusalReason;
  samples: number;
}

/** A series' text for a refusal message; JSON string escaping is close enough to Prometheus's. */
export function seriesText(name: string | undefined, labels: Readonly<Labels>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name ?? ''}{${pairs.join(',')}}`;
}
