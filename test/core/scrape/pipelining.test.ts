// Bursts of fast requests (a scrape's index page and /debug/vars) pipelined on one kept-alive socket
// (core/scrape/origin-pool.ts, H1Connection.sendAll): against a raw TCP peer that records when each
// request head arrives, they go out together, answers in one write reach their own requests, a socket
// closed or a deadline passed in the middle of a burst sends the rest again once elsewhere, and a fresh
// socket is never pipelined on. Then against a real Go program (net/http, expvar): its answers to a
// pipelined burst are the right bodies.
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpScraper } from '../../../core/scrape/http.js';
import { startGoProgram, type GoProgramServer } from '../../harness/servers.js';

interface Head {
  path: string;
  socket: number;
  /** Answers this peer had written (on any socket) when the head arrived. */
  answeredBefore: number;
}

interface Peer {
  origin: string;
  heads: Head[];
  connections(): number;
  /** Call from an `answer` once an answer is written. */
  answered(): void;
  close(): Promise<void>;
}

/** A TCP peer that hands every request head to `answer(path, socket, socketNumber)`, as it arrives. */
async function peer(answer: (path: string, socket: Socket, socketNumber: number, p: Peer) => void): Promise<Peer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let answered = 0;
  const heads: Head[] = [];
  const srv = net.createServer((socket) => {
    const n = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const path = buffered.slice(4, buffered.indexOf(' ', 4));
        buffered = buffered.slice(end + 4);
        heads.push({ path, socket: n, answeredBefore: answered });
        answer(path, socket, n, p);
      }
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const p: Peer = {
    origin: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    heads,
    connections: () => connections,
    answered: () => void answered++,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
  return p;
}

const ok = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/** GETs `paths` in the same turn of the event loop, as a scrape asks for its sources. */
function burst(scraper: HttpScraper, origin: string, paths: string[], timeoutMs = 5_000): Array<Promise<string>> {
  return paths.map((path) => scraper.get(`${origin}${path}`, { timeoutMs, limitBytes: 1 << 20, fast: true }).then((b) => b.toString()));
}

describe('pipelined bursts of fast requests', () => {
  it('sends a burst together on a socket that answered before, and reads the answers of one write to their own requests', async () => {
    // Each answer waits 100 ms, so a request sent only after the answer before it arrives after it.
    const p = await peer((path, socket, _n, self) => {
      setTimeout(() => {
        if (path === '/b') {
          // The peer answers /b and /c together in one write: the parser reads on past /b's end.
          socket.write(ok('answer b') + ok('answer c'));
          self.answered();
          self.answered();
        } else if (path !== '/c') {
          socket.write(ok(`answer ${path.slice(1)}`));
          self.answered();
        }
      }, 100);
    });
    const scraper = new HttpScraper({}, process.cwd());
    try {
      // A burst on a socket that has answered nothing yet goes one by one (here the second, after the
      // pool's 50 ms grow delay, on a second socket, as the first answer takes 100 ms).
      assert.deepEqual(await Promise.all(burst(scraper, p.origin, ['/first', '/second'])), ['answer first', 'answer second']);
      assert.ok(p.heads[1].answeredBefore === 1 || p.heads[1].socket === 2, 'no burst on a socket that has answered nothing yet');
      const known = p.connections();
      assert.deepEqual(await Promise.all(burst(scraper, p.origin, ['/a', '/b', '/c'])), ['answer a', 'answer b', 'answer c']);
      const [a, b, c] = p.heads.slice(2);
      assert.deepEqual([a.path, b.path, c.path], ['/a', '/b', '/c']);
      assert.deepEqual([a.answeredBefore, b.answeredBefore, c.answeredBefore], [2, 2, 2], 'all three heads came before any of their answers');
      assert.ok(a.socket === b.socket && b.socket === c.socket, 'one socket for the burst');
      assert.equal(p.connections(), known, 'no socket opened for it');
      // Not fast: each waits for a free socket (two are open now), as before.
      const slow = ['/d', '/e', '/f'].map((path) => scraper.get(`${p.origin}${path}`, { timeoutMs: 5_000, limitBytes: 1 << 20 }).then((x) => x.toString()));
      assert.deepEqual(await Promise.all(slow), ['answer d', 'answer e', 'answer f']);
      const [d, e, f] = p.heads.slice(5);
      assert.ok(d.answeredBefore === 5 && e.answeredBefore === 5, 'two at once, one per socket');
      assert.ok(f.answeredBefore >= 6 || f.socket > known, 'the third waits for an answer (or the grow delay and a third socket)');
    } finally {
      await scraper.close();
      await p.close();
    }
  });

  it('sends the unanswered rest of a burst again, once, on a new socket when the target closes after the first answer', async () => {
    const p = await peer((path, socket, n, self) => {
      socket.write(ok(`${path.slice(1)} on ${n}`));
      self.answered();
      // The first socket serves one answer of a burst and closes (as a server that does not pipeline may).
      if (n === 1 && path === '/a') socket.destroy();
    });
    const scraper = new HttpScraper({}, process.cwd());
    try {
      assert.equal(await burst(scraper, p.origin, ['/warm'])[0], 'warm on 1');
      assert.deepEqual(await Promise.all(burst(scraper, p.origin, ['/a', '/b'])), ['a on 1', 'b on 2']);
      assert.equal(p.connections(), 2);
      assert.deepEqual(
        p.heads.map((h) => `${h.path}@${h.socket}`),
        ['/warm@1', '/a@1', '/b@1', '/b@2'],
      );
    } finally {
      await scraper.close();
      await p.close();
    }
  });

  it('a request of a burst whose deadline passes fails as a timeout; the others are answered, in order or again elsewhere', async () => {
    // Answers in order per socket, as an HTTP/1.1 server does: /never never (nor anything after it on
    // its socket), /slow after 500 ms, the rest at once.
    const inOrder = new Map<number, Promise<void>>();
    const p = await peer((path, socket, n, self) => {
      const before = inOrder.get(n) ?? Promise.resolve();
      const answered = before.then(async () => {
        if (path === '/never') await new Promise<never>(() => undefined);
        if (path === '/slow') await new Promise((resolve) => setTimeout(resolve, 500));
        socket.write(ok(path.slice(1)));
        self.answered();
      });
      inOrder.set(n, answered);
    });
    const scraper = new HttpScraper({}, process.cwd());
    try {
      assert.equal(await burst(scraper, p.origin, ['/warm'])[0], 'warm');
      // The head of the burst hangs: at its deadline the socket closes, and /later goes again on a new one.
      const outcome = (r: Promise<Buffer>): Promise<string> => r.then((b) => b.toString(), (err: Error & { reason?: string }) => `failed: ${err.reason}`);
      const headHangs = [
        outcome(scraper.get(`${p.origin}/never`, { timeoutMs: 300, limitBytes: 1 << 20, fast: true })),
        outcome(scraper.get(`${p.origin}/later`, { timeoutMs: 5_000, limitBytes: 1 << 20, fast: true })),
      ];
      assert.deepEqual(await Promise.all(headHangs), ['failed: timeout', 'later']);
      assert.deepEqual(
        p.heads.slice(1).map((h) => `${h.path}@${h.socket}`),
        ['/never@1', '/later@1', '/later@2'],
      );
      // A queued request whose deadline passes while the one before it is still being answered: that
      // answer is delivered, then the socket closes (the timed-out one's answer is not read).
      const queuedTimesOut = [
        outcome(scraper.get(`${p.origin}/slow`, { timeoutMs: 5_000, limitBytes: 1 << 20, fast: true })),
        outcome(scraper.get(`${p.origin}/queued`, { timeoutMs: 300, limitBytes: 1 << 20, fast: true })),
      ];
      assert.deepEqual(await Promise.all(queuedTimesOut), ['slow', 'failed: timeout']);
      assert.deepEqual(await Promise.all(burst(scraper, p.origin, ['/x', '/y'])), ['x', 'y']);
      assert.deepEqual(
        p.heads.slice(4).map((h) => h.path),
        ['/slow', '/queued', '/x', '/y'],
      );
      assert.equal(p.heads[6].socket, p.heads[7].socket);
      assert.notEqual(p.heads[6].socket, p.heads[4].socket, 'the socket whose queued answer was abandoned is not used again');
    } finally {
      await scraper.close();
      await p.close();
    }
  });

  describe('against a real Go program (net/http/pprof and expvar)', () => {
    let prog: GoProgramServer;
    before(async () => {
      prog = await startGoProgram('goroutines', []);
    });
    after(async () => {
      await prog?.stop();
    });

    it('answers 50 pipelined scrapes of the index page and /debug/vars with the right bodies', async () => {
      const scraper = new HttpScraper({}, process.cwd());
      try {
        for (let i = 0; i < 50; i++) {
          const [index, vars] = await Promise.all(burst(scraper, prog.url, ['/debug/pprof/', '/debug/vars']));
          assert.match(index, /<a href='?goroutine\?debug=1'?>goroutine<\/a>/);
          const parsed = JSON.parse(vars) as { memstats?: { NumGC?: number } };
          assert.equal(typeof parsed.memstats?.NumGC, 'number');
        }
      } finally {
        await scraper.close();
      }
    });
  });
});
