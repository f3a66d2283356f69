// A scrape config for tests of the scrape machinery itself: static targets, one interval, no limits.
import type { ScrapeConfig } from '../../core/scrape/config.js';

export function staticScrapeConfig(job: string, intervalMs: number, targets: string[]): ScrapeConfig {
  return {
    job_name: job,
    scrape_interval: intervalMs,
    scrape_timeout: intervalMs,
    sample_limit: 0,
    label_limit: 0,
    label_name_length_limit: 0,
    label_value_length_limit: 0,
    scheme: 'http',
    body_size_limit: 0,
    static_configs: [{ targets, labels: {} }],
    file_sd_configs: [],
  } as ScrapeConfig;
}
