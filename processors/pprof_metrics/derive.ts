/**
 * Turns one target's scrape into points, and remembers which series each target had so that a
 * series that stops (its profile failed, its target left) gets a stale marker, once.
 */
import type { Labels, MetricFamily, Point } from '../../core/model/metrics.js';
import { seriesKey } from '../../core/model/metrics.js';
import type { FailureReason, MemStats, ProfileResult, TargetInfo, TargetScrape } from '../../core/model/profiles.js';
import { GC_DURATION_QUANTILE_LABELS } from './labels.js';
import { GO_GC_DURATION, GO_GOROUTINES, GO_LAST_GC, GO_THREADS, MEMSTATS_FAMILIES, PPROF_SCRAPE_DURATION, PPROF_UP } from './families.js';
import { gcSummary } from './gc.js';

interface SeriesRef {
  family: MetricFamily;
  name: string;
  labels: Labels;
}

/** What an operator should check, by failure reason: the debug exporter shows it beside `pprof_up 0`. */
const HINTS: Record<FailureReason, string> = {
  connect: 'check that the service runs and listens on this address',
  timeout: 'the target did not answer within scrape_timeout; check its load or raise scrape_timeout',
  http_status: 'check that the service imports net/http/pprof and that path_prefix is right',
  too_large: 'raise body_size_limit if this size is expected',
  decode: 'check that the address serves Go pprof endpoints',
  tls: 'check tls_config and the scheme',
  other: 'see the pprofcol log',
};

export class MetricsDeriver {
  /** Per target key: the series emitted by its last scrape. */
  private readonly previous = new Map<string, Map<string, SeriesRef>>();

  /** Points for one scrape, stale markers for the series it no longer has included. */
  derive(scrape: TargetScrape, out: Point[]): void {
    const t = scrape.startedMs;
    const base = scrape.target.labels;
    const current = new Map<string, SeriesRef>();
    const emit = (family: MetricFamily, name: string, labels: Labels, value: number, note?: string): void => {
      const point: Point = { family, name, labels, value, timestampMs: t, stale: false };
      if (note !== undefined) point.note = note;
      out.push(point);
      current.set(seriesKey(name, labels), { family, name, labels });
    };

    const failures: Array<ProfileResult & { ok: false }> = [];
    for (const result of scrape.results) {
      if (result.ok) deriveProfile(result, base, emit);
      else failures.push(result);
    }
    emit(PPROF_UP, PPROF_UP.name, { ...base }, failures.length === 0 ? 1 : 0, failures.length === 0 ? undefined : failureNote(failures));
    emit(PPROF_SCRAPE_DURATION, PPROF_SCRAPE_DURATION.name, { ...base }, scrape.durationSeconds);

    const before = this.previous.get(scrape.target.key);
    if (before !== undefined) {
      for (const [key, ref] of before) if (!current.has(key)) out.push(staleOf(ref, t));
    }
    this.previous.set(scrape.target.key, current);
  }

  /** Stale markers for every series of a target that left discovery. */
  end(target: TargetInfo, timestampMs: number, out: Point[]): void {
    const before = this.previous.get(target.key);
    if (before === undefined) return;
    for (const ref of before.values()) out.push(staleOf(ref, timestampMs));
    this.previous.delete(target.key);
  }
}

/** One line per distinct reason: a dead target fails every profile the same way, and says so once. */
function failureNote(failures: ReadonlyArray<ProfileResult & { ok: false }>): string {
  const byReason = new Map<FailureReason, Array<ProfileResult & { ok: false }>>();
  for (const f of failures) byReason.set(f.reason, [...(byReason.get(f.reason) ?? []), f]);
  return [...byReason]
    .map(([reason, list]) => `${list.map((f) => f.family).join(', ')} failed: ${reason}: ${list[0].message} (${HINTS[reason]})`)
    .join('; ');
}

function staleOf(ref: SeriesRef, timestampMs: number): Point {
  return { family: ref.family, name: ref.name, labels: { ...ref.labels }, value: NaN, timestampMs, stale: true };
}

type Emit = (family: MetricFamily, name: string, labels: Labels, value: number) => void;

function deriveProfile(result: ProfileResult & { ok: true }, base: Labels, emit: Emit): void {
  const profile = result.profile;
  switch (profile.family) {
    case 'goroutine':
      emit(GO_GOROUTINES, GO_GOROUTINES.name, { ...base }, profile.total);
      break;
    case 'threadcreate':
      emit(GO_THREADS, GO_THREADS.name, { ...base }, profile.total);
      break;
    case 'heap':
      deriveMemStats(profile.memstats, base, emit);
      break;
  }
}

function deriveMemStats(stats: MemStats, base: Labels, emit: Emit): void {
  const fields = stats as unknown as Record<string, number>;
  for (const { field, family } of MEMSTATS_FAMILIES) emit(family, family.name, { ...base }, fields[field]);
  emit(GO_LAST_GC, GO_LAST_GC.name, { ...base }, stats.LastGC / 1e9);
  const gc = gcSummary(stats);
  gc.quantiles.forEach((seconds, i) => emit(GO_GC_DURATION, GO_GC_DURATION.name, { ...base, quantile: GC_DURATION_QUANTILE_LABELS[i] }, seconds));
  // A wrong sum is worse than none: it is left out once the pause ring has wrapped (see gc.ts).
  if (gc.sum !== undefined) emit(GO_GC_DURATION, `${GO_GC_DURATION.name}_sum`, { ...base }, gc.sum);
  emit(GO_GC_DURATION, `${GO_GC_DURATION.name}_count`, { ...base }, gc.count);
}
