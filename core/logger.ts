/** JSON lines on stderr (stdout is reserved for what a command prints). */
import pino, { type Logger } from 'pino';
export type { Logger } from 'pino';

export function createLogger(level: string = process.env.PPROFCOL_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything, for tests and tools that want no noise. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
