// Preloaded into the daemon by bench/many-targets.ts (`node --import`): every second, the process's
// heap figures to the file named by PPROFCOL_BENCH_HEAP_FILE, so the benchmark can report heap bytes
// per target without pprofcol exposing Node's heap itself. One small write a second: noise next to
// thousands of scrapes.
import fs from 'node:fs';

const file = process.env.PPROFCOL_BENCH_HEAP_FILE;
if (file !== undefined && file !== '') {
  setInterval(() => {
    const m = process.memoryUsage();
    fs.writeFileSync(file, JSON.stringify({ heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss }));
  }, 1000).unref();
}
