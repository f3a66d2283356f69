/**
 * Config of the prometheus receiver: Prometheus's scrape_config (the shared part from core/scrape)
 * plus the keys that only a /metrics scrape has.
 */
import { z } from 'zod';
import { scrapeConfigBase, uniqueJobNames, withScrapeRules, type ScrapeConfig } from '../../core/scrape/config.js';

export const DEFAULT_METRICS_PATH = '/metrics';
/** false: target labels win and a conflicting scraped label is kept as `exported_<name>` (Prometheus's default). */
export const DEFAULT_HONOR_LABELS = false;
/** true: a timestamp on the page is kept; false: every sample gets the scrape's start time. */
export const DEFAULT_HONOR_TIMESTAMPS = true;

const prometheusScrapeConfig = withScrapeRules(
  scrapeConfigBase
    .extend({
      // Path of the exposition page on each target.
      metrics_path: z.string().regex(/^\//, 'must start with /').default(DEFAULT_METRICS_PATH),
      honor_labels: z.boolean().default(DEFAULT_HONOR_LABELS),
      honor_timestamps: z.boolean().default(DEFAULT_HONOR_TIMESTAMPS),
    })
    .strict(),
);

export interface PrometheusScrapeConfig extends ScrapeConfig {
  metrics_path: string;
  honor_labels: boolean;
  honor_timestamps: boolean;
}

export interface PrometheusReceiverConfig {
  scrape_configs: PrometheusScrapeConfig[];
}

export const configSchema = z
  .object({
    scrape_configs: z.array(prometheusScrapeConfig).min(1, 'list at least one scrape config'),
  })
  .strict()
  .superRefine((cfg, ctx) => uniqueJobNames(cfg.scrape_configs, ctx, ['scrape_configs']))
  .transform((cfg): PrometheusReceiverConfig => ({ scrape_configs: cfg.scrape_configs as PrometheusScrapeConfig[] }));
