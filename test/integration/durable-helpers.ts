// Shared by the durable-buffer tests: a test-only receiver plugin and its pipeline, and readers for
// what the daemon accepted, its own metrics, and the raw samples Prometheus stored.
import path from 'node:path';
import { parseExposition, type Daemon } from '../harness/pprofcol.js';

/** A receiver of the test's own: one counter per instance, value = tick number, one batch per 100ms. */
export const TICKER_PLUGIN = `
export default function register(api) {
  const { z } = api;
  const family = { name: 'pprofcol_test_ticks_total', type: 'counter', help: 'Ticks of the test receiver.', unit: '' };
  api.registerComponent({
    kind: 'receiver',
    type: 'ticker',
    produces: 'metrics',
    configSchema: z.object({ run: z.string(), instances: z.number().int().default(3), interval_ms: z.number().int().default(100) }).strict(),
    create(settings, config, next) {
      let timer;
      let tick = 0;
      let busy = false;
      return {
        async start() {
          timer = setInterval(async () => {
            if (busy) return;
            busy = true;
            tick++;
            const ts = Date.now();
            const points = [];
            for (let i = 0; i < config.instances; i++) {
              points.push({ family, name: family.name, labels: { job: 'durable', instance: 'i' + i, run: config.run }, value: tick, timestampMs: ts, stale: false });
            }
            try {
              await next.consume({ signal: 'metrics', source: settings.id, points });
              settings.logger.info({ accepted_tick: tick, ts, n: points.length }, 'ticker batch accepted');
            } catch (err) {
              settings.logger.error({ err: String(err) }, 'ticker batch refused');
            }
            busy = false;
          }, config.interval_ms);
        },
        async shutdown() { clearInterval(timer); },
      };
    },
  });
}
`;

/** The accepted batches a daemon logged: tick and timestamp. */
export function acceptedTicks(stderr: string): Array<{ tick: number; ts: number }> {
  const out: Array<{ tick: number; ts: number }> = [];
  for (const line of stderr.split('\n')) {
    if (!line.includes('ticker batch accepted')) continue;
    try {
      const j = JSON.parse(line) as { accepted_tick: number; ts: number };
      out.push({ tick: j.accepted_tick, ts: j.ts });
    } catch {
      // a line cut by SIGKILL
    }
  }
  return out;
}

export async function ownMetric(daemon: Daemon, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${daemon.telemetryUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  return parseExposition(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** Raw samples of a selector over the last 10 minutes, from Prometheus's range-vector query. */
export async function rawSamples(promUrl: string, selector: string): Promise<Map<string, Array<[number, string]>>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(`${selector}[10m]`)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> } };
  const out = new Map<string, Array<[number, string]>>();
  for (const r of body.data.result) out.set(r.metric.instance, r.values);
  return out;
}


/**
 * A pipeline of the ticker plugin (written to `dir`/ticker.js) into the remote-write exporter with
 * the given `buffer:` flow mapping, fast retries and no metadata requests.
 */
export function tickerPipeline(dir: string, endpoint: string, run: string, buffer: string): string {
  return `
plugins: [${JSON.stringify(path.join(dir, 'ticker.js'))}]
receivers:
  ticker: {run: "${run}"}
exporters:
  prometheusremotewrite:
    endpoint: ${endpoint}
    timeout: 2s
    queue_config: {max_samples_per_send: 500, min_backoff: 50ms, max_backoff: 200ms}
    metadata_config: {send: false}
    buffer: ${buffer}
service:
  pipelines:
    metrics: {receivers: [ticker], exporters: [prometheusremotewrite]}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`;
}
