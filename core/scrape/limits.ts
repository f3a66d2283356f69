/**
 * Prometheus's scrape limits, enforced in one place for every scraping receiver: `sample_limit` by the
 * text parser as it goes (it stops at the limit, so a page of a million series never becomes a million
 * objects) and by pprof_metrics after deriving; the label limits on each sample's final labels (target
 * labels applied, `__name__` counted as a label, as Prometheus counts it). A limit of 0 is off.
 */
import { PprofcolError } from '../errors.js';
import type { Labels } from '../model/metrics.js';
import type { LimitReason, ScrapeLimits } from './config.js';

/** A scrape went past one of its limits: it fails, with the limit's YAML key as its reason. */
export class ScrapeLimitError extends PprofcolError {
  readonly reason: LimitReason;
  constructor(reason: LimitReason, message: string) {
    super('ERR_SCRAPE_LIMIT', message);
    this.name = 'ScrapeLimitError';
    this.reason = reason;
  }
}

export function sampleLimitError(limit: number): ScrapeLimitError {
  return new ScrapeLimitError('sample_limit', `more than ${limit} samples, over sample_limit ${limit}`);
}

/** Whether any label limit is on: when none is, the per-sample check is skipped entirely. */
export function hasLabelLimits(limits: ScrapeLimits): boolean {
  return limits.label_limit > 0 || limits.label_name_length_limit > 0 || limits.label_value_length_limit > 0;
}

/** Throws ScrapeLimitError when the series `name{labels}` breaks a label limit (Prometheus's messages). */
export function checkLabelLimits(name: string, labels: Labels, limits: ScrapeLimits): void {
  const nameLimit = limits.label_name_length_limit;
  const valueLimit = limits.label_value_length_limit;
  let count = 1; // __name__
  if (valueLimit > 0 && name.length > valueLimit) throw valueTooLong(name, '__name__', name, valueLimit);
  for (const label in labels) {
    count++;
    if (nameLimit > 0 && label.length > nameLimit) {
      throw new ScrapeLimitError('label_name_length_limit', `label_name_length_limit exceeded (metric: ${name.slice(0, 50)}, label name: ${label.slice(0, 50)}, length: ${label.length}, limit: ${nameLimit})`);
    }
    const value = labels[label];
    if (valueLimit > 0 && value.length > valueLimit) throw valueTooLong(name, label, value, valueLimit);
  }
  if (limits.label_limit > 0 && count > limits.label_limit) {
    throw new ScrapeLimitError('label_limit', `label_limit exceeded (metric: ${name.slice(0, 50)}, number of labels: ${count}, limit: ${limits.label_limit})`);
  }
}

function valueTooLong(name: string, label: string, value: string, limit: number): ScrapeLimitError {
  return new ScrapeLimitError(
    'label_value_length_limit',
    `label_value_length_limit exceeded (metric: ${name.slice(0, 50)}, label name: ${label.slice(0, 50)}, value: ${JSON.stringify(value.slice(0, 50))}, length: ${value.length}, limit: ${limit})`,
  );
}
