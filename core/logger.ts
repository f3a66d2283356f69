/**
 * pprofcol's own logs, on stderr (stdout is reserved for what a command prints): JSON lines by
 * default, or one human-readable line each (`service.telemetry.logs.encoding: console`). Every line
 * passes through maskUrlsIn before it is written: a URL with credentials (`http://user:pass@host`) is
 * masked whichever component, error message or library put it there, not only where the code remembered to.
 */
import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { maskUrlsIn } from './redact.js';
export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_ENCODINGS = ['json', 'console'] as const;
export type LogEncoding = (typeof LOG_ENCODINGS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export const DEFAULT_LOG_ENCODING: LogEncoding = 'json';

export function createLogger(level: string = process.env.PPROFCOL_LOG_LEVEL ?? DEFAULT_LOG_LEVEL, encoding: LogEncoding = DEFAULT_LOG_ENCODING): Logger {
  const options = { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: maskUrlsIn } };
  if (encoding === 'console') return pino(options, consoleDestination(2));
  return pino(options, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything, for tests and tools that want no noise. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * pino writes one JSON line per call; this destination rewrites it as
 * `2026-01-02T03:04:05.678Z WARN  component=receiver/pprof message key=value ...` and writes it
 * synchronously, as the JSON destination does, so a line is never lost at exit. Values with spaces
 * or quotes are JSON-quoted so that a line still splits unambiguously on spaces.
 */
function consoleDestination(fd: number): { write(line: string): void } {
  return {
    write(line: string): void {
      writeSync(fd, `${formatConsoleLine(line)}\n`);
    },
  };
}

export function formatConsoleLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const { time, level, msg, component, ...fields } = entry;
  const parts = [String(time ?? ''), (LEVEL_NAMES[Number(level)] ?? String(level)).padEnd(5)];
  if (component !== undefined) parts.push(`${String(component)}:`);
  if (msg !== undefined) parts.push(String(msg));
  for (const [key, value] of Object.entries(fields)) parts.push(`${key}=${consoleValue(value)}`);
  return parts.join(' ');
}

function consoleValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}
