/**
 * The loaded configuration as a person may see it (the status page, /api/v1/status/pipeline): plain
 * JSON-able data with every secret replaced by `<secret>`, as Prometheus shows its config. What counts as
 * a secret is decided by the key and by the value, so that a plugin's options are masked too:
 * - keys naming one: password, token, secret, credentials, api_key, secret_key, access_key, bearer_token
 *   (not `*_file`, a path);
 * - every value under `basic_auth_users` (bcrypt hashes) and header values whose name looks like auth;
 * - any string holding URL userinfo (`redis://:pw@host`: the password, as core/redact.ts masks it in logs)
 *   or a credential query parameter (`?api_key=...`, `?token=...`),
 *   or shaped like a bcrypt hash.
 */
import type { ResolvedConfig } from './load.js';
import { maskUrlsIn } from '../redact.js';

/**
 * What a secret config value becomes (as Prometheus shows its config). Not the same as core/redact.ts's
 * URL_CREDENTIAL_MASK (`xxxxx`, the password inside a URL string, which this module leaves to maskUrlsIn):
 * both outputs are documented as they are.
 */
export const CONFIG_SECRET_MASK = '<secret>';

/** Ends in one of these (any case, `_`/`-` or camelCase): `secret_key`, `accessKey`, `x-api-key`; `access_key_id` (a name, not a secret) does not. */
const SECRET_KEY = /(password|passwd|token|secret|credentials|(api|access|secret|private|auth|signing|encryption|master)[_-]?key|apikey)$/i;
const SECRET_HEADER = /(auth|token|key|secret|cookie|password|signature)/i;
/** `$2a$`, `$2b$`, `$2y$` and a two-digit cost: bcrypt's modular crypt format. */
const BCRYPT = /^\$2[abxy]?\$\d{2}\$/;
/** Deeper than any real config: a bound on the walk should a plugin hand back a cyclic object. */
const MAX_DEPTH = 32;

type Plain = string | number | boolean | null | Plain[] | { [key: string]: Plain };

function maskString(value: string): string {
  if (BCRYPT.test(value)) return CONFIG_SECRET_MASK;
  return maskUrlsIn(value);
}

export function maskSecrets(value: unknown, key = '', parentKey = '', depth = 0): Plain {
  if (depth > MAX_DEPTH) return '<too deep>';
  if (value === null || value === undefined) return null;
  const secretByKey = key !== '' && !key.endsWith('_file') && SECRET_KEY.test(key);
  if (typeof value === 'string') {
    if (value === '') return '';
    if (secretByKey || parentKey === 'basic_auth_users' || (parentKey === 'headers' && SECRET_HEADER.test(key))) return CONFIG_SECRET_MASK;
    return maskString(value);
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return null;
  if (secretByKey) return CONFIG_SECRET_MASK;
  if (value instanceof RegExp) return value.source;
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (Array.isArray(value) || value instanceof Set) return [...value].map((v) => maskSecrets(v, '', key, depth + 1));
  const entries = value instanceof Map ? [...value].map(([k, v]) => [String(k), v] as const) : Object.entries(value as Record<string, unknown>);
  const out: { [key: string]: Plain } = {};
  for (const [k, v] of entries) {
    if (typeof v === 'function') continue;
    out[k] = maskSecrets(v, k, key, depth + 1);
  }
  return out;
}

/** The effective configuration (defaults filled in, env expanded; durations in ms, sizes in bytes), masked. */
export function maskedConfig(config: ResolvedConfig): Plain {
  const section = (m: ResolvedConfig['receivers']): { [id: string]: Plain } => {
    const out: { [id: string]: Plain } = {};
    for (const [id, c] of m) out[id] = maskSecrets(c.config);
    return out;
  };
  return {
    receivers: section(config.receivers),
    processors: section(config.processors),
    exporters: section(config.exporters),
    service: maskSecrets(config.service),
  };
}
