/**
 * The metrics data model every stage shares. A batch is a flat list of points; each point
 * names its family (type, HELP, unit: shared, never mutated) and carries its own labels.
 * Flat points keep the hot paths (encode, exposition) to one loop with no regrouping.
 */

export type MetricType = 'gauge' | 'counter' | 'summary' | 'histogram' | 'untyped';

/** Label name -> value, without `__name__` (the point's `name` is that). */
export type Labels = Record<string, string>;

/** What Prometheus calls metadata: one per metric family. Constants: define once, share everywhere. */
export interface MetricFamily {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** Base unit (`bytes`, `seconds`) or '' when none. */
  readonly unit: string;
}

export interface Point {
  family: MetricFamily;
  /** Series name: the family name, or with a suffix for summaries (`_sum`, `_count`). */
  name: string;
  labels: Labels;
  value: number;
  timestampMs: number;
  /**
   * The series ends here: exporters send Prometheus's stale marker instead of `value`.
   * A flag, not a NaN, because a NaN's payload bits do not survive JavaScript arithmetic.
   */
  stale: boolean;
  /** Why the value is what it is (a failed target's reason); the debug exporter prints it as a comment. */
  note?: string;
}

export interface MetricBatch {
  readonly signal: 'metrics';
  /** Id of the receiver the data came from (`pprof`, `prometheus/native`), so a processor can tell streams apart. */
  readonly source: string;
  points: Point[];
}

export function metricBatch(source: string, points: Point[]): MetricBatch {
  return { signal: 'metrics', source, points };
}

/** A copy that a consumer may change without affecting another consumer of the same batch. */
export function cloneMetricBatch(batch: MetricBatch): MetricBatch {
  const points = new Array<Point>(batch.points.length);
  for (let i = 0; i < batch.points.length; i++) {
    const p = batch.points[i];
    points[i] = { ...p, labels: { ...p.labels } };
  }
  return { signal: 'metrics', source: batch.source, points };
}

/** A stable identity for a series: name plus labels in name order. */
export function seriesKey(name: string, labels: Labels): string {
  const names = Object.keys(labels).sort();
  let key = name;
  for (const n of names) key += `\xff${n}\xfe${labels[n]}`;
  return key;
}
