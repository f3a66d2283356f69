/**
 * Errors carry a stable `code` so callers branch on the code, never on message text.
 * `retryable` separates what a later attempt may fix (network, 5xx) from what it never will.
 */
export class PprofcolError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PprofcolError';
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}

/** One problem in a configuration file, located by its YAML path (`receivers.pprof.scrape_configs[0].job_name`). */
export interface ConfigIssue {
  path: string;
  message: string;
  /** Lines of the file that show where (a YAML syntax error: the line and a caret), printed after the message. */
  excerpt?: string;
}

/** `path: message`, and the excerpt under it when there is one: how every command prints an issue. */
export function formatIssue(issue: ConfigIssue): string {
  return issue.excerpt === undefined ? `${issue.path}: ${issue.message}` : `${issue.path}: ${issue.message}\n${issue.excerpt}`;
}

export class ConfigError extends PprofcolError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super('ERR_CONFIG', issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Renders a path like ['a', 0, 'b'] as `a[0].b`, the form every config message uses. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * A stage downstream had no room for the data within its wait (queue_config.block_timeout): backpressure
 * reaching a receiver. Retryable: a remote-write receiver answers 503 with Retry-After, so its sender
 * resends; a pull receiver counts the scrape's data as dropped.
 */
/**
 * The exporter is shutting down (or shutdown has begun and a wait for room was ended): the data was not
 * taken, and was counted dropped with reason="shutdown". Retryable, so that a remote-write receiver answers
 * 503 and its sender resends to the next run, instead of a 2xx for samples that were never queued.
 */
export class ShuttingDownError extends PprofcolError {
  readonly dropped: number;
  constructor(dropped: number) {
    super('ERR_SHUTTING_DOWN', `shutting down; ${dropped} samples not taken`, { retryable: true });
    this.name = 'ShuttingDownError';
    this.dropped = dropped;
  }
}

export class QueueFullError extends PprofcolError {
  /** Samples that were not taken. */
  readonly dropped: number;
  constructor(dropped: number, waitedMs: number) {
    super('ERR_QUEUE_FULL', `exporter queue stayed full for ${waitedMs} ms; ${dropped} samples not taken`, { retryable: true });
    this.name = 'QueueFullError';
    this.dropped = dropped;
  }
}
