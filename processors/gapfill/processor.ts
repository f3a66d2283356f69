/**
 * gapfill: writes a derived point (pprof -> pprof_metrics) only where the target's own series is
 * missing, and measures how often it was. It sees both streams in one pipeline (design.md, "Writing into
 * series the target also exports"): batches from `native_receivers` are the target's own series and pass
 * on; batches from `derived_receivers` are decided on point by point.
 *
 * Per target (the match labels, after mapping the derived job/instance to the native ones) it keeps:
 * - a watermark: the newest native timestamp seen, of any series (`up` comes every scrape, failed or not);
 * - per native series and per family name, the last two timestamps at which it had a value.
 * A derived point at time t waits until the watermark reaches t + staleness/2 (the native scrape nearest
 * to t has arrived, however the two scrapers' offsets lie) or `max_wait` passes; then the native series is
 * present when it had a value in (t - staleness/2, t + staleness/2]: with staleness = the interval, exactly
 * one native scrape falls in that window. Present: the derived point is dropped. Missing: it is written,
 * under the native series' labels. Either way the series gets one sample per interval.
 *
 * Invariants that keep the receiving end from answering 400:
 * - never a stale marker from the derived stream into a series the target has exported;
 * - a native stale marker for a series pprofcol fills is dropped (the derived value follows within an interval);
 * - per series that both streams write, timestamps strictly increase: a point at or before the last one
 *   written is dropped (reason out_of_order) instead of being sent to be rejected with its whole request.
 */
import type { Batch, Consumer, CreateSettings, Processor } from '../../core/component.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { metricBatch, type Labels, type MetricFamily, type MetricBatch, type Point } from '../../core/model/metrics.js';
import type { GapfillConfig } from './config.js';
import { gapfillMetrics, type GapfillMetrics } from './metrics.js';

/** Last two timestamps with a value: the decision for t may come after one newer native scrape arrived. */
interface Seen {
  last: number;
  prev: number;
}

interface Meter {
  intervals: number;
  missing: number;
  filled: number;
}

/** Derived points of one scrape of one target, waiting for the native stream to pass their time. */
interface Pending {
  source: string;
  timestampMs: number;
  points: Point[];
  timer: NodeJS.Timeout | undefined;
}

class TargetState {
  watermark = -Infinity;
  /** Native job and instance as last seen (the derived points are written under them). */
  nativeJob: string | undefined;
  nativeInstance: string | undefined;
  readonly series = new Map<string, Seen>();
  readonly names = new Map<string, Seen>();
  /** Series identities the derived stream has produced: where native stale markers are suppressed. */
  readonly derived = new Set<string>();
  /** Last timestamp written per series that both streams write. */
  readonly written = new Map<string, number>();
  readonly meters = new Map<string, Meter>();
  readonly pending: Pending[] = [];
}

const MISSING_RATIO: MetricFamily = Object.freeze({
  name: 'pprofcol_native_missing_ratio',
  type: 'gauge',
  help: 'Share of intervals, since pprofcol started, in which the target\'s own series of this family had no sample.',
  unit: '',
});
const INTERVALS: MetricFamily = Object.freeze({ name: 'pprofcol_gapfill_intervals_total', type: 'counter', help: 'Intervals decided for a native series family of a target.', unit: '' });
const MISSING: MetricFamily = Object.freeze({ name: 'pprofcol_gapfill_native_missing_intervals_total', type: 'counter', help: 'Intervals in which the native series had no sample.', unit: '' });
const FILLED: MetricFamily = Object.freeze({ name: 'pprofcol_gapfill_filled_total', type: 'counter', help: 'Intervals pprofcol filled with the derived value.', unit: '' });

/** Series identity within a target: name and every label but job and instance, in name order. */
function identity(name: string, labels: Labels): string {
  const names = Object.keys(labels).sort();
  let key = name;
  for (const n of names) if (n !== 'job' && n !== 'instance') key += `\xff${n}\xfe${labels[n]}`;
  return key;
}

function touch(map: Map<string, Seen>, key: string, t: number): void {
  const s = map.get(key);
  if (s === undefined) map.set(key, { last: t, prev: -Infinity });
  else if (t > s.last) {
    s.prev = s.last;
    s.last = t;
  } else if (t < s.last && t > s.prev) s.prev = t;
}

function seenIn(s: Seen | undefined, from: number, to: number): boolean {
  if (s === undefined) return false;
  return (s.last > from && s.last <= to) || (s.prev > from && s.prev <= to);
}

export class GapfillProcessor implements Processor {
  private readonly native: Set<string>;
  private readonly derivedSources: Set<string>;
  private readonly targets = new Map<string, TargetState>();
  private readonly metrics: GapfillMetrics;
  private readonly logger: Logger;
  private readonly byJob: boolean;
  /** Half the staleness window: the native series is present at t with a value in (t - half, t + half]. */
  private readonly half: number;
  private stopped = false;

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: GapfillConfig,
    private readonly next: Consumer,
  ) {
    this.native = new Set(config.native_receivers);
    this.derivedSources = new Set(config.derived_receivers);
    this.metrics = gapfillMetrics(settings.telemetry);
    this.logger = settings.logger;
    this.byJob = config.match_labels.includes('job');
    this.half = config.staleness / 2;
  }

  async start(): Promise<void> {}

  async consume(batch: Batch): Promise<void> {
    if (batch.signal !== 'metrics') return this.next.consume(batch);
    if (this.native.has(batch.source)) return this.consumeNative(batch);
    if (this.derivedSources.has(batch.source) && !this.stopped) return this.consumeDerived(batch);
    return this.next.consume(batch);
  }

  private targetKey(job: string | undefined, instance: string | undefined): string {
    return this.byJob ? `${job ?? ''}\xff${instance ?? ''}` : (instance ?? '');
  }

  private state(key: string): TargetState {
    let s = this.targets.get(key);
    if (s === undefined) {
      s = new TargetState();
      this.targets.set(key, s);
    }
    return s;
  }

  private async consumeNative(batch: MetricBatch): Promise<void> {
    const points = batch.points;
    const touched = new Set<TargetState>();
    const states = new Array<TargetState>(points.length);
    const ids = new Array<string>(points.length);
    let last: TargetState | undefined;
    let lastKey = '';
    // First what the batch tells (watermarks, seen series), so that derived points it lets us decide go out
    // before it: a derived point is older than the native sample that made it decidable.
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      const key = this.targetKey(p.labels.job, p.labels.instance);
      // Points of one target come together: look the state up once per run.
      if (last === undefined || key !== lastKey) {
        last = this.state(key);
        lastKey = key;
        last.nativeJob = p.labels.job;
        last.nativeInstance = p.labels.instance;
        touched.add(last);
      }
      const st = last;
      const t = p.timestampMs;
      if (t > st.watermark) st.watermark = t;
      const id = identity(p.name, p.labels);
      states[i] = st;
      ids[i] = id;
      if (!p.stale) {
        touch(st.series, id, t);
        touch(st.names, p.name, t);
      }
    }
    for (const st of touched) await this.decideReady(st, false);
    let kept = 0;
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      const st = states[i];
      const id = ids[i];
      if (st.derived.has(id)) {
        if (p.stale) {
          this.metrics.dropped.inc({ processor: this.settings.id, reason: 'native_stale_filled' });
          continue;
        }
        const w = st.written.get(id);
        if (w !== undefined && p.timestampMs <= w) {
          this.metrics.dropped.inc({ processor: this.settings.id, reason: 'out_of_order' });
          continue;
        }
        st.written.set(id, p.timestampMs);
      }
      points[kept++] = p;
    }
    points.length = kept;
    if (kept > 0) await this.next.consume(batch);
  }

  /** Rewrites derived job/instance to the native ones (job_map, instance_map, port_map, match_labels). */
  private mapTarget(labels: Labels): TargetState {
    const cfg = this.config;
    let job = labels.job;
    let instance = labels.instance;
    if (job !== undefined) job = cfg.job_map[job] ?? job;
    if (instance !== undefined) {
      const mapped = cfg.instance_map[instance];
      if (mapped !== undefined) instance = mapped;
      else {
        const colon = instance.lastIndexOf(':');
        const port = cfg.port_map[instance.slice(colon + 1)];
        if (colon > 0 && port !== undefined) instance = `${instance.slice(0, colon)}:${port}`;
      }
    }
    const st = this.state(this.targetKey(job, instance));
    // Matching on instance alone: the derived point takes the job the target's own series carry.
    if (!this.byJob && st.nativeJob !== undefined) job = st.nativeJob;
    if (job !== undefined) labels.job = job;
    if (instance !== undefined) labels.instance = instance;
    return st;
  }

  private async consumeDerived(batch: MetricBatch): Promise<void> {
    const interval = this.config.interval;
    // Group by target and timestamp: one group is one scrape of one target.
    const groups = new Map<TargetState, Map<number, Point[]>>();
    for (const p of batch.points) {
      const st = this.mapTarget(p.labels);
      if (this.config.align_timestamps) p.timestampMs -= ((p.timestampMs % interval) + interval) % interval;
      let byTime = groups.get(st);
      if (byTime === undefined) groups.set(st, (byTime = new Map()));
      let list = byTime.get(p.timestampMs);
      if (list === undefined) byTime.set(p.timestampMs, (list = []));
      list.push(p);
    }
    for (const [st, byTime] of groups) {
      for (const [timestampMs, points] of byTime) {
        const pending: Pending = { source: batch.source, timestampMs, points, timer: undefined };
        st.pending.push(pending);
        pending.timer = setTimeout(() => {
          pending.timer = undefined;
          this.decideReady(st, true).catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'gapfill: next stage failed'));
        }, this.config.max_wait);
      }
      await this.decideReady(st, false);
    }
  }

  /**
   * Decides the pending groups of a target, oldest first, as far as the watermark allows; `timedOut`
   * also decides those whose max_wait has passed (every group up to the one whose timer fired).
   */
  private async decideReady(st: TargetState, timedOut: boolean): Promise<void> {
    const out: Point[] = [];
    let source = '';
    while (st.pending.length > 0) {
      const head = st.pending[0];
      // The native scrape nearest to t may come up to half a window after it.
      const ready = st.watermark >= head.timestampMs + this.half || (timedOut && head.timer === undefined) || this.stopped;
      if (!ready) break;
      st.pending.shift();
      if (head.timer !== undefined) clearTimeout(head.timer);
      source = head.source;
      this.decide(st, head, out);
    }
    if (out.length > 0) await this.next.consume(metricBatch(source, out));
  }

  private decide(st: TargetState, group: Pending, out: Point[]): void {
    const t = group.timestampMs;
    const from = t - this.half;
    const to = t + this.half;
    const processor = this.settings.id;
    // Per family name in this scrape: whether any of its points was written.
    const filledNames = new Map<string, boolean>();
    for (const p of group.points) {
      const id = identity(p.name, p.labels);
      st.derived.add(id);
      const nativeSeries = st.series.has(id);
      if (!filledNames.has(p.name)) filledNames.set(p.name, false);
      if (p.stale) {
        // Never end a series the target exports itself: its own scrapes decide when it ends.
        if (nativeSeries) {
          this.metrics.dropped.inc({ processor, reason: 'native_series_stale' });
          continue;
        }
      } else if (seenIn(st.series.get(id), from, to)) {
        this.metrics.dropped.inc({ processor, reason: 'native_present' });
        continue;
      }
      const w = st.written.get(id);
      if (w !== undefined && p.timestampMs <= w) {
        this.metrics.dropped.inc({ processor, reason: 'out_of_order' });
        continue;
      }
      st.written.set(id, p.timestampMs);
      out.push(p);
      if (!p.stale) filledNames.set(p.name, true);
    }
    this.meter(st, t, from, to, filledNames, out);
  }

  /** One interval for every family the target has exported natively: missing or not, filled or not. */
  private meter(st: TargetState, t: number, from: number, to: number, filledNames: Map<string, boolean>, out: Point[]): void {
    const job = st.nativeJob ?? '';
    const instance = st.nativeInstance ?? '';
    for (const [name, filled] of filledNames) {
      const seen = st.names.get(name);
      if (seen === undefined) continue; // never a native family of this target: nothing to measure
      let m = st.meters.get(name);
      if (m === undefined) st.meters.set(name, (m = { intervals: 0, missing: 0, filled: 0 }));
      const labels = { processor: this.settings.id, job, instance, metric: name };
      m.intervals++;
      this.metrics.intervals.inc(labels);
      if (!seenIn(seen, from, to)) {
        m.missing++;
        this.metrics.missing.inc(labels);
      }
      if (filled) {
        m.filled++;
        this.metrics.filled.inc(labels);
      }
      if (this.config.emit_loss_metrics) {
        const at = { job, instance, metric: name };
        out.push({ family: MISSING_RATIO, name: MISSING_RATIO.name, labels: { ...at }, value: m.missing / m.intervals, timestampMs: t, stale: false });
        out.push({ family: INTERVALS, name: INTERVALS.name, labels: { ...at }, value: m.intervals, timestampMs: t, stale: false });
        out.push({ family: MISSING, name: MISSING.name, labels: { ...at }, value: m.missing, timestampMs: t, stale: false });
        out.push({ family: FILLED, name: FILLED.name, labels: { ...at }, value: m.filled, timestampMs: t, stale: false });
      }
    }
  }

  /** Decides everything pending with what is known and hands it on. Idempotent; safe before start. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const st of this.targets.values()) await this.decideReady(st, true);
  }
}
