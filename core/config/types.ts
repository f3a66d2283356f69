/**
 * Zod building blocks every component's config uses, so that durations, sizes and
 * secrets read and fail the same way everywhere.
 */
import { z } from 'zod';
import { parseByteSize, parseDuration } from '../units.js';

/**
 * A Prometheus duration (`15s`, `1m30s`) parsed to milliseconds. A bare number is refused except 0,
 * as Prometheus refuses it: `15` could mean seconds or milliseconds (until 0.1 it was read as seconds).
 */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? (value === 0 ? 0 : undefined) : parseDuration(value);
  if (ms === undefined) {
    const bare = typeof value === 'number' || /^\d+(\.\d+)?$/.test(value);
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: bare
        ? `${value} is not a duration: give its unit (${value}s, ${value}ms); only 0 may be written bare`
        : `"${value}" is not a duration (use Prometheus syntax: 15s, 1m30s, 500ms)`,
    });
    return z.NEVER;
  }
  return ms;
});

/**
 * An optional `duration` whose default is a named constant in milliseconds, so the constant is the one
 * source of the default (a `.default('10s')` beside `DEFAULT_X_MS = 10_000` would repeat it as text).
 * Left out, the field is `ms`; given, it is read as `duration` reads it.
 */
export function durationDefault(ms: number): z.ZodEffects<z.ZodOptional<typeof duration>, number, string | number | undefined> {
  return duration.optional().transform((value) => value ?? ms);
}

/** A byte size (`64MiB`, `1GB`, or a plain number of bytes); 0 means no limit where a field says so. */
export const byteSize = z.union([z.string(), z.number().int().nonnegative()]).transform((value, ctx) => {
  const bytes = typeof value === 'number' ? value : parseByteSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${value}" is not a size (use 64MiB, 1GB or bytes)` });
    return z.NEVER;
  }
  return bytes;
});

/** host:port, as in Prometheus's static_configs targets. */
export const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/, 'must be host:port');

export const basicAuth = z
  .object({
    username: z.string().min(1),
    password: z.string().optional(),
    password_file: z.string().optional(),
  })
  .strict()
  .refine((v) => !(v.password !== undefined && v.password_file !== undefined), {
    message: 'set password or password_file, not both',
  });

export const authorization = z
  .object({
    type: z.string().default('Bearer'),
    credentials: z.string().optional(),
    credentials_file: z.string().optional(),
  })
  .strict()
  .refine((v) => !(v.credentials !== undefined && v.credentials_file !== undefined), {
    message: 'set credentials or credentials_file, not both',
  });

export const tlsConfig = z
  .object({
    ca_file: z.string().optional(),
    cert_file: z.string().optional(),
    key_file: z.string().optional(),
    server_name: z.string().optional(),
    insecure_skip_verify: z.boolean().default(false),
  })
  .strict()
  .refine((v) => (v.cert_file === undefined) === (v.key_file === undefined), {
    message: 'cert_file and key_file go together',
  });

/** The HTTP client keys Prometheus shares between scrape configs and remote_write. */
export const httpClientKeys = {
  basic_auth: basicAuth.optional(),
  authorization: authorization.optional(),
  tls_config: tlsConfig.optional(),
};

export type BasicAuth = z.output<typeof basicAuth>;
export type Authorization = z.output<typeof authorization>;
export type TlsConfig = z.output<typeof tlsConfig>;
export interface HttpClientConfig {
  basic_auth?: BasicAuth;
  authorization?: Authorization;
  tls_config?: TlsConfig;
}

/** Labels map: Prometheus label names, any string values. */
export const labelSet = z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'is not a valid label name'), z.string());

/**
 * For a schema that wraps another in code zod cannot see into (`z.unknown().transform(raw =>
 * inner.safeParse(raw) ...)`): notes that its output has `inner`'s shape, so that `pprofcol config`
 * still writes its durations and sizes back as text (core/config/effective.ts).
 */
const shapes = new WeakMap<z.ZodTypeAny, z.ZodTypeAny>();
export function outputShapedLike<T extends z.ZodTypeAny>(wrapper: T, inner: z.ZodTypeAny): T {
  shapes.set(wrapper, inner);
  return wrapper;
}
export function outputShapeOf(schema: z.ZodTypeAny): z.ZodTypeAny | undefined {
  return shapes.get(schema);
}
