// Replay of a real Go program's recorded pprof responses (test/testdata/<program>/) on N loopback
// ports, one per target, for bench/many-targets.ts. Run in its own process so that the daemon's CPU
// figure is the daemon's alone. Each target's bytes differ: the function-name prefix `main.` becomes
// a same-length per-target name (`t01a.`; same length, so protobuf length prefixes stay right), and
// the counts on the index page and a few memstats differ, so that name caches and parsers see N
// distinct targets, not one target N times.
//
//   node dist/bench/replay/server.js <program dir> <N> <vars: 1|0>
// prints one JSON line {"ports":[...]} on stdout once every port listens.
//
// Memory: N x the recorded files (goprog: ~75 KB a target, ~220 MB at 3,000; bodies are shared
// where a file holds no function name). Sockets: N listening + the daemon's connections (up to 4 a
// target, 2 in practice: the index page and /debug/vars in parallel).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

const [dir, nArg, varsArg] = process.argv.slice(2);
const N = Number(nArg);
const VARS = varsArg !== '0';

const ROUTES: Record<string, string> = {
  '/debug/pprof/': 'index.html',
  '/debug/vars': 'vars.json',
  '/debug/pprof/goroutine?debug=1': 'goroutine.debug1.txt',
  '/debug/pprof/goroutine?debug=2': 'goroutine.debug2.txt',
  '/debug/pprof/threadcreate?debug=1': 'threadcreate.debug1.txt',
  '/debug/pprof/heap?debug=1': 'heap.debug1.txt',
  '/debug/pprof/heap': 'heap.pb.gz',
  '/debug/pprof/allocs': 'allocs.pb.gz',
  '/debug/pprof/mutex': 'mutex.pb.gz',
  '/debug/pprof/block': 'block.pb.gz',
};

const recorded = new Map<string, Buffer>();
for (const [route, file] of Object.entries(ROUTES)) {
  if (route === '/debug/vars' && !VARS) continue;
  try {
    recorded.set(route, fs.readFileSync(path.join(dir, file)));
  } catch {
    // The program did not serve it: 404, as it answered.
  }
}

/** A 4-character name per target, so `main.` (5 bytes) becomes `xxxx.` (5 bytes). */
function prefixOf(i: number): string {
  return `t${i.toString(36).padStart(3, '0')}`.slice(-4);
}

function varyText(text: string, i: number): string {
  return text.replaceAll('main.', `${prefixOf(i)}.`);
}

function bodiesFor(i: number): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [route, body] of recorded) {
    if (route.endsWith('.gz') || route === '/debug/pprof/heap' || route === '/debug/pprof/allocs' || route === '/debug/pprof/mutex' || route === '/debug/pprof/block') {
      // Same-length replacement inside the string table keeps every length prefix valid.
      const raw = zlib.gunzipSync(body);
      const varied = Buffer.from(varyText(raw.toString('latin1'), i), 'latin1');
      out.set(route, zlib.gzipSync(varied, { level: 1 }));
    } else if (route === '/debug/pprof/') {
      // Counts differ per target: `<td>205</td><td><a href='goroutine?debug=1'>`.
      out.set(route, Buffer.from(body.toString('utf8').replace(/<td>(\d+)<\/td><td><a href='?goroutine/g, (_m, n: string) => `<td>${Number(n) + (i % 97)}</td><td><a href='goroutine`)));
    } else if (route === '/debug/vars') {
      out.set(route, Buffer.from(body.toString('utf8').replace(/"HeapAlloc":(\d+)/, (_m, n: string) => `"HeapAlloc":${Number(n) + i * 4096}`)));
    } else {
      out.set(route, Buffer.from(varyText(body.toString('utf8'), i)));
    }
  }
  return out;
}

async function main(): Promise<void> {
  const ports: number[] = [];
  for (let i = 0; i < N; i++) {
    const bodies = bodiesFor(i);
    const server = http.createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
      const body = bodies.get(req.url ?? '');
      if (body === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    server.maxConnections = 16;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.push((server.address() as { port: number }).port);
  }
  process.stdout.write(`${JSON.stringify({ ports })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
