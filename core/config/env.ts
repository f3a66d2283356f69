/**
 * `${env:VAR}` and `${env:VAR:-default}` expansion, done on parsed values (not raw text) so
 * that an unset variable is reported at the key that uses it.
 */
import type { ConfigIssue } from '../errors.js';
import { formatPath } from '../errors.js';

const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[], path: (string | number)[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_whole, name: string, fallback: string | undefined) => {
      const set = env[name];
      if (set !== undefined && set !== '') return set;
      if (fallback !== undefined) return fallback;
      issues.push({ path: formatPath(path), message: `environment variable ${name} is not set and has no default (write \${env:${name}:-default})` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, issues, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = expandEnv(item, env, issues, [...path, key]);
    return out;
  }
  return value;
}
