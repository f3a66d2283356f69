/**
 * Prometheus text exposition (format 0.0.4) of a list of points, grouped by family in the order
 * families first appear. Used by the debug exporter and `pprofcol scrape`.
 */
import type { MetricFamily, Point } from './model/metrics.js';

export interface ExpositionOptions {
  /** Append each sample's timestamp (ms). */
  timestamps: boolean;
}

export function formatExposition(points: readonly Point[], options: ExpositionOptions): string {
  const groups = new Map<MetricFamily, Point[]>();
  for (const point of points) {
    let group = groups.get(point.family);
    if (group === undefined) groups.set(point.family, (group = []));
    group.push(point);
  }
  let out = '';
  for (const [family, group] of groups) {
    out += `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`;
    for (const point of group) {
      const series = `${point.name}${formatLabels(point.labels)}`;
      if (point.note !== undefined) out += `# ${series}: ${point.note.replace(/\n/g, ' ')}\n`;
      if (point.stale) {
        out += `# ${series} ended (stale marker)${options.timestamps ? ` ${point.timestampMs}` : ''}\n`;
        continue;
      }
      out += `${series} ${formatValue(point.value)}${options.timestamps ? ` ${point.timestampMs}` : ''}\n`;
    }
  }
  return out;
}

export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return '';
  return `{${names.map((n) => `${n}="${escapeLabelValue(labels[n])}"`).join(',')}}`;
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
