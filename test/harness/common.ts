// What every component test uses: polling with a deadline, reading own metrics, create settings, a
// logger that records what is logged, and a few client_golang families and points to send.
import type { CreateSettings } from '../../core/component.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { MetricFamily, Point } from '../../core/model/metrics.js';
import { Telemetry } from '../../core/telemetry/metrics.js';

/** Polls `check` until it returns true or the deadline passes (then fails with `what`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The value of one own metric series (0 when absent). */
export async function metric(telemetry: Telemetry, name: string, labels: Record<string, string>): Promise<number> {
  const m = telemetry.registry.getSingleMetric(name);
  if (m === undefined) return 0;
  const data = await m.get();
  const found = data.values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val));
  return found?.value ?? 0;
}

export function settings(id = 'prometheusremotewrite'): CreateSettings {
  return { id, logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() };
}

export const goroutines: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' };
export const threads: MetricFamily = { name: 'go_threads', type: 'gauge', help: 'Number of OS threads created.', unit: '' };
export const allocTotal: MetricFamily = { name: 'go_memstats_alloc_bytes_total', type: 'counter', help: 'Total number of bytes allocated, even if freed.', unit: 'bytes' };

export function point(family: MetricFamily, labels: Record<string, string>, value: number, timestampMs: number, stale = false): Point {
  return { family, name: family.name, labels, value, timestampMs, stale };
}

/** One logged line: its level and message. */
export interface Logged {
  level: string;
  msg: string;
}
/** A logger that records level and message of each line, for tests that assert what is logged and how often. */
export function captureLogger(lines: Logged[]): Logger {
  const at =
    (level: string) =>
    (_obj: unknown, msg?: string): void =>
      void lines.push({ level, msg: msg ?? '' });
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger as unknown as Logger;
}
