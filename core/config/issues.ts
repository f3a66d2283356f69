/** Turns zod's issues into `path: message` lines that name the YAML key. */
import type { ZodIssue } from 'zod';
import { formatPath, type ConfigIssue } from '../errors.js';

export function zodIssues(prefix: (string | number)[], issues: readonly ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath([...path, key]), message: 'unknown key' });
    } else if (issue.code === 'invalid_type' && issue.received === 'undefined') {
      out.push({ path: formatPath(path), message: 'is required' });
    } else if (issue.code === 'invalid_union') {
      // Show the most specific branch's complaint instead of zod's bare "Invalid input".
      const inner = issue.unionErrors.flatMap((e) => e.issues).find((i) => i.code === 'custom');
      out.push({ path: formatPath(path), message: inner?.message ?? issue.message });
    } else {
      out.push({ path: formatPath(path), message: issue.message });
    }
  }
  return out;
}
