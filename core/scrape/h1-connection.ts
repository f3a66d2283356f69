/**
 * One keep-alive HTTP/1.1 connection of the scraper, one GET at a time, on a plain `net` (or `tls`)
 * socket with a small response parser of our own. It replaces undici's Client on the scrape path for
 * CPU, measured in bench/many-targets.ts (the fetch-only baseline, 3,000 targets): a scrape's two small
 * GETs cost ~0.5 ms of CPU through undici (its llhttp in WebAssembly, a Request object, a body queue
 * and kWeak timers per request, a fresh Buffer per socket read); here a request is one string written,
 * and reads land in one buffer shared by every plain socket (`onread`), parsed where they land.
 *
 * What it speaks is what a scrape target answers: a status line, headers, then a body framed by
 * Content-Length, by chunked Transfer-Encoding, or by the connection's end; 1xx answers skipped. No
 * request body, no pipelining (the pool in origin-pool.ts waits for the answer before it sends the
 * next request), no redirects (a 3xx is the answer, as with undici's Client and Prometheus's scraper).
 *
 * Memory bound per connection: the response head is gathered in at most MAX_HEAD_BYTES (a target that
 * sends more, or dribbles it, fails the request: the size at once, the dribble at the caller's
 * deadline); a chunk-size line at most MAX_CHUNK_LINE_BYTES, trailers at most MAX_HEAD_BYTES. The body
 * is not kept here: each piece goes to the handler as it is read (`onData`), which bounds it
 * (core/scrape/http.ts: body_size_limit). Reads of plain sockets share one READ_BUFFER_BYTES buffer.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { TlsOptions } from '../httpclient.js';

/** Response head (status line and headers) bound; Node's and undici's default maxHeaderSize. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** A chunk-size line with its extensions; a real one is a few hex digits. */
export const MAX_CHUNK_LINE_BYTES = 1024;
/** One buffer that every plain socket reads into (libuv reads one socket at a time on this thread). */
const READ_BUFFER_BYTES = 64 * 1024;
const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

/**
 * What a request's owner is told, in this order: onConnect once it is on a connection (with the abort
 * that ends it), onHeaders, onData per piece (valid only during the call: copy what you keep),
 * onComplete; or onError instead, once. The method names are undici's dispatch handler's, so a handler
 * written for one serves the other.
 */
export interface ResponseHandler {
  onConnect?(abort: (err?: Error) => void): void;
  /** `headers`: names (lower case) and values, alternating. */
  onHeaders?(statusCode: number, headers: string[], resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: string[] | null): void;
  onError?(err: Error): void;
}

export interface H1Request {
  /** Path and query, as sent on the request line. */
  path: string;
  /** Extra header lines, each ending in CRLF (Host comes from the connection). */
  headerLines: string;
  handler: ResponseHandler;
  /** Already sent once on a reused connection that closed before any answer came (see `retryable`). */
  retried?: boolean;
}

/** A target that broke the protocol: the connection is closed, the request fails with this. */
export class HttpProtocolError extends Error {
  readonly code = 'ERR_SCRAPE_HTTP_PROTOCOL';
}

/** The connection ended before the answer did (the target closed it, or reset it). */
export class ConnectionClosedError extends Error {
  readonly code = 'ERR_SCRAPE_CONNECTION_CLOSED';
}

/** Where an origin is reached, parsed once per origin (not per request). */
export interface Endpoint {
  host: string;
  port: number;
  secure: boolean;
  /** The Host header's value: the origin's authority. */
  authority: string;
}

export function endpointOf(origin: string): Endpoint {
  const url = new URL(origin);
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') throw new TypeError(`unsupported scheme in ${origin}`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? (secure ? 443 : 80) : Number(url.port), secure, authority: url.host };
}

/** What the pool hears from its connections. */
export interface ConnectionOwner {
  /** The request on `conn` ended (answered, failed or aborted); `conn` may take another. */
  ended(conn: H1Connection): void;
  /** The socket closed; `conn` takes no request any more. */
  closed(conn: H1Connection): void;
  /** `req` was sent on a reused connection that closed before any byte of its answer: send it again elsewhere. */
  resend(req: H1Request): void;
}

const enum Phase {
  Head,
  Length,
  ChunkLine,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

/** For errors: what was too long. */
const PHASE_NAMES: Record<number, string> = { [Phase.Head]: 'response head', [Phase.Trailers]: 'trailers', [Phase.ChunkLine]: 'chunk-size line' };

export class H1Connection {
  private readonly socket: net.Socket;
  /** Between the socket's connect (or TLS handshake) and its close. */
  connected = false;
  /** Closed or closing: takes no request. */
  isClosed = false;
  /** Answers read to the end on this socket: a reused socket that closes unanswered may be retried. */
  answered = 0;
  /** performance.now() when its last request ended; a socket idle past `keepAliveMs` is not reused. */
  idleSince = 0;
  keepAliveMs: number;

  private req: H1Request | undefined;
  private sent = false;
  private aborted = false;
  /** Any byte of the current answer read (after it, a close is a failure, never a resend). */
  private gotBytes = false;
  private error: Error | undefined;

  private phase = Phase.Head;
  /** Head (or trailer, or chunk line) bytes carried over from an earlier read. */
  private pending: Buffer | undefined;
  private remaining = 0;
  private closeAfter = false;

  constructor(
    endpoint: Endpoint,
    tlsOptions: TlsOptions | undefined,
    keepAliveMs: number,
    private readonly owner: ConnectionOwner,
  ) {
    this.keepAliveMs = keepAliveMs;
    if (endpoint.secure) {
      const servername = tlsOptions?.servername ?? (net.isIP(endpoint.host) === 0 ? endpoint.host : undefined);
      const socket = tls.connect({ ...tlsOptions, host: endpoint.host, port: endpoint.port, servername, ALPNProtocols: ['http/1.1'] });
      socket.on('secureConnect', () => (this.connected = true));
      socket.on('data', (chunk: Buffer) => this.read(chunk, chunk.length));
      this.socket = socket;
    } else {
      this.socket = net.connect({
        host: endpoint.host,
        port: endpoint.port,
        onread: { buffer: readBuffer, callback: (n: number, buf: Uint8Array): boolean => {
          this.read(buf as Buffer, n);
          return true;
        },
        },
      });
      this.socket.on('connect', () => (this.connected = true));
    }
    this.socket.setNoDelay(true);
    this.socket.on('error', (err: Error) => {
      this.error ??= err;
    });
    this.socket.on('close', () => this.onClose());
    this.headPrefix = `Host: ${endpoint.authority}\r\n`;
  }

  private readonly headPrefix: string;

  get busy(): boolean {
    return this.req !== undefined;
  }

  /** Sends `req` (the socket buffers it until connected). The connection must not be busy. */
  send(req: H1Request): void {
    this.req = req;
    this.sent = false;
    this.aborted = false;
    this.gotBytes = false;
    this.phase = Phase.Head;
    this.pending = undefined;
    this.closeAfter = false;
    req.handler.onConnect?.(this.abort);
    if (this.req !== req) return; // aborted inside onConnect: never written
    this.sent = true;
    this.socket.write(`GET ${req.path} HTTP/1.1\r\n${this.headPrefix}${req.headerLines}\r\n`, 'latin1');
  }

  /** Ends the current request at its owner's wish: a written one closes the socket (its answer is not read). */
  private readonly abort = (): void => {
    if (this.req === undefined || this.aborted) return;
    if (!this.sent) {
      this.req = undefined;
      return;
    }
    this.aborted = true;
    this.destroy();
  };

  /** Closes the socket now (the pool drops an idle connection, or shuts down); 'close' follows. */
  destroy(): void {
    this.isClosed = true;
    this.connected = false;
    this.socket.destroy();
  }

  private read(buf: Buffer, n: number): void {
    if (this.isClosed) return;
    const req = this.req;
    if (req === undefined || this.aborted) {
      // Bytes with no request asking: the target broke the protocol, or answered an aborted request.
      this.destroy();
      return;
    }
    this.gotBytes = true;
    try {
      this.parse(buf, 0, n);
    } catch (err) {
      this.fail(err instanceof Error ? err : new HttpProtocolError(String(err)));
    }
  }

  /** Parses buf[at, end) of the current answer; whatever follows the answer's end is a protocol error. */
  private parse(buf: Buffer, at: number, end: number): void {
    while (at < end) {
      if (this.aborted || this.isClosed) return;
      const handler = this.req?.handler;
      if (handler === undefined) throw new HttpProtocolError('the target sent bytes after its answer');
      switch (this.phase) {
        case Phase.Head:
        case Phase.Trailers:
        case Phase.ChunkLine: {
          if (this.pending !== undefined) {
            // A head split over reads: join it (bounded by the phase's limit plus one read) and go on there.
            buf = Buffer.concat([this.pending, buf.subarray(at, end)]);
            at = 0;
            end = buf.length;
            this.pending = undefined;
          }
          const line = this.phase === Phase.ChunkLine;
          const max = line ? MAX_CHUNK_LINE_BYTES : MAX_HEAD_BYTES;
          // Trailers end with an empty line; with none it is the CRLF right here.
          const bare = this.phase === Phase.Trailers && end - at >= 2 && buf[at] === 0x0d && buf[at + 1] === 0x0a;
          const i = bare ? 0 : buf.subarray(at, Math.min(end, at + max + 4)).indexOf(line ? '\r\n' : '\r\n\r\n');
          if (i === -1) {
            if (end - at > max) throw new HttpProtocolError(`${PHASE_NAMES[this.phase]} over ${max} bytes`);
            // Copied: buf may be the shared read buffer.
            this.pending = Buffer.from(buf.subarray(at, end));
            return;
          }
          const blockEnd = at + i + (bare || line ? 2 : 4);
          if (blockEnd - at > max) throw new HttpProtocolError(`${PHASE_NAMES[this.phase]} over ${max} bytes`);
          const text = buf.toString('latin1', at, blockEnd);
          at = blockEnd;
          if (this.phase === Phase.Trailers) this.finish();
          else if (this.phase === Phase.Head) this.head(text, handler);
          else this.chunkSize(text);
          break;
        }
        case Phase.Length:
        case Phase.ChunkData: {
          const take = Math.min(this.remaining, end - at);
          handler.onData?.(buf.subarray(at, at + take));
          at += take;
          this.remaining -= take;
          if (this.remaining > 0 || this.req === undefined || this.aborted) break;
          if (this.phase === Phase.Length) this.finish();
          else {
            this.phase = Phase.ChunkEnd;
            this.remaining = 2;
          }
          break;
        }
        case Phase.ChunkEnd: {
          // The CRLF after a chunk's data.
          if (buf[at] !== (this.remaining === 2 ? 0x0d : 0x0a)) throw new HttpProtocolError('chunk data not followed by CRLF');
          at++;
          if (--this.remaining === 0) this.phase = Phase.ChunkLine;
          break;
        }
        case Phase.UntilClose:
          handler.onData?.(buf.subarray(at, end));
          at = end;
          break;
      }
    }
  }

  private chunkSize(line: string): void {
    const semi = line.indexOf(';');
    const hex = (semi === -1 ? line.slice(0, -2) : line.slice(0, semi)).trim();
    // 12 hex digits: 256 TiB, past any body_size_limit, within a double's exact integers.
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new HttpProtocolError(`bad chunk size ${JSON.stringify(hex.slice(0, 20))}`);
    this.remaining = parseInt(hex, 16);
    this.phase = this.remaining === 0 ? Phase.Trailers : Phase.ChunkData;
  }

  /** Reads a response head and chooses how its body is framed. */
  private head(text: string, handler: ResponseHandler): void {
    const lines = text.split('\r\n');
    const statusLine = lines[0];
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(statusLine);
    if (m === null) throw new HttpProtocolError(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 60))}`);
    const status = Number(m[2]);
    let keepAlive = m[1] === '1';
    let length = -1;
    let chunked = false;
    const headers: string[] = [];
    // lines ends with two empty strings (the head's CRLFCRLF).
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i];
      if (l === '') continue;
      const colon = l.indexOf(':');
      if (colon <= 0) throw new HttpProtocolError(`bad header line ${JSON.stringify(l.slice(0, 60))}`);
      const name = l.slice(0, colon).trim().toLowerCase();
      const value = l.slice(colon + 1).trim();
      headers.push(name, value);
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== -1 && Number(value) !== length)) throw new HttpProtocolError(`bad Content-Length ${JSON.stringify(value.slice(0, 20))}`);
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        chunked = value.toLowerCase().split(',').pop()!.trim() === 'chunked';
        if (!chunked) keepAlive = false; // framed by the connection's end
      } else if (name === 'connection') {
        const v = value.toLowerCase();
        if (v.includes('close')) keepAlive = false;
        else if (v.includes('keep-alive')) keepAlive = true;
      } else if (name === 'keep-alive') {
        // The target's own idle timeout (Node's servers send `timeout=5`): stop reusing a second before it.
        const t = /timeout=(\d+)/i.exec(value);
        if (t !== null) this.keepAliveMs = Math.min(this.keepAliveMs, Math.max(0, Number(t[1]) * 1000 - 1000));
      }
    }
    if (status >= 100 && status < 200) {
      // 100 Continue, 103 Early Hints: the answer proper follows.
      this.phase = Phase.Head;
      return;
    }
    this.closeAfter = !keepAlive || (chunked && length !== -1);
    handler.onHeaders?.(status, headers, noop, m[3] ?? '');
    if (this.req === undefined || this.aborted) return;
    if (status === 204 || status === 304) this.finish();
    else if (chunked) this.phase = Phase.ChunkLine;
    else if (length === 0) this.finish();
    else if (length > 0) {
      this.phase = Phase.Length;
      this.remaining = length;
    } else {
      this.phase = Phase.UntilClose;
      this.closeAfter = true;
    }
  }

  /** The answer was read to its end. */
  private finish(): void {
    const req = this.req!;
    this.req = undefined;
    this.answered++;
    this.phase = Phase.Head;
    this.idleSince = performance.now();
    if (this.closeAfter) this.destroy();
    req.handler.onComplete?.(null);
    this.owner.ended(this);
  }

  private fail(err: Error): void {
    const req = this.req;
    this.req = undefined;
    this.destroy();
    if (req !== undefined && !this.aborted) req.handler.onError?.(err);
    if (req !== undefined) this.owner.ended(this);
  }

  private onClose(): void {
    this.isClosed = true;
    this.connected = false;
    const req = this.req;
    if (req !== undefined) {
      this.req = undefined;
      if (this.aborted) {
        this.owner.ended(this);
      } else if (this.phase === Phase.UntilClose && this.error === undefined) {
        this.req = req;
        this.finish();
      } else if (!this.gotBytes && this.answered > 0 && req.retried !== true) {
        // A kept-alive socket the target closed as the request went out (its idle timeout): the
        // request was not seen, a GET may go again, once, on a fresh connection.
        req.retried = true;
        this.owner.ended(this);
        this.owner.resend(req);
      } else {
        req.handler.onError?.(this.error ?? new ConnectionClosedError(this.gotBytes ? 'the target closed the connection before its answer ended' : 'the target closed the connection without an answer'));
        this.owner.ended(this);
      }
    }
    this.owner.closed(this);
  }
}

function noop(): void {}
