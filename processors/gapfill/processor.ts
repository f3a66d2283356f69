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
import type { ComponentStatus, LossMeterStatus, StatusProvider } from '../../core/status.js';
import { metricBatch, type Labels, type MetricFamily, type MetricBatch, type Point, copyLabels, identityKeyOf, labelsIdentity, namedKey, withLabels } from '../../core/model/metrics.js';
import type { GapfillConfig } from './config.js';
import { gapfillMetrics, type GapfillMetrics } from './metrics.js';
import { QueryApiClient, QueryApiError, selector, type RawSeries } from './queryapi.js';

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
  /** Series identities the derived stream has produced (-> newest derived timestamp): where native stale markers are suppressed. */
  readonly derived = new Map<string, number>();
  /** Derived job and instance after mapping: what query_api asks for. */
  queryJob: string | undefined;
  queryInstance: string | undefined;
  /** Names the derived stream produced for this target: the names query_api asks for (plus `up`). */
  readonly derivedNames = new Set<string>();
  /** query_api: timestamps pprofcol wrote per series within the query window, to tell its own samples in the answer. */
  readonly own = new Map<string, number[]>();
  /** query_api: the newest derived point per series, waiting for the next native scrape (slot) to be decided. */
  readonly latest = new Map<string, { point: Point; used: boolean }>();
  /** query_api: the newest native scrape (`up` timestamp) decided, and when (wall clock) a new one was last seen. */
  lastSlot = -Infinity;
  lastSlotAt = Date.now();
  /** query_api: native sample timestamps per series in the last answer (pprofcol's own excluded). */
  nativeTimes = new Map<string, Set<number>>();
  /**
   * Newest timestamp (ms) of any point of either stream, or of query_api's answer, for this target: when it
   * is forgotten. Sample time, not arrival time: a stream that delivers late but current data keeps it.
   */
  lastActivity = -Infinity;
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

/**
 * The labels part of `identity`, once per labels object: taking the labels' identity freezes them
 * (core/model/metrics.ts labelsIdentity), so what is cached here cannot go stale.
 */
const withinTarget = new WeakMap<Labels, string>();

/**
 * Series identity within a target: namedKey of the name and the identity key (identityKeyOf: escaped
 * where a name or value holds \xfe or \xff) of every label but job and instance, in name order.
 * Plain `name\xff<name>\xfe<value>...` made {a="x\xffb\xfey"} and {a="x", b="y"} one native series.
 */
function identity(name: string, labels: Labels): string {
  let part = withinTarget.get(labels);
  if (part === undefined) {
    labelsIdentity(labels);
    const pairs: string[] = [];
    for (const n of Object.keys(labels).sort()) if (n !== 'job' && n !== 'instance') pairs.push(n, labels[n]);
    part = identityKeyOf(pairs);
    withinTarget.set(labels, part);
  }
  return namedKey(name, part);
}

/** The name an identity (identity(), namedKey's form) begins with. */
function identityName(id: string): string {
  const cut = id.indexOf('\x00');
  return id.slice(cut + 1, cut + 1 + Number(id.slice(0, cut)));
}

/** identity() of `up` with no label but job and instance: the series whose samples are the watermark. */
const UP_IDENTITY = '2\x00up';

function touch(map: Map<string, Seen>, key: string, t: number): void {
  const s = map.get(key);
  if (s === undefined) map.set(key, { last: t, prev: -Infinity });
  else if (t > s.last) {
    s.prev = s.last;
    s.last = t;
  } else if (t < s.last && t > s.prev) s.prev = t;
}

/** Forgets entries whose newest timestamp is before `horizon`, unless `keep` still names them. */
function pruneSeen(map: Map<string, Seen>, horizon: number, keep: Map<string, number> | undefined): void {
  for (const [key, s] of map) {
    if (s.last >= horizon) continue;
    const derived = keep?.get(key);
    if (derived !== undefined && derived >= horizon) continue;
    map.delete(key);
  }
}

function seenIn(s: Seen | undefined, from: number, to: number): boolean {
  if (s === undefined) return false;
  return (s.last > from && s.last <= to) || (s.prev > from && s.prev <= to);
}

export class GapfillProcessor implements Processor, StatusProvider {
  private readonly native: Set<string>;
  private readonly derivedSources: Set<string>;
  private readonly targets = new Map<string, TargetState>();
  private readonly metrics: GapfillMetrics;
  private readonly logger: Logger;
  private readonly byJob: boolean;
  /** Half the staleness window: the native series is present at t with a value in (t - half, t + half]. */
  private readonly half: number;
  private stopped = false;
  private lastPrune = 0;
  private readonly query: QueryApiClient | undefined;
  /** Span of raw samples each query asks for: what pending points (up to max_wait old) are decided on. */
  private readonly queryWindow: number;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly pollAbort = new AbortController();
  /** Last logged state of query_api: 'ok' or the failure reason (logged once per change). */
  private queryState = 'ok';

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
    this.queryWindow = config.max_wait + config.staleness + config.interval;
    this.query = config.query_api === undefined ? undefined : new QueryApiClient(config.query_api, settings.configDir);
  }

  async start(): Promise<void> {
    if (this.query === undefined || this.pollTimer !== undefined || this.stopped) return;
    this.schedulePoll(0);
  }

  private schedulePoll(delayMs: number): void {
    this.pollTimer = setTimeout(() => {
      const began = Date.now();
      this.polling = this.pollAll(began).finally(() => {
        this.polling = undefined;
        // Polls do not overlap: the next one starts an interval after this one began, or at once when it overran.
        if (!this.stopped) this.schedulePoll(Math.max(0, this.config.query_api!.interval - (Date.now() - began)));
      });
    }, delayMs);
  }

  /** One query per target the derived stream has named; each answer decides what it can at once. */
  private async pollAll(now: number): Promise<void> {
    const targets = [...this.targets.values()].filter((st) => st.queryInstance !== undefined);
    await Promise.all(targets.map((st) => this.pollTarget(st, now)));
    this.maybePrune(Date.now());
  }

  private async pollTarget(st: TargetState, now: number): Promise<void> {
    const processor = this.settings.id;
    let answer: RawSeries[];
    try {
      const expr = selector(st.derivedNames, this.byJob ? st.queryJob : undefined, st.queryInstance!, this.queryWindow);
      answer = await this.query!.rangeSelect(expr, now, this.pollAbort.signal);
    } catch (err) {
      if (this.stopped) return;
      const reason = err instanceof QueryApiError ? err.reason : 'other';
      this.metrics.queries.inc({ processor, result: 'failure' });
      this.metrics.queryFailures.inc({ processor, reason });
      if (this.queryState !== reason) {
        this.queryState = reason;
        this.logger.warn({ processor, reason, err: errorMessage(err) }, 'gapfill: query_api failing (derived points wait up to max_wait, then are written); logged again only when this changes');
      }
      return;
    }
    this.metrics.queries.inc({ processor, result: 'success' });
    if (this.queryState !== 'ok') {
      this.queryState = 'ok';
      this.logger.info({ processor }, 'gapfill: query_api answers again');
    }
    this.learn(st, answer);
    await this.decideSlots(st, Date.now()).catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'gapfill: next stage failed'));
  }

  /** What an answer of query_api tells: native samples (those pprofcol did not write), and `up` as the watermark. */
  private learn(st: TargetState, answer: RawSeries[]): void {
    st.nativeTimes = new Map();
    for (const s of answer) {
      const job = s.labels.job;
      if (job !== undefined) st.nativeJob = job;
      if (s.labels.instance !== undefined) st.nativeInstance = s.labels.instance;
      const id = identity(s.name, s.labels);
      const own = st.own.get(id);
      for (const t of s.timestampsMs) {
        // A sample at a time pprofcol wrote into this series is pprofcol's own, not the target's.
        if (own !== undefined && own.includes(t)) continue;
        if (t > st.lastActivity) st.lastActivity = t;
        if (s.name === 'up' && t > st.watermark) st.watermark = t;
        let times = st.nativeTimes.get(id);
        if (times === undefined) st.nativeTimes.set(id, (times = new Set()));
        times.add(t);
        touch(st.series, id, t);
        touch(st.names, s.name, t);
        // A derived point at or before the newest native sample would be rejected as out of order.
        const w = st.written.get(id);
        if (w === undefined || t > w) st.written.set(id, t);
      }
    }
  }

  async consume(batch: Batch): Promise<void> {
    if (batch.signal !== 'metrics') return this.next.consume(batch);
    this.maybePrune(Date.now());
    if (this.native.has(batch.source)) return this.consumeNative(batch);
    if (this.derivedSources.has(batch.source) && !this.stopped) {
      return this.query === undefined ? this.consumeDerived(batch) : this.consumeDerivedQueried(batch);
    }
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

  /**
   * query_api mode: derived points wait, the newest per series, for the next native scrape that query_api
   * shows (a new `up` timestamp: a slot). Derived stale markers are decided at once.
   */
  private async consumeDerivedQueried(batch: MetricBatch): Promise<void> {
    const out: Point[] = [];
    const processor = this.settings.id;
    const interval = this.config.interval;
    for (const p of batch.points) {
      const st = this.mapTarget(p);
      if (this.config.align_timestamps) p.timestampMs -= ((p.timestampMs % interval) + interval) % interval;
      const id = identity(p.name, p.labels);
      const prev = st.derived.get(id);
      if (prev === undefined || p.timestampMs > prev) st.derived.set(id, p.timestampMs);
      if (p.stale) {
        st.latest.delete(id);
        if (st.series.has(id)) {
          this.metrics.dropped.inc({ processor, reason: 'native_series_stale' });
          continue;
        }
        const w = st.written.get(id);
        if (w !== undefined && p.timestampMs <= w) {
          this.metrics.dropped.inc({ processor, reason: 'out_of_order' });
          continue;
        }
        st.written.set(id, p.timestampMs);
        out.push(p);
        continue;
      }
      st.derivedNames.add(p.name);
      const waiting = st.latest.get(id);
      if (waiting !== undefined && !waiting.used) this.metrics.dropped.inc({ processor, reason: 'superseded' });
      st.latest.set(id, { point: p, used: false });
    }
    if (out.length > 0) await this.next.consume(metricBatch(batch.source, out));
  }

  /**
   * query_api mode, after an answer: each native scrape (slot) newer than the last one decided gets one
   * interval of the loss meter, and the newest slot decides the waiting derived points. Per series: native
   * sample at the slot -> the derived one is dropped; none -> the newest derived value is written, stamped
   * after the slot (max(its own time, slot + 1 ms)), so it is newer than anything the native scraper wrote
   * (the stale marker of a failed scrape included) and older than its next scrape: one sample per slot,
   * from one writer, each in timestamp order. Without any slot for max_wait (the native scraper or the
   * query API is down) the waiting points are decided on what is known, at their own times.
   */
  private async decideSlots(st: TargetState, now: number): Promise<void> {
    const processor = this.settings.id;
    const up = st.nativeTimes.get(UP_IDENTITY);
    const slots = up === undefined ? [] : [...up].filter((t) => t > st.lastSlot).sort((a, b) => a - b);
    const out: Point[] = [];
    if (slots.length === 0) {
      if (now - st.lastSlotAt < this.config.max_wait) return;
      for (const [id, entry] of st.latest) {
        const p = entry.point;
        if (entry.used || p.timestampMs > now - this.config.max_wait) continue;
        entry.used = true;
        if (seenIn(st.series.get(id), p.timestampMs - this.half, p.timestampMs + this.half)) {
          this.metrics.dropped.inc({ processor, reason: 'native_present' });
          continue;
        }
        this.writeDerived(st, id, p, p.timestampMs, out);
      }
    } else {
      st.lastSlotAt = now;
      st.lastSlot = slots[slots.length - 1];
      const native = (id: string, t: number) => st.nativeTimes.get(id)?.has(t) ?? false;
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i];
        const newest = i === slots.length - 1;
        const outcome = new Map<string, { missing: boolean; filled: boolean }>();
        for (const [id, entry] of st.latest) {
          const p = entry.point;
          let o = outcome.get(p.name);
          if (o === undefined) outcome.set(p.name, (o = { missing: true, filled: false }));
          const present = native(id, slot);
          if (present) o.missing = false;
          // Only the newest slot writes: before an older one a sample would land behind the newer native scrape.
          // A derived value older than an interval before the slot belongs to an earlier one.
          if (!newest || entry.used || p.timestampMs <= slot - this.config.interval) continue;
          entry.used = true;
          if (present) {
            this.metrics.dropped.inc({ processor, reason: 'native_present' });
            continue;
          }
          if (this.writeDerived(st, id, p, Math.max(p.timestampMs, slot + 1), out)) o.filled = true;
        }
        // A family counts as missing when none of its series had a native sample at the slot.
        for (const [name, o] of outcome) {
          if (!o.missing) continue;
          for (const [id, times] of st.nativeTimes) if (times.has(slot) && identityName(id) === name) o.missing = false;
        }
        this.meter(st, slot, outcome, out);
      }
    }
    if (out.length > 0) await this.next.consume(metricBatch(this.config.derived_receivers[0], out));
  }

  /** Writes a copy of a derived point at `stamp` unless that would be at or before what the series already has. */
  private writeDerived(st: TargetState, id: string, p: Point, stamp: number, out: Point[]): boolean {
    const w = st.written.get(id);
    if (w !== undefined && stamp <= w) {
      this.metrics.dropped.inc({ processor: this.settings.id, reason: 'out_of_order' });
      return false;
    }
    st.written.set(id, stamp);
    const own = st.own.get(id);
    if (own === undefined) st.own.set(id, [stamp]);
    else own.push(stamp);
    out.push({ ...p, labels: copyLabels(p.labels), timestampMs: stamp });
    return true;
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
      if (t > st.lastActivity) st.lastActivity = t;
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
  /**
   * The target state of a derived point, whose job and instance become the native ones: the point gets
   * a changed copy of its labels (pprof_metrics' labels are frozen once their identity is taken and
   * shared between scrapes), only where a value differs.
   */
  private mapTarget(p: Point): TargetState {
    const labels = p.labels;
    const timestampMs = p.timestampMs;
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
    st.queryJob = job;
    st.queryInstance = instance;
    if (timestampMs > st.lastActivity) st.lastActivity = timestampMs;
    // Matching on instance alone: the derived point takes the job the target's own series carry.
    if (!this.byJob && st.nativeJob !== undefined) job = st.nativeJob;
    if ((job !== undefined && labels.job !== job) || (instance !== undefined && labels.instance !== instance)) {
      p.labels = withLabels(labels, { job: job ?? labels.job, instance: instance ?? labels.instance });
    }
    return st;
  }

  private async consumeDerived(batch: MetricBatch): Promise<void> {
    const interval = this.config.interval;
    // Group by target and timestamp: one group is one scrape of one target.
    const groups = new Map<TargetState, Map<number, Point[]>>();
    for (const p of batch.points) {
      const st = this.mapTarget(p);
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
      const prevDerived = st.derived.get(id);
      if (prevDerived === undefined || p.timestampMs > prevDerived) st.derived.set(id, p.timestampMs);
      st.derivedNames.add(p.name);
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
      if (!p.stale) {
        filledNames.set(p.name, true);
        if (this.query !== undefined) {
          const own = st.own.get(id);
          if (own === undefined) st.own.set(id, [p.timestampMs]);
          else own.push(p.timestampMs);
        }
      }
    }
    const outcome = new Map<string, { missing: boolean; filled: boolean }>();
    for (const [name, filled] of filledNames) outcome.set(name, { missing: !seenIn(st.names.get(name), from, to), filled });
    this.meter(st, t, outcome, out);
  }

  /** One interval for every family the target has exported natively: missing or not, filled or not. */
  private meter(st: TargetState, t: number, outcome: Map<string, { missing: boolean; filled: boolean }>, out: Point[]): void {
    const job = st.nativeJob ?? '';
    const instance = st.nativeInstance ?? '';
    for (const [name, { missing, filled }] of outcome) {
      const seen = st.names.get(name);
      if (seen === undefined) continue; // never a native family of this target: nothing to measure
      let m = st.meters.get(name);
      if (m === undefined) st.meters.set(name, (m = { intervals: 0, missing: 0, filled: 0 }));
      const labels = { processor: this.settings.id, job, instance, metric: name };
      m.intervals++;
      this.metrics.intervals.inc(labels);
      if (missing) {
        m.missing++;
        this.metrics.missing.inc(labels);
      }
      if (filled) {
        m.filled++;
        this.metrics.filled.inc(labels);
      }
      if (this.config.emit_loss_metrics) {
        const at = { job, instance, metric: name };
        out.push({ family: MISSING_RATIO, name: MISSING_RATIO.name, labels: copyLabels(at), value: m.missing / m.intervals, timestampMs: t, stale: false });
        out.push({ family: INTERVALS, name: INTERVALS.name, labels: copyLabels(at), value: m.intervals, timestampMs: t, stale: false });
        out.push({ family: MISSING, name: MISSING.name, labels: copyLabels(at), value: m.missing, timestampMs: t, stale: false });
        out.push({ family: FILLED, name: FILLED.name, labels: copyLabels(at), value: m.filled, timestampMs: t, stale: false });
      }
    }
  }

  private maybePrune(now: number): void {
    if (now - this.lastPrune < this.config.interval) return;
    this.lastPrune = now;
    this.prune(now);
  }

  /**
   * Bounded memory: a target seen in neither stream for forget_after_intervals intervals is forgotten with
   * its meters; within a live target, so is a series (or family) whose newest native and derived samples are
   * both that old, and pprofcol's own timestamps once they are out of the query window.
   */
  prune(now: number): void {
    const processor = this.settings.id;
    const horizon = now - this.config.forget_after_intervals * this.config.interval;
    const ownHorizon = now - this.queryWindow - this.config.interval;
    let series = 0;
    for (const [key, st] of this.targets) {
      if (st.lastActivity < horizon && st.pending.length === 0) {
        this.targets.delete(key);
        for (const name of st.meters.keys()) this.forgetMeter(st, name);
        continue;
      }
      pruneSeen(st.series, horizon, st.derived);
      for (const [id, t] of st.derived) if (t < horizon && !st.series.has(id)) st.derived.delete(id);
      for (const [id, t] of st.written) if (t < horizon && !st.derived.has(id)) st.written.delete(id);
      const derivedNames = new Map<string, number>();
      for (const [id, t] of st.derived) {
        const name = identityName(id);
        derivedNames.set(name, Math.max(t, derivedNames.get(name) ?? -Infinity));
      }
      pruneSeen(st.names, horizon, derivedNames);
      for (const name of st.derivedNames) if (!derivedNames.has(name)) st.derivedNames.delete(name);
      for (const name of [...st.meters.keys()]) if (!st.names.has(name)) this.forgetMeter(st, name);
      for (const [id, ts] of st.own) {
        let drop = 0;
        while (drop < ts.length && ts[drop] < ownHorizon) drop++;
        if (drop === ts.length) st.own.delete(id);
        else if (drop > 0) ts.splice(0, drop);
      }
      series += st.series.size;
    }
    this.metrics.targets.set({ processor }, this.targets.size);
    this.metrics.series.set({ processor }, series);
  }

  private forgetMeter(st: TargetState, name: string): void {
    st.meters.delete(name);
    const labels = { processor: this.settings.id, job: st.nativeJob ?? '', instance: st.nativeInstance ?? '', metric: name };
    this.metrics.intervals.remove(labels);
    this.metrics.missing.remove(labels);
    this.metrics.filled.remove(labels);
  }

  /** The loss meter of every target kept, for the status page (core/status.ts); targets without a native family are left out. */
  status(): ComponentStatus {
    const lossMeter: LossMeterStatus[] = [];
    for (const st of this.targets.values()) {
      if (st.meters.size === 0) continue;
      const families = [...st.meters].map(([metric, m]) => ({ metric, intervals: m.intervals, missing: m.missing, filled: m.filled }));
      families.sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
      lossMeter.push({ job: st.nativeJob ?? '', instance: st.nativeInstance ?? '', families });
    }
    return { lossMeter };
  }

  /** Targets whose state is kept (tests of pruning). */
  get targetCount(): number {
    return this.targets.size;
  }

  /** Decides everything pending with what is known and hands it on. Idempotent; safe before start. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer !== undefined) clearTimeout(this.pollTimer);
    this.pollAbort.abort();
    await this.polling;
    for (const st of this.targets.values()) await this.decideReady(st, true);
    await this.query?.close();
  }
}
