/**
 * Parsing one file_sd file (Prometheus's format: a list of {targets, labels}, JSON or YAML) within
 * the limits of its file_sd_config. Pure and synchronous; discovery.ts runs it inline for small files
 * and in a worker thread (file-sd-worker.ts) for larger ones, so a big file never stalls the event loop.
 *
 * Why not the yaml package's defaults: its duplicate-key check compares each new key with every key
 * before it in the same mapping, O(n^2): a 400KB file with 30k label keys took 2.9s on an idle core
 * (16.5s on a loaded one). Parsing with `uniqueKeys: false` is linear (0.28s for the same file), and
 * duplicates are found here with one Set per mapping. Counts are checked right after parsing, before
 * any validation or target is built, so a file over a bound costs no more than its parse.
 */
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { hostPort, labelSet } from '../config/types.js';
import type { Labels } from '../model/metrics.js';

export interface FileSdLimits {
  maxTargetsPerGroup: number;
  maxLabelsPerGroup: number;
}

/** Why a file was not used (the `reason` of pprofcol_receiver_file_sd_errors_total). */
export type FileSdErrorReason = 'read' | 'too_large' | 'parse' | 'too_many_targets' | 'too_many_labels' | 'invalid';

export interface FileSdEntry {
  address: string;
  labels: Labels;
}

export type FileSdParseResult = { ok: true; entries: FileSdEntry[] } | { ok: false; reason: FileSdErrorReason; message: string };

const fileTargetGroups = z.array(z.object({ targets: z.array(hostPort), labels: labelSet.default({}) }).strict());

export function parseFileSd(text: string, json: boolean, limits: FileSdLimits): FileSdParseResult {
  let raw: unknown;
  try {
    raw = json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    return { ok: false, reason: 'parse', message: (err instanceof Error ? err.message : String(err)).split('\n')[0] };
  }
  raw ??= [];
  const over = overLimits(raw, limits);
  if (over !== undefined) return over;
  const parsed = fileTargetGroups.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: 'invalid', message: `${issue.path.join('.')}: ${issue.message}` };
  }
  return { ok: true, entries: parsed.data.flatMap((g) => g.targets.map((address) => ({ address, labels: g.labels }))) };
}

/** YAML without the quadratic duplicate check, duplicates refused as before (Prometheus refuses them too). */
function parseYaml(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) throw doc.errors[0];
  const dup = duplicateKey(doc.contents);
  if (dup !== undefined) throw new Error(`map keys must be unique: "${dup}" appears twice`);
  return doc.toJS();
}

/** The first key that appears twice in one mapping, at any depth; linear in the nodes. */
function duplicateKey(root: unknown): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as YamlNode | null | undefined;
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) return String(key);
        seen.add(key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
  return undefined;
}

/** Counts targets and labels per group, stopping at the first group over a bound. */
function overLimits(raw: unknown, limits: FileSdLimits): FileSdParseResult | undefined {
  if (!Array.isArray(raw)) return undefined; // the schema reports the shape
  for (let i = 0; i < raw.length; i++) {
    const group: unknown = raw[i];
    if (group === null || typeof group !== 'object') continue;
    const { targets, labels } = group as { targets?: unknown; labels?: unknown };
    if (Array.isArray(targets) && targets.length > limits.maxTargetsPerGroup) {
      return { ok: false, reason: 'too_many_targets', message: `group ${i} has ${targets.length} targets, more than max_targets_per_group (${limits.maxTargetsPerGroup})` };
    }
    if (labels !== null && typeof labels === 'object') {
      let n = 0;
      for (const key in labels) if (Object.hasOwn(labels, key) && ++n > limits.maxLabelsPerGroup) break;
      if (n > limits.maxLabelsPerGroup) {
        return { ok: false, reason: 'too_many_labels', message: `group ${i} has more than max_labels_per_group (${limits.maxLabelsPerGroup}) labels` };
      }
    }
  }
  return undefined;
}
