// Test harness: starts real servers (Prometheus, VictoriaMetrics, Redis, our own Go programs) on free
// loopback ports, each with its data in a fresh temporary directory, waits until they are ready, and
// stops them. Every started process is remembered and killed when the test process exits, so a failed
// test never leaves servers behind.

import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { Agent, fetch as undiciFetch } from "undici";

// ---------------------------------------------------------------------------------------------------
// Types

export interface PromVectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PromMatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface ManagedServer {
  /** Base URL, http://127.0.0.1:PORT (redis://127.0.0.1:PORT for Redis). */
  url: string;
  pid: number;
  /** Stops the process (SIGTERM, SIGKILL after 5s) and removes its temporary directory. Idempotent. */
  stop(): Promise<void>;
  /** The last lines the process wrote on stdout and stderr. */
  logs(): string;
}

export interface PromServer extends ManagedServer {
  /** 127.0.0.1:PORT */
  hostPort: string;
  /** Instant query via /api/v1/query; returns the vector (a scalar result becomes one sample with no labels). */
  query(expr: string): Promise<PromVectorSample[]>;
  /** Range query via /api/v1/query_range. */
  queryRange(expr: string, startSec: number, endSec: number, stepSec: number): Promise<PromMatrixSeries[]>;
  /** GET /metrics: the server's own metrics as text. */
  metricsText(): Promise<string>;
  /** The temporary directory that holds the config and the TSDB. */
  dataDir: string;
  /**
   * Stops the process (SIGTERM, SIGKILL after 5s) but keeps its data directory and its port, so that
   * restart() brings the same server back: an outage, not a new server. `pid` and `logs()` follow.
   */
  stopProcess(): Promise<void>;
  /** Starts the server again on the same port and data directory (stopping it first if it runs); resolves once ready. */
  restart(): Promise<void>;
}

export interface VMServer extends ManagedServer {
  hostPort: string;
  /** url + /api/v1/write: Prometheus remote write endpoint. */
  writeUrl: string;
  /** Instant query via /api/v1/query (Prometheus-compatible). Call vmFlush first to see fresh data. */
  query(expr: string): Promise<PromVectorSample[]>;
  queryRange(expr: string, startSec: number, endSec: number, stepSec: number): Promise<PromMatrixSeries[]>;
  dataDir: string;
  /** As PromServer.stopProcess: the process stops, data directory and port are kept. */
  stopProcess(): Promise<void>;
  /** As PromServer.restart: the same port and data directory again; resolves once ready. */
  restart(): Promise<void>;
}

export interface RedisServer extends ManagedServer {
  port: number;
}

export interface GoProgramServer extends ManagedServer {
  hostPort: string;
}

export interface ScrapeTarget {
  job: string;
  targets: string[];
  interval?: string;
  metricsPath?: string;
}

export interface StartPrometheusOptions {
  remoteWriteReceiver?: boolean;
  scrapeTargets?: ScrapeTarget[];
  extraArgs?: string[];
  /** `--web.config.file`: TLS, client certificates and basic auth on every path Prometheus serves. */
  webConfig?: PromWebConfig;
  /** Raw Prometheus config: more scrape configs (after scrapeTargets' own), and remote_write. */
  rawScrapeConfigs?: unknown[];
  remoteWrite?: unknown[];
}

/** What a client presents to reach a server behind TLS and basic auth (the harness's own fetches). */
export interface SecureClient {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** The name the server's certificate is checked against, when it names no IP. */
  servername?: string;
  username?: string;
  password?: string;
}

/** Prometheus's web config (exporter-toolkit's keys), and what the harness presents to reach it. */
export interface PromWebConfig {
  tls_server_config?: { cert_file: string; key_file: string; client_ca_file?: string; client_auth_type?: string };
  /** bcrypt hashes (htpasswdHash). */
  basic_auth_users?: Record<string, string>;
  client: SecureClient;
}

/** The little of a fetch answer the harness reads. */
export interface FetchAnswer {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}
export type Fetcher = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<FetchAnswer>;

const plainFetch: Fetcher = (url, init) => fetch(url, init);

/** A fetch that presents `client`'s CA, certificate and basic-auth credentials (undici's fetch and Agent). */
export function secureFetcher(client: SecureClient): Fetcher {
  const agent = new Agent({ connect: { ca: client.ca, cert: client.cert, key: client.key, servername: client.servername } });
  const auth = client.username === undefined ? undefined : `Basic ${Buffer.from(`${client.username}:${client.password ?? ""}`).toString("base64")}`;
  return (url, init) => undiciFetch(url, { ...init, dispatcher: agent, headers: { ...(auth === undefined ? {} : { authorization: auth }), ...init?.headers } });
}

/** A bcrypt hash made by Debian's htpasswd (apache2-utils), cost 10: independent of the library pprofcol uses. */
export function htpasswdHash(user: string, password: string, cost = 10): string {
  const bin = requireBinary("htpasswd", "apache2-utils", ["/usr/bin/htpasswd"]);
  const line = execFileSync(bin, ["-nbBC", String(cost), user, password], { encoding: "utf8" }).trim();
  return line.slice(line.indexOf(":") + 1);
}

// ---------------------------------------------------------------------------------------------------
// Process bookkeeping

interface Tracked {
  child: ChildProcess;
  dir: string | undefined;
}

const running = new Set<Tracked>();
/** Data directories of restartable servers: they outlive each process, and go when the server is stopped or at exit. */
const ownedDirs = new Set<string>();
let exitHooksInstalled = false;

function killAllSync(): void {
  for (const dir of ownedDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  ownedDirs.clear();
  for (const t of running) {
    try {
      if (t.child.exitCode === null && t.child.signalCode === null) t.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    if (t.dir !== undefined) {
      try {
        rmSync(t.dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  }
  running.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", killAllSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    // once: the listener is removed before it runs, so re-raising gives the default behaviour.
    process.once(sig, () => {
      killAllSync();
      process.kill(process.pid, sig);
    });
  }
}

const LOG_LINES = 200;

class LogTail {
  private lines: string[] = [];
  private partial = "";
  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split("\n");
    this.partial = parts.pop() ?? "";
    for (const p of parts) {
      this.lines.push(p);
      if (this.lines.length > LOG_LINES) this.lines.shift();
    }
  }
  text(): string {
    const all = this.partial === "" ? this.lines : [...this.lines, this.partial];
    return all.join("\n");
  }
  last(n: number): string {
    const all = this.partial === "" ? this.lines : [...this.lines, this.partial];
    return all.slice(-n).join("\n");
  }
}

interface Spawned {
  child: ChildProcess;
  tail: LogTail;
  tracked: Tracked;
  exited: Promise<void>;
  stop(): Promise<void>;
}

function spawnTracked(bin: string, args: string[], dir: string | undefined, cwd?: string, env?: NodeJS.ProcessEnv): Spawned {
  installExitHooks();
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], cwd: cwd ?? dir, env: env ?? process.env });
  const tail = new LogTail();
  child.stdout?.on("data", (c: Buffer) => tail.push(c));
  child.stderr?.on("data", (c: Buffer) => tail.push(c));
  const tracked: Tracked = { child, dir };
  running.add(tracked);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once("exit", () => resolve());
    child.once("error", (err: Error) => {
      tail.push(`spawn error: ${err.message}\n`);
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        const killed = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
            resolve();
          }, 5000);
        });
        await Promise.race([exited, killed]);
        if (timer !== undefined) clearTimeout(timer);
        await exited;
      }
      running.delete(tracked);
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  return { child, tail, tracked, exited, stop };
}

// ---------------------------------------------------------------------------------------------------
// Small helpers

/** A free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") {
        srv.close();
        reject(new Error("could not read the port of a listening socket"));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** The repository root: the nearest folder above this file whose package.json is named pprofcol. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        const parsed: unknown = JSON.parse(readFileSync(pj, "utf8"));
        if (isRecord(parsed) && parsed["name"] === "pprofcol") return dir;
      } catch {
        // not ours, keep walking
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`repoRoot: no package.json named pprofcol above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Finds an executable on PATH, then in the given fallback locations. */
function which(name: string, fallbacks: string[] = []): string | undefined {
  for (const d of (process.env["PATH"] ?? "").split(path.delimiter)) {
    if (d === "") continue;
    const p = path.join(d, name);
    if (isExecutable(p)) return p;
  }
  for (const p of fallbacks) if (isExecutable(p)) return p;
  return undefined;
}

function missingBinary(binary: string, debPackage: string): Error {
  return new Error(
    `${binary} not found: install the Debian package '${debPackage}' (apt-get install -y ${debPackage}) or run npm test, which does`,
  );
}

function requireBinary(name: string, debPackage: string, fallbacks: string[]): string {
  const found = which(name, fallbacks);
  if (found === undefined) throw missingBinary(name, debPackage);
  return found;
}

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `pprofcol-${prefix}-`));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const READY_TIMEOUT_MS = 30_000;

/**
 * Polls `probe` until it returns true, the process exits, or 30s pass. On failure, throws an error that
 * includes the last lines the process wrote.
 */
async function waitReady(what: string, sp: Spawned, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited = false;
  void sp.exited.then(() => {
    exited = true;
  });
  let lastErr = "";
  while (Date.now() < deadline) {
    if (exited) {
      const code = sp.child.exitCode ?? sp.child.signalCode;
      await sp.stop();
      throw new Error(`${what} exited (${String(code)}) before it was ready; last output:\n${sp.tail.last(30)}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  await sp.stop();
  throw new Error(
    `${what} not ready within ${READY_TIMEOUT_MS / 1000}s${lastErr ? ` (last probe error: ${lastErr})` : ""}; last output:\n${sp.tail.last(30)}`,
  );
}

async function httpOk(url: string, fetcher: Fetcher = plainFetch): Promise<boolean> {
  const res = await fetcher(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === 200;
}

/**
 * Starts a server on a fresh free port. If it dies because the port was taken between freePort() and
 * bind (a race with other tests), tries again with another port, up to 3 times.
 */
async function startWithPortRetry<T>(start: (port: number) => Promise<T>): Promise<T> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      lastErr = err;
      const msg = err instanceof Error ? err.message : String(err);
      if (!/address already in use|bind:|EADDRINUSE/i.test(msg)) throw err;
    }
  }
  throw lastErr;
}

/**
 * A server whose process can be stopped and started again on the same port and data directory. The
 * processes are spawned without a directory of their own (so stopping one keeps the data); the
 * directory is removed by stop() or at exit. logs() joins the output of every process it ran.
 */
interface RestartableProcess {
  pid(): number;
  logs(): string;
  stopProcess(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startRestartable(what: string, dir: string, launch: () => Spawned, probe: () => Promise<boolean>): Promise<RestartableProcess> {
  installExitHooks();
  ownedDirs.add(dir);
  const earlier: string[] = [];
  let current = launch();
  let running = true;
  try {
    await waitReady(what, current, probe);
  } catch (err) {
    ownedDirs.delete(dir);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const stopProcess = async (): Promise<void> => {
    if (!running) return;
    running = false;
    await current.stop();
    earlier.push(current.tail.text());
  };
  return {
    pid: () => current.child.pid ?? -1,
    logs: () => [...earlier, running ? current.tail.text() : ''].filter((t) => t !== '').join('\n'),
    stopProcess,
    restart: async () => {
      await stopProcess();
      current = launch();
      running = true;
      await waitReady(`${what} (restarted)`, current, probe);
    },
    stop: async () => {
      await stopProcess();
      ownedDirs.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Prometheus-compatible query API

async function promApi(base: string, pathAndQuery: string, fetcher: Fetcher = plainFetch): Promise<unknown> {
  const res = await fetcher(base + pathAndQuery, { signal: AbortSignal.timeout(30_000) });
  const body = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`${base}${pathAndQuery}: HTTP ${res.status}, not JSON: ${body.slice(0, 500)}`);
  }
  if (!isRecord(parsed) || parsed["status"] !== "success" || !isRecord(parsed["data"])) {
    throw new Error(`${base}${pathAndQuery}: HTTP ${res.status}: ${body.slice(0, 500)}`);
  }
  return parsed["data"];
}

function toLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(v)) for (const [k, val] of Object.entries(v)) out[k] = String(val);
  return out;
}

function toPoint(v: unknown): [number, string] {
  if (!Array.isArray(v) || v.length !== 2) throw new Error(`unexpected sample ${JSON.stringify(v)}`);
  return [Number(v[0]), String(v[1])];
}

async function instantQuery(base: string, expr: string, fetcher?: Fetcher): Promise<PromVectorSample[]> {
  const data = await promApi(base, `/api/v1/query?query=${encodeURIComponent(expr)}`, fetcher);
  if (!isRecord(data)) return [];
  const type = data["resultType"];
  const result = data["result"];
  if (type === "scalar" || type === "string") return [{ metric: {}, value: toPoint(result) }];
  if (!Array.isArray(result)) return [];
  return result.map((r: unknown) => {
    if (!isRecord(r)) throw new Error(`unexpected result ${JSON.stringify(r)}`);
    return { metric: toLabels(r["metric"]), value: toPoint(r["value"]) };
  });
}

async function rangeQuery(base: string, expr: string, startSec: number, endSec: number, stepSec: number, fetcher?: Fetcher): Promise<PromMatrixSeries[]> {
  const q = `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${startSec}&end=${endSec}&step=${stepSec}`;
  const data = await promApi(base, q, fetcher);
  if (!isRecord(data)) return [];
  const result = data["result"];
  if (!Array.isArray(result)) return [];
  return result.map((r: unknown) => {
    if (!isRecord(r)) throw new Error(`unexpected result ${JSON.stringify(r)}`);
    const values = r["values"];
    return { metric: toLabels(r["metric"]), values: Array.isArray(values) ? values.map(toPoint) : [] };
  });
}

// ---------------------------------------------------------------------------------------------------
// Prometheus

/** Starts Debian's prometheus on a free loopback port with a fresh TSDB. Ready when /-/ready answers 200. */
export async function startPrometheus(opts: StartPrometheusOptions = {}): Promise<PromServer> {
  const bin = requireBinary("prometheus", "prometheus", ["/usr/bin/prometheus"]);
  return startWithPortRetry(async (port) => {
    const dir = tempDir("prometheus");
    const hostPort = `127.0.0.1:${port}`;
    const web = opts.webConfig;
    const url = `${web?.tls_server_config !== undefined ? "https" : "http"}://${hostPort}`;
    const fetcher = web === undefined ? plainFetch : secureFetcher(web.client);
    const webArgs: string[] = [];
    if (web !== undefined) {
      const webFile = path.join(dir, "web.yml");
      const { client: _client, ...webConfig } = web;
      writeFileSync(webFile, JSON.stringify(webConfig, null, 2) + "\n");
      webArgs.push(`--web.config.file=${webFile}`);
    }
    // JSON is valid YAML, and quoting it this way is always safe.
    const config = {
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      scrape_configs: (opts.scrapeTargets ?? []).map((t) => ({
        job_name: t.job,
        ...(t.interval !== undefined ? { scrape_interval: t.interval } : {}),
        ...(t.metricsPath !== undefined ? { metrics_path: t.metricsPath } : {}),
        static_configs: [{ targets: t.targets }],
      })).concat((opts.rawScrapeConfigs ?? []) as never[]),
      ...(opts.remoteWrite !== undefined ? { remote_write: opts.remoteWrite } : {}),
    };
    const configFile = path.join(dir, "prometheus.yml");
    writeFileSync(configFile, JSON.stringify(config, null, 2) + "\n");
    const args = [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=${hostPort}`,
      // Debian's build looks for consoles under /etc/prometheus; point them at the temp dir so
      // nothing outside it is needed.
      `--web.console.templates=${path.join(dir, "consoles")}`,
      `--web.console.libraries=${path.join(dir, "console_libraries")}`,
      ...(opts.remoteWriteReceiver ? ["--web.enable-remote-write-receiver"] : []),
      ...webArgs,
      ...(opts.extraArgs ?? []),
    ];
    const proc = await startRestartable(`prometheus on ${hostPort}`, dir, () => spawnTracked(bin, args, undefined, dir), () => httpOk(`${url}/-/ready`, fetcher));
    return {
      url,
      hostPort,
      get pid() {
        return proc.pid();
      },
      dataDir: dir,
      query: (expr: string) => instantQuery(url, expr, fetcher),
      queryRange: (expr: string, s: number, e: number, step: number) => rangeQuery(url, expr, s, e, step, fetcher),
      metricsText: async () => {
        const res = await fetcher(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
        if (res.status !== 200) throw new Error(`${url}/metrics: HTTP ${res.status}`);
        return res.text();
      },
      stop: proc.stop,
      stopProcess: proc.stopProcess,
      restart: proc.restart,
      logs: proc.logs,
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// VictoriaMetrics

/** Makes data VictoriaMetrics received so far searchable now (it buffers ~1s otherwise). */
export async function vmFlush(url: string): Promise<void> {
  const res = await fetch(`${url}/internal/force_flush`, { signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url}/internal/force_flush: HTTP ${res.status}`);
}

/** Starts Debian's victoria-metrics (single node) on a free loopback port. Ready when /health answers 200. */
export async function startVictoriaMetrics(extraArgs: string[] = []): Promise<VMServer> {
  const bin = requireBinary("victoria-metrics", "victoria-metrics", ["/usr/bin/victoria-metrics"]);
  return startWithPortRetry(async (port) => {
    const dir = tempDir("vm");
    const hostPort = `127.0.0.1:${port}`;
    const url = `http://${hostPort}`;
    const args = [
      `-httpListenAddr=${hostPort}`,
      `-storageDataPath=${path.join(dir, "data")}`,
      "-search.latencyOffset=0s",
      // Keep the query cache out of the way: tests query right after writing.
      "-search.disableCache",
      ...extraArgs,
    ];
    const proc = await startRestartable(`victoria-metrics on ${hostPort}`, dir, () => spawnTracked(bin, args, undefined, dir), () => httpOk(`${url}/health`));
    return {
      url,
      hostPort,
      writeUrl: `${url}/api/v1/write`,
      get pid() {
        return proc.pid();
      },
      dataDir: dir,
      query: (expr: string) => instantQuery(url, expr),
      queryRange: (expr: string, s: number, e: number, step: number) => rangeQuery(url, expr, s, e, step),
      stop: proc.stop,
      stopProcess: proc.stopProcess,
      restart: proc.restart,
      logs: proc.logs,
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// Redis

/** Sends one inline command over a raw TCP socket and returns the first reply line (e.g. "+PONG"). */
export function redisCommand(port: number, command: string, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis ${host}:${port}: no reply to ${command} within 2s`));
    }, 2000);
    sock.once("connect", () => sock.write(`${command}\r\n`));
    sock.on("data", (c: Buffer) => {
      buf += c.toString();
      const i = buf.indexOf("\r\n");
      if (i >= 0) {
        clearTimeout(timer);
        sock.end();
        resolve(buf.slice(0, i));
      }
    });
    sock.once("error", (err) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    });
  });
}

/** Starts Debian's redis-server on a free loopback port with no persistence. Ready when PING answers +PONG. */
export async function startRedis(): Promise<RedisServer> {
  const bin = requireBinary("redis-server", "redis-server", ["/usr/bin/redis-server"]);
  return startWithPortRetry(async (port) => {
    const dir = tempDir("redis");
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
    const sp = spawnTracked(bin, args, dir);
    await waitReady(`redis-server on 127.0.0.1:${port}`, sp, async () => (await redisCommand(port, "PING")) === "+PONG");
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      pid: sp.child.pid ?? -1,
      stop: sp.stop,
      logs: () => sp.tail.text(),
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// Go programs under test/go/

/** The go binary: on PATH, else /usr/local/go/bin/go, else an error naming the Debian package. */
export function goBinary(): string {
  return requireBinary("go", "golang-go", ["/usr/local/go/bin/go", "/usr/lib/go/bin/go"]);
}

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      newest = Math.max(newest, newestSourceMtime(p));
    } else if (entry.name.endsWith(".go") || entry.name === "go.mod" || entry.name === "go.sum") {
      newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  return newest;
}

function runToCompletion(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

/**
 * Builds test/go/<name>/ (a main package) into test/go/bin/<name> and returns the binary's path.
 * Rebuilds only when a .go file (or go.mod/go.sum) is newer than the binary. A folder with a go.mod builds
 * in module mode; one without builds in GOPATH mode against Debian's /usr/share/gocode (where
 * golang-github-prometheus-client-golang-dev puts client_golang).
 */
export async function buildGoProgram(name: string): Promise<string> {
  const root = repoRoot();
  const src = path.join(root, "test", "go", name);
  if (!existsSync(src)) throw new Error(`buildGoProgram: no folder ${src}`);
  const binDir = path.join(root, "test", "go", "bin");
  const out = path.join(binDir, name);
  const newest = newestSourceMtime(src);
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return out;

  const go = goBinary();
  const base: NodeJS.ProcessEnv = { ...process.env, GOTOOLCHAIN: "local" };
  delete base["GOFLAGS"];
  // GOPATH mode finds client_golang in Debian's golang-github-prometheus-client-golang-dev.
  const gopathMode = (): NodeJS.ProcessEnv => {
    const gopaths = [base["GOPATH"], "/usr/share/gocode"].filter((p): p is string => p !== undefined && p !== "");
    return { ...base, GO111MODULE: "off", GOPATH: gopaths.join(path.delimiter) };
  };
  // Build to a private name and rename, so that concurrent test processes never run a half-written binary.
  mkdirSync(binDir, { recursive: true });
  const tmpOut = path.join(binDir, `.${name}.${process.pid}.${Date.now()}.tmp`);
  // A module (go.mod) is built with its dependencies from the Go module proxy where the machine reaches
  // it, else in GOPATH mode against Debian's packages; a folder without go.mod is GOPATH mode only.
  const attempts: Array<[string, NodeJS.ProcessEnv]> = existsSync(path.join(src, "go.mod"))
    ? [["module mode (Go module proxy)", base], ["GOPATH mode (Debian packages)", gopathMode()]]
    : [["GOPATH mode (Debian packages)", gopathMode()]];
  const failures: string[] = [];
  let built = false;
  for (const [mode, env] of attempts) {
    const { code, output } = await runToCompletion(go, ["build", "-o", tmpOut, "."], src, env);
    if (code === 0) {
      built = true;
      break;
    }
    failures.push(`${mode}: exit ${String(code)}\n${output}`);
  }
  if (!built) {
    await rm(tmpOut, { force: true });
    throw new Error(
      `go build in ${src} failed; install the Debian package golang-github-prometheus-client-golang-dev (or reach the Go module proxy):\n${failures.join("\n")}`,
    );
  }
  renameSync(tmpOut, out);
  return out;
}

/**
 * Builds (if needed) and starts test/go/<name> with `-listen 127.0.0.1:PORT` plus args.
 * Ready when GET /debug/pprof/ answers 200.
 */
export async function startGoProgram(name: string, args: string[] = []): Promise<GoProgramServer> {
  const bin = await buildGoProgram(name);
  return startWithPortRetry(async (port) => {
    const hostPort = `127.0.0.1:${port}`;
    const url = `http://${hostPort}`;
    const sp = spawnTracked(bin, ["-listen", hostPort, ...args], undefined, repoRoot());
    await waitReady(`${name} on ${hostPort}`, sp, () => httpOk(`${url}/debug/pprof/`));
    return {
      url,
      hostPort,
      pid: sp.child.pid ?? -1,
      stop: sp.stop,
      logs: () => sp.tail.text(),
    };
  });
}
