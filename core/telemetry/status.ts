/**
 * The running pipeline's status, collected from every component of the graph that has a `status()`
 * (core/status.ts), as one JSON model: /api/v1/status/pipeline serves it as it is, the status page
 * renders it, /api/v1/targets reshapes its targets into Prometheus's answer. Collected per request,
 * nothing cached: a request costs one walk over the targets (300 targets: well under a millisecond).
 */
import os from 'node:os';
import type { ResolvedConfig } from '../config/load.js';
import { maskedConfig } from '../config/mask.js';
import { errorMessage } from '../errors.js';
import type { Labels } from '../model/metrics.js';
import type { Graph } from '../pipeline/graph.js';
import { hasStatus, type ComponentStatus, type ExporterStatus, type LossMeterStatus, type TargetHealth, type TargetStatus } from '../status.js';
import { formatDuration } from '../units.js';
import { VERSION } from '../version.js';

/** What the telemetry listener needs of the running service to answer the status routes. */
export interface StatusSource {
  graph(): Graph;
  config(): ResolvedConfig;
  /** When the service started, ms since the epoch. */
  readonly startedMs: number;
}

/** A target as /api/v1/status/pipeline shows it: Prometheus's fields (as in /api/v1/targets) and pprofcol's. */
export interface TargetJson {
  receiver: string;
  scrapePool: string;
  labels: Labels;
  discoveredLabels: Labels;
  scrapeUrl: string;
  globalUrl: string;
  health: TargetHealth;
  lastError: string;
  /** RFC 3339; Go's zero time before the first scrape, as Prometheus answers. */
  lastScrape: string;
  /** Seconds. */
  lastScrapeDuration: number;
  scrapeInterval: string;
  scrapeTimeout: string;
  samples: number;
  sources: readonly string[];
}

export interface ExporterJson extends Omit<ExporterStatus, 'lastErrorMs'> {
  id: string;
  /** RFC 3339, or '' when there was none. */
  lastErrorAt: string;
}

export interface PipelineStatus {
  version: string;
  startedAt: string;
  generatedAt: string;
  pipelines: Array<{ id: string; receivers: string[]; processors: string[]; exporters: string[] }>;
  receivers: Array<{ id: string; targets: TargetJson[] }>;
  processors: Array<{ id: string; pipeline: string; lossMeter?: readonly LossMeterStatus[] }>;
  exporters: Array<{ id: string; status?: ExporterJson }>;
  /** Components whose status() threw: named, so the page says what it cannot show. */
  errors: string[];
  config: unknown;
}

/** Go's zero time.Time as JSON: what Prometheus answers as lastScrape before a target's first scrape. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function rfc3339(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : ZERO_TIME;
}

/**
 * Prometheus's globalUrl: a loopback host is not reachable from elsewhere, so it is replaced by this
 * machine's host name (Prometheus takes it from its external URL, whose default is the host name).
 */
export function globalUrl(scrapeUrl: string, hostname: string = os.hostname()): string {
  let url: URL;
  try {
    url = new URL(scrapeUrl);
  } catch {
    return scrapeUrl;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || /^127\./.test(host)) url.hostname = hostname;
  return url.toString();
}

function targetJson(receiver: string, t: TargetStatus): TargetJson {
  return {
    receiver,
    scrapePool: t.job,
    labels: { ...t.labels },
    discoveredLabels: { ...t.discoveredLabels },
    scrapeUrl: t.scrapeUrl,
    globalUrl: globalUrl(t.scrapeUrl),
    health: t.health,
    lastError: t.lastError,
    lastScrape: rfc3339(t.lastScrapeMs),
    lastScrapeDuration: t.lastScrapeDurationSeconds,
    scrapeInterval: formatDuration(t.scrapeIntervalMs),
    scrapeTimeout: formatDuration(t.scrapeTimeoutMs),
    samples: t.samples,
    sources: t.sources,
  };
}

export function collectStatus(source: StatusSource, nowMs = Date.now()): PipelineStatus {
  const graph = source.graph();
  const config = source.config();
  const errors: string[] = [];
  const ask = (label: string, component: Parameters<typeof hasStatus>[0]): ComponentStatus | undefined => {
    if (!hasStatus(component)) return undefined;
    try {
      return component.status();
    } catch (err) {
      errors.push(`${label}: ${errorMessage(err)}`);
      return undefined;
    }
  };
  return {
    version: VERSION,
    startedAt: rfc3339(source.startedMs),
    generatedAt: rfc3339(nowMs),
    pipelines: config.pipelines.map((p) => ({ id: p.id, receivers: p.receivers, processors: p.processors, exporters: p.exporters })),
    receivers: graph.receivers.map((b) => ({ id: b.id, targets: (ask(b.label, b.component)?.targets ?? []).map((t) => targetJson(b.id, t)) })),
    processors: graph.processors.map((b) => {
      const lossMeter = ask(b.label, b.component)?.lossMeter;
      return lossMeter === undefined ? { id: b.id, pipeline: b.pipeline ?? '' } : { id: b.id, pipeline: b.pipeline ?? '', lossMeter };
    }),
    exporters: graph.exporters.map((b) => {
      const e = ask(b.label, b.component)?.exporter;
      if (e === undefined) return { id: b.id };
      const { lastErrorMs, ...rest } = e;
      return { id: b.id, status: { id: b.id, ...rest, lastErrorAt: lastErrorMs > 0 ? rfc3339(lastErrorMs) : '' } };
    }),
    errors,
    config: maskedConfig(config),
  };
}

/** Prometheus 2.42's /api/v1/targets answer (its keys, in its order), from the collected status. */
export function targetsApi(status: PipelineStatus, query: URLSearchParams): unknown {
  const state = query.get('state') ?? 'any';
  const pool = query.get('scrapePool');
  const active =
    state === 'dropped'
      ? []
      : status.receivers
          .flatMap((r) => r.targets)
          .filter((t) => pool === null || t.scrapePool === pool)
          .map((t) => ({
            discoveredLabels: t.discoveredLabels,
            labels: t.labels,
            scrapePool: t.scrapePool,
            scrapeUrl: t.scrapeUrl,
            globalUrl: t.globalUrl,
            lastError: t.lastError,
            lastScrape: t.lastScrape,
            lastScrapeDuration: t.lastScrapeDuration,
            health: t.health,
            scrapeInterval: t.scrapeInterval,
            scrapeTimeout: t.scrapeTimeout,
          }));
  // Both keys always, as Prometheus answers whatever `state` asks for. No target is dropped here (the
  // scrape configs have no relabelling that could drop one), so droppedTargets is always empty.
  const data = { activeTargets: active, droppedTargets: [] };
  return { status: 'success', data };
}
