/**
 * The metrics data model every stage shares. A batch is a flat list of points; each point
 * names its family (type, HELP, unit: shared, never mutated) and carries its own labels.
 * Flat points keep the hot paths (encode, exposition) to one loop with no regrouping.
 */

export type MetricType = 'gauge' | 'counter' | 'summary' | 'histogram' | 'untyped';

/** Label name -> value, without `__name__` (the point's `name` is that). Made by makeLabels(). */
export type Labels = Record<string, string>;

/**
 * Label sets have no Object.prototype in their chain, so any name a sender chooses is an own property:
 * on a plain object `labels['__proto__'] = v` sets the prototype instead and the label is gone (two
 * series that differ only in it merge), and `constructor` or `toString` would read as present. Made
 * with `new` on a function whose prototype is an empty frozen null-prototype object, they keep V8's
 * fast properties (Object.create(null) gives dictionary objects, ~8x slower to fill and walk).
 * Every label set is made here (decoders, copies, processors, plugins through core/index.ts).
 */
const NO_PROTOTYPE: object = Object.freeze(Object.create(null) as object);
const LabelSet = function LabelSet() {} as unknown as { new (): Labels; prototype: object };
LabelSet.prototype = NO_PROTOTYPE;

/** An empty label set. */
export function makeLabels(): Labels {
  return new LabelSet();
}

/** A label set with `from`'s labels (and `extra`'s on top): the one way to copy labels. */
export function copyLabels(from: Readonly<Labels>, extra?: Readonly<Labels>): Labels {
  const out = new LabelSet();
  for (const name of Object.keys(from)) out[name] = from[name];
  if (extra !== undefined) for (const name of Object.keys(extra)) out[name] = extra[name];
  return out;
}

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
    points[i] = { ...p, labels: copyLabels(p.labels) };
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
