// The remote-write receiving end for tests: a capture server that decodes what it gets and answers
// as told, and exporterFor, which builds a prometheusremotewrite exporter from raw options.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { CreateSettings } from '../../core/component.js';
import { snappyUncompress } from '../../core/remotewrite/index.js';
import { configSchema } from '../../exporters/prometheusremotewrite/config.js';
import { RemoteWriteExporter } from '../../exporters/prometheusremotewrite/exporter.js';
import { decodeWriteRequest, type DecodedWriteRequest } from '../core/remotewrite/reference-decoder.js';

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

export function exporterFor(s: CreateSettings, raw: Record<string, unknown>): RemoteWriteExporter {
  return new RemoteWriteExporter(s, configSchema.parse(raw));
}
