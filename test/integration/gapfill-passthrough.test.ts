// Pass-through: a real Prometheus scrapes the Go program, whose /metrics fails on purpose in 60% of
// requests, and remote-writes what it gets to pprofcol's prometheusremotewrite receiver; pprofcol also
// scrapes the program's pprof, and gapfill forwards the native stream plus the derived go_goroutines where
// the native one is missing to a second Prometheus.
//
// The bound on the loss meter: each scrape fails independently with p = 0.6 (the program draws from a
// seeded generator), so the missing count over N intervals is Binomial(N, 0.6) and the measured share has
// standard deviation sqrt(0.6 * 0.4 / N), 0.073 at N = 45. We accept 4 standard deviations (a false failure
// about once in 16,000 runs) around 0.6, and, tighter, 0.1 around the share the program itself counted
// (the meter and the program count the same scrapes, up to the edges of the run).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, startDaemonOnFreePort, type Daemon } from '../harness/pprofcol.js';
import { startGoProgram, startPrometheus, type GoProgramServer, type PromServer } from '../harness/servers.js';

const INTERVAL_S = 1;
const RUN_MS = 50_000;
const FAIL_RATIO = 0.6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pass-through: Prometheus -> pprofcol (remote write in, gapfill) -> Prometheus', () => {
  let prog: GoProgramServer;
  let source: PromServer;
  let sink: PromServer;
  let daemon: Daemon;
  let rwPort: number;

  before(async () => {
    [prog, sink] = await Promise.all([
      startGoProgram('nativemetrics', ['-goroutines', '50', '-fail-ratio', String(FAIL_RATIO), '-seed', '42']),
      startPrometheus({ remoteWriteReceiver: true }),
    ]);
    ({ daemon, port: rwPort } = await startDaemonOnFreePort((rwPort) => `
receivers:
  prometheusremotewrite: {endpoint: "127.0.0.1:${rwPort}"}
  pprof:
    scrape_configs:
      - {job_name: app, scrape_interval: ${INTERVAL_S}s, profiles: [goroutine], static_configs: [{targets: ["${prog.hostPort}"]}]}
processors:
  pprof_metrics: {}
  gapfill: {native_receivers: [prometheusremotewrite], interval: ${INTERVAL_S}s, max_wait: 5s, emit_loss_metrics: true}
exporters:
  prometheusremotewrite:
    endpoint: ${sink.url}/api/v1/write
    queue_config: {batch_send_deadline: 100ms}
service:
  pipelines:
    metrics: {receivers: [prometheusremotewrite, pprof], processors: [pprof_metrics, gapfill], exporters: [prometheusremotewrite]}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`, /remote-write receiver listening/, 10_000));
    // The source Prometheus: the harness writes its config; we add remote_write and reload it.
    source = await startPrometheus({ extraArgs: ['--web.enable-lifecycle'] });
    const config = {
      global: { scrape_interval: `${INTERVAL_S}s`, scrape_timeout: `${INTERVAL_S}s` },
      scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [prog.hostPort] }] }],
      remote_write: [
        {
          url: `http://127.0.0.1:${rwPort}/api/v1/write`,
          // One shard keeps the stream in order per target (gapfill's watermark relies on it); a short
          // deadline keeps the delay well under max_wait.
          queue_config: { min_shards: 1, max_shards: 1, batch_send_deadline: '500ms' },
        },
      ],
    };
    writeFileSync(path.join(source.dataDir, 'prometheus.yml'), JSON.stringify(config));
    const reload = await fetch(`${source.url}/-/reload`, { method: 'POST' });
    assert.equal(reload.status, 200, await reload.text());
  });
  after(async () => {
    if (daemon !== undefined) await daemon.stop();
    await Promise.all([source?.stop(), sink?.stop(), prog?.stop()]);
  });

  it('the loss meter reads 60% within the binomial bound; the sink has go_goroutines at every interval', async () => {
    const stats = async () => (await (await fetch(`${prog.url}/stats`)).text()).trim().split(' ').map(Number);
    // Start counting once native data has flowed through.
    await eventually('native up in the sink', 20_000, async () => ((await sink.query(`up{instance="${prog.hostPort}"}`)).length > 0 ? true : undefined));
    const own0 = await (await fetch(`${daemon.telemetryUrl}/metrics`)).text();
    const [req0, fail0] = await stats();
    const startSec = Date.now() / 1000;
    await sleep(RUN_MS);
    const endSec = Date.now() / 1000;
    const [req1, fail1] = await stats();
    await sleep(7000); // max_wait plus the remote-write delays
    const own = await (await fetch(`${daemon.telemetryUrl}/metrics`)).text();

    const read = (text: string, name: string) => Number(new RegExp(`^${name}\\{[^}]*metric="go_goroutines"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? '0');
    const intervals = read(own, 'pprofcol_gapfill_intervals_total') - read(own0, 'pprofcol_gapfill_intervals_total');
    const missing = read(own, 'pprofcol_gapfill_native_missing_intervals_total') - read(own0, 'pprofcol_gapfill_native_missing_intervals_total');
    const filled = read(own, 'pprofcol_gapfill_filled_total') - read(own0, 'pprofcol_gapfill_filled_total');
    const ratio = missing / intervals;
    const truth = (fail1 - fail0) / (req1 - req0);
    const sd = Math.sqrt((FAIL_RATIO * (1 - FAIL_RATIO)) / intervals);
    const summary = `meter ${missing}/${intervals} = ${ratio.toFixed(3)}, program ${fail1 - fail0}/${req1 - req0} = ${truth.toFixed(3)}, filled ${filled}, sd ${sd.toFixed(3)}`;
    console.log(`# ${summary}`);
    assert.ok(intervals >= (RUN_MS / 1000 / INTERVAL_S) * 0.8, summary);
    assert.ok(Math.abs(ratio - FAIL_RATIO) <= 4 * sd, summary);
    assert.ok(Math.abs(ratio - truth) <= 0.1, summary);
    assert.ok(filled >= missing - 2, summary);

    // Every interval of the run has go_goroutines in the sink (step = interval; a stale marker or a hole
    // longer than the 5m lookback would show as a missing step).
    const from = Math.ceil(startSec);
    const to = Math.floor(endSec);
    const range = await sink.queryRange(`go_goroutines{instance="${prog.hostPort}"}`, from, to, INTERVAL_S);
    assert.equal(range.length, 1, JSON.stringify(range.map((r) => r.metric)));
    assert.equal(range[0].values.length, to - from + 1, 'a value at every interval');
    // Samples, not lookback: the newest sample at every step is at most two intervals old.
    const age = await sink.queryRange(`time() - timestamp(go_goroutines{instance="${prog.hostPort}"})`, from, to, INTERVAL_S);
    const oldest = Math.max(...age[0].values.map(([, v]) => Number(v)));
    assert.ok(oldest <= 2 * INTERVAL_S + 0.5, `a sample at least every ${oldest.toFixed(2)}s`);

    // Nothing refused on either hop.
    assert.doesNotMatch(own, /pprofcol_exporter_samples_dropped_total\{[^}]*\} [1-9]/);
    assert.doesNotMatch(own, /pprofcol_receiver_write_requests_total\{[^}]*code="4\d\d"\} [1-9]/);
    assert.doesNotMatch(sink.logs(), /out of order|duplicate sample|out of bounds/i);
  });
});
