// The scraper's own HTTP/1.1 connection (core/scrape/h1-connection.ts) against raw TCP peers on
// loopback that write exact bytes: framing split at every byte, chunked bodies with extensions and
// trailers on a reused socket, a body ended by the close, the head's memory bound, and a kept-alive
// socket that the target closes as the next request goes out (resent once, never in a loop).
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { MAX_HEAD_BYTES } from '../../../core/scrape/h1-connection.js';
import { HttpScraper } from '../../../core/scrape/http.js';

interface Peer {
  url: string;
  connections(): number;
  requests(): number;
  close(): Promise<void>;
}

/** A TCP server that calls `answer` for every request head it reads (one at a time per socket). */
async function peer(answer: (socket: Socket, nth: number, onSocket: number) => void): Promise<Peer> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<Socket>();
  const srv = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    let onSocket = 0;
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        buffered = buffered.slice(end + 4);
        answer(socket, ++requests, ++onSocket);
      }
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/x`,
    connections: () => connections,
    requests: () => requests,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

/** Writes `bytes` one byte at a time, a timer turn apart, so every split of the framing is read. */
async function dribble(socket: Socket, bytes: string): Promise<void> {
  for (const ch of bytes) {
    if (socket.destroyed) return;
    socket.write(ch, 'latin1');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const get = (scraper: HttpScraper, url: string, timeoutMs = 5_000, limitBytes = 1 << 20): Promise<Buffer> => scraper.get(url, { timeoutMs, limitBytes });

describe('H1Connection', () => {
  it('reads a Content-Length body and a chunked one (extensions, trailers) split at every byte, on one reused socket', async () => {
    const p = await peer((socket, nth) => {
      if (nth === 1) void dribble(socket, 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world');
      else if (nth === 2) void dribble(socket, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nchunk\r\n3\r\ned \r\n4\r\nbody\r\n0\r\nX-Trailer: t\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
    });
    const scraper = new HttpScraper({}, process.cwd());
    try {
      assert.equal((await get(scraper, p.url)).toString(), 'hello world');
      assert.equal((await get(scraper, p.url)).toString(), 'chunked body');
      assert.equal((await get(scraper, p.url)).toString(), 'ok');
      assert.equal(p.connections(), 1, 'every answer was framed exactly, so the socket was kept');
    } finally {
      await scraper.close();
      await p.close();
    }
  });

  it('reads a body framed by the connection closing, and connects again for the next request', async () => {
    const p = await peer((socket) => {
      socket.write('HTTP/1.0 200 OK\r\n\r\nuntil the end');
      socket.end();
    });
    const scraper = new HttpScraper({}, process.cwd());
    try {
      assert.equal((await get(scraper, p.url)).toString(), 'until the end');
      assert.equal((await get(scraper, p.url)).toString(), 'until the end');
      assert.equal(p.connections(), 2);
    } finally {
      await scraper.close();
      await p.close();
    }
  });

  it(`fails a response head over ${MAX_HEAD_BYTES} bytes as soon as that much has come, not at the deadline`, async () => {
    const p = await peer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}`);
      // ... and the rest never: only the bound ends the request.
    });
    const scraper = new HttpScraper({}, process.cwd());
    try {
      const started = performance.now();
      await assert.rejects(get(scraper, p.url, 10_000), (err: Error & { reason?: string }) => /response head over 16384 bytes/.test(err.message) && err.reason === 'other');
      // 10 s deadline; the bound acts on the first reads (a loaded machine: well under 5 s).
      assert.ok(performance.now() - started < 5_000);
    } finally {
      await scraper.close();
      await p.close();
    }
  });

  it('refuses a bad chunk size and a bad status line, and the next request to a good peer works', async () => {
    const bad = await peer((socket, nth) => socket.write(nth === 1 ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' : 'SMTP ready\r\n\r\n'));
    const good = await peer((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const scraper = new HttpScraper({}, process.cwd());
    try {
      await assert.rejects(get(scraper, bad.url), /bad chunk size/);
      await assert.rejects(get(scraper, bad.url), /not an HTTP\/1.x status line/);
      assert.equal((await get(scraper, good.url)).toString(), 'ok');
    } finally {
      await scraper.close();
      await bad.close();
      await good.close();
    }
  });

  it('resends once a request whose kept-alive socket the target closed unanswered; a target that never answers fails', async () => {
    // The first socket answers one request, then closes when the second arrives (an idle timeout
    // that fired as the request went out); every later socket answers.
    const p = await peer((socket, _nth, onSocket) => {
      if (p0.connections() === 1 && onSocket === 2) socket.destroy();
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const p0 = p;
    const never = await peer((socket) => socket.destroy());
    const scraper = new HttpScraper({}, process.cwd());
    try {
      assert.equal((await get(scraper, p.url)).toString(), 'ok');
      assert.equal((await get(scraper, p.url)).toString(), 'ok');
      assert.equal(p.connections(), 2);
      assert.equal(p.requests(), 3, 'asked once more, on a new socket');
      // A fresh socket closed unanswered is not resent (nothing says the target did not see it).
      await assert.rejects(get(scraper, never.url), (err: Error & { reason?: string }) => err.reason === 'connect');
      assert.equal(never.requests(), 1);
    } finally {
      await scraper.close();
      await p.close();
      await never.close();
    }
  });

  it('fails with too_large when a chunked body runs past the limit', async () => {
    const p = await peer((socket) => socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n${'b'.repeat(1024)}\r\n400\r\n${'b'.repeat(1024)}\r\n0\r\n\r\n`));
    const scraper = new HttpScraper({}, process.cwd());
    try {
      await assert.rejects(get(scraper, p.url, 5_000, 1500), (err: Error & { reason?: string }) => err.reason === 'too_large');
    } finally {
      await scraper.close();
      await p.close();
    }
  });
});
