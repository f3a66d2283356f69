/**
 * The status page a person reads (`/` and `/status`): server-rendered HTML from the same model as
 * /api/v1/status/pipeline, no JavaScript, refreshed by a meta refresh. Every value that came from a
 * config, a target or an error is escaped (a target's labels and error text are the target's words).
 * Readable at hundreds of targets: targets grouped by receiver and job in <details> (a group opens by
 * itself when it has a target not up), and a filter by health as a query parameter (`?health=down`).
 */
import { stringify } from 'yaml';
import type { TargetHealth } from '../status.js';
import type { ExporterJson, PipelineStatus, TargetJson } from './status.js';

/** Seconds between refreshes unless `?refresh=` says otherwise (0: never). */
export const DEFAULT_REFRESH_SECONDS = 10;
/** A group of more targets than this starts closed when all of them are up: the page stays short. */
export const OPEN_GROUP_MAX = 50;

const HEALTHS: readonly TargetHealth[] = ['up', 'down', 'unknown'];

export interface PageOptions {
  /** Only targets of these healths; empty: all. */
  health: readonly TargetHealth[];
  refreshSeconds: number;
  nowMs: number;
}

/** Reads `?health=down,unknown` and `?refresh=N`; unknown values are ignored, not errors (a person typed them). */
export function pageOptions(query: URLSearchParams, nowMs = Date.now()): PageOptions {
  const health = query
    .getAll('health')
    .flatMap((h) => h.split(','))
    .filter((h): h is TargetHealth => (HEALTHS as readonly string[]).includes(h));
  const refresh = Number(query.get('refresh') ?? DEFAULT_REFRESH_SECONDS);
  return { health: [...new Set(health)], refreshSeconds: Number.isFinite(refresh) && refresh >= 0 ? Math.min(3600, Math.floor(refresh)) : DEFAULT_REFRESH_SECONDS, nowMs };
}

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

function ago(iso: string, nowMs: number): string {
  const ms = Date.parse(iso);
  if (!(ms > 0)) return 'never';
  const s = Math.max(0, (nowMs - ms) / 1000);
  if (s < 60) return `${s.toFixed(1)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.floor(s % 60)}s ago`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
}

function seconds(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(1)}ms` : `${s.toFixed(3)}s`;
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function badge(health: TargetHealth): string {
  return `<span class="badge ${health}">${health.toUpperCase()}</span>`;
}

function labelChips(labels: Record<string, string>, skip: readonly string[]): string {
  return Object.entries(labels)
    .filter(([name]) => !skip.includes(name))
    .map(([name, value]) => `<span class="label">${escapeHtml(name)}="${escapeHtml(value)}"</span>`)
    .join(' ');
}

/** A source URL shortened to its path and query (the base is the instance, shown beside it). */
function sourcePath(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

function filterLinks(options: PageOptions, counts: Record<TargetHealth, number>, total: number): string {
  const refresh = options.refreshSeconds === DEFAULT_REFRESH_SECONDS ? '' : `refresh=${options.refreshSeconds}`;
  const href = (health: string): string => {
    const q = [health === '' ? '' : `health=${health}`, refresh].filter((p) => p !== '').join('&');
    return q === '' ? '?' : `?${q}`;
  };
  const current = options.health.length === 1 ? options.health[0] : options.health.length === 0 ? '' : 'mixed';
  const link = (health: string, text: string): string =>
    `<a class="filter${current === health ? ' active' : ''}" href="${escapeHtml(href(health))}">${escapeHtml(text)}</a>`;
  return `<nav class="filters" aria-label="Filter targets by health">Show: ${link('', `All (${total})`)} ${link('up', `Up (${counts.up})`)} ${link('down', `Down (${counts.down})`)} ${link('unknown', `Unknown (${counts.unknown})`)}</nav>`;
}

function targetRow(t: TargetJson, nowMs: number): string {
  const error = t.lastError === '' ? '' : `<div class="error">${escapeHtml(t.lastError)}</div>`;
  // One line of paths (the full URL on hover): at hundreds of targets a row stays one line high.
  const sources = t.sources.length === 0 ? '' : `<div class="sources">${t.sources.map((s) => `<span title="${escapeHtml(s)}">${escapeHtml(sourcePath(s))}</span>`).join(' · ')}</div>`;
  return `<tr class="target ${t.health}" data-health="${t.health}">
<td class="instance"><a href="${escapeHtml(t.scrapeUrl)}">${escapeHtml(t.labels.instance ?? t.scrapeUrl)}</a></td>
<td>${badge(t.health)}</td>
<td class="labels">${labelChips(t.labels, ['job', 'instance'])}</td>
<td title="${escapeHtml(t.lastScrape)}">${escapeHtml(ago(t.lastScrape, nowMs))}</td>
<td class="num">${t.lastScrape === '0001-01-01T00:00:00Z' ? '' : escapeHtml(seconds(t.lastScrapeDuration))}</td>
<td class="num">${escapeHtml(count(t.samples))}</td>
<td class="wide">${error}${sources}</td>
</tr>`;
}

function targetsSection(status: PipelineStatus, options: PageOptions): string {
  const all = status.receivers.flatMap((r) => r.targets);
  const counts: Record<TargetHealth, number> = { up: 0, down: 0, unknown: 0 };
  for (const t of all) counts[t.health]++;
  const shown = (t: TargetJson): boolean => options.health.length === 0 || options.health.includes(t.health);
  const groups: string[] = [];
  for (const receiver of status.receivers) {
    const byJob = new Map<string, TargetJson[]>();
    for (const t of receiver.targets) {
      const list = byJob.get(t.scrapePool);
      if (list === undefined) byJob.set(t.scrapePool, [t]);
      else list.push(t);
    }
    for (const [job, targets] of byJob) {
      const visible = targets.filter(shown);
      if (visible.length === 0) continue;
      const up = targets.filter((t) => t.health === 'up').length;
      const open = up < targets.length || targets.length <= OPEN_GROUP_MAX || options.health.length > 0;
      const cls = up === targets.length ? 'all-up' : targets.some((t) => t.health === 'down') ? 'some-down' : 'some-unknown';
      groups.push(`<details class="group ${cls}"${open ? ' open' : ''}>
<summary><span class="receiver">${escapeHtml(receiver.id)}</span> / <span class="job">${escapeHtml(job)}</span> <span class="tally">(${up}/${targets.length} up)</span></summary>
<table class="targets">
<thead><tr><th>Instance</th><th>Health</th><th>Labels</th><th>Last scrape</th><th>Duration</th><th>Samples</th><th>Last error / sources read</th></tr></thead>
<tbody>
${visible.map((t) => targetRow(t, options.nowMs)).join('\n')}
</tbody>
</table>
</details>`);
    }
  }
  const body = groups.length > 0 ? groups.join('\n') : `<p class="empty">${all.length === 0 ? 'No scrape targets: no pulling receiver in the running pipelines.' : 'No target matches this filter.'}</p>`;
  return `<section id="targets"><h2>Targets</h2>${filterLinks(options, counts, all.length)}${body}</section>`;
}

function drops(dropped: Readonly<Record<string, number>>): string {
  const entries = Object.entries(dropped).filter(([, n]) => n > 0);
  if (entries.length === 0) return '0';
  return entries.map(([reason, n]) => `${escapeHtml(reason)}: ${escapeHtml(count(n))}`).join('<br>');
}

function bufferText(e: ExporterJson): string {
  const b = e.buffer;
  const size = b.capacity === 0 ? 'unbounded here' : b.capacityUnit === 'bytes' ? `max ${bytes(b.capacity)}` : `${count(b.capacity)} samples`;
  const held = b.bytes > 0 ? `, holds ${bytes(b.bytes)}` : '';
  return `${b.type} (${size}${held})`;
}

function exportersSection(status: PipelineStatus, nowMs: number): string {
  const rows = status.exporters.map(({ id, status: e }) => {
    if (e === undefined) return `<tr><td>${escapeHtml(id)}</td><td colspan="10" class="muted">no status to show (this exporter does not send anywhere)</td></tr>`;
    const error = e.lastError === '' ? '<span class="muted">none</span>' : `<div class="error">${escapeHtml(e.lastError)}</div><div class="muted">${escapeHtml(ago(e.lastErrorAt, nowMs))}</div>`;
    return `<tr class="exporter">
<td>${escapeHtml(id)}</td><td class="endpoint">${escapeHtml(e.endpoint)}</td><td>${escapeHtml(e.protocol)}</td>
<td class="num">${escapeHtml(e.shards)}</td><td class="num">${escapeHtml(count(e.queueSamples))}</td>
<td class="num">${escapeHtml(e.sendRatePerSecond.toFixed(1))}/s</td><td class="num">${escapeHtml(count(e.samplesSent))}</td>
<td class="num">${escapeHtml(count(e.samplesRetried))}</td><td class="num">${drops(e.dropped)}</td>
<td>${escapeHtml(bufferText(e))}</td><td class="wide">${error}</td>
</tr>`;
  });
  return `<section id="exporters"><h2>Exporters</h2>
<table class="exporters"><thead><tr><th>Exporter</th><th>Endpoint</th><th>Protocol</th><th>Shards</th><th>Queue</th><th>Send rate</th><th>Sent</th><th>Retried</th><th>Dropped</th><th>Buffer</th><th>Last error</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></section>`;
}

function lossSection(status: PipelineStatus): string {
  const meters = status.processors.filter((p) => p.lossMeter !== undefined);
  if (meters.length === 0) return '';
  const parts = meters.map((p) => {
    const rows = (p.lossMeter ?? []).flatMap((t) => {
      const intervals = t.families.reduce((a, f) => a + f.intervals, 0);
      const missing = t.families.reduce((a, f) => a + f.missing, 0);
      const filled = t.families.reduce((a, f) => a + f.filled, 0);
      const share = intervals === 0 ? 0 : (100 * missing) / intervals;
      const detail = t.families.map((f) => `${escapeHtml(f.metric)}: ${escapeHtml(f.missing)}/${escapeHtml(f.intervals)}`).join(', ');
      return [
        `<tr><td>${escapeHtml(t.job)}</td><td>${escapeHtml(t.instance)}</td><td class="num">${escapeHtml(count(intervals))}</td><td class="num">${escapeHtml(count(missing))}</td><td class="num">${escapeHtml(count(filled))}</td><td class="num">${escapeHtml(share.toFixed(1))}%</td><td class="wide"><details><summary>${escapeHtml(t.families.length)} families</summary>${detail}</details></td></tr>`,
      ];
    });
    const body = rows.length > 0 ? rows.join('\n') : '<tr><td colspan="7" class="muted">no native series measured yet</td></tr>';
    return `<h3>${escapeHtml(p.id)} <span class="muted">in pipeline ${escapeHtml(p.pipeline)}</span></h3>
<table class="loss"><thead><tr><th>Job</th><th>Instance</th><th>Intervals</th><th>Native missing</th><th>Filled</th><th>Missing share</th><th>By family (missing/intervals)</th></tr></thead><tbody>${body}</tbody></table>`;
  });
  return `<section id="gapfill"><h2>Gap filling: loss meter</h2>${parts.join('\n')}</section>`;
}

function pipelinesSection(status: PipelineStatus): string {
  const rows = status.pipelines.map(
    (p) => `<tr><td>${escapeHtml(p.id)}</td><td>${escapeHtml(p.receivers.join(', '))}</td><td>${escapeHtml(p.processors.join(' → ') || '—')}</td><td>${escapeHtml(p.exporters.join(', '))}</td></tr>`,
  );
  return `<section id="pipelines"><h2>Pipelines</h2><table><thead><tr><th>Pipeline</th><th>Receivers</th><th>Processors</th><th>Exporters</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2530;background:#f5f6f8}
header{background:#1d2530;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header .meta{color:#c4ccd6;font-size:13px}header a{color:#9cc8ff}
main{padding:8px 20px 40px}h2{font-size:16px;margin:22px 0 8px}h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #dde1e6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f3;font-weight:600}td.num{text-align:right;white-space:nowrap}td.wide{min-width:260px}
td.instance{white-space:nowrap}td.endpoint{word-break:break-all}
details.group{margin:8px 0;background:#fff;border:1px solid #dde1e6;border-radius:4px}
details.group>summary{padding:6px 10px;cursor:pointer;font-weight:600}
details.group.some-down>summary{background:#fdecec}details.group.all-up>summary{background:#edf7ee}
details.group.some-unknown>summary{background:#f3f3f3}details.group table{border-top:1px solid #dde1e6}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;font-size:12px;font-weight:700;color:#fff}
.badge.up{background:#2e7d32}.badge.down{background:#c62828}.badge.unknown{background:#757575}
tr.down td{background:#fff6f6}.error{color:#b71c1c;white-space:pre-wrap;word-break:break-word}
.label{display:inline-block;background:#e8eef7;border-radius:3px;padding:0 5px;margin:1px;font-family:ui-monospace,monospace;font-size:12px}
.sources{color:#56606b;font-family:ui-monospace,monospace;font-size:12px}
.filters{margin:4px 0 8px}.filter{margin-right:6px;padding:2px 8px;border:1px solid #b9c2cc;border-radius:12px;text-decoration:none;color:#1d2530;background:#fff}
.filter.active{background:#1d2530;color:#fff;border-color:#1d2530}.muted{color:#6b7580}.empty{color:#6b7580}
pre.config{background:#fff;border:1px solid #dde1e6;padding:10px;overflow:auto;font-size:12px}
`;

export function renderStatusPage(status: PipelineStatus, options: PageOptions): string {
  const refresh = options.refreshSeconds > 0 ? `<meta http-equiv="refresh" content="${options.refreshSeconds}">` : '';
  const problems = status.errors.length === 0 ? '' : `<section class="error"><h2>Could not read</h2><ul>${status.errors.map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul></section>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">${refresh}
<title>pprofcol status</title><style>${STYLE}</style></head>
<body>
<header><h1>pprofcol ${escapeHtml(status.version)}</h1>
<span class="meta">started ${escapeHtml(status.startedAt)} · page generated ${escapeHtml(status.generatedAt)}${options.refreshSeconds > 0 ? ` · refreshes every ${options.refreshSeconds}s` : ''}</span>
<span class="meta"><a href="#targets">Targets</a> · <a href="#exporters">Exporters</a> · <a href="#config">Configuration</a> · <a href="/api/v1/targets">/api/v1/targets</a> · <a href="/api/v1/status/pipeline">/api/v1/status/pipeline</a> · <a href="/metrics">/metrics</a></span>
</header>
<main>
${problems}
${pipelinesSection(status)}
${targetsSection(status, options)}
${exportersSection(status, options.nowMs)}
${lossSection(status)}
<section id="config"><h2>Configuration</h2><details><summary>Effective configuration: defaults filled in, environment expanded, secrets masked (durations in milliseconds, sizes in bytes)</summary>
<pre class="config">${escapeHtml(stringify(status.config))}</pre></details></section>
</main></body></html>
`;
}
