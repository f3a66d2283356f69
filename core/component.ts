/**
 * What a component is, and what a factory must declare so the core can validate, build and
 * wire it. Built-in components and plugins implement exactly these types.
 */
import type { ZodType, ZodTypeDef } from 'zod';
import type { ListenerSecurity } from './http/security.js';
import type { Logger } from './logger.js';
import type { MetricBatch } from './model/metrics.js';
import type { ProfileBatch } from './model/profiles.js';
import type { Telemetry } from './telemetry/metrics.js';

export type Signal = 'metrics' | 'profiles';
export const SIGNALS: readonly Signal[] = ['metrics', 'profiles'];
export type Batch = MetricBatch | ProfileBatch;
export type ComponentKind = 'receiver' | 'processor' | 'exporter';

/** The one method stages pass data with. After the call the batch belongs to the callee. */
export interface Consumer {
  /**
   * Resolves once the stages behind have taken the batch (with the built-in exporters: it is in every
   * exporter's queue, which may mean waiting up to queue_config.block_timeout for room); rejects when
   * one of them refused it. README "Writing a plugin" says what callers do with either.
   */
  consume(batch: Batch): Promise<void>;
}

export interface Component {
  /** Returns quickly: long work (scrape loops, timers) runs in the background. */
  start(): Promise<void>;
  /** Idempotent, safe before start; flushes what the component holds. */
  shutdown(): Promise<void>;
  /**
   * Optional. Called when shutdown() has not finished within service.shutdown_timeout and the process
   * is about to exit: count what the component still holds and will not deliver (in its own metrics,
   * reason `shutdown`), log it, and return that number of samples. Counted here, not on the way out,
   * since the telemetry listener stops next and nothing after it is ever read.
   */
  abandon?(): number;
  /**
   * Optional. Shutdown has begun (called on every component before the first shutdown()): stop making
   * callers wait (an exporter queue ends its waits for room, so a blocked remote-write request is
   * answered 503 at once instead of holding the receiver's shutdown for block_timeout). Data already
   * held is still flushed by shutdown().
   */
  beginShutdown?(): void;
}

export interface Processor extends Component, Consumer {}
export interface Exporter extends Component, Consumer {}
export type Receiver = Component;

/** What the core hands every component it creates. */
export interface CreateSettings {
  /** The component id as written in the config (`pprof`, `batch/fast`). */
  id: string;
  logger: Logger;
  telemetry: Telemetry;
  /** Folder of the config file: relative paths in a component's config resolve against it. */
  configDir: string;
}

// Input is unknown (raw YAML); output is the typed config with defaults filled in.
export type ConfigSchema<C> = ZodType<C, ZodTypeDef, unknown>;

interface FactoryBase<C> {
  /** The `type` part of `type/name` ids. */
  readonly type: string;
  /** Validates raw YAML and fills defaults; an absent or null section is parsed as `{}`. */
  readonly configSchema: ConfigSchema<C>;
  /**
   * The addresses the component listens on, for `validate`'s warning about a listener reachable
   * beyond loopback without authentication. `key` is the address's key in the component's config.
   */
  readonly listeners?: (config: C) => ReadonlyArray<{ key: string; address: string; security: ListenerSecurity }>;
}

export interface ReceiverFactory<C = unknown> extends FactoryBase<C> {
  readonly kind: 'receiver';
  readonly produces: Signal;
  create(settings: CreateSettings, config: C, next: Consumer): Receiver;
}

export interface ProcessorFactory<C = unknown> extends FactoryBase<C> {
  readonly kind: 'processor';
  /** Signals the processor takes in. */
  readonly accepts: readonly Signal[];
  /** Set when the processor turns one signal into another (pprof_metrics: profiles -> metrics). */
  readonly converts?: { readonly from: Signal; readonly to: Signal };
  create(settings: CreateSettings, config: C, next: Consumer): Processor;
}

export interface ExporterFactory<C = unknown> extends FactoryBase<C> {
  readonly kind: 'exporter';
  readonly accepts: readonly Signal[];
  create(settings: CreateSettings, config: C): Exporter;
}

export type Factory = ReceiverFactory<never> | ProcessorFactory<never> | ExporterFactory<never>;

/** Splits `type/name` into its parts; `name` is '' for a bare type. */
export function parseComponentId(id: string): { type: string; name: string } | undefined {
  const match = /^([A-Za-z0-9_]+)(?:\/([A-Za-z0-9_.-]+))?$/.exec(id);
  if (match === null) return undefined;
  return { type: match[1], name: match[2] ?? '' };
}
