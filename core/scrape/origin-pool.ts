/**
 * The connections of HttpScraper: per origin (a target), up to `connections` H1Connections
 * (h1-connection.ts), each one request at a time, and a plain array of the requests that wait for one.
 * It took the place of undici's Agent (one Pool per origin) for memory, measured in
 * bench/many-targets.ts: a Pool allocates a 2,048-slot wait queue when it is made (16 KiB per origin,
 * 47 MiB of the daemon's 185 MiB of live heap at 3,000 targets), and an Agent never drops an origin's
 * Pool, so targets that file_sd adds and removes leave theirs behind for good.
 *
 * Here an origin costs its connections (one request each at a time, a connected one preferred) and a
 * wait array that exists only while something waits. A request that finds every connection of its
 * origin busy waits up to GROW_AFTER_MS for one before another is opened: the index page and
 * /debug/vars of one scrape, asked at once, answer in about a millisecond, so they share one socket
 * instead of opening two (3,000 sockets and file descriptors fewer at 3,000 targets); a slow request
 * (a CPU window, a large profile) delays the others by GROW_AFTER_MS at most, once. A connection that
 * closed (keep-alive timeout, the target gone) is dropped, and an origin with none left. So the memory
 * follows the targets with open connections, at most `connections` each, not every origin ever scraped.
 *
 * Memory bound of the wait arrays: requests wait only past `connections` at once to one origin. The
 * receivers ask a target for each of its sources at most once at a time (a scrape loop never overlaps
 * itself) plus one CPU window: pprof at most 10 sources + 1, the prometheus receiver 1, so at most
 * 7 wait per origin at the default of 4 connections.
 */
import type { TlsOptions } from '../httpclient.js';
import { endpointOf, H1Connection, type ConnectionOwner, type Endpoint, type H1Request, type ResponseHandler } from './h1-connection.js';

/**
 * How long requests wait for a busy connection of their origin before one more is opened (ms). A loopback
 * or LAN answer of a Go target's index page or expvar takes 1-5 ms; 50 ms is well inside a scrape's
 * 10 s deadline and never delays a scrape's start (scrape lag), only, at most, the end of a scrape
 * whose other request is slow.
 */
export const GROW_AFTER_MS = 50;

export interface OriginPoolsOptions {
  /** Connections (so sockets) per origin at most; >= 1. */
  connections: number;
  /** An idle keep-alive socket is not reused after this long (ms); a target's `Keep-Alive: timeout` shortens it. */
  keepAliveTimeout: number;
  /** TLS options for https origins. */
  tls?: TlsOptions;
  /** Wait for a busy connection this long before opening another (ms); default GROW_AFTER_MS (tests set it). */
  growAfterMs?: number;
}

/** What HttpScraper asks for: one GET. */
export interface GetOptions {
  /** `http://host:port` or `https://host:port`. */
  origin: string;
  path: string;
  /** Extra request headers (Host is the origin's). */
  headers?: Record<string, string>;
}

/** Idle connections past their keep-alive are closed by a sweep this often (ms), so their fds go. */
const SWEEP_MS = 5_000;

class OriginPool implements ConnectionOwner {
  private readonly conns: H1Connection[] = [];
  /** Requests waiting for a free connection; made on the first wait, dropped when empty. */
  private waiting: H1Request[] | undefined;
  private closing = false;
  /** Set while requests wait and another connection may be opened: opens it after GROW_AFTER_MS. */
  private growTimer: NodeJS.Timeout | undefined;
  private readonly endpoint: Endpoint;

  constructor(
    private readonly origin: string,
    private readonly options: OriginPoolsOptions,
    /** Called once the pool has no connection left and nothing waiting: the owner forgets it. */
    private readonly onEmpty: (origin: string, pool: OriginPool) => void,
  ) {
    this.endpoint = endpointOf(origin);
  }

  dispatch(req: H1Request): void {
    const conn = this.closing ? undefined : this.free();
    if (conn !== undefined) {
      conn.send(req);
      return;
    }
    (this.waiting ??= []).push(req);
    this.armGrow();
  }

  /**
   * A connection that takes a request now: a connected one first, then one still connecting, then a new
   * one while there is none. One idle past its keep-alive is closed on the way (the target may close it
   * as the request goes out).
   */
  private free(): H1Connection | undefined {
    let connecting: H1Connection | undefined;
    const now = performance.now();
    for (const c of this.conns) {
      if (c.busy || c.isClosed) continue;
      if (c.connected) {
        if (c.answered > 0 && now - c.idleSince > c.keepAliveMs) {
          c.destroy();
          continue;
        }
        return c;
      }
      connecting ??= c;
    }
    if (connecting !== undefined) return connecting;
    if (this.conns.some((c) => !c.isClosed)) return undefined;
    return this.add();
  }

  /** Opens one more connection after GROW_AFTER_MS if requests still wait then (and the bound allows). */
  private armGrow(): void {
    if (this.growTimer !== undefined || this.closing || this.conns.length >= this.options.connections) return;
    this.growTimer = setTimeout(() => {
      this.growTimer = undefined;
      const waiting = this.waiting;
      if (waiting === undefined || this.closing || this.conns.length >= this.options.connections) return;
      const req = waiting.shift()!;
      if (waiting.length === 0) this.waiting = undefined;
      this.add().send(req);
      if (this.waiting !== undefined) this.armGrow();
    }, this.options.growAfterMs ?? GROW_AFTER_MS);
  }

  private add(): H1Connection {
    const conn = new H1Connection(this.endpoint, this.options.tls, this.options.keepAliveTimeout, this);
    this.conns.push(conn);
    return conn;
  }

  /** A request on `conn` ended: the next waiting one goes to it (in a microtask: not from inside its callbacks). */
  ended(_conn: H1Connection): void {
    if (this.waiting !== undefined) queueMicrotask(() => this.next());
  }

  resend(req: H1Request): void {
    if (this.closing) {
      req.handler.onError?.(new Error('client closed'));
      return;
    }
    (this.waiting ??= []).unshift(req);
    queueMicrotask(() => this.next());
  }

  /** Its socket closed: forgotten (a new connection is made when needed). */
  closed(conn: H1Connection): void {
    const at = this.conns.indexOf(conn);
    if (at !== -1) this.conns.splice(at, 1);
    if (this.waiting !== undefined) {
      queueMicrotask(() => this.next());
      return;
    }
    if (this.conns.length === 0) this.onEmpty(this.origin, this);
  }

  private next(): void {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    while (waiting.length > 0 && !this.closing) {
      const conn = this.free();
      if (conn === undefined) return;
      conn.send(waiting.shift()!);
    }
    if (waiting.length === 0) {
      this.waiting = undefined;
      clearTimeout(this.growTimer);
      this.growTimer = undefined;
      if (this.conns.length === 0) this.onEmpty(this.origin, this);
    }
  }

  /** Closes connections idle past their keep-alive (called by the owner's sweep). */
  sweep(now: number): void {
    for (const c of this.conns) if (!c.busy && !c.isClosed && c.answered > 0 && now - c.idleSince > c.keepAliveMs) c.destroy();
  }

  /** Fails what waits (it was never sent) and closes every connection once its request is done. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.growTimer);
    this.growTimer = undefined;
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    for (const req of waiting) req.handler.onError?.(new Error('client closed'));
    for (const c of this.conns) if (!c.busy) c.destroy();
    while (this.conns.some((c) => c.busy)) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const c of this.conns) c.destroy();
  }

  /** For tests: connections held now. */
  get clients(): number {
    return this.conns.length;
  }
}

/** The per-origin pools of one HttpScraper (one scrape config). */
export class OriginPools {
  private readonly pools = new Map<string, OriginPool>();
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;
  private readonly forget = (origin: string, pool: OriginPool): void => {
    if (this.pools.get(origin) === pool) this.pools.delete(origin);
  };

  constructor(private readonly options: OriginPoolsOptions) {
    if (!(Number.isInteger(options.connections) && options.connections >= 1)) throw new RangeError(`connections must be an integer >= 1, got ${options.connections}`);
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const p of this.pools.values()) p.sweep(now);
    }, SWEEP_MS).unref();
  }

  /** Sends one GET to `opts.origin`; `handler` hears its answer (see ResponseHandler). */
  dispatch(opts: GetOptions, handler: ResponseHandler): void {
    if (this.closed) {
      handler.onError?.(new Error('client closed'));
      return;
    }
    let pool = this.pools.get(opts.origin);
    if (pool === undefined) {
      try {
        pool = new OriginPool(opts.origin, this.options, this.forget);
      } catch (err) {
        handler.onError?.(err as Error);
        return;
      }
      this.pools.set(opts.origin, pool);
    }
    let headerLines = '';
    if (opts.headers !== undefined) for (const name in opts.headers) headerLines += `${name}: ${opts.headers[name]}\r\n`;
    pool.dispatch({ path: opts.path, headerLines, handler });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  /** For tests and the benchmark: origins held, and connections over all of them. */
  stats(): { origins: number; clients: number } {
    let clients = 0;
    for (const p of this.pools.values()) clients += p.clients;
    return { origins: this.pools.size, clients };
  }
}
