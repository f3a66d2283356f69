/**
 * The process's own metrics on /metrics: prom-client's default collectors (`process_*` as every
 * client library names them: CPU, resident memory, open fds, start time; `nodejs_*`: event-loop lag,
 * heap spaces, GC, handles) and `pprofcol_build_info`, 1 with the version as labels, as Prometheus's
 * `prometheus_build_info`. Registered once per running service, on its own registry (not prom-client's
 * global one, which a plugin could share).
 */
import { collectDefaultMetrics } from 'prom-client';
import { VERSION } from '../version.js';
import type { Telemetry } from './metrics.js';

export function registerProcessMetrics(telemetry: Telemetry): void {
  if (telemetry.registry.getSingleMetric('process_start_time_seconds') === undefined) collectDefaultMetrics({ register: telemetry.registry });
  telemetry
    .gauge('pprofcol_build_info', 'A metric with a constant \'1\' value labeled by version and nodeversion from which pprofcol was built.', ['version', 'nodeversion'])
    .set({ version: VERSION, nodeversion: process.version }, 1);
}
