/**
 * prometheusremotewrite: pushes metric batches to a Prometheus remote-write 1.0 endpoint.
 * Three parts kept apart (style.md): the codec (core/remotewrite, pure), the client (HTTP, classifies
 * answers) and the queue (batching, retries, drops). consume() only enqueues: it never waits on the network.
 */
import type { Batch, CreateSettings, Exporter } from '../../core/component.js';
import { WriteRequestEncoder } from '../../core/remotewrite/index.js';
import { RemoteWriteClient } from './client.js';
import type { RemoteWriteExporterConfig } from './config.js';
import { ExporterMetrics } from './metrics.js';
import { SendQueue, type QueueEnv, type Sender } from './queue.js';

export class RemoteWriteExporter implements Exporter {
  private readonly client: RemoteWriteClient;
  private readonly queue: SendQueue;
  private stopped: Promise<void> | undefined;

  constructor(settings: CreateSettings, config: RemoteWriteExporterConfig, options: { sender?: Sender; env?: QueueEnv } = {}) {
    const logger = settings.logger.child({ exporter: settings.id });
    this.client = new RemoteWriteClient({
      endpoint: config.endpoint,
      headers: config.headers,
      timeoutMs: config.timeout,
      retryOnHttp429: config.retry_on_http_429,
      basic_auth: config.basic_auth,
      authorization: config.authorization,
      tls_config: config.tls_config,
      configDir: settings.configDir,
    });
    const q = config.queue_config;
    const m = config.metadata_config;
    this.queue = new SendQueue(
      {
        capacity: q.capacity,
        maxSamplesPerSend: q.max_samples_per_send,
        batchSendDeadlineMs: q.batch_send_deadline,
        minBackoffMs: q.min_backoff,
        maxBackoffMs: q.max_backoff,
        sampleAgeLimitMs: q.sample_age_limit,
        metadata: { send: m.send, intervalMs: m.send_interval, maxPerSend: m.max_samples_per_send },
      },
      options.sender ?? this.client,
      new WriteRequestEncoder({ externalLabels: config.external_labels }),
      new ExporterMetrics(settings.telemetry, settings.id),
      logger,
      options.env,
    );
  }

  async start(): Promise<void> {
    this.queue.start();
  }

  async consume(batch: Batch): Promise<void> {
    if (batch.signal !== 'metrics' || batch.points.length === 0) return;
    // The batch is ours now (one method, ownership passes): its points go into the queue as they are.
    this.queue.enqueue(batch.points);
  }

  shutdown(): Promise<void> {
    this.stopped ??= (async () => {
      await this.queue.stop();
      await this.client.close();
    })();
    return this.stopped;
  }
}
