/**
 * The connections of HttpScraper: per origin (a target), up to `connections` undici Clients, each one
 * request at a time, and a plain array of the requests that wait for one. It replaces undici's Agent
 * (one Pool per origin) for a memory reason measured in bench/many-targets.ts: a Pool allocates its
 * wait queue (a FixedQueue, a 2,048-slot array) when it is made, 16 KiB per origin whether anything
 * ever waits or not, 47 MiB of the daemon's 185 MiB of live heap at 3,000 targets; and an Agent never
 * drops an origin's Pool, so targets that file_sd adds and removes leave theirs behind for good.
 *
 * Here an origin costs its Clients (~2.2 KiB each; one request each at a time, a free connected one
 * preferred) and a wait array that exists only while something waits. A request that finds every
 * Client of its origin busy waits up to GROW_AFTER_MS for one before another is opened: the index page
 * and /debug/vars of one scrape, asked at once, answer in about a millisecond, so they share one
 * socket instead of opening two (3,000 sockets fewer at 3,000 targets, each ~7 KiB of heap with its
 * Client, parser and stream state, and a file descriptor); a slow request (a CPU window, a large
 * profile) delays the others by GROW_AFTER_MS at most, once. A Client whose connection closed while it
 * had nothing to do (keep-alive timeout, the target gone) is closed and dropped; an origin with no
 * Client left is dropped. So the memory follows the targets with open connections, at most
 * `connections` Clients each, not every origin ever scraped.
 *
 * Memory bound of the wait arrays: requests wait only past `connections` at once to one origin. The
 * receivers ask a target for each of its sources at most once at a time (a scrape loop never overlaps
 * itself) plus one CPU window: pprof at most 10 sources + 1, the prometheus receiver 1, so at most
 * 7 wait per origin at the default of 4 connections.
 */
import { Client, type Dispatcher } from 'undici';

/**
 * How long requests wait for a busy Client of their origin before one more is opened (ms). A loopback
 * or LAN answer of a Go target's index page or expvar takes 1-5 ms; 50 ms is well inside a scrape's
 * 10 s deadline and never delays a scrape's start (scrape lag), only, at most, the end of a scrape
 * whose other request is slow.
 */
export const GROW_AFTER_MS = 50;

export interface OriginPoolsOptions {
  /** Clients (so sockets) per origin at most; >= 1. */
  connections: number;
  /** Idle keep-alive socket lifetime (ms), as undici's keepAliveTimeout. */
  keepAliveTimeout: number;
  /** undici's connector (TLS options, the TLS error tracker). */
  connect: Client.Options['connect'];
  /** Wait for a busy Client this long before opening another (ms); default GROW_AFTER_MS (tests set it). */
  growAfterMs?: number;
}

interface Waiting {
  opts: Dispatcher.DispatchOptions;
  handler: Dispatcher.DispatchHandlers;
}

/** One Client and what the pool knows of it (undici keeps its own state behind symbols). */
interface Conn {
  readonly client: Client;
  /**
   * Its request is running (sent, or queued inside the Client). Told by the request's own end
   * (Tracked), not by the Client's 'drain' event: that comes a microtask after the answer, so a
   * request sent right after another (a fallback source) found the Client busy and opened a socket more.
   */
  busy: boolean;
  /** Between its 'connect' and 'disconnect'. */
  connected: boolean;
}

/**
 * A request's handler as the Client sees it: passes every call on, and on the request's end (answer or
 * error, once) tells the pool that its Client is free. One small object per request, beside undici's own.
 */
class Tracked implements Dispatcher.DispatchHandlers {
  private ended = false;

  constructor(
    private readonly pool: OriginPool,
    private readonly conn: Conn,
    private readonly inner: Dispatcher.DispatchHandlers,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.inner.onConnect?.(abort);
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    return this.inner.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.inner.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.inner.onComplete?.(trailers);
    this.end();
  }

  onError(err: Error): void {
    this.inner.onError?.(err);
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.pool.ended(this.conn);
  }
}

class OriginPool {
  private readonly conns: Conn[] = [];
  /** Requests waiting for a free Client; made on the first wait, dropped when empty. */
  private waiting: Waiting[] | undefined;
  private closing = false;
  /** Set while requests wait and another Client may be opened: opens it after GROW_AFTER_MS. */
  private growTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly origin: string,
    private readonly options: OriginPoolsOptions,
    /** Called once the pool has no Client left and nothing waiting: the owner forgets it. */
    private readonly onEmpty: (origin: string, pool: OriginPool) => void,
  ) {}

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): void {
    const conn = this.closing ? undefined : this.free();
    if (conn !== undefined) {
      this.send(conn, opts, handler);
      return;
    }
    (this.waiting ??= []).push({ opts, handler });
    this.armGrow();
  }

  /** A Client that takes a request now: a connected one first, then an idle one, then the first one. */
  private free(): Conn | undefined {
    let idle: Conn | undefined;
    for (const c of this.conns) {
      if (c.busy) continue;
      if (c.connected) return c;
      idle ??= c;
    }
    if (idle !== undefined || this.conns.length > 0) return idle;
    return this.add();
  }

  /** Opens one more Client after GROW_AFTER_MS if requests still wait then (and the bound allows). */
  private armGrow(): void {
    if (this.growTimer !== undefined || this.closing || this.conns.length >= this.options.connections) return;
    this.growTimer = setTimeout(() => {
      this.growTimer = undefined;
      const waiting = this.waiting;
      if (waiting === undefined || this.closing || this.conns.length >= this.options.connections) return;
      const w = waiting.shift()!;
      if (waiting.length === 0) this.waiting = undefined;
      this.send(this.add(), w.opts, w.handler);
      if (this.waiting !== undefined) this.armGrow();
    }, this.options.growAfterMs ?? GROW_AFTER_MS);
  }

  private add(): Conn {
    const client = new Client(this.origin, { keepAliveTimeout: this.options.keepAliveTimeout, connect: this.options.connect });
    const conn: Conn = { client, busy: false, connected: false };
    client.on('connect', () => {
      conn.connected = true;
    });
    client.on('disconnect', () => {
      conn.connected = false;
      if (!conn.busy) this.drop(conn);
    });
    this.conns.push(conn);
    return conn;
  }

  private send(conn: Conn, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): void {
    conn.busy = true;
    conn.client.dispatch(opts, new Tracked(this, conn, handler));
  }

  /**
   * A request on `conn` ended: the next waiting one goes to it (in a microtask: not from inside
   * undici's callback); with none waiting, a Client whose connection has closed goes.
   */
  ended(conn: Conn): void {
    conn.busy = false;
    if (this.waiting !== undefined) {
      queueMicrotask(() => this.next());
      return;
    }
    if (!conn.connected) this.drop(conn);
  }

  private next(): void {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    while (waiting.length > 0 && !this.closing) {
      const conn = this.free();
      if (conn === undefined) return;
      const w = waiting.shift()!;
      this.send(conn, w.opts, w.handler);
    }
    if (waiting.length === 0) {
      this.waiting = undefined;
      clearTimeout(this.growTimer);
      this.growTimer = undefined;
    }
    for (const c of [...this.conns]) if (!c.busy && !c.connected) this.drop(c);
  }

  /** Closes and forgets a Client with nothing to do (a new one is made when needed). */
  private drop(conn: Conn): void {
    if (this.waiting !== undefined) return; // requests wait: it will take them
    const at = this.conns.indexOf(conn);
    if (at === -1) return;
    this.conns.splice(at, 1);
    conn.client.close().catch(() => undefined);
    if (this.conns.length === 0) this.onEmpty(this.origin, this);
  }

  /** Fails what waits (it was never sent) and closes every Client once its requests are done. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.growTimer);
    this.growTimer = undefined;
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    for (const w of waiting) w.handler.onError?.(new Error('client closed'));
    await Promise.all(this.conns.splice(0).map((c) => c.client.close().catch(() => undefined)));
  }

  /** For tests: Clients held now. */
  get clients(): number {
    return this.conns.length;
  }
}

/** The per-origin pools of one HttpScraper (one scrape config): dispatch and close, as undici's Agent. */
export class OriginPools {
  private readonly pools = new Map<string, OriginPool>();
  private closed = false;
  private readonly forget = (origin: string, pool: OriginPool): void => {
    if (this.pools.get(origin) === pool) this.pools.delete(origin);
  };

  constructor(private readonly options: OriginPoolsOptions) {
    if (!(Number.isInteger(options.connections) && options.connections >= 1)) throw new RangeError(`connections must be an integer >= 1, got ${options.connections}`);
  }

  /** Sends one request to `opts.origin` (a string: `http://host:port`). */
  dispatch(opts: Dispatcher.DispatchOptions & { origin: string }, handler: Dispatcher.DispatchHandlers): void {
    if (this.closed) {
      handler.onError?.(new Error('client closed'));
      return;
    }
    let pool = this.pools.get(opts.origin);
    if (pool === undefined) this.pools.set(opts.origin, (pool = new OriginPool(opts.origin, this.options, this.forget)));
    pool.dispatch(opts, handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  /** For tests and the benchmark: origins held, and Clients over all of them. */
  stats(): { origins: number; clients: number } {
    let clients = 0;
    for (const p of this.pools.values()) clients += p.clients;
    return { origins: this.pools.size, clients };
  }
}
