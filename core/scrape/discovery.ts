/**
 * Target discovery for one scrape config: static_configs plus file_sd_configs (Prometheus's file
 * format, JSON or YAML), re-read when a file changes and every refresh_interval.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { hostPort, labelSet } from '../config/types.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Labels } from '../model/metrics.js';
import type { FileSdConfig, StaticConfig } from './config.js';
import { makeTarget, type Target } from './targets.js';

const fileTargetGroups = z.array(z.object({ targets: z.array(hostPort), labels: labelSet.default({}) }).strict());

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
  /** Reads a file_sd file as UTF-8 (default fs.promises.readFile); for tests. */
  readFile?: (file: string) => Promise<string>;
}

export class TargetDiscovery {
  private readonly watchers: FSWatcher[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  /** Last good groups per file, kept when a rewrite is briefly invalid (Prometheus keeps them too). */
  private readonly fileGroups = new Map<string, { address: string; labels: Labels }[]>();
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
          present.add(file);
          await this.readFile(file);
        }
      }
    }
    for (const file of [...this.fileGroups.keys()]) if (!present.has(file)) this.fileGroups.delete(file);
  }

  private async readFile(file: string): Promise<void> {
    try {
      const text = this.options.readFile !== undefined ? await this.options.readFile(file) : await readFile(file, 'utf8');
      const raw: unknown = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
      const groups = fileTargetGroups.parse(raw ?? []);
      this.fileGroups.set(
        file,
        groups.flatMap((g) => g.targets.map((address) => ({ address, labels: g.labels }))),
      );
      this.fileErrors.delete(file);
    } catch (err) {
      // Logged once per distinct error so a broken file does not flood the log every refresh.
      const message = errorMessage(err).split('\n')[0];
      if (this.fileErrors.get(file) !== message) {
        this.fileErrors.set(file, message);
        this.options.logger.error({ file, err: message, job: this.options.job }, 'file_sd: cannot use file; keeping its last good targets');
      }
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
