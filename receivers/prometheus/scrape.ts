/**
 * One target's series across scrapes: turns a parsed page into points (target labels applied as
 * Prometheus applies them) and remembers which series the last scrape had, so that a series that
 * vanishes, a failed scrape, or a target that leaves ends its series with a stale marker.
 */
import { type Labels, type MetricFamily, type Point, copyLabels } from '../../core/model/metrics.js';
import type { FamilyCache, KnownSeries, ParsedSample, SeriesLookup } from '../../core/textparse/index.js';
import type { ScrapeLimits } from '../../core/scrape/config.js';
import { checkLabelLimits, hasLabelLimits } from '../../core/scrape/limits.js';
import type { Target } from '../../core/scrape/targets.js';

/** What a series needs to be ended: the labels it was last written with; and for the parser, its raw key and place. */
interface SeriesEntry extends KnownSeries {
  family: MetricFamily;
  /** Scrape generation that last saw the series. */
  gen: number;
  index: number;
}

// The report series Prometheus adds for every scrape (`up` etc.); Prometheus sends no metadata for them,
// so their HELP is ours.
const gauge = (name: string, help: string): MetricFamily => Object.freeze({ name, type: 'gauge', help, unit: '' });
export const UP = gauge('up', '1 if the target was scraped and its page parsed, else 0.');
export const SCRAPE_DURATION = gauge('scrape_duration_seconds', 'Duration of the scrape, in seconds.');
export const SAMPLES_SCRAPED = gauge('scrape_samples_scraped', 'Samples the target exposed.');
export const SAMPLES_POST_RELABELING = gauge('scrape_samples_post_metric_relabeling', 'Samples left after metric relabelling (no relabelling here: as scraped).');
export const SERIES_ADDED = gauge('scrape_series_added', 'Series of this scrape that the previous scrape did not have.');
const REPORT_FAMILIES = [UP, SCRAPE_DURATION, SAMPLES_SCRAPED, SAMPLES_POST_RELABELING, SERIES_ADDED];

export interface ApplyOptions {
  honorLabels: boolean;
  honorTimestamps: boolean;
}

export class TargetSeries implements SeriesLookup {
  /** Families of this target, reused across scrapes. */
  readonly families: FamilyCache = new Map();
  private readonly series = new Map<string, SeriesEntry>();
  /** The series of the last scrape in page order: the parser's fast path (see SeriesLookup). */
  order: SeriesEntry[] = [];
  private gen = 0;
  /** Target labels as [name, value] pairs: the loop per sample avoids Object.entries. */
  private readonly targetPairs: ReadonlyArray<readonly [string, string]>;

  constructor(
    readonly target: Target,
    private readonly options: ApplyOptions,
  ) {
    this.targetPairs = Object.entries(target.labels).filter(([, v]) => v !== '');
  }

  /**
   * For the parser: a series the last scrape had, with its final labels (target labels applied), by raw
   * key. The same label text gives the same labels, so the page's label block need not be parsed again.
   */
  get(rawKey: string): SeriesEntry | undefined {
    return this.series.get(rawKey);
  }

  /**
   * Points of a successful scrape: the samples, stale markers for vanished series, the report series.
   * A series that appears twice on the page keeps its first sample, as Prometheus does; the others are
   * dropped, and their number is returned. With label limits on, every sample's final labels are
   * checked first: a ScrapeLimitError leaves the target's state as it was (the caller fails the scrape).
   */
  scraped(samples: ParsedSample[], startedMs: number, durationSeconds: number, out: Point[], limits?: ScrapeLimits): number {
    if (limits !== undefined && hasLabelLimits(limits)) {
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i];
        if (!s.known) {
          s.labels = this.applyTargetLabels(s.labels);
          s.known = true; // final now: the loop below must not apply the target labels again
        }
        checkLabelLimits(s.name, s.labels, limits);
      }
    }
    const gen = ++this.gen;
    let added = 0;
    let duplicates = 0;
    /** Raw keys of the samples with their own timestamps, made only when the page has one. */
    let explicitKeys: Set<string> | undefined;
    const { honorTimestamps } = this.options;
    const order: SeriesEntry[] = [];
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      const explicit = honorTimestamps && s.timestampMs !== undefined;
      // Prometheus does not track staleness of samples with their own timestamps: the exporter of such
      // a sample says when it is valid, not the scrape. They are only kept from repeating.
      if (explicit) {
        explicitKeys ??= new Set();
        if (explicitKeys.has(s.rawKey)) {
          duplicates++;
          continue;
        }
        explicitKeys.add(s.rawKey);
        const labels = s.known ? s.labels : this.applyTargetLabels(s.labels);
        out.push({ family: s.family, name: s.name, labels, value: s.value, timestampMs: s.timestampMs!, stale: false });
        continue;
      }
      let known = s.entry as SeriesEntry | undefined;
      if (known === undefined) known = this.series.get(s.rawKey);
      if (known !== undefined && known.gen === gen) {
        duplicates++; // the same series twice on one page: the first is kept, in its first place
        continue;
      }
      // Labels of a known series come final from the parser (see `get`), which hands its entry back.
      const labels = s.known ? s.labels : this.applyTargetLabels(s.labels);
      out.push({ family: s.family, name: s.name, labels, value: s.value, timestampMs: startedMs, stale: false });
      if (known === undefined) {
        // A private copy: the point's labels belong to the next stage, which may change them.
        known = { rawKey: s.rawKey, family: s.family, name: s.name, labels: copyLabels(labels), gen, index: order.length };
        this.series.set(s.rawKey, known);
        added++;
      } else {
        known.gen = gen;
        known.family = s.family;
        known.index = order.length;
      }
      order.push(known);
    }
    this.order = order;
    this.endVanished(gen, startedMs, out);
    this.report(out, startedMs, 1, durationSeconds, samples.length, added);
    return duplicates;
  }

  /** Points of a failed scrape: `up` 0 and the end of every series the target had. */
  failed(startedMs: number, durationSeconds: number, out: Point[], note: string): void {
    const gen = ++this.gen;
    this.endVanished(gen, startedMs, out);
    this.order = []; // every series ended: none may be matched by the parser's fast path
    const first = out.length;
    this.report(out, startedMs, 0, durationSeconds, 0, 0);
    out[first].note = note;
  }

  /** The target left discovery: every series ends, the report series too. */
  gone(timestampMs: number, out: Point[]): void {
    this.endVanished(++this.gen, timestampMs, out);
    this.order = [];
    for (const family of REPORT_FAMILIES) {
      out.push({ family, name: family.name, labels: copyLabels(this.target.labels), value: NaN, timestampMs, stale: true });
    }
  }

  get seriesCount(): number {
    return this.series.size;
  }

  private endVanished(gen: number, timestampMs: number, out: Point[]): void {
    for (const [key, entry] of this.series) {
      if (entry.gen === gen) continue;
      this.series.delete(key);
      out.push({ family: entry.family, name: entry.name, labels: copyLabels(entry.labels), value: NaN, timestampMs, stale: true });
    }
  }

  private report(out: Point[], t: number, up: number, duration: number, scraped: number, added: number): void {
    const values = [up, duration, scraped, scraped, added];
    for (let i = 0; i < REPORT_FAMILIES.length; i++) {
      const family = REPORT_FAMILIES[i];
      out.push({ family, name: family.name, labels: copyLabels(this.target.labels), value: values[i], timestampMs: t, stale: false });
    }
  }

  /**
   * Target labels (job, instance, static labels) onto the scraped ones, in place. honor_labels false:
   * the target's value wins and the scraped one moves to `exported_<name>` (`exported_exported_<name>`
   * when that is taken too); true: the scraped value wins. Empty values mean "no label" and are dropped.
   */
  private applyTargetLabels(labels: Labels): Labels {
    const pairs = this.targetPairs;
    for (let i = 0; i < pairs.length; i++) {
      const name = pairs[i][0];
      const value = pairs[i][1];
      const scraped = labels[name];
      if (scraped === undefined || scraped === '') {
        labels[name] = value;
      } else if (!this.options.honorLabels && scraped !== value) {
        let exported = `exported_${name}`;
        while (labels[exported] !== undefined && labels[exported] !== '') exported = `exported_${exported}`;
        labels[exported] = scraped;
        labels[name] = value;
      }
    }
    for (const name in labels) if (labels[name] === '') delete labels[name];
    return labels;
  }
}
