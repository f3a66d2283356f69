// The per-origin connection pools of HttpScraper (core/scrape/origin-pool.ts): at most `connections`
// sockets per origin however many requests come at once, every request answered, idle connections
// reused, requests that answer fast sharing one socket, a slow one delaying another by GROW_AFTER_MS at
// most, and an origin whose connections closed forgotten (its memory goes with it).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResponseHandler } from '../../../core/scrape/h1-connection.js';
import { OriginPools } from '../../../core/scrape/origin-pool.js';
import { HttpScraper } from '../../../core/scrape/http.js';

interface Server {
  origin: string;
  /** Sockets open now, and the most open at once. */
  open(): number;
  peak(): number;
  /** Requests answered so far. */
  answered(): number;
  /** Closes every idle keep-alive socket from the server's side. */
  closeIdle(): void;
  close(): Promise<void>;
}

/** A loopback server that answers every GET with the path it was asked: after `delayMs`, a path under /slow after 1 s. */
async function server(delayMs: number): Promise<Server> {
  const sockets = new Set<Socket>();
  let peak = 0;
  let answered = 0;
  const srv = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    setTimeout(() => {
      answered++;
      res.end(req.url);
    }, req.url?.startsWith('/slow') === true ? 1_000 : delayMs);
  });
  srv.on('connection', (s: Socket) => {
    sockets.add(s);
    peak = Math.max(peak, sockets.size);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    open: () => sockets.size,
    peak: () => peak,
    answered: () => answered,
    closeIdle: () => srv.closeIdleConnections(),
    close: () => {
      srv.closeAllConnections();
      return new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

/** One GET through the pools; resolves with the body, rejects with the error. */
function get(pools: OriginPools, origin: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const handler: ResponseHandler = {
      onConnect: () => undefined,
      onHeaders: () => true,
      onData: (chunk) => {
        chunks.push(Buffer.from(chunk));
        return true;
      },
      onComplete: () => resolve(Buffer.concat(chunks).toString()),
      onError: reject,
    };
    pools.dispatch({ origin, path }, handler);
  });
}

async function until(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

describe('OriginPools', () => {
  const servers: Server[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('opens at most `connections` sockets to an origin and answers every request (the rest wait)', async () => {
    // 300 ms an answer: the 11 requests wait long enough for the pool to grow to its bound (a Client
    // more every GROW_AFTER_MS, so 4 by 150 ms, with room for late timers).
    const s = await server(300);
    servers.push(s);
    const pools = new OriginPools({ connections: 4, keepAliveTimeout: 60_000 });
    // 11: what one pprof target can ask at once at most (10 sources and a CPU window), so 7 wait.
    const paths = Array.from({ length: 11 }, (_, i) => `/p${i}`);
    const bodies = await Promise.all(paths.map((p) => get(pools, s.origin, p)));
    assert.deepEqual(bodies, paths);
    assert.equal(s.peak(), 4);
    assert.deepEqual(pools.stats(), { origins: 1, clients: 4 });
    // Kept alive: the next requests reuse the sockets, none opened.
    await Promise.all(paths.slice(0, 4).map((p) => get(pools, s.origin, p)));
    assert.equal(s.peak(), 4);
    assert.equal(s.open(), 4);
    await pools.close();
  });

  it('a lone request reuses the connection it left open, without a second socket', async () => {
    const s = await server(0);
    servers.push(s);
    const pools = new OriginPools({ connections: 4, keepAliveTimeout: 60_000 });
    for (let i = 0; i < 5; i++) assert.equal(await get(pools, s.origin, `/${i}`), `/${i}`);
    assert.equal(s.peak(), 1);
    assert.deepEqual(pools.stats(), { origins: 1, clients: 1 });
    await pools.close();
  });

  it('requests that answer fast share one socket; a slow one delays another by the grow delay, on a second socket', async () => {
    const s = await server(0);
    servers.push(s);
    // 400 ms, not the default 50: a loopback answer on a loaded machine stays far inside it.
    const pools = new OriginPools({ connections: 4, keepAliveTimeout: 60_000, growAfterMs: 400 });
    // A scrape's index page and /debug/vars, asked at once, 20 times.
    for (let i = 0; i < 20; i++) assert.deepEqual(await Promise.all([get(pools, s.origin, '/index'), get(pools, s.origin, '/vars')]), ['/index', '/vars']);
    assert.equal(s.peak(), 1);
    const slow = get(pools, s.origin, '/slow');
    const started = performance.now();
    assert.equal(await get(pools, s.origin, '/fast'), '/fast');
    const waited = performance.now() - started;
    // At least the grow delay (it waited for the busy socket), less than the slow answer's 1 s (timer
    // lateness on a loaded machine adds tens of ms, not 600).
    assert.ok(waited >= 395 && waited < 1_000, `the fast request took ${waited.toFixed(0)} ms`);
    assert.equal(s.peak(), 2);
    assert.equal(await slow, '/slow');
    await pools.close();
  });

  it('forgets a Client whose idle connection closed, and the origin once it has none', async () => {
    const many = await Promise.all(Array.from({ length: 20 }, () => server(0)));
    servers.push(...many);
    const pools = new OriginPools({ connections: 4, keepAliveTimeout: 60_000, growAfterMs: 2_000 });
    await Promise.all(many.flatMap((s) => [get(pools, s.origin, '/a'), get(pools, s.origin, '/b')]));
    assert.deepEqual(pools.stats(), { origins: 20, clients: 20 });
    // The targets close their idle sockets (as a keep-alive timeout or a target that went away does).
    for (const s of many) s.closeIdle();
    await until('every origin forgotten', () => pools.stats().origins === 0);
    assert.deepEqual(pools.stats(), { origins: 0, clients: 0 });
    // A later request to one of them connects again.
    assert.equal(await get(pools, many[0].origin, '/again'), '/again');
    assert.deepEqual(pools.stats(), { origins: 1, clients: 1 });
    await pools.close();
  });

  it('forgets an origin that refuses connections once its request has failed', async () => {
    const s = await server(0);
    const origin = s.origin;
    await s.close();
    const pools = new OriginPools({ connections: 4, keepAliveTimeout: 60_000 });
    await assert.rejects(get(pools, origin, '/'), (err: Error & { code?: string }) => err.code === 'ECONNREFUSED');
    await until('the refusing origin forgotten', () => pools.stats().origins === 0);
    await pools.close();
  });

  it('close() fails the requests still waiting for a connection', async () => {
    const s = await server(200);
    servers.push(s);
    const pools = new OriginPools({ connections: 1, keepAliveTimeout: 60_000 });
    const running = get(pools, s.origin, '/first');
    const waiting = get(pools, s.origin, '/second');
    await until('the first request reached the server', () => s.open() === 1);
    const closed = pools.close();
    await assert.rejects(waiting, /client closed/);
    assert.equal(await running, '/first');
    await closed;
    assert.equal(s.answered(), 1);
  });

  it('refuses a connection count below 1', () => {
    assert.throws(() => new OriginPools({ connections: 0, keepAliveTimeout: 1 }), RangeError);
  });
});

describe('HttpScraper through OriginPools', () => {
  it('GETs 11 paths of one target at once over at most 4 sockets, each answer to its request', async () => {
    const s = await server(300);
    try {
      const scraper = new HttpScraper({}, process.cwd());
      const paths = Array.from({ length: 11 }, (_, i) => `/debug/pprof/x${i}`);
      const bodies = await Promise.all(paths.map((p) => scraper.get(`${s.origin}${p}`, { timeoutMs: 5_000, limitBytes: 1024 })));
      assert.deepEqual(
        bodies.map((b) => b.toString()),
        paths,
      );
      assert.equal(s.peak(), 4);
      await scraper.close();
    } finally {
      await s.close();
    }
  });

  it('a request whose deadline passes while it waits for a connection fails as a timeout and is never sent', async () => {
    const s = await server(400);
    try {
      const scraper = new HttpScraper({}, process.cwd());
      const slow = Array.from({ length: 4 }, (_, i) => scraper.get(`${s.origin}/slow${i}`, { timeoutMs: 5_000, limitBytes: 1024 }));
      const queued = scraper.get(`${s.origin}/queued`, { timeoutMs: 100, limitBytes: 1024 });
      await assert.rejects(queued, (err: Error & { reason?: string }) => err.reason === 'timeout');
      assert.deepEqual((await Promise.all(slow)).map(String), ['/slow0', '/slow1', '/slow2', '/slow3']);
      // Dispatched once a socket was free, aborted before it was written: the server never answered it.
      await sleep(50);
      assert.equal(s.answered(), 4);
      await scraper.close();
    } finally {
      await s.close();
    }
  });
});
