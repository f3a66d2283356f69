/**
 * Target discovery for one scrape config: static_configs plus file_sd_configs (Prometheus's file
 * format, JSON or YAML), re-read when a file changes and every refresh_interval.
 *
 * A file is bounded before it is parsed (max_file_size: the size on disk, then the bytes read), and
 * parsed off the main thread when it is larger than INLINE_PARSE_BYTES (file-sd-parse.ts says why
 * parsing costs what it does), so no file stalls scraping. A file that cannot be used (too large,
 * over a per-group bound, unparsable, invalid) keeps its last good targets, as Prometheus does; the
 * error names the file, is logged once per distinct error and counted on every failed read. A file
 * that is gone (a literal name deleted, or no longer matching a glob) takes its targets with it.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { FileSdConfig, StaticConfig } from './config.js';
import { parseFileSd, type FileSdEntry, type FileSdErrorReason, type FileSdLimits, type FileSdParseResult } from './file-sd-parse.js';
import { makeTarget, type Target } from './targets.js';

/**
 * Files up to this size are parsed on the main thread: 16KiB of the worst YAML (one mapping of many
 * keys) parses in ~11ms, while a worker costs ~40ms of start-up (on its own thread).
 */
export const INLINE_PARSE_BYTES = 16 * 1024;

/** Coalesces the bursts of events an editor's save produces. */
const WATCH_DEBOUNCE_MS = 100;

export interface DiscoveryOptions {
  job: string;
  scheme: string;
  staticConfigs: readonly StaticConfig[];
  fileSdConfigs: readonly FileSdConfig[];
  configDir: string;
  logger: Logger;
  /** Called with the full target list whenever it may have changed. */
  onTargets(targets: Target[]): void;
  /** Reads a file_sd file as UTF-8 (default: read at most max_file_size + 1 bytes); for tests. */
  readFile?: (file: string) => Promise<string>;
  /** Called on every failed read of a file_sd file, with why (for pprofcol_receiver_file_sd_errors_total). */
  onFileError?: (reason: FileSdErrorReason) => void;
}

/** A file that cannot be used, with why. */
class FileSdError extends Error {
  constructor(
    readonly reason: FileSdErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export class TargetDiscovery {
  private readonly watchers: FSWatcher[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  /** Last good groups per file, kept when a rewrite is briefly invalid (Prometheus keeps them too). */
  private readonly fileGroups = new Map<string, FileSdEntry[]>();
  private debounce: NodeJS.Timeout | undefined;
  /**
   * The refresh running, if any. Refreshes never overlap: an older one's cleanup pass would drop a
   * file a newer one had just read (its targets reported gone until the next refresh).
   */
  private refreshing: Promise<void> | undefined;
  /** A change arrived while a refresh ran: run once more after it. */
  private refreshAgain = false;
  private stopped = false;
  private readonly fileErrors = new Map<string, string>();

  constructor(private readonly options: DiscoveryOptions) {}

  async start(): Promise<void> {
    await this.refreshFiles();
    this.emit();
    for (const sd of this.options.fileSdConfigs) {
      const dirs = new Set(sd.files.map((f) => dirname(this.path(f))));
      for (const dir of dirs) {
        try {
          const watcher = watch(dir, () => this.scheduleRefresh());
          watcher.on('error', () => undefined);
          this.watchers.push(watcher);
        } catch (err) {
          this.options.logger.warn({ dir, err: errorMessage(err) }, 'file_sd: cannot watch folder; relying on refresh_interval');
        }
      }
      const timer = setInterval(() => this.scheduleRefresh(), sd.refresh_interval);
      timer.unref();
      this.timers.push(timer);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers) w.close();
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.debounce);
  }

  private path(file: string): string {
    return isAbsolute(file) ? file : resolve(this.options.configDir, file);
  }

  private scheduleRefresh(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.refresh(), WATCH_DEBOUNCE_MS);
  }

  /** Runs one refresh, or marks that another is needed when one is running (several changes: one re-run). */
  private refresh(): void {
    if (this.refreshing !== undefined) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          await this.refreshFiles();
          this.emit();
        } catch (err) {
          this.options.logger.error({ err: errorMessage(err) }, 'file_sd refresh failed');
        }
      } while (this.refreshAgain && !this.stopped);
    })().finally(() => {
      this.refreshing = undefined;
    });
  }

  /** Resolves when no refresh is running (for tests). */
  async idle(): Promise<void> {
    while (this.refreshing !== undefined) await this.refreshing;
  }

  private async refreshFiles(): Promise<void> {
    const present = new Set<string>();
    for (const sd of this.options.fileSdConfigs) {
      for (const pattern of sd.files) {
        for (const file of await expandGlob(this.path(pattern))) {
          if (await this.readFile(file, sd)) present.add(file);
        }
      }
    }
    for (const file of [...this.fileGroups.keys()]) if (!present.has(file)) this.fileGroups.delete(file);
  }

  /** Reads one file into fileGroups (or keeps its last good groups); false when the file is gone. */
  private async readFile(file: string, sd: FileSdConfig): Promise<boolean> {
    try {
      const text = await this.readText(file, sd.max_file_size);
      const limits = { maxTargetsPerGroup: sd.max_targets_per_group, maxLabelsPerGroup: sd.max_labels_per_group };
      const result = await parseOffThread(text, extname(file) === '.json', limits);
      if (!result.ok) throw new FileSdError(result.reason, result.message);
      this.fileGroups.set(file, result.entries);
      this.fileErrors.delete(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // Deleted (a literal name; a glob no longer lists it): its targets end, as in Prometheus.
        if (this.fileGroups.has(file) || this.fileErrors.has(file)) {
          this.options.logger.warn({ file, job: this.options.job }, 'file_sd: file is gone; its targets end');
        }
        this.fileErrors.delete(file);
        return false;
      }
      this.options.onFileError?.(err instanceof FileSdError ? err.reason : 'read');
      // Logged once per distinct error so a broken file does not flood the log every refresh.
      const message = `${file}: ${errorMessage(err).split('\n')[0]}`;
      if (this.fileErrors.get(file) !== message) {
        this.fileErrors.set(file, message);
        this.options.logger.error({ file, err: message, job: this.options.job }, 'file_sd: cannot use file; keeping its last good targets');
      }
      return true;
    }
  }

  /** The file's text, refused before it is read when it is larger than `max` bytes. */
  private async readText(file: string, max: number): Promise<string> {
    if (this.options.readFile !== undefined) {
      const text = await this.options.readFile(file);
      if (Buffer.byteLength(text) > max) throw tooLarge(max);
      return text;
    }
    const handle = await open(file, 'r');
    try {
      if ((await handle.stat()).size > max) throw tooLarge(max);
      // One byte more than allowed: a file that grew since stat() is still caught.
      const buf = Buffer.allocUnsafe(max + 1);
      let n = 0;
      while (n < buf.length) {
        const { bytesRead } = await handle.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      if (n > max) throw tooLarge(max);
      return buf.toString('utf8', 0, n);
    } finally {
      await handle.close();
    }
  }

  private emit(): void {
    if (this.stopped) return;
    const { job, scheme } = this.options;
    const byKey = new Map<string, Target>();
    for (const group of this.options.staticConfigs) {
      for (const address of group.targets) {
        const target = makeTarget(job, scheme, address, group.labels);
        byKey.set(target.key, target);
      }
    }
    for (const entries of this.fileGroups.values()) {
      for (const { address, labels } of entries) {
        const target = makeTarget(job, scheme, address, labels);
        byKey.set(target.key, target);
      }
    }
    this.options.onTargets([...byKey.values()]);
  }
}

function tooLarge(max: number): FileSdError {
  return new FileSdError('too_large', `larger than max_file_size (${max} bytes)`);
}

/** Parses inline when small, else in a worker thread (see INLINE_PARSE_BYTES). */
function parseOffThread(text: string, json: boolean, limits: FileSdLimits): Promise<FileSdParseResult> {
  if (text.length <= INLINE_PARSE_BYTES) return Promise.resolve(parseFileSd(text, json, limits));
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./file-sd-worker.js', import.meta.url), { workerData: { text, json, limits } });
    let result: FileSdParseResult | undefined;
    worker.once('message', (m: FileSdParseResult) => (result = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (result !== undefined ? resolve(result) : reject(new Error(`file_sd parser thread exited with code ${code}`))));
  });
}

/** Expands a `*` or `?` in the file name part (as Prometheus's file_sd allows); folders are literal. */
async function expandGlob(pattern: string): Promise<string[]> {
  const name = basename(pattern);
  if (!/[*?]/.test(name)) return [pattern];
  const dir = dirname(pattern);
  const regex = new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  try {
    return (await readdir(dir)).filter((f) => regex.test(f)).sort().map((f) => resolve(dir, f));
  } catch {
    return [];
  }
}
