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

/**
 * A label set's identity, computed once per labels object where its point is made and carried with it,
 * so the stages after (the exporters' sharder, otlphttp, seriesKey's users) read it instead of
 * sorting and hashing the labels again for every point.
 */
export interface LabelsIdentity {
  /**
   * `\xff<name>\xfe<value>` per label in name order (empty values too): seriesKey is the name plus this.
   * When a name or value itself holds \xfe or \xff (a remote-write sender may send any character),
   * `\xfd` then `<name length>:<name><value length>:<value>` per label instead, so two label sets never
   * share a key ({a: 'x\xffb\xfey'} and {a: 'x', b: 'y'} would in the plain form). See identityKeyOf.
   */
  readonly key: string;
  /**
   * Order-independent 32-bit hash of the non-empty labels (`__name__` left out): per label
   * fnv1a(fnv1a(name) ^ 0xff, value), summed, so that a sharder can add labels it fills in (external
   * labels) without sorting (exporters/prometheusremotewrite/request.ts seriesHash).
   */
  readonly pairHash: number;
}

/** Where a labels object carries its identity: a symbol, so Object.keys, for-in and copies never see it. */
const IDENTITY: unique symbol = Symbol('pprofcol.labelsIdentity');
type Identified = Labels & { [IDENTITY]?: LabelsIdentity };

let identitiesComputed = 0;

/**
 * The identity of a label set: computed the first time it is asked for and carried by the object from
 * then on. The rule that makes carrying it safe: **a labels object is frozen once its identity is
 * taken**. A stage that changes labels later (a processor, a plugin) makes a changed copy with
 * withLabels() (or copyLabels()), whose identity is computed afresh; writing into a frozen set throws
 * a TypeError (ES modules are strict), so a stale identity can never go unnoticed.
 */
export function labelsIdentity(labels: Readonly<Labels>): LabelsIdentity {
  const own = labels as Identified;
  const known = own[IDENTITY] ?? frozenIdentities.get(own);
  if (known !== undefined) return known;
  const names = Object.keys(labels).sort();
  let key = '';
  let pairHash = 0;
  let separators = false;
  for (const n of names) {
    const v = labels[n];
    key += `\xff${n}\xfe${v}`;
    separators ||= holdsSeparator(n) || holdsSeparator(v);
    if (v !== '' && n !== '__name__') pairHash = (pairHash + labelPairHash(n, v)) | 0;
  }
  if (separators) key = escapedKey(names, labels);
  const identity: LabelsIdentity = { key, pairHash };
  if (Object.isFrozen(own)) frozenIdentities.set(own, identity);
  else {
    Object.defineProperty(own, IDENTITY, { value: identity, enumerable: false });
    Object.freeze(own);
  }
  identitiesComputed++;
  return identity;
}

/** Identities of label sets frozen before anyone asked (they cannot take the symbol any more). */
const frozenIdentities = new WeakMap<object, LabelsIdentity>();

/**
 * The identity a labels object already carries, or undefined: never computes one (nor freezes the
 * object). For a stage that has its own way to key labels that carry none (the remote-write encoder:
 * labels from the prometheus receiver or a plugin reach it without one when there is a single shard).
 */
export function carriedLabelsIdentity(labels: Readonly<Labels>): LabelsIdentity | undefined {
  const own = labels as Identified;
  return own[IDENTITY] ?? (Object.isFrozen(own) ? frozenIdentities.get(own) : undefined);
}

/** Whether `s` holds \xfe or \xff, the separators of an identity key's plain form. */
function holdsSeparator(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0xfe || c === 0xff) return true;
  }
  return false;
}

/** The escaped form of LabelsIdentity.key: length-prefixed, so any characters parse one way. */
function escapedKey(names: readonly string[], labels: Readonly<Labels>): string {
  let key = '\xfd';
  for (const n of names) {
    const v = labels[n];
    key += `${n.length}:${n}${v.length}:${v}`;
  }
  return key;
}

/**
 * LabelsIdentity.key of the labels `pairs` (name, value, name, value, ... in name order): the same
 * string labelsIdentity gives a labels object with exactly these labels. For a stage that keys label
 * sets it derives (the remote-write encoder's series without empty values) in the carried form.
 */
export function identityKeyOf(pairs: readonly string[]): string {
  let key = '';
  let separators = false;
  for (let i = 0; i < pairs.length; i += 2) {
    const n = pairs[i];
    const v = pairs[i + 1];
    key += `\xff${n}\xfe${v}`;
    separators ||= holdsSeparator(n) || holdsSeparator(v);
  }
  if (!separators) return key;
  key = '\xfd';
  for (let i = 0; i < pairs.length; i += 2) key += `${pairs[i].length}:${pairs[i]}${pairs[i + 1].length}:${pairs[i + 1]}`;
  return key;
}

/** How many identities were computed (not read back) in this process: tests check that stages carry them. */
export function labelsIdentitiesComputed(): number {
  return identitiesComputed;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of `s` from state `h0`. */
export function fnv1a(h0: number, s: string): number {
  let h = h0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h;
}

/** One label's share of LabelsIdentity.pairHash. */
export function labelPairHash(name: string, value: string): number {
  return fnv1a(fnv1a(FNV_OFFSET, name) ^ 0xff, value);
}

/** FNV-1a of a series name, the seed a series hash starts from. */
export function nameHash(name: string): number {
  return fnv1a(FNV_OFFSET, name);
}

/**
 * A copy of `from` with `changes` applied (a value of undefined removes that label): how a stage
 * changes the labels of a point whose labels may be frozen (see labelsIdentity). The copy is not
 * frozen; its identity is computed when a later stage first asks for it.
 */
export function withLabels(from: Readonly<Labels>, changes: Readonly<Record<string, string | undefined>>): Labels {
  const out = new LabelSet();
  for (const name of Object.keys(from)) if (!(name in changes)) out[name] = from[name];
  for (const name of Object.keys(changes)) {
    const v = changes[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
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
    // A frozen label set cannot change under either consumer: shared, identity and all.
    points[i] = { ...p, labels: Object.isFrozen(p.labels) ? p.labels : copyLabels(p.labels) };
  }
  return { signal: 'metrics', source: batch.source, points };
}

/** A stable identity for a series: namedKey of its name and its labels' carried identity (labelsIdentity). */
export function seriesKey(name: string, labels: Labels): string {
  return namedKey(name, labelsIdentity(labels).key);
}

/**
 * A metric name and a LabelsIdentity.key (or identityKeyOf) as one key: `<name length>\x00<name><key>`.
 * The length keeps the name apart from the key: a name may hold any character (remote write), and
 * name + key made m\xffa\xfex without labels one series with m{a="x"}.
 */
export function namedKey(name: string, identityKey: string): string {
  return `${name.length}\x00${name}${identityKey}`;
}
