// A pipeline status of many targets, made by hand: for the page's rendering at scale (unit test) and for
// the browser's look at it (test/integration/status-page.test.ts).
import type { PipelineStatus, TargetJson } from '../../../core/telemetry/status.js';

/** `count` targets in jobs of `perJob`; every `downEvery`-th is down with an error, the last one unknown. */
export function manyTargets(count: number, perJob: number, downEvery: number, nowMs = Date.now()): PipelineStatus {
  const targets: TargetJson[] = [];
  for (let i = 0; i < count; i++) {
    const job = `job-${Math.floor(i / perJob)}`;
    const instance = `10.0.${Math.floor(i / 250)}.${i % 250}:6060`;
    const health = i === count - 1 ? 'unknown' : i % downEvery === downEvery - 1 ? 'down' : 'up';
    targets.push({
      receiver: 'pprof',
      scrapePool: job,
      labels: { instance, job, zone: `zone-${i % 3}` },
      discoveredLabels: { __address__: instance, job },
      scrapeUrl: `http://${instance}/debug/pprof/`,
      globalUrl: `http://${instance}/debug/pprof/`,
      health,
      lastError: health === 'down' ? `http://${instance}/debug/pprof/: cannot connect: ECONNREFUSED` : '',
      lastScrape: health === 'unknown' ? '0001-01-01T00:00:00Z' : new Date(nowMs - 1500).toISOString(),
      lastScrapeDuration: 0.0123,
      scrapeInterval: '15s',
      scrapeTimeout: '10s',
      samples: health === 'up' ? 31 : 2,
      sources: [`http://${instance}/debug/pprof/`, `http://${instance}/debug/pprof/heap?debug=1`],
    });
  }
  return {
    version: '0.1.0',
    startedAt: new Date(nowMs - 60_000).toISOString(),
    generatedAt: new Date(nowMs).toISOString(),
    pipelines: [{ id: 'metrics', receivers: ['pprof'], processors: ['pprof_metrics'], exporters: ['prometheusremotewrite'] }],
    receivers: [{ id: 'pprof', targets }],
    processors: [{ id: 'pprof_metrics', pipeline: 'metrics' }],
    exporters: [
      {
        id: 'prometheusremotewrite',
        status: {
          id: 'prometheusremotewrite',
          endpoint: 'http://user:xxxxx@mimir:9009/api/v1/push',
          protocol: 'remote write 1.0',
          shards: 3,
          queueSamples: 1200,
          samplesSent: 123456,
          sendRatePerSecond: 620.5,
          samplesRetried: 40,
          dropped: { queue_full: 7, http_400: 2 },
          lastError: 'server returned HTTP 503 (retrying)',
          lastErrorAt: new Date(nowMs - 20_000).toISOString(),
          buffer: { type: 'memory', capacity: 30000, capacityUnit: 'samples', bytes: 0 },
        },
      },
    ],
    errors: [],
    config: { exporters: { prometheusremotewrite: { basic_auth: { username: 'user', password: '<secret>' } } } },
  };
}
