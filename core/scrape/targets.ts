/** Scrape targets: identity, labels, and the stable offset that spreads them over the interval. */
import { type Labels, makeLabels } from '../model/metrics.js';
import type { TargetInfo } from '../model/targets.js';

export interface Target extends TargetInfo {
  /** `http://host:port`, to which a receiver appends its paths. */
  readonly baseUrl: string;
}

/**
 * A target's labels as Prometheus gives them: the group's labels, `job` from job_name and `instance`
 * from the address unless the group sets them itself, and no `__`-prefixed label (those are
 * Prometheus's internal ones, never stored).
 */
export function makeTarget(job: string, scheme: string, address: string, groupLabels: Labels): Target {
  const labels = makeLabels();
  labels.job = job;
  labels.instance = address;
  for (const [name, value] of Object.entries(groupLabels)) {
    if (!name.startsWith('__') && value !== '') labels[name] = value;
  }
  const names = Object.keys(labels).sort();
  const sorted = makeLabels();
  for (const n of names) sorted[n] = labels[n];
  // The address is part of the identity: two addresses may carry the same (overridden) instance label.
  const key = names.map((n) => `${n}=${sorted[n]}`).join(',') + `|${scheme}://${address}`;
  return { key, job: sorted.job, instance: sorted.instance, labels: sorted, baseUrl: `${scheme}://${address}` };
}

/** FNV-1a, 32 bits: cheap, stable across processes and releases (never change it: offsets would move). */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * Where inside each interval a target is scraped, as Prometheus does it: a hash of the target
 * modulo the interval. The same target gets the same offset after every restart, and many
 * targets spread evenly instead of being fetched at once.
 */
export function scrapeOffsetMs(targetKey: string, intervalMs: number): number {
  return fnv1a32(targetKey) % intervalMs;
}

/** The first time >= now whose position in the interval equals the offset. */
export function nextScrapeTime(nowMs: number, intervalMs: number, offsetMs: number): number {
  const base = nowMs - (nowMs % intervalMs) + offsetMs;
  return base >= nowMs ? base : base + intervalMs;
}
