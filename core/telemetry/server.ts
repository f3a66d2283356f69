/** The telemetry listener: /metrics (pprofcol's own), /healthz (process alive), /readyz (every component started). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PprofcolError } from '../errors.js';
import type { Telemetry } from './metrics.js';

export class TelemetryServer {
  private server: Server | undefined;
  private ready = false;

  constructor(
    private readonly telemetry: Telemetry,
    private readonly listen: string,
  ) {}

  setReady(ready: boolean): void {
    this.ready = ready;
  }

  /** Resolves with the bound address (`127.0.0.1:8888`; port 0 picks a free one). */
  async start(): Promise<string> {
    const { host, port } = splitHostPort(this.listen);
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/metrics') {
        this.telemetry.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.telemetry.registry.contentType });
            res.end(text);
          },
          (err: unknown) => {
            res.writeHead(500).end(String(err));
          },
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        res.writeHead(this.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(this.ready ? 'ready\n' : 'starting\n');
      } else {
        res.writeHead(404).end('not found\n');
      }
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new PprofcolError('ERR_TELEMETRY_LISTEN', `service.telemetry.http.listen: cannot listen on ${this.listen}: ${err.message}`, { cause: err })),
      );
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    return `${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function splitHostPort(hostPort: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(hostPort);
  if (match === null) throw new PprofcolError('ERR_BAD_ADDRESS', `"${hostPort}" is not host:port`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port: Number(match[3]) };
}
