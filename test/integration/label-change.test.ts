// A processor that changes labels between pprof_metrics and the remote-write exporter (the example
// plugin, which replaces a point's labels with a changed copy: the labels pprof_metrics makes are
// frozen once their identity is taken) still yields the right series in a real Prometheus, sharded
// over several shards by the identity each point carries.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, startDaemon } from '../harness/pprofcol.js';
import { repoRoot, startGoProgram, startPrometheus, type GoProgramServer, type PromServer } from '../harness/servers.js';

describe('a label-changing processor between derive and export', () => {
  let prog: GoProgramServer;
  let prom: PromServer;
  before(async () => {
    [prog, prom] = await Promise.all([startGoProgram('goroutines', ['-goroutines', '5']), startPrometheus({ remoteWriteReceiver: true })]);
  });
  after(async () => {
    await Promise.all([prog?.stop(), prom?.stop()]);
  });

  it('every series carries the changed labels, none the old ones, one series each', async () => {
    const daemon = await startDaemon(`
plugins: [${JSON.stringify(path.join(repoRoot(), 'examples', 'plugins', 'add-label.js'))}]
receivers:
  pprof:
    scrape_configs:
      - job_name: relabelled
        scrape_interval: 1s
        static_configs: [{targets: ["${prog.hostPort}"], labels: {env: dev}}]
processors:
  pprof_metrics: {}
  add_label: {labels: {team: payments, env: prod}, overwrite: true}
  batch: {}
exporters:
  prometheusremotewrite:
    endpoint: ${prom.url}/api/v1/write
    queue_config: {min_shards: 4, max_shards: 4}
service:
  pipelines: {metrics: {receivers: [pprof], processors: [pprof_metrics, add_label, batch], exporters: [prometheusremotewrite]}}
  telemetry: {http: {listen: "{{TELEMETRY}}"}}
`);
    try {
      // Three scrapes at least: the series exist, and later scrapes (which reuse pprof_metrics' frozen labels) arrived too.
      const goroutines = await eventually('go_goroutines with the changed labels', 30_000, async () => {
        const r = await prom.query('count_over_time(go_goroutines{job="relabelled"}[1m])');
        return r.length > 0 && Number(r[0].value[1]) >= 3 ? r : undefined;
      });
      assert.equal(goroutines.length, 1, JSON.stringify(goroutines));
      assert.equal(goroutines[0].metric.team, 'payments');
      assert.equal(goroutines[0].metric.env, 'prod');
      // No series of the job without the new label, nor with the old value.
      assert.deepEqual(await prom.query('{job="relabelled", team=""}'), []);
      assert.deepEqual(await prom.query('{job="relabelled", env="dev"}'), []);
      // A label the breakdown adds survives the copy: the five GC quantiles are five series.
      const quantiles = await prom.query('go_gc_duration_seconds{job="relabelled", team="payments"}');
      assert.deepEqual(quantiles.map((s) => s.metric.quantile).sort(), ['0', '0.25', '0.5', '0.75', '1']);
      const memstats = await prom.query('count({job="relabelled", team="payments", __name__=~"go_memstats_.*"})');
      assert.ok(Number(memstats[0]?.value[1]) >= 20, JSON.stringify(memstats));
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
  });
});
