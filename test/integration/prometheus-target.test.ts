// Debian's Prometheus as the target: a Go program serving pprof beside its own client_golang
// /metrics, so derived values are checked against the native ones of the same process.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseExposition, runCli, startDaemon } from '../harness/pprofcol.js';
import { startPrometheus, type PromServer } from '../harness/servers.js';

type Sample = ReturnType<typeof parseExposition>[number];
const value = (samples: Sample[], name: string) => samples.find((s) => s.name === name)?.value;
const helpLines = (text: string) => new Map([...text.matchAll(/^# HELP (\S+) (.*)$/gm)].map((m) => [m[1], m[2]]));

// Counters only grow, so a value read between two native reads must lie between them.
const COUNTERS = ['go_threads', 'go_memstats_alloc_bytes_total', 'go_memstats_mallocs_total', 'go_memstats_frees_total', 'go_gc_duration_seconds_count'];
// Sys and HeapSys mostly grow while a young Prometheus warms up (by a third within a second) and shrink
// only a little: a value read between two native reads lies within their range, give or take 10%.
// A ratio bound to one read would race that growth.
const GROWING_GAUGES = ['go_memstats_sys_bytes', 'go_memstats_heap_sys_bytes'];
// Gauges of memory the runtime obtained from the OS move slowly; 25% covers the allocations
// that serving our three profile requests and one /metrics request cause between the reads.
const SLOW_GAUGES = ['go_memstats_stack_sys_bytes', 'go_memstats_mspan_sys_bytes', 'go_memstats_gc_sys_bytes'];

describe('Prometheus 2.42 as a pprof target', () => {
  let prom: PromServer;
  before(async () => {
    // It scrapes itself, so it allocates and collects garbage the way a busy service does.
    prom = await startPrometheus({ scrapeTargets: [{ job: 'self', targets: ['127.0.0.1:0'] }] });
  });
  after(async () => prom?.stop());

  it('pprofcol scrape matches the target\'s own client_golang metrics', async () => {
    const nativeBefore = parseExposition(await prom.metricsText());
    const result = await runCli(['scrape', prom.url]);
    const nativeAfterText = await prom.metricsText();
    const nativeAfter = parseExposition(nativeAfterText);
    assert.equal(result.code, 0, result.stderr);
    const derived = parseExposition(result.stdout);

    for (const s of derived) assert.deepEqual({ job: s.labels.job, instance: s.labels.instance }, { job: 'scrape', instance: prom.hostPort });
    for (const name of COUNTERS) {
      const v = value(derived, name)!;
      assert.ok(v >= value(nativeBefore, name)! && v <= value(nativeAfter, name)!, `${name}: ${value(nativeBefore, name)} <= ${v} <= ${value(nativeAfter, name)}`);
    }
    for (const name of GROWING_GAUGES) {
      const v = value(derived, name)!;
      const [a, b] = [value(nativeBefore, name)!, value(nativeAfter, name)!];
      assert.ok(v >= 0.9 * Math.min(a, b) && v <= 1.1 * Math.max(a, b), `${name}: ${v} not near [${a}, ${b}]`);
    }
    for (const name of SLOW_GAUGES) {
      const v = value(derived, name)!;
      const native = value(nativeAfter, name)!;
      assert.ok(Math.abs(v - native) <= 0.25 * native, `${name}: derived ${v} vs native ${native}`);
    }
    // Each of our concurrent requests holds a connection goroutine and a handler goroutine.
    const goroutines = value(derived, 'go_goroutines')!;
    assert.ok(Math.abs(goroutines - value(nativeAfter, 'go_goroutines')!) <= 10, `go_goroutines ${goroutines} vs ${value(nativeAfter, 'go_goroutines')}`);
    assert.equal(value(derived, 'pprof_up'), 1);

    // HELP strings are interface: every go_* family we emit reads exactly as the target's own.
    const nativeHelp = helpLines(nativeAfterText);
    const derivedHelp = helpLines(result.stdout);
    const goFamilies = [...derivedHelp.keys()].filter((n) => n.startsWith('go_'));
    assert.ok(goFamilies.length >= 24, `only ${goFamilies.length} go_* families`);
    for (const name of goFamilies) assert.equal(derivedHelp.get(name), nativeHelp.get(name), `HELP of ${name}`);
  });

  it('the daemon with the debug exporter reports go_threads equal to the target\'s own', async () => {
    const daemon = await startDaemon(`
receivers:
  pprof:
    scrape_configs:
      - job_name: prom-pprof
        scrape_interval: 1s
        static_configs: [{targets: ["${prom.hostPort}"], labels: {env: test}}]
processors: {pprof_metrics: {}}
exporters: {debug: {}}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics], exporters: [debug]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    try {
      const before = value(parseExposition(await prom.metricsText()), 'go_threads')!;
      const line = await daemon.waitFor('stdout', /^go_threads\{env="test",instance="([^"]+)",job="prom-pprof"\} (\d+)$/m, 15_000);
      const afterThreads = value(parseExposition(await prom.metricsText()), 'go_threads')!;
      assert.equal(line[1], prom.hostPort);
      const derived = Number(line[2]);
      assert.ok(derived >= before && derived <= afterThreads, `go_threads ${before} <= ${derived} <= ${afterThreads}`);
      await daemon.waitFor('stdout', /^pprof_up\{env="test",instance="[^"]+",job="prom-pprof"\} 1$/m, 5_000);
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
  });
});
