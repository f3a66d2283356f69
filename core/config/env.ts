/**
 * `${env:VAR}` and `${env:VAR:-default}` expansion, done on parsed values (not raw text) so
 * that an unset variable is reported at the key that uses it.
 */
import type { SafeParseReturnType, ZodType, ZodTypeDef } from 'zod';
import type { ConfigIssue } from '../errors.js';
import { formatPath } from '../errors.js';

/** A value that was one reference and nothing else: what was written and what it expanded to. */
export interface WholeReference {
  reference: string;
  value: string;
}

const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_REFERENCE = /^\$\{env:[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

/**
 * Expands references in every string of `value`. `wholeRefs`, when given, receives the path of each
 * value that was one reference and nothing else (`max_connections: ${env:N}`): such a value may
 * become a number or a boolean where its key takes one (parseExpanded).
 */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
  path: (string | number)[] = [],
  wholeRefs?: Map<string, WholeReference>,
): unknown {
  if (typeof value === 'string') {
    const expanded = value.replace(REFERENCE, (_whole, name: string, fallback: string | undefined) => {
      const set = env[name];
      if (set !== undefined && set !== '') return set;
      if (fallback !== undefined) return fallback;
      issues.push({ path: formatPath(path), message: `environment variable ${name} is not set and has no default (write \${env:${name}:-default})` });
      return '';
    });
    if (wholeRefs !== undefined && WHOLE_REFERENCE.test(value)) wholeRefs.set(formatPath(path), { reference: value, value: expanded });
    return expanded;
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, issues, [...path, i], wholeRefs));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = expandEnv(item, env, issues, [...path, key], wholeRefs);
    return out;
  }
  return value;
}

/** An issue at a whole reference says what the variable held: "Expected number" alone hides that it came from the environment. */
export function explainReferences(issues: readonly ConfigIssue[], wholeRefs: ReadonlyMap<string, WholeReference>): ConfigIssue[] {
  return issues.map((issue) => {
    const ref = wholeRefs.get(issue.path);
    if (ref === undefined || ref.value === '' || !/^Expected \w+, received string$/.test(issue.message)) return issue;
    return { ...issue, message: `${issue.message} (${ref.reference} is ${JSON.stringify(ref.value)})` };
  });
}

const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses `value` (found at `prefix` in the file) with `schema`. A value that was a whole env reference
 * and is refused because its key takes a number or a boolean is read as one (as YAML would have read
 * the text written in place of the reference) and the parse is repeated. The schema decides: a key
 * that takes a string keeps `${env:PORT}` = "8080" a string. Changes `value` in place (it is the
 * expanded copy, owned by the loader). Bounded: each round converts at least one value.
 */
export function parseExpanded<O>(
  schema: ZodType<O, ZodTypeDef, unknown>,
  value: unknown,
  prefix: (string | number)[],
  wholeRefs: ReadonlyMap<string, WholeReference>,
): SafeParseReturnType<unknown, O> {
  let result = schema.safeParse(value);
  for (let rounds = wholeRefs.size; !result.success && rounds > 0; rounds--) {
    let changed = false;
    for (const issue of result.error.issues) {
      if (issue.code !== 'invalid_type' || issue.received !== 'string' || issue.path.length === 0) continue;
      if (!wholeRefs.has(formatPath([...prefix, ...issue.path]))) continue;
      const parent = walk(value, issue.path.slice(0, -1));
      const key = issue.path[issue.path.length - 1];
      if (parent === undefined) continue;
      const text = (parent as Record<string | number, unknown>)[key];
      if (typeof text !== 'string') continue;
      const typed = issue.expected === 'boolean' ? (text === 'true' ? true : text === 'false' ? false : undefined)
        : (issue.expected === 'number' || issue.expected === 'integer') && NUMBER_TEXT.test(text.trim()) ? Number(text)
        : undefined;
      if (typed === undefined) continue;
      (parent as Record<string | number, unknown>)[key] = typed;
      changed = true;
    }
    if (!changed) break;
    result = schema.safeParse(value);
  }
  return result;
}

function walk(value: unknown, path: ReadonlyArray<string | number>): object | undefined {
  let at: unknown = value;
  for (const part of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[part];
  }
  return at !== null && typeof at === 'object' ? at : undefined;
}
