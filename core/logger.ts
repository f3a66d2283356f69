/**
 * JSON lines on stderr (stdout is reserved for what a command prints). Every line passes through
 * maskUrlsIn before it is written: a URL with credentials (`http://user:pass@host`) is masked whichever
 * component, error message or library put it there, not only where the code remembered to.
 */
import pino, { type Logger } from 'pino';
import { maskUrlsIn } from './redact.js';
export type { Logger } from 'pino';

export function createLogger(level: string = process.env.PPROFCOL_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: maskUrlsIn } }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything, for tests and tools that want no noise. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
