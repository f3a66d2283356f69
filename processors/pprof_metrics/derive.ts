/**
 * Turns one target's scrape into points, and remembers per target and per profile family which
 * series it emitted, so that a series that stops (its profile failed, its target left, its
 * function left the top N) gets a stale marker, once. Families have their own intervals: a scrape
 * carries results only for the families due in it, and the series of the others are left alone,
 * so a value fetched once a minute does not go stale between its fetches.
 */
import { type Labels, type MetricFamily, type Point, copyLabels, labelsIdentity } from '../../core/model/metrics.js';
import type { ScrapeLimits } from '../../core/scrape/config.js';
import { checkLabelLimits, hasLabelLimits, ScrapeLimitError } from '../../core/scrape/limits.js';
import type { FunctionProfile, MemStats, ProfileFamily, ProfileResult, TargetScrape } from '../../core/model/profiles.js';
import { FAILURE_HINTS, type FailureReason, type TargetInfo } from '../../core/model/targets.js';
import { DEFAULT_SERIES_LIMIT, DEFAULT_TOP_N } from './config.js';
import { GC_DURATION_QUANTILE_LABELS } from './labels.js';
import {
  GO_GC_DURATION,
  GO_GOROUTINES,
  GO_LAST_GC,
  GO_PPROF_BLOCK_CONTENTIONS,
  GO_PPROF_BLOCK_DELAY,
  GO_PPROF_CPU_SECONDS,
  GO_PPROF_CPU_UTILIZATION,
  GO_PPROF_GOROUTINE_WAIT_MAX,
  GO_PPROF_GOROUTINES,
  GO_PPROF_GOROUTINES_BY_STATE,
  GO_PPROF_HEAP_ALLOCATED_BYTES,
  GO_PPROF_HEAP_ALLOCATED_OBJECTS,
  GO_PPROF_HEAP_INUSE_BYTES,
  GO_PPROF_HEAP_INUSE_OBJECTS,
  GO_PPROF_MUTEX_CONTENTIONS,
  GO_PPROF_MUTEX_DELAY,
  GO_THREADS,
  MEMSTATS_FAMILIES,
  PPROF_SCRAPE_DURATION,
  PPROF_UP,
} from './families.js';
import { gcSummary } from './gc.js';

interface SeriesRef {
  family: MetricFamily;
  name: string;
  labels: Labels;
  /** Emitter.epoch of the group derivation that last emitted it (Emitter.series). */
  seen: number;
}

/** Label value that sums every function (or state) outside the top N. */
export const OTHER = 'other';
/** Series of one target outside the breakdowns: memstats, the GC summary, counts, totals, pprof_*. */
const FIXED_SERIES = 50;
/** Breakdown families with every profile family on: goroutines 2, allocs 4, mutex 2, block 2, cpu 2 (+1 spare). */
const MAX_BREAKDOWNS = 13;
/** CPU accumulators kept per target; past it they restart (a counter reset), bounding memory. */
const MAX_CPU_FUNCTIONS = 20_000;

export interface DeriverOptions {
  /** Functions per breakdown (default DEFAULT_TOP_N). */
  topN?: number;
  /** Series per target at most (default DEFAULT_SERIES_LIMIT). */
  seriesLimit?: number;
}

type FailedResult = ProfileResult & { ok: false };
type Group = ProfileFamily | 'scrape';

/**
 * A cumulative by-function counter. Top-N series carry the profile's own cumulative value, so a
 * target restart is a drop that rate() reads as a reset. `other` cannot be total minus the top N:
 * when a function enters the top N that difference falls, which rate() would read as a reset and
 * count the whole of `other` again. So `other` accumulates, per function outside the top N, the
 * growth since the previous profile: it only rises, and restarts from zero when the target did.
 */
interface CounterState {
  previous: Map<string, number>;
  lastTotal: number;
  other: number;
}

interface TargetState {
  /** The target's labels, identity taken (so frozen): every point without a label of its own shares this one object. */
  base: Labels;
  /**
   * Group -> series key -> series. The key is local to the target (name, and the one label a
   * breakdown adds), so no label set is sorted per point; a series found here again keeps its labels
   * object (frozen), so a point's labels are made once per series, not once per scrape.
   */
  series: Map<Group, Map<string, SeriesRef>>;
  failures: Map<ProfileFamily, FailedResult>;
  counters: Map<string, CounterState>;
  cpuByFunction: Map<string, number>;
  cpuTotal: number;
}

/**
 * Makes the points of one group of one scrape and collects their series. One per deriver, reset per
 * group (derive is synchronous): no closure per result. Labels objects are frozen and shared between
 * points and scrapes (see TargetState.series); a later stage that changes labels makes a copy.
 *
 * A group mostly emits the series it emitted last time: those are marked (SeriesRef.seen) rather than
 * put in a new Map, and the group keeps its Map when it emitted exactly them. A new Map per group per
 * scrape, grown point by point, was a tenth of what deriving allocated (bench/many-targets.ts, a
 * sampling heap profile). The Map of before is never changed: derive's limit check restores it.
 */
class Emitter {
  out: Point[] = [];
  private before: Map<string, SeriesRef> | undefined;
  /** The group's series once one is new (those of `before` seen so far copied in); undefined until then. */
  private changed: Map<string, SeriesRef> | undefined;
  /** Distinct series of `before` emitted in this group so far. */
  private found = 0;
  private epoch = 0;
  t = 0;
  base: Labels = copyLabels({});

  reset(out: Point[], before: Map<string, SeriesRef> | undefined, t: number, base: Labels): void {
    this.out = out;
    this.before = before;
    this.changed = undefined;
    this.found = 0;
    this.epoch++;
    this.t = t;
    this.base = base;
  }

  /** The group's series after this derivation: `before` itself when it emitted exactly those. */
  series(): Map<string, SeriesRef> {
    if (this.changed !== undefined) return this.changed;
    const before = this.before;
    if (before !== undefined && this.found === before.size) return before;
    return this.seenOfBefore();
  }

  /** A point of a series with the target's labels alone. */
  emit(family: MetricFamily, name: string, value: number): void {
    const ref = this.before?.get(name);
    this.push(name, ref ?? { family, name, labels: this.base, seen: 0 }, ref !== undefined, value);
  }

  /** A point of a series with one label more than the target's (`function`, `quantile`, `state`). */
  emitWith(family: MetricFamily, name: string, label: string, labelValue: string, value: number): void {
    const key = `${name}\xff${label}\xfe${labelValue}`;
    let ref = this.before?.get(key);
    const known = ref !== undefined;
    if (ref === undefined) {
      const labels = copyLabels(this.base);
      labels[label] = labelValue;
      labelsIdentity(labels); // taken where the point is made, carried (and the labels frozen) from here on
      ref = { family, name, labels, seen: 0 };
    }
    this.push(key, ref, known, value);
  }

  private push(key: string, ref: SeriesRef, known: boolean, value: number): void {
    this.out.push({ family: ref.family, name: ref.name, labels: ref.labels, value, timestampMs: this.t, stale: false });
    if (this.changed === undefined) {
      if (known) {
        if (ref.seen !== this.epoch) this.found++;
        ref.seen = this.epoch;
        return;
      }
      this.changed = this.seenOfBefore();
    }
    ref.seen = this.epoch;
    this.changed.set(key, ref);
  }

  /** A new Map of the series of `before` emitted so far in this group. */
  private seenOfBefore(): Map<string, SeriesRef> {
    const out = new Map<string, SeriesRef>();
    if (this.before !== undefined) for (const [key, ref] of this.before) if (ref.seen === this.epoch) out.set(key, ref);
    return out;
  }
}

export class MetricsDeriver {
  private readonly targets = new Map<string, TargetState>();
  /** Functions per breakdown after the series limit: min(top_n, what the limit leaves per breakdown). */
  private readonly topN: number;
  /** Entries per state breakdown (states are few; bounded by the same budget). */
  private readonly stateLimit: number;
  private readonly emitter = new Emitter();

  constructor(options: DeriverOptions = {}) {
    const limit = options.seriesLimit ?? DEFAULT_SERIES_LIMIT;
    // Each breakdown gets an equal share of what the fixed series leave, one of it for `other`.
    const perBreakdown = Math.max(1, Math.floor((limit - FIXED_SERIES) / MAX_BREAKDOWNS)) - 1;
    this.topN = Math.min(options.topN ?? DEFAULT_TOP_N, perBreakdown);
    this.stateLimit = perBreakdown;
  }

  private state(target: TargetInfo): TargetState {
    let state = this.targets.get(target.key);
    if (state === undefined) {
      const base = copyLabels(target.labels);
      labelsIdentity(base);
      state = { base, series: new Map(), failures: new Map(), counters: new Map(), cpuByFunction: new Map(), cpuTotal: 0 };
      this.targets.set(target.key, state);
    }
    return state;
  }

  /**
   * Points for one scrape, stale markers for the series it no longer has included. With the scrape's
   * limits, the derived samples are checked after deriving (report series pprof_up and
   * pprof_scrape_duration_seconds not counted, as Prometheus does not count `up`): past one, they are
   * taken back and the scrape is derived again as failed with the limit's reason (pprof_up 0, every
   * series of the target ended), and the failure is returned. Counter accumulators (`other`, cpu) keep
   * what the taken-back derivation added: a limit that trips is a misconfiguration to fix, not a state.
   */
  derive(scrape: TargetScrape, out: Point[]): ScrapeLimitError | undefined {
    const limits = scrape.limits;
    if (limits === undefined) {
      this.deriveOnce(scrape, out);
      return undefined;
    }
    const start = out.length;
    const state = this.state(scrape.target);
    const series = new Map(state.series);
    const failures = new Map(state.failures);
    this.deriveOnce(scrape, out);
    const failure = checkDerived(out, start, limits);
    if (failure === undefined) return undefined;
    out.length = start;
    state.series = series;
    state.failures = failures;
    const failed = scrape.results.map((r): ProfileResult => ({ family: r.family, ok: false, reason: failure.reason, message: failure.message, source: r.source }));
    this.deriveOnce({ ...scrape, results: failed }, out);
    return failure;
  }

  private deriveOnce(scrape: TargetScrape, out: Point[]): void {
    const t = scrape.startedMs;
    const state = this.state(scrape.target);
    const kind = scrape.kind ?? 'scrape';
    const emit = this.emitter;

    for (const result of scrape.results) {
      if (result.ok === 'busy') {
        // Another profiler holds the CPU: busy, not failed. Keep the series, try next window, and
        // forget an earlier failure of this family (the target answers again).
        state.failures.delete(result.family);
        continue;
      }
      emit.reset(out, state.series.get(result.family), t, state.base);
      if (result.ok === true) {
        state.failures.delete(result.family);
        this.deriveProfile(result, state, emit);
      } else {
        state.failures.set(result.family, result);
      }
      replaceGroup(state, result.family, emit.series(), t, out);
    }
    // The whole target failed: every series of it ends, also of families not due in this scrape.
    if (kind === 'scrape' && scrape.results.length > 0 && scrape.results.every((r) => r.ok === false)) {
      for (const group of [...state.series.keys()]) if (group !== 'scrape') replaceGroup(state, group, new Map(), t, out);
    }
    if (kind === 'scrape') {
      emit.reset(out, state.series.get('scrape'), t, state.base);
      const failed = state.failures.size > 0;
      emit.emit(PPROF_UP, PPROF_UP.name, failed ? 0 : 1);
      if (failed) out[out.length - 1].note = failureNote([...state.failures.values()]);
      emit.emit(PPROF_SCRAPE_DURATION, PPROF_SCRAPE_DURATION.name, scrape.durationSeconds);
      replaceGroup(state, 'scrape', emit.series(), t, out);
    }
  }

  /** Stale markers for every series of a target that left discovery. */
  end(target: TargetInfo, timestampMs: number, out: Point[]): void {
    const state = this.targets.get(target.key);
    if (state === undefined) return;
    for (const group of state.series.values()) for (const ref of group.values()) out.push(staleOf(ref, timestampMs));
    this.targets.delete(target.key);
  }

  private deriveProfile(result: ProfileResult & { ok: true }, state: TargetState, emit: Emitter): void {
    const profile = result.profile;
    switch (profile.family) {
      case 'goroutine':
        emit.emit(GO_GOROUTINES, GO_GOROUTINES.name, profile.total);
        break;
      case 'threadcreate':
        emit.emit(GO_THREADS, GO_THREADS.name, profile.total);
        break;
      case 'heap':
        deriveMemStats(profile.memstats, emit);
        break;
      case 'goroutine_functions': {
        const counts = column(profile.functions, 'goroutine', 1);
        if (counts !== undefined) gaugeBreakdown(emit, GO_PPROF_GOROUTINES, 'function', counts.byFunction, counts.total, this.topN);
        break;
      }
      case 'goroutine_states': {
        let total = 0;
        for (const n of profile.byState.values()) total += n;
        gaugeBreakdown(emit, GO_PPROF_GOROUTINES_BY_STATE, 'state', profile.byState, total, this.stateLimit);
        emit.emit(GO_PPROF_GOROUTINE_WAIT_MAX, GO_PPROF_GOROUTINE_WAIT_MAX.name, profile.waitMaxSeconds);
        break;
      }
      case 'allocs': {
        const f = profile.functions;
        for (const [col, fam] of ALLOCS_GAUGES) {
          const c = column(f, col, 1);
          if (c === undefined) continue;
          emit.emit(fam, fam.name, c.total);
          gaugeBreakdown(emit, fam, 'function', c.byFunction, c.total, this.topN);
        }
        for (const [col, fam] of ALLOCS_COUNTERS) {
          const c = column(f, col, 1);
          if (c !== undefined) this.counterBreakdown(state, emit, fam, c.byFunction, c.total);
        }
        break;
      }
      case 'mutex':
      case 'block': {
        const [contentions, delay] = profile.family === 'mutex' ? [GO_PPROF_MUTEX_CONTENTIONS, GO_PPROF_MUTEX_DELAY] : [GO_PPROF_BLOCK_CONTENTIONS, GO_PPROF_BLOCK_DELAY];
        const c = column(profile.functions, 'contentions', 1);
        if (c !== undefined) this.counterBreakdown(state, emit, contentions, c.byFunction, c.total);
        const d = column(profile.functions, 'delay', 1e-9);
        if (d !== undefined) this.counterBreakdown(state, emit, delay, d.byFunction, d.total);
        break;
      }
      case 'cpu':
        this.deriveCpu(profile.functions, state, emit);
        break;
    }
  }

  /** Emits total, top N (profile's own cumulative values) and the accumulated `other`. */
  private counterBreakdown(state: TargetState, emit: Emitter, family: MetricFamily, values: ReadonlyMap<string, number>, total: number): void {
    let counter = state.counters.get(family.name);
    if (counter === undefined) state.counters.set(family.name, (counter = { previous: new Map(), lastTotal: 0, other: 0 }));
    let reset = total < counter.lastTotal;
    if (!reset) {
      for (const [name, v] of values) {
        const before = counter.previous.get(name);
        if (before !== undefined && v < before) {
          reset = true;
          break;
        }
      }
    }
    if (reset) {
      counter.previous = new Map();
      counter.other = 0;
    }
    const top = topEntries(values, this.topN);
    const inTop = new Set(top.map(([name]) => name));
    for (const [name, v] of values) {
      if (!inTop.has(name)) counter.other += Math.max(0, v - (counter.previous.get(name) ?? 0));
    }
    counter.previous = new Map(values);
    counter.lastTotal = total;
    emit.emit(family, family.name, total);
    for (const [name, v] of top) emit.emitWith(family, family.name, 'function', name, v);
    emit.emitWith(family, family.name, 'function', OTHER, counter.other);
  }

  /**
   * CPU seconds sampled in one window. The counter is pprofcol's sum over the windows it ran (no
   * extrapolation to the time between windows): it starts at 0 when pprofcol starts (a reset),
   * and a target restart does not reset it (each window is a fresh profile).
   */
  private deriveCpu(profile: FunctionProfile, state: TargetState, emit: Emitter): void {
    const cpu = column(profile, 'cpu', 1e-9);
    if (cpu === undefined) return;
    if (state.cpuByFunction.size + cpu.byFunction.size > MAX_CPU_FUNCTIONS) {
      state.cpuByFunction.clear();
      state.cpuTotal = 0;
      state.counters.delete(GO_PPROF_CPU_SECONDS.name);
    }
    for (const [name, seconds] of cpu.byFunction) state.cpuByFunction.set(name, (state.cpuByFunction.get(name) ?? 0) + seconds);
    state.cpuTotal += cpu.total;
    this.counterBreakdown(state, emit, GO_PPROF_CPU_SECONDS, state.cpuByFunction, state.cpuTotal);
    const window = profile.durationSeconds > 0 ? profile.durationSeconds : 1;
    const ratios = new Map<string, number>();
    for (const [name, seconds] of cpu.byFunction) ratios.set(name, seconds / window);
    emit.emit(GO_PPROF_CPU_UTILIZATION, GO_PPROF_CPU_UTILIZATION.name, cpu.total / window);
    gaugeBreakdown(emit, GO_PPROF_CPU_UTILIZATION, 'function', ratios, cpu.total / window, this.topN);
  }
}

const ALLOCS_GAUGES = [
  ['inuse_space', GO_PPROF_HEAP_INUSE_BYTES],
  ['inuse_objects', GO_PPROF_HEAP_INUSE_OBJECTS],
] as const;
const ALLOCS_COUNTERS = [
  ['alloc_space', GO_PPROF_HEAP_ALLOCATED_BYTES],
  ['alloc_objects', GO_PPROF_HEAP_ALLOCATED_OBJECTS],
] as const;

/** The first limit the points out[start..] break, or undefined. */
function checkDerived(out: Point[], start: number, limits: ScrapeLimits): ScrapeLimitError | undefined {
  const labelLimits = hasLabelLimits(limits);
  let samples = 0;
  try {
    for (let i = start; i < out.length; i++) {
      const p = out[i];
      if (p.stale || p.family === PPROF_UP || p.family === PPROF_SCRAPE_DURATION) continue;
      samples++;
      if (labelLimits) checkLabelLimits(p.name, p.labels, limits);
    }
  } catch (err) {
    if (err instanceof ScrapeLimitError) return err;
    throw err;
  }
  if (limits.sample_limit > 0 && samples > limits.sample_limit) {
    return new ScrapeLimitError('sample_limit', `${samples} samples derived, over sample_limit ${limits.sample_limit}`);
  }
  return undefined;
}

/** Replaces a group's series with `current`, sending stale markers for those that are gone. */
function replaceGroup(state: TargetState, group: Group, current: Map<string, SeriesRef>, t: number, out: Point[]): void {
  const before = state.series.get(group);
  if (before !== undefined && before !== current) for (const [key, ref] of before) if (!current.has(key)) out.push(staleOf(ref, t));
  if (current.size === 0) state.series.delete(group);
  else state.series.set(group, current);
}

/** One value column of a profile, scaled (ns -> s), by function. */
function column(profile: FunctionProfile, type: string, scale: number): { total: number; byFunction: Map<string, number> } | undefined {
  const i = profile.columns.indexOf(type);
  if (i === -1) return undefined;
  const byFunction = new Map<string, number>();
  for (const [name, values] of profile.byFunction) byFunction.set(name, values[i] * scale);
  return { total: profile.totals[i] * scale, byFunction };
}

/** The n largest non-zero entries, ties broken by name so the choice is stable between scrapes. */
function topEntries(values: ReadonlyMap<string, number>, n: number): Array<[string, number]> {
  if (n <= 0) return [];
  const entries: Array<[string, number]> = [];
  for (const entry of values) if (entry[1] > 0) entries.push(entry);
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return entries.length > n ? entries.slice(0, n) : entries;
}

/** A gauge by label: the top n, and `other` = total minus them (a gauge may fall; no accumulation needed). */
function gaugeBreakdown(emit: Emitter, family: MetricFamily, label: string, values: ReadonlyMap<string, number>, total: number, n: number): void {
  let sum = 0;
  for (const [name, v] of topEntries(values, n)) {
    sum += v;
    emit.emitWith(family, family.name, label, name, v);
  }
  emit.emitWith(family, family.name, label, OTHER, Math.max(0, total - sum));
}

/** One line per distinct reason: a dead target fails every profile the same way, and says so once. */
function failureNote(failures: readonly FailedResult[]): string {
  const byReason = new Map<FailureReason, FailedResult[]>();
  for (const f of failures) byReason.set(f.reason, [...(byReason.get(f.reason) ?? []), f]);
  return [...byReason]
    .map(([reason, list]) => `${list.map((f) => f.family).join(', ')} failed: ${reason}: ${list[0].message} (${FAILURE_HINTS[reason]})`)
    .join('; ');
}

/** The series' labels object is frozen and shared: the marker carries it as the points did. */
function staleOf(ref: SeriesRef, timestampMs: number): Point {
  return { family: ref.family, name: ref.name, labels: ref.labels, value: NaN, timestampMs, stale: true };
}

const GC_SUM_NAME = `${GO_GC_DURATION.name}_sum`;
const GC_COUNT_NAME = `${GO_GC_DURATION.name}_count`;

function deriveMemStats(stats: MemStats, emit: Emitter): void {
  const fields = stats as unknown as Record<string, number>;
  for (const { field, family } of MEMSTATS_FAMILIES) emit.emit(family, family.name, fields[field]);
  emit.emit(GO_LAST_GC, GO_LAST_GC.name, stats.LastGC / 1e9);
  const gc = gcSummary(stats);
  for (let i = 0; i < gc.quantiles.length; i++) emit.emitWith(GO_GC_DURATION, GO_GC_DURATION.name, 'quantile', GC_DURATION_QUANTILE_LABELS[i], gc.quantiles[i]);
  // A wrong sum is worse than none: it is left out once the pause ring has wrapped (see gc.ts).
  if (gc.sum !== undefined) emit.emit(GO_GC_DURATION, GC_SUM_NAME, gc.sum);
  emit.emit(GO_GC_DURATION, GC_COUNT_NAME, gc.count);
}
