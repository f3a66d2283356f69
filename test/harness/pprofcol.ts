// Runs the real pprofcol binary (dist/bin/pprofcol.js) as a child process: one-shot commands and
// the daemon, with helpers to wait for output and to stop it with a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, repoRoot } from './servers.js';

export const BIN = () => path.join(repoRoot(), 'dist', 'bin', 'pprofcol.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN(), ...args], {
      cwd: options.cwd ?? repoRoot(),
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pprofcol ${args.join(' ')} did not finish within ${options.timeoutMs ?? 30000}ms\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Writes a config into a fresh temp folder and returns its path. */
export function writeConfig(text: string, name = 'pipeline.yaml'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-test-'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

export interface Daemon {
  child: ChildProcess;
  telemetryUrl: string;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout (or stderr) matches, else rejects after timeoutMs with what was seen. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts `pprofcol run` on a config; `{{TELEMETRY}}` in the text is replaced by a free loopback address. */
export async function startDaemon(configText: string, env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const port = await freePort();
  const telemetry = `127.0.0.1:${port}`;
  const file = writeConfig(configText.replaceAll('{{TELEMETRY}}', telemetry));
  const child = spawn(process.execPath, [BIN(), 'run', '--config', file], {
    cwd: repoRoot(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    running.delete(child);
    resolve(code);
  }));
  const daemon: Daemon = {
    child,
    telemetryUrl: `http://${telemetry}`,
    stdout: () => out,
    stderr: () => err,
    async waitFor(stream, pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = stream === 'stdout' ? out : err;
        const match = text.match(pattern);
        if (match !== null) return match;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`no ${pattern} on ${stream} within ${timeoutMs}ms (exit ${child.exitCode})\nstdout tail: ${out.slice(-1500)}\nstderr tail: ${err.slice(-1500)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return daemon;
}

/**
 * Starts a daemon that listens on a port of the test's choosing (`configFor(port)`, a free loopback
 * port) and waits for `ready` on stderr. freePort() only finds a port free at the time it looks: another
 * test file or server may bind it before the daemon does (seen: the receiver exited with EADDRINUSE
 * under a loaded suite). Such a start, on this port or the telemetry one, is retried with fresh ports,
 * up to 3 times, as the servers in servers.ts are.
 */
export async function startDaemonOnFreePort(
  configFor: (port: number) => string,
  ready: RegExp,
  timeoutMs: number,
  env: NodeJS.ProcessEnv = {},
): Promise<{ daemon: Daemon; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const daemon = await startDaemon(configFor(port), env);
    try {
      await daemon.waitFor('stderr', ready, timeoutMs);
      return { daemon, port };
    } catch (err) {
      await daemon.stop('SIGKILL');
      if (attempt >= 3 || !/EADDRINUSE/.test(daemon.stderr())) throw err;
    }
  }
}

/** Polls `check` until it returns a value other than undefined, or fails with `what` after timeoutMs. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Parses Prometheus text exposition lines into samples (comments skipped). */
export function parseExposition(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    samples.push({ name: match[1], labels, value: Number(match[3].replace('+Inf', 'Infinity')) });
  }
  return samples;
}
