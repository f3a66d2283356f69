// Shared by the exporter tests: a capture server that decodes what it gets, polling with a deadline,
// and reading own metrics.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { CreateSettings } from '../../../core/component.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import type { MetricFamily, Point } from '../../../core/model/metrics.js';
import { snappyUncompress } from '../../../core/remotewrite/index.js';
import { decodeWriteRequest, type DecodedWriteRequest } from '../../core/remotewrite/reference-decoder.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../exporters/prometheusremotewrite/config.js';
import { RemoteWriteExporter } from '../../../exporters/prometheusremotewrite/exporter.js';

export interface Captured {
  at: number;
  headers: http.IncomingHttpHeaders;
  /** The snappy-decoded body. */
  body: Buffer;
  request: DecodedWriteRequest;
}

/** What to answer request number `n` (0-based): a status and headers, or `hang` to never answer. */
export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export interface CaptureServer {
  url: string;
  requests: Captured[];
  /** Requests holding samples (not metadata-only). */
  sampleRequests(): Captured[];
  /** Requests received, kept or not. */
  received(): number;
  close(): Promise<void>;
}

/**
 * `keep` picks the snappy-decoded bodies worth decoding and keeping (default all): a flood of
 * millions of series is counted, not held.
 */
export async function startCaptureServer(answer: (n: number) => Answer = () => ({ status: 204 }), keep: (body: Buffer) => boolean = () => true): Promise<CaptureServer> {
  const requests: Captured[] = [];
  const hanging: http.ServerResponse[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = snappyUncompress(Buffer.concat(chunks));
      if (keep(body)) requests.push({ at: Date.now(), headers: req.headers, body, request: decodeWriteRequest(body) });
      const a = answer(n++);
      if (a === 'hang') {
        hanging.push(res);
        return;
      }
      res.writeHead(a.status, a.headers);
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    requests,
    sampleRequests: () => requests.filter((r) => r.request.timeseries.length > 0),
    received: () => n,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

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

export function exporterFor(s: CreateSettings, raw: Record<string, unknown>): RemoteWriteExporter {
  return new RemoteWriteExporter(s, configSchema.parse(raw));
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
