/**
 * The telemetry listener: /metrics (pprofcol's own), /healthz (process alive), /readyz (every component started),
 * and whatever `routes` answers (the status page and APIs: status-routes.ts).
 */
import type { AddressInfo } from 'node:net';
import { PprofcolError } from '../errors.js';
import type { ListenerLimits } from '../http/limits.js';
import type { ListenerSecurity } from '../http/security.js';
import { GuardedServer, ListenerTlsError } from '../http/server.js';
import type { Logger } from '../logger.js';
import type { Telemetry } from './metrics.js';
import type { RouteHandler } from './status-routes.js';

/** The `service.telemetry.http` section. */
export interface TelemetryListenConfig extends ListenerLimits, ListenerSecurity {
  listen: string;
}

/** Where relative tls_server_config paths resolve, and who hears of refusals. */
export interface TelemetryServerOptions {
  configDir?: string;
  logger?: Logger;
  /** Answers the paths it knows (the status page and APIs: status-routes.ts); the rest get 404. */
  routes?: RouteHandler;
}

export class TelemetryServer {
  private guard: GuardedServer | undefined;
  private ready = false;

  constructor(
    private readonly telemetry: Telemetry,
    private readonly config: TelemetryListenConfig,
    private readonly options: TelemetryServerOptions = {},
  ) {}

  setReady(ready: boolean): void {
    this.ready = ready;
  }

  /** Resolves with the bound address (`127.0.0.1:8888`; port 0 picks a free one). */
  async start(): Promise<string> {
    const { host, port } = splitHostPort(this.config.listen);
    const guard = new GuardedServer((req, res) => {
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
      } else if (this.options.routes?.(req, res) !== true) {
        res.writeHead(404).end('not found\n');
      }
    }, { listener: 'telemetry', limits: this.config, telemetry: this.telemetry, security: this.config, configDir: this.options.configDir, logger: this.options.logger });
    this.guard = guard;
    try {
      await guard.listen(host, port);
    } catch (err) {
      if (err instanceof ListenerTlsError) throw new PprofcolError('ERR_TELEMETRY_LISTEN', `service.telemetry.http.${err.message}`, { cause: err });
      throw new PprofcolError('ERR_TELEMETRY_LISTEN', `service.telemetry.http.listen: cannot listen on ${this.config.listen}: ${(err as Error).message}`, { cause: err });
    }
    const address = guard.server.address() as AddressInfo;
    return `${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  }

  async stop(): Promise<void> {
    const guard = this.guard;
    this.guard = undefined;
    await guard?.close(true);
  }
}

export function splitHostPort(hostPort: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(hostPort);
  if (match === null) throw new PprofcolError('ERR_BAD_ADDRESS', `"${hostPort}" is not host:port`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port: Number(match[3]) };
}
