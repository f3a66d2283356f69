/**
 * The client side of Prometheus's shared HTTP keys (`basic_auth`, `authorization`, `tls_config`), for
 * components that post or fetch over HTTP. Secrets and TLS files are read from disk here; relative
 * paths resolve against the config file's folder.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { buildConnector, type Dispatcher } from 'undici';
import type { HttpClientConfig, TlsConfig } from './config/types.js';

/** What Node's TLS connect options need from a `tls_config` (undici's `connect`, https.Agent). */
export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

export function resolveConfigPath(file: string, configDir: string): string {
  return isAbsolute(file) ? file : resolve(configDir, file);
}

/** Reads the files a `tls_config` names. Without `ca_file` the system roots are used (Node's default). */
export async function loadTlsOptions(tls: TlsConfig | undefined, configDir: string): Promise<TlsOptions> {
  const read = async (file: string | undefined): Promise<Buffer | undefined> => (file === undefined ? undefined : readFile(resolveConfigPath(file, configDir)));
  const [ca, cert, key] = await Promise.all([read(tls?.ca_file), read(tls?.cert_file), read(tls?.key_file)]);
  const out: TlsOptions = { rejectUnauthorized: !(tls?.insecure_skip_verify ?? false) };
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  // An empty server_name means "the URL's host", as in Prometheus.
  if (tls?.server_name !== undefined && tls.server_name !== '') out.servername = tls.server_name;
  return out;
}

/**
 * The Authorization header value from `basic_auth` or `authorization`, or undefined when neither is
 * set. `*_file` secrets are read on every call (they rotate); the trailing newline is trimmed.
 */
export async function authorizationHeader(client: HttpClientConfig, configDir: string): Promise<string | undefined> {
  const basic = client.basic_auth;
  if (basic !== undefined) {
    const password = basic.password_file !== undefined ? (await readFile(resolveConfigPath(basic.password_file, configDir), 'utf8')).trim() : (basic.password ?? '');
    return `Basic ${Buffer.from(`${basic.username}:${password}`).toString('base64')}`;
  }
  const auth = client.authorization;
  if (auth !== undefined) {
    const credentials = auth.credentials_file !== undefined ? (await readFile(resolveConfigPath(auth.credentials_file, configDir), 'utf8')).trim() : (auth.credentials ?? '');
    return `${auth.type} ${credentials}`;
  }
  return undefined;
}

/** Node's codes for TLS failures: handshake alerts, certificate checks. */
const TLS_ERROR = /ERR_TLS|ERR_SSL|CERT|SSL|DEPTH_ZERO|UNABLE_TO_VERIFY/;
/** TLS errors kept for explain(): enough for every connection a pool has open at once. */
const TLS_ERRORS_KEPT = 64;

/**
 * Keeps the TLS error that undici hides. With TLS 1.3 a server that refuses the client's certificate
 * (none, or one from a CA it does not trust) does so after the client's handshake has completed: the
 * alert arrives while the request is in flight, and undici reports the request as failed with
 * "other side closed" (UND_ERR_SOCKET), which reads as a connection problem. The connector built
 * here remembers each connection's TLS error by its local port, so the failure can say what it was.
 */
export class TlsErrorTracker {
  private readonly errors = new Map<number, Error>();

  /** An undici `connect` function for `tls`, with the same defaults as the Agent's own. */
  connector(tls: TlsOptions): buildConnector.connector {
    const base = buildConnector({ ...tls });
    return (options, callback) => {
      base(options, (...args: Parameters<buildConnector.Callback>) => {
        const socket = args[1];
        // Read the port now: a destroyed socket no longer has one.
        const port = socket?.localPort;
        if (socket !== null && socket !== undefined && port !== undefined) {
          socket.on('error', (err: Error & { code?: string }) => {
            if (!TLS_ERROR.test(err.code ?? '')) return;
            if (this.errors.size >= TLS_ERRORS_KEPT) this.errors.delete(this.errors.keys().next().value as number);
            this.errors.set(port, err);
          });
        }
        callback(...args);
      });
    };
  }

  /**
   * The TLS error behind a socket error of undici's, or undefined when there was none. Waits one turn
   * of the event loop: the alert can be read just after undici has seen the connection end.
   */
  async explain(err: unknown): Promise<Error | undefined> {
    const e = err as { code?: string; socket?: { localPort?: number }; cause?: { code?: string; socket?: { localPort?: number } } };
    const socketError = e.code === 'UND_ERR_SOCKET' ? e : e.cause?.code === 'UND_ERR_SOCKET' ? e.cause : undefined;
    const port = socketError?.socket?.localPort;
    if (port === undefined) return undefined;
    if (!this.errors.has(port)) await new Promise<void>((resolve) => setImmediate(resolve));
    const found = this.errors.get(port);
    if (found !== undefined) this.errors.delete(port);
    return found;
  }
}

/**
 * Retry-After as seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`), in milliseconds
 * from `nowMs`; undefined when absent or unreadable. A date in the past means "now" (0).
 * The value is the receiver's, unbounded: a caller must not sleep it as it is. `0` repeated makes a
 * tight retry loop and `86400` stalls for a day (and above 2^31-1 ms setTimeout fires at once); the
 * sender chain bounds it with the exporter's backoff (core/send/retry.ts, through retryDelayMs below).
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Drops a response body that will not be read (refused as too large, or read far enough). undici's
 * body emits 'error' (RequestAbortedError) when destroyed before its end; with no listener that is an
 * uncaught exception that ends the process, so the listener goes on first. Destroying (not dumping)
 * closes the socket: a refused body may be gigabytes, and reading it to reuse the connection costs more.
 */
export function discardBody(body: Dispatcher.ResponseData['body']): void {
  body.on('error', ignoreError);
  body.destroy();
}

function ignoreError(): void {}

/** The first `limit` bytes of a response body; the rest is not read (an error page can be huge). */
export async function readBodyHead(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      discardBody(body);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit);
}

/** Longest a Retry-After is obeyed: a receiver asking for a day would otherwise stall a queue that long. */
export const RETRY_AFTER_CAP_MS = 5 * 60_000;

/**
 * The pause before a retry, shared by every exporter: the longer of the receiver's Retry-After and
 * the exporter's own backoff, at most max(maxBackoffMs, RETRY_AFTER_CAP_MS). The backoff is the floor
 * because `Retry-After: 0` (or a date in the past) taken literally turns a receiver that keeps
 * saying it into a tight loop of requests.
 */
export function retryDelayMs(retryAfterMs: number | undefined, backoffMs: number, maxBackoffMs: number): number {
  if (retryAfterMs === undefined || !(retryAfterMs > backoffMs)) return backoffMs;
  return Math.min(retryAfterMs, Math.max(maxBackoffMs, RETRY_AFTER_CAP_MS));
}
