/**
 * pprofcol points -> the OpenTelemetry SDK's ResourceMetrics, which both encodings serialize.
 *
 * - One Resource per target: `job` becomes `service.name`, `instance` `service.instance.id`, and the
 *   target's other labels (static and discovered ones) become resource attributes. A point does not
 *   say which of its labels came from the target, so the converter learns it: per (job, instance),
 *   the target's labels are those every point of that target carries with one value (pprof_up and
 *   pprof_scrape_duration_seconds carry exactly the target's labels and come with every scrape), kept
 *   as an intersection across batches. What is left (`quantile`, `function`, ...) stays on the data point.
 * - Cumulative temporality throughout. Gauges and untyped -> Gauge; counters -> monotonic Sum whose
 *   start time is when pprofcol first saw the series (pprof does not know when a counter started),
 *   moved forward when the value drops (a restart of the target: a reset, as OTLP expresses one).
 * - A summary cannot be carried (the SDK has no Summary point): its quantiles become a Gauge of the
 *   summary's name with a `quantile` attribute, `_sum` and `_count` monotonic Sums of their own names.
 *   A histogram's `_bucket`, `_sum` and `_count` become monotonic Sums the same way.
 * - Stale points are dropped: OTLP has no stale marker (its NO_RECORDED_VALUE flag cannot be set
 *   through the SDK's types). The series' start time is forgotten, so if it comes back it starts anew.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type DataPoint, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Labels, MetricFamily, Point } from '../../core/model/metrics.js';
import { seriesKey } from '../../core/model/metrics.js';
import { VERSION } from '../../core/version.js';

export const SERVICE_NAME = 'service.name';
export const SERVICE_INSTANCE_ID = 'service.instance.id';
/** The instrumentation scope every metric is sent under. */
export const SCOPE = { name: 'pprofcol', version: VERSION };

/** A series not seen for this long loses its remembered start time (bounds memory when series churn). */
const FORGET_AFTER_MS = 60 * 60_000;
/** How often the start-time map is swept for such series. */
const SWEEP_EVERY_MS = 10 * 60_000;

/** Prometheus base units -> UCUM, as OTLP wants them; others pass through. */
const UNITS: Record<string, string> = { seconds: 's', bytes: 'By', ratio: '1' };

const ZERO_TIME: HrTime = [0, 0];

interface CounterState {
  startMs: number;
  lastValue: number;
  lastMs: number;
  seenAt: number;
}

interface TargetState {
  /** Label names that belong to the target (neither job nor instance). */
  names: Set<string>;
  seenAt: number;
}

export interface ConvertResult {
  resources: ResourceMetrics[];
  /** Points put into `resources`. */
  points: number;
  /** Stale points left out. */
  stale: number;
}

type Kind = 'gauge' | 'sum';

interface MetricBuilder {
  name: string;
  family: MetricFamily;
  kind: Kind;
  points: DataPoint<number>[];
}

interface ResourceBuilder {
  attributes: Attributes;
  metrics: Map<string, MetricBuilder>;
}

export class OtlpConverter {
  private readonly counters = new Map<string, CounterState>();
  private readonly targets = new Map<string, TargetState>();
  private readonly external: Labels;
  private lastSweep = 0;

  constructor(
    externalLabels: Labels = {},
    private readonly now: () => number = Date.now,
  ) {
    this.external = externalLabels;
  }

  convert(points: readonly Point[]): ConvertResult {
    const now = this.now();
    this.learnTargets(points, now);
    const resources = new Map<string, ResourceBuilder>();
    let stale = 0;
    let converted = 0;
    for (const p of points) {
      if (p.stale) {
        stale++;
        this.counters.delete(seriesKey(p.name, p.labels));
        continue;
      }
      const job = p.labels.job ?? '';
      const instance = p.labels.instance ?? '';
      const target = this.targets.get(targetKey(job, instance));
      const names = target?.names;
      // Resource identity: the target plus the values of its labels.
      let key = targetKey(job, instance);
      const pointAttributes: Attributes = {};
      const resourceLabels: Labels = {};
      for (const name of Object.keys(p.labels).sort()) {
        const value = p.labels[name];
        if (value === '' || name === 'job' || name === 'instance') continue;
        if (names?.has(name) === true) {
          resourceLabels[name] = value;
          key += `\xff${name}\xfe${value}`;
        } else {
          pointAttributes[name] = value;
        }
      }
      let resource = resources.get(key);
      if (resource === undefined) {
        resource = { attributes: this.resourceAttributes(job, instance, resourceLabels), metrics: new Map() };
        resources.set(key, resource);
      }
      let metric = resource.metrics.get(p.name);
      if (metric === undefined) {
        metric = { name: p.name, family: p.family, kind: kindOf(p), points: [] };
        resource.metrics.set(p.name, metric);
      }
      const endTime = hrTime(p.timestampMs);
      const startTime = metric.kind === 'sum' ? hrTime(this.startOf(p, now)) : ZERO_TIME;
      metric.points.push({ startTime, endTime, attributes: pointAttributes, value: p.value });
      converted++;
    }
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
    const out: ResourceMetrics[] = [];
    for (const r of resources.values()) {
      const metrics: MetricData[] = [];
      for (const m of r.metrics.values()) metrics.push(metricData(m));
      out.push({ resource: resourceFromAttributes(r.attributes), scopeMetrics: [{ scope: SCOPE, metrics }] });
    }
    return { resources: out, points: converted, stale };
  }

  private resourceAttributes(job: string, instance: string, labels: Labels): Attributes {
    const attributes: Attributes = {};
    if (job !== '') attributes[SERVICE_NAME] = job;
    if (instance !== '') attributes[SERVICE_INSTANCE_ID] = instance;
    for (const name of Object.keys(labels)) attributes[name] = labels[name];
    for (const name of Object.keys(this.external)) {
      const value = this.external[name];
      // external_labels never override what the target has (as in Prometheus); job/instance map to service.*.
      if (name === 'job' || name === 'instance' || value === '') continue;
      if (attributes[name] === undefined) attributes[name] = value;
    }
    return attributes;
  }

  /** Narrows each target's label set to the labels all of its points share with one value. */
  private learnTargets(points: readonly Point[], now: number): void {
    // Per target of this batch: candidate name -> value, or undefined once two values were seen.
    const batch = new Map<string, Map<string, string | undefined>>();
    for (const p of points) {
      const key = targetKey(p.labels.job ?? '', p.labels.instance ?? '');
      const seen = batch.get(key);
      if (seen === undefined) {
        const first = new Map<string, string | undefined>();
        for (const name of Object.keys(p.labels)) if (name !== 'job' && name !== 'instance' && p.labels[name] !== '') first.set(name, p.labels[name]);
        batch.set(key, first);
        continue;
      }
      for (const [name, value] of seen) {
        if (value === undefined) continue;
        const v = p.labels[name];
        if (v === undefined || v === '') seen.delete(name);
        else if (v !== value) seen.set(name, undefined);
      }
    }
    for (const [key, seen] of batch) {
      const names = new Set<string>();
      for (const [name, value] of seen) if (value !== undefined) names.add(name);
      const known = this.targets.get(key);
      if (known === undefined) {
        this.targets.set(key, { names, seenAt: now });
        continue;
      }
      for (const name of known.names) if (!names.has(name)) known.names.delete(name);
      known.seenAt = now;
    }
  }

  /** Start time of a cumulative point: first sight of the series, moved to just after the last point on a reset. */
  private startOf(p: Point, now: number): number {
    const key = seriesKey(p.name, p.labels);
    const state = this.counters.get(key);
    if (state === undefined) {
      this.counters.set(key, { startMs: p.timestampMs, lastValue: p.value, lastMs: p.timestampMs, seenAt: now });
      return p.timestampMs;
    }
    if (p.value < state.lastValue && p.timestampMs > state.lastMs) {
      // The counter went down: the target restarted somewhere after the last point we saw.
      state.startMs = Math.min(state.lastMs + 1, p.timestampMs);
    }
    if (p.timestampMs >= state.lastMs) {
      state.lastValue = p.value;
      state.lastMs = p.timestampMs;
    }
    state.seenAt = now;
    return state.startMs;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, state] of this.counters) if (now - state.seenAt > FORGET_AFTER_MS) this.counters.delete(key);
    for (const [key, state] of this.targets) if (now - state.seenAt > FORGET_AFTER_MS) this.targets.delete(key);
  }
}

function targetKey(job: string, instance: string): string {
  return `${job}\xfe${instance}`;
}

function kindOf(p: Point): Kind {
  const f = p.family;
  switch (f.type) {
    case 'counter':
      return 'sum';
    case 'summary':
      return p.name === `${f.name}_sum` || p.name === `${f.name}_count` ? 'sum' : 'gauge';
    case 'histogram':
      return p.name === `${f.name}_bucket` || p.name === `${f.name}_sum` || p.name === `${f.name}_count` ? 'sum' : 'gauge';
    default:
      return 'gauge';
  }
}

function metricData(m: MetricBuilder): MetricData {
  const descriptor = { name: m.name, description: m.family.help, unit: unitOf(m), valueType: ValueType.DOUBLE };
  if (m.kind === 'sum') {
    return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: m.points };
  }
  return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: m.points };
}

/** A summary's or histogram's `_count` counts events: no unit. */
function unitOf(m: MetricBuilder): string {
  if (m.name.endsWith('_count') && m.name !== m.family.name) return '';
  return UNITS[m.family.unit] ?? m.family.unit;
}

/** Milliseconds since the epoch as the SDK's [seconds, nanoseconds]. */
export function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}
