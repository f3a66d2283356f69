/**
 * prometheusremotewrite: pushes metric batches to a Prometheus remote-write 1.0 endpoint.
 * Parts kept apart (style.md): the codec (core/remotewrite, pure), the client (HTTP, classifies
 * answers), delivery (retries, backoff, isolate_rejected) and the buffer that holds requests until
 * they are delivered: memory (sharded queue manager, resharding), disk (write-ahead log) or redis
 * (BullMQ). With memory, consume() only enqueues; with a durable buffer it resolves once the batch's
 * requests are cut and written to the buffer ("accepted" means durable).
 */
import type { Batch, CreateSettings, Exporter } from '../../core/component.js';
import type { ComponentStatus, StatusProvider } from '../../core/status.js';
import type { Logger } from '../../core/logger.js';
import type { Point } from '../../core/model/metrics.js';
import { isValidTimestamp, withValidTimestamps } from '../../core/remotewrite/index.js';
import { RemoteWriteClient } from './send/client.js';
import type { RemoteWriteExporterConfig } from './config.js';
import type { QueueEnv, Sender } from './send/delivery.js';
import { isAbsolute, resolve } from 'node:path';
import { DiskQueue } from './buffer/disk.js';
import { ExporterMetrics } from './metrics.js';
import { RedisQueue } from './buffer/redis.js';
import { QueueManager, SHARD_UPDATE_INTERVAL_MS, type QueueOptions } from './buffer/queue.js';
import { ProtocolNegotiator } from './send/protocol.js';
import type { OutboundQueue } from './buffer/outbound.js';

export type { OutboundQueue } from './buffer/outbound.js';

export interface ExporterOptions {
  sender?: Sender;
  env?: QueueEnv;
  /** Shard update interval (ms); Prometheus's 10s unless a test needs it faster. */
  shardUpdateIntervalMs?: number;
  /** Disk buffer segment size (tests). */
  segmentBytes?: number;
}

export function queueOptions(config: RemoteWriteExporterConfig, extra: ExporterOptions = {}): QueueOptions {
  const q = config.queue_config;
  const m = config.metadata_config;
  return {
    capacity: q.capacity,
    blockTimeoutMs: q.block_timeout,
    maxSamplesPerSend: q.max_samples_per_send,
    batchSendDeadlineMs: q.batch_send_deadline,
    minBackoffMs: q.min_backoff,
    maxBackoffMs: q.max_backoff,
    sampleAgeLimitMs: q.sample_age_limit,
    minShards: q.min_shards,
    maxShards: q.max_shards,
    shardUpdateIntervalMs: extra.shardUpdateIntervalMs ?? SHARD_UPDATE_INTERVAL_MS,
    isolateRejected: config.isolate_rejected,
    externalLabels: config.external_labels,
    metadata: { send: m.send, intervalMs: m.send_interval, maxPerSend: m.max_samples_per_send, cacheBytes: m.cache_size },
  };
}

export class RemoteWriteExporter implements Exporter, StatusProvider {
  private readonly client: RemoteWriteClient;
  private readonly metrics: ExporterMetrics;
  private readonly sender: Sender;
  readonly queue: OutboundQueue;
  private stopped: Promise<void> | undefined;
  private readonly logger: Logger;
  private invalidLogged = false;

  constructor(settings: CreateSettings, private readonly config: RemoteWriteExporterConfig, options: ExporterOptions = {}) {
    const logger = settings.logger.child({ exporter: settings.id });
    this.logger = logger;
    this.client = new RemoteWriteClient({
      endpoint: config.endpoint,
      headers: config.headers,
      timeoutMs: config.timeout,
      retryOnHttp429: config.queue_config.retry_on_http_429 ?? config.retry_on_http_429,
      basic_auth: config.basic_auth,
      authorization: config.authorization,
      tls_config: config.tls_config,
      configDir: settings.configDir,
      connections: (config.buffer.type === 'memory' ? config.queue_config.max_shards : config.buffer.shards) + 1,
    });
    const metrics = new ExporterMetrics(settings.telemetry, settings.id);
    this.metrics = metrics;
    // Remote write 2.0: the negotiator transcodes each cut 1.0 request and falls back to 1.0 when the receiver needs it.
    const sender: Sender = options.sender ?? (config.protobuf_message === 'io.prometheus.write.v2.Request' ? new ProtocolNegotiator(this.client, logger) : this.client);
    this.sender = sender;
    const opts = queueOptions(config, options);
    const buffer = config.buffer;
    switch (buffer.type) {
      case 'memory':
        this.queue = new QueueManager(opts, sender, metrics, logger, options.env);
        break;
      case 'disk':
        this.queue = new DiskQueue(
          {
            ...opts,
            directory: isAbsolute(buffer.directory) ? buffer.directory : resolve(settings.configDir, buffer.directory),
            maxBytes: buffer.max_size,
            fsync: buffer.fsync === 'always',
            shards: buffer.shards,
            sendMetadata: opts.metadata.send,
            segmentBytes: options.segmentBytes,
          },
          sender,
          metrics,
          logger,
          options.env,
        );
        break;
      case 'redis':
        this.queue = new RedisQueue(
          {
            ...opts,
            url: buffer.url,
            prefix: buffer.prefix,
            name: settings.id,
            shards: buffer.shards,
            lockDurationMs: buffer.lock_duration,
            sendMetadata: opts.metadata.send,
          },
          sender,
          metrics,
          logger,
          options.env,
        );
        break;
    }
  }

  async start(): Promise<void> {
    await this.queue.start();
  }

  /** Endpoint, protocol, queue and counts for the status page (core/status.ts). */
  status(): ComponentStatus {
    const buffer = this.config.buffer;
    const negotiated = this.sender instanceof ProtocolNegotiator ? this.sender.protocol : 'v1';
    const protocol = negotiated === 'v2' ? 'remote write 2.0' : this.sender instanceof ProtocolNegotiator ? 'remote write 1.0 (fell back from 2.0)' : 'remote write 1.0';
    return {
      exporter: this.metrics.tally.snapshot({
        endpoint: this.config.endpoint,
        protocol,
        buffer:
          buffer.type === 'memory'
            ? // The queue's bound is capacity x max_shards whatever the shard count now (buffer/queue.ts).
              { type: 'memory', capacity: this.config.queue_config.capacity * this.config.queue_config.max_shards, capacityUnit: 'samples', bytes: 0 }
            : buffer.type === 'disk'
              ? { type: 'disk', capacity: buffer.max_size, capacityUnit: 'bytes', bytes: this.metrics.tally.bufferBytes }
              : { type: 'redis', capacity: 0, capacityUnit: 'samples', bytes: 0 },
      }),
    };
  }

  async consume(batch: Batch): Promise<void> {
    if (batch.signal !== 'metrics' || batch.points.length === 0) return;
    // The batch is ours now (one method, ownership passes): its points go into the queue as they are,
    // less those whose timestamp cannot be encoded exactly (a safe integer of ms). Whatever made them
    // (honor_timestamps on a page, a plugin, a sender past 2^53), one such point would make its
    // request corrupt, refused whole with every good sample in it.
    const points = withValidTimestamps(batch.points);
    if (points !== batch.points) this.invalidTimestamps(batch.points.length - points.length, batch.points);
    if (points.length === 0) return;
    await this.queue.enqueue(points, batch.source);
  }

  /** Counts dropped points of a batch (reason invalid_timestamp); logs the first batch's at warn, later ones at debug. */
  private invalidTimestamps(dropped: number, all: readonly Point[]): void {
    this.metrics.samplesDropped('invalid_timestamp', dropped);
    const example = all.find((p) => !isValidTimestamp(p.timestampMs));
    const context = { samples: dropped, example: example === undefined ? undefined : `${example.name} @ ${example.timestampMs}` };
    if (this.invalidLogged) {
      this.logger.debug(context, 'dropped samples whose timestamp is not an integer of at most 53 bits');
      return;
    }
    this.invalidLogged = true;
    this.logger.warn(context, 'dropped samples whose timestamp is not an integer of at most 53 bits (ms); counted as dropped{reason="invalid_timestamp"}; logged once');
  }

  beginShutdown(): void {
    this.queue.beginShutdown?.();
  }

  /** See Component.abandon: the samples this exporter loses by exiting now. */
  abandon(): number {
    return this.queue.abandon?.() ?? 0;
  }

  shutdown(): Promise<void> {
    this.stopped ??= (async () => {
      await this.queue.stop();
      await this.client.close();
    })();
    return this.stopped;
  }
}
