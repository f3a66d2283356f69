/** The top level of a pipeline file and its `service:` section. */
import { z } from 'zod';
import { duration } from './types.js';
import { listenerLimitsShape } from '../http/limits.js';
import { listenerSecurityShape } from '../http/security.js';
import { DEFAULT_LOG_ENCODING, DEFAULT_LOG_LEVEL, LOG_ENCODINGS, LOG_LEVELS } from '../logger.js';

export const DEFAULT_TELEMETRY_LISTEN = '127.0.0.1:8888';
export const DEFAULT_SHUTDOWN_TIMEOUT = '10s';

const pipelineSchema = z
  .object({
    receivers: z.array(z.string()).min(1, 'a pipeline needs at least one receiver'),
    processors: z.array(z.string()).default([]),
    exporters: z.array(z.string()).min(1, 'a pipeline needs at least one exporter'),
  })
  .strict();

export const serviceSchema = z
  .object({
    pipelines: z.record(pipelineSchema).refine((p) => Object.keys(p).length > 0, 'define at least one pipeline'),
    telemetry: z
      .object({
        http: z
          .object({
            // Where /metrics, /healthz and /readyz listen; port 0 picks a free port.
            listen: z.string().default(DEFAULT_TELEMETRY_LISTEN),
            // header_timeout, body_timeout, idle_timeout, max_connections, as on the remote-write receiver.
            ...listenerLimitsShape,
            // tls_server_config, basic_auth_users: Prometheus's web-config keys (core/http/security.ts).
            ...listenerSecurityShape,
          })
          .strict()
          .default({}),
        // Where pprofcol's own logs go: always stderr. level: the least severe kept (PPROFCOL_LOG_LEVEL
        // overrides it); encoding: json (one JSON object a line) or console (one readable line each).
        logs: z
          .object({
            level: z.enum(LOG_LEVELS).default(DEFAULT_LOG_LEVEL),
            encoding: z.enum(LOG_ENCODINGS).default(DEFAULT_LOG_ENCODING),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    // How long a SIGTERM may take to flush what is queued before the process exits anyway.
    shutdown_timeout: duration.default(DEFAULT_SHUTDOWN_TIMEOUT),
  })
  .strict();

const componentSection = z.record(z.unknown()).nullable().default({});

export const pluginList = z.array(z.string());

export const fileSchema = z
  .object({
    receivers: componentSection,
    processors: componentSection,
    exporters: componentSection,
    service: serviceSchema,
    plugins: pluginList.default([]),
  })
  .strict();

export type ServiceConfig = z.output<typeof serviceSchema>;
