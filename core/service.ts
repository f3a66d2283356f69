/**
 * The running daemon: builds the graph, starts exporters -> processors -> receivers, serves
 * telemetry, and stops in reverse within `service.shutdown_timeout`.
 */
import type { ResolvedConfig } from './config/load.js';
import { errorMessage, PprofcolError } from './errors.js';
import type { Logger } from './logger.js';
import { buildGraph, type BuiltComponent, type Graph } from './pipeline/graph.js';
import { Telemetry } from './telemetry/metrics.js';
import { registerProcessMetrics } from './telemetry/process-metrics.js';
import { TelemetryServer } from './telemetry/server.js';
import { statusRoutes } from './telemetry/status-routes.js';

export class Service {
  readonly telemetry = new Telemetry();
  private readonly graph: Graph;
  private readonly telemetryServer: TelemetryServer;
  private started: BuiltComponent[] = [];
  private stopping: Promise<boolean> | undefined;
  /** Where the telemetry listener bound, once started. */
  telemetryAddress = '';

  constructor(
    private readonly config: ResolvedConfig,
    private readonly logger: Logger,
  ) {
    this.graph = buildGraph(config, logger, this.telemetry);
    registerProcessMetrics(this.telemetry);
    const status = { graph: () => this.graph, config: () => this.config, startedMs: Date.now() };
    this.telemetryServer = new TelemetryServer(this.telemetry, config.service.telemetry.http, { configDir: config.configDir, logger, routes: statusRoutes(status) });
  }

  async start(): Promise<void> {
    this.telemetryAddress = await this.telemetryServer.start();
    const order = [...this.graph.exporters, ...this.graph.processors, ...this.graph.receivers];
    for (const built of order) {
      try {
        await built.component.start();
      } catch (err) {
        await this.shutdown();
        throw new PprofcolError('ERR_START', `${built.label} failed to start: ${errorMessage(err)}`, { cause: err });
      }
      this.started.push(built);
    }
    this.telemetryServer.setReady(true);
    this.logger.info({ telemetry: this.telemetryAddress, pipelines: this.config.pipelines.map((p) => p.id) }, 'pprofcol started');
  }

  /**
   * Stops receivers first so nothing new arrives, then processors (which flush downstream),
   * then exporters. Resolves true when all stopped within the timeout.
   */
  shutdown(): Promise<boolean> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<boolean> {
    this.telemetryServer.setReady(false);
    for (const built of this.started) {
      try {
        built.component.beginShutdown?.();
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, `${built.label} failed to begin shutting down`);
      }
    }
    const timeoutMs = this.config.service.shutdown_timeout;
    const ordered = [...this.started].reverse();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const work = (async () => {
      for (const built of ordered) {
        try {
          await built.component.shutdown();
        } catch (err) {
          this.logger.error({ err: errorMessage(err) }, `${built.label} failed to shut down cleanly`);
        }
      }
      return 'done' as const;
    })();
    const outcome = await Promise.race([work, deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      // What the components still hold is counted lost now, while /metrics still serves it.
      let lost = 0;
      for (const built of ordered) {
        try {
          lost += built.component.abandon?.() ?? 0;
        } catch (err) {
          this.logger.error({ err: errorMessage(err) }, `${built.label} failed to count what it loses at exit`);
        }
      }
      this.logger.warn({ timeout_ms: timeoutMs, samples_not_sent: lost }, 'shutdown_timeout reached; exiting with data still queued');
    }
    await this.telemetryServer.stop();
    return outcome === 'done';
  }
}
