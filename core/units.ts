/**
 * Prometheus duration syntax (`1h30m`, `15s`, `500ms`) and byte sizes (`64MiB`, `1GB`),
 * so a pipeline file reads like a prometheus.yml.
 */

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

// Units must come largest first and each at most once, as Prometheus's model.ParseDuration wants.
const DURATION_ORDER = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
const DURATION_PART = /(\d+)(ms|y|w|d|h|m|s)/y;

/** Parses a Prometheus duration into milliseconds; returns undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '') return undefined;
  let ms = 0;
  let lastUnitIndex = -1;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (match === null) return undefined;
    const unitIndex = DURATION_ORDER.indexOf(match[2]);
    if (unitIndex <= lastUnitIndex) return undefined;
    lastUnitIndex = unitIndex;
    ms += Number(match[1]) * DURATION_UNITS_MS[match[2]];
  }
  return Number.isSafeInteger(ms) ? ms : undefined;
}

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

/** Parses `64MiB`, `1GB`, `512` (bytes) into bytes; undefined when malformed. */
export function parseByteSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?$/.exec(text.trim());
  if (match === null) return undefined;
  const unit = match[2] ?? 'B';
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) return undefined;
  return Math.floor(Number(match[1]) * factor);
}

/** Milliseconds in Prometheus's duration syntax, largest units first (`1m30s`, `15s`, `500ms`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let left = Math.round(ms);
  let out = '';
  for (const unit of DURATION_ORDER) {
    const size = DURATION_UNITS_MS[unit];
    if (left < size) continue;
    out += `${Math.floor(left / size)}${unit}`;
    left %= size;
  }
  return out;
}

/** Bytes in the largest binary unit that states them exactly (`64MiB`), else as a plain number. */
export function formatByteSize(bytes: number): string | number {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB']) {
    const size = SIZE_UNITS[unit];
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return bytes;
}
