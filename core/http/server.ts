/**
 * An HTTP server that one client cannot exhaust: the listener of the remote-write receiver and of the
 * telemetry endpoints. node:http does the header and idle timeouts itself (it answers 408 to a client
 * that takes longer than `header_timeout` to send its headers); what it lacks is done here:
 *
 * - Node checks `headersTimeout` only every `connectionsCheckingInterval` (default 30s); here every
 *   500ms, so a timeout holds within 1s of its setting.
 * - `max_connections` with eviction instead of refusal. Node's `maxConnections` drops the newest
 *   socket, so 200 slow sockets lock out every real sender for as long as they dribble. Here a new
 *   connection over the limit closes the connection that has waited longest (over a second) without
 *   a request in progress (idle keep-alive, or headers still arriving), else the one whose body has
 *   been arriving longest; a request whose body has fully arrived is never cut. A slow client thus
 *   holds a socket only until a newer one needs it, and a sender that sends its request at once gets in.
 * - The body timeout (`readRequestBody` in body.ts) counts from the end of the headers; node's own
 *   `requestTimeout` stays as a backstop a little above header_timeout + body_timeout.
 * - TLS and basic auth (security.ts, basicauth.ts), the same for every listener: with
 *   `basic_auth_users` a request is handed to the listener's handler only once its credentials have
 *   been checked; without valid ones it is answered 401 with `WWW-Authenticate: Basic` and its body
 *   is never read by pprofcol (node drains it, within the request timeout, to keep the connection).
 *   A client sending `Expect: 100-continue` gets its 100 only once its credentials pass.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { errorMessage, PprofcolError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Telemetry } from '../telemetry/metrics.js';
import { BasicAuthGuard, type AuthVerdict } from './basicauth.js';
import type { ListenerLimits } from './limits.js';
import { listenerMetrics, type ListenerMetrics } from './metrics.js';
import { clientCertRefusal, loadServerCredentials, serverTlsPolicy, type ListenerSecurity } from './security.js';

/** How often node looks for connections past header_timeout; well inside the 1s a timeout may be late. */
const TIMEOUT_CHECK_INTERVAL_MS = 500;
/** node's requestTimeout sits this far behind our own body timer, so ours answers first. */
const REQUEST_TIMEOUT_BACKSTOP_MS = 2_000;
/** Node 20 keeps an idle keep-alive socket this much longer than keepAliveTimeout (measured: 2s -> 3.0s, 5s -> 6.0s). */
const NODE_KEEP_ALIVE_SLACK_MS = 1_000;
/**
 * A connection is evicted only once it has waited (or its body has been arriving) this long: younger
 * ones are not slow yet, and a flood of new connections would otherwise cut each other's requests,
 * and real senders' with them, before they could be read. With none old enough the new one is refused.
 */
const EVICTABLE_AFTER_MS = 1_000;
/** An evicted connection whose owner did not answer within this long is destroyed. */
const EVICTION_GRACE_MS = 1_000;
/** Refused credentials are logged at most this often per listener and reason (each is counted). */
const AUTH_LOG_INTERVAL_MS = 60_000;
/** Node's TLS error codes that mean the client's certificate: absent where required, or not verified. */
const CLIENT_CERT_ERROR = /CERT|PEER_DID_NOT_RETURN/;

/** Thrown by listen() when a tls_server_config file cannot be read or used. */
export class ListenerTlsError extends PprofcolError {
  constructor(message: string, cause: unknown) {
    super('ERR_LISTENER_TLS', message, { cause });
    this.name = 'ListenerTlsError';
  }
}

interface Connection {
  readonly socket: Socket;
  /** The request in progress, until its answer is sent. */
  request: http.IncomingMessage | undefined;
  /** When the connection opened, or when its last answer went out. */
  since: number;
  /** socket.bytesRead at `since`: more than that means a request has started arriving. */
  bytesAtRest: number;
  /** Aborted when the connection is evicted while its request's body arrives. */
  eviction: AbortController | undefined;
  /** The TLS socket over `socket`, once its handshake is done (TLS listeners). */
  tls: TLSSocket | undefined;
}

export interface GuardedServerOptions {
  /** Names the listener in pprofcol's own metrics: a receiver's id, or `telemetry`. */
  listener: string;
  limits: ListenerLimits;
  telemetry: Telemetry;
  /** Told once when the listener fills up (first eviction or refusal) and once when it has room again. */
  logger?: Logger;
  /** tls_server_config and basic_auth_users; absent or empty: plain HTTP, anyone may ask. */
  security?: ListenerSecurity;
  /** Folder relative tls_server_config paths resolve against (the config file's). */
  configDir?: string;
}

export class GuardedServer {
  readonly server: http.Server | https.Server;
  private readonly open = new Set<Connection>();
  private readonly bySocket = new WeakMap<Socket, Connection>();
  /** TLS: raw connections by peer address, to find a TLS socket's own (the same address and port). */
  private readonly byPeer = new Map<string, Connection>();
  private readonly metrics: ListenerMetrics;
  private readonly auth: BasicAuthGuard | undefined;
  /** When each refusal reason was last logged. */
  private readonly authLogged = new Map<string, number>();
  /** Between the first eviction or refusal and the count falling below half of max_connections. */
  private full = false;

  constructor(
    private readonly handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
    private readonly options: GuardedServerOptions,
  ) {
    const { limits } = options;
    this.metrics = listenerMetrics(options.telemetry);
    const users = options.security?.basic_auth_users;
    this.auth = users !== undefined && Object.keys(users).length > 0 ? new BasicAuthGuard(users) : undefined;
    const httpOptions: http.ServerOptions = {
      headersTimeout: limits.header_timeout,
      requestTimeout: limits.header_timeout + limits.body_timeout + REQUEST_TIMEOUT_BACKSTOP_MS,
      keepAliveTimeout: Math.max(1, limits.idle_timeout - NODE_KEEP_ALIVE_SLACK_MS),
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    };
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      // A request on a socket that was refused or evicted has had its 503: it is not handled.
      if (this.requestStarted(req, res)) this.authenticate(req, res);
    };
    const tls = options.security?.tls_server_config;
    if (tls === undefined) this.server = http.createServer(httpOptions, onRequest);
    else {
      // Certificate and key come in listen() (setSecureContext): reading files is asynchronous.
      const server = https.createServer({ ...httpOptions, ...serverTlsPolicy(tls) }, onRequest);
      server.on('secureConnection', (socket: TLSSocket) => this.secured(socket, tls.client_auth_type));
      server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
        // A certificate that did not verify under RequireAndVerifyClientCert is not an error to node:
        // the handshake completes, node sets authorizationError and destroys the socket, and the close
        // comes here as ECONNRESET "socket hang up". Only a missing certificate fails inside the handshake.
        const certRefused = socket?.authorizationError !== undefined && socket.authorizationError !== null;
        const reason = certRefused || CLIENT_CERT_ERROR.test(err.code ?? '') ? 'client_cert' : 'tls_handshake';
        const detail = certRefused ? `client certificate not verified: ${String(socket.authorizationError)}` : errorMessage(err);
        this.authFailed(reason, socket?.remoteAddress, detail);
      });
      this.server = server;
    }
    // Expect: 100-continue: node would answer 100 Continue before 'request' fires, inviting a client
    // the credentials will refuse to send its body. With this listener node leaves it to us: 100 only
    // once the credentials pass; a refused one gets its 401 without its body being asked for.
    this.server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (this.requestStarted(req, res)) this.authenticate(req, res, true);
    });
    this.server.on('connection', (socket: Socket) => this.admit(socket));
  }

  private get isTls(): boolean {
    return this.options.security?.tls_server_config !== undefined;
  }

  /**
   * Hands the request on once its credentials pass; else answers 401 (or 503 when checks are full).
   * `expectsContinue`: the client waits for 100 Continue before its body, sent only once they pass.
   */
  private authenticate(req: http.IncomingMessage, res: http.ServerResponse, expectsContinue = false): void {
    if (this.auth === undefined) return this.handOn(req, res, expectsContinue);
    const verdict = this.auth.check(req.headers.authorization);
    if (typeof verdict === 'string') return this.afterCheck(verdict, req, res, expectsContinue);
    // check() never rejects; what can throw is the handler afterCheck calls, and a throw in a promise
    // callback would be an unhandled rejection (which ends the process on Node 20): caught here.
    verdict.then((v) => this.afterCheck(v, req, res, expectsContinue)).catch((err: unknown) => this.handlerFailed(err, res));
  }

  private afterCheck(verdict: AuthVerdict, req: http.IncomingMessage, res: http.ServerResponse, expectsContinue: boolean): void {
    if (verdict === 'ok') return this.handOn(req, res, expectsContinue);
    if (res.destroyed) return;
    this.authFailed(verdict, req.socket.remoteAddress);
    // The body is not read here: node drains what the client still sends (bounded by the request
    // timeout) so the answer reaches it and not a reset, and the connection may serve its next request.
    // A client waiting for 100 Continue sends no body: its connection closes after the answer, since
    // node could not tell whether a body, or the next request, comes next.
    const close: http.OutgoingHttpHeaders = expectsContinue ? { connection: 'close' } : {};
    if (verdict === 'busy') {
      res.writeHead(503, { ...close, 'retry-after': '1', 'content-type': 'text/plain; charset=utf-8' }).end('too many credential checks at once; retry later\n');
    } else {
      res.writeHead(401, { ...close, 'www-authenticate': 'Basic realm="pprofcol"', 'content-type': 'text/plain; charset=utf-8' }).end('Unauthorized\n');
    }
  }

  /** The listener's handler, with 100 Continue first when the client waits for it; a throw is answered 500, never a crash. */
  private handOn(req: http.IncomingMessage, res: http.ServerResponse, expectsContinue: boolean): void {
    try {
      if (expectsContinue) res.writeContinue();
      this.handler(req, res);
    } catch (err) {
      this.handlerFailed(err, res);
    }
  }

  private handlerFailed(err: unknown, res: http.ServerResponse): void {
    this.options.logger?.error({ listener: this.options.listener, err: errorMessage(err) }, 'handling a request failed (answered 500)');
    if (res.headersSent || res.destroyed) res.destroy();
    else res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('internal error\n');
  }

  /** Counts a refusal and logs it, at most once a minute per reason: a guessing client must not flood the log. */
  private authFailed(reason: string, remote: string | undefined, detail?: string): void {
    this.metrics.authFailures.inc({ listener: this.options.listener, reason });
    const now = performance.now();
    const last = this.authLogged.get(reason);
    if (last !== undefined && now - last < AUTH_LOG_INTERVAL_MS) return;
    this.authLogged.set(reason, now);
    this.options.logger?.warn(
      { listener: this.options.listener, reason, remote, detail },
      'refused a client for its credentials (counted in pprofcol_http_auth_failures_total; logged at most once a minute per reason)',
    );
  }

  /** A TLS handshake is done: the connection learns its TLS socket, and the client certificate policy is applied. */
  private secured(socket: TLSSocket, type: Parameters<typeof clientCertRefusal>[0]): void {
    const conn = this.byPeer.get(peerKey(socket));
    if (conn !== undefined) {
      conn.tls = socket;
      conn.bytesAtRest = conn.socket.bytesRead;
      this.bySocket.set(socket, conn);
    }
    const refusal = clientCertRefusal(type, socket);
    if (refusal !== undefined) {
      this.authFailed('client_cert', socket.remoteAddress, refusal);
      socket.destroy();
    }
  }

  /** Aborts when this request's connection is evicted before its body has arrived; pass it to readRequestBody. */
  evictionSignal(req: http.IncomingMessage): AbortSignal | undefined {
    return this.bySocket.get(req.socket)?.eviction?.signal;
  }

  /** Open connections (for tests and the status page). */
  get connectionCount(): number {
    return this.open.size;
  }

  private admit(socket: Socket): void {
    if (this.open.size >= this.options.limits.max_connections && !this.full) {
      this.full = true;
      this.options.logger?.warn(
        { listener: this.options.listener, max_connections: this.options.limits.max_connections, remote: socket.remoteAddress },
        'max_connections reached: closing the longest-waiting connections to make room (counted in pprofcol_http_connections_closed_total)',
      );
    }
    if (this.open.size >= this.options.limits.max_connections && !this.evictOne()) {
      this.metrics.closed.inc({ listener: this.options.listener, reason: 'refused' });
      // Before its handshake a TLS client cannot read an answer: it only sees the connection close.
      if (this.isTls) socket.destroy();
      else closeWithAnswer(socket);
      return;
    }
    const conn: Connection = { socket, request: undefined, since: performance.now(), bytesAtRest: 0, eviction: undefined, tls: undefined };
    this.open.add(conn);
    this.bySocket.set(socket, conn);
    const peer = this.isTls ? peerKey(socket) : undefined;
    if (peer !== undefined) this.byPeer.set(peer, conn);
    this.metrics.connections.set({ listener: this.options.listener }, this.open.size);
    socket.once('close', () => {
      if (peer !== undefined && this.byPeer.get(peer) === conn) this.byPeer.delete(peer);
      this.open.delete(conn);
      this.metrics.connections.set({ listener: this.options.listener }, this.open.size);
      if (this.full && this.open.size < this.options.limits.max_connections / 2) {
        this.full = false;
        this.options.logger?.info({ listener: this.options.listener, connections: this.open.size }, 'listener has room again');
      }
    });
  }

  private requestStarted(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const conn = this.bySocket.get(req.socket);
    // Destroyed: refused for its client certificate after a TLS 1.3 handshake, its request already parsed.
    if (conn === undefined || !this.open.has(conn) || req.socket.destroyed) return false;
    conn.request = req;
    conn.eviction = new AbortController();
    res.once('finish', () => {
      if (conn.request !== req) return;
      conn.request = undefined;
      conn.eviction = undefined;
      conn.since = performance.now();
      conn.bytesAtRest = conn.socket.bytesRead;
    });
    return true;
  }

  /** Closes one connection to make room; false when every connection has a whole request in progress. */
  private evictOne(): boolean {
    let waiting: Connection | undefined;
    let receiving: Connection | undefined;
    const youngest = performance.now() - EVICTABLE_AFTER_MS;
    for (const conn of this.open) {
      if (conn.socket.destroyed || conn.since > youngest) continue;
      if (conn.request === undefined) {
        if (waiting === undefined || conn.since < waiting.since) waiting = conn;
      } else if (!conn.request.complete) {
        if (receiving === undefined || conn.since < receiving.since) receiving = conn;
      }
    }
    const victim = waiting ?? receiving;
    if (victim === undefined) return false;
    this.metrics.closed.inc({ listener: this.options.listener, reason: 'evicted' });
    this.open.delete(victim);
    if (victim.request === undefined) {
      // Headers half-sent get an answer a client can act on; an idle keep-alive socket just closes.
      this.closeWaiting(victim);
    } else {
      // The owner answers 503 (readRequestBody rejects with 'evicted'); destroyed if it does not.
      victim.eviction?.abort();
      setTimeout(() => victim.socket.destroy(), EVICTION_GRACE_MS).unref();
    }
    return true;
  }

  /**
   * Closes a connection without a request in progress: one with half-sent headers gets a 503 it can
   * read (over TLS once the handshake is done; before it, a TLS client could not read one), an idle one just closes.
   */
  private closeWaiting(conn: Connection): void {
    const started = conn.socket.bytesRead > conn.bytesAtRest;
    if (started && !this.isTls) closeWithAnswer(conn.socket);
    else if (started && conn.tls !== undefined) closeWithAnswer(conn.tls);
    else conn.socket.destroy();
  }

  /** Binds `host:port`; `host` '' listens on every interface. A TLS listener reads its files first. */
  async listen(host: string, port: number): Promise<void> {
    const server = this.server;
    const tls = this.options.security?.tls_server_config;
    if (tls !== undefined) {
      try {
        (server as https.Server).setSecureContext(await loadServerCredentials(tls, this.options.configDir ?? process.cwd()));
      } catch (err) {
        throw new ListenerTlsError(`tls_server_config: cannot use cert_file, key_file or client_ca_file: ${errorMessage(err)}`, err);
      }
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * Stops accepting; connections without a request in progress close now, the others after their
   * answer (or at once when `force`). Node's own closeIdleConnections misses a connection that never
   * sent a byte, and server.close() stops the header_timeout checks that would have ended it.
   */
  async close(force = false): Promise<void> {
    const server = this.server;
    if (!server.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      if (force) server.closeAllConnections();
      else {
        server.closeIdleConnections();
        for (const conn of this.open) if (conn.request === undefined) this.closeWaiting(conn);
      }
    });
  }
}

/** The same for a raw socket and the TLS socket over it (TLSSocket hands both on from its parent). */
function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

const BUSY_ANSWER = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n';

/**
 * Answers 503 on a socket whose request will not be read (refused or evicted before its headers were
 * complete), then closes it. The socket lingers EVICTION_GRACE_MS, reading and dropping what the
 * client still sends: closed with bytes unread, the kernel would send a reset that can overtake the
 * answer. Lingering sockets are outside max_connections: at most one second's worth of arrivals.
 */
function closeWithAnswer(socket: Socket): void {
  socket.end(BUSY_ANSWER);
  socket.resume();
  setTimeout(() => socket.destroy(), EVICTION_GRACE_MS).unref();
}
