// The otlphttp exporter against a capture server of our own that decodes OTLP/HTTP with the official
// OTLP protos (opentelemetry-proto's generated code, see helpers.ts; protobuf and JSON bodies alike):
// resources per target, metric types, temporality, start times, values, the GC summary's mapping,
// retries and drops.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { CreateSettings } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import { metricBatch, type MetricFamily, type Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { USER_AGENT } from '../../../core/version.js';
import { configSchema } from '../../../exporters/otlphttp/config.js';
import { OtlpHttpExporter } from '../../../exporters/otlphttp/exporter.js';
import { metric, waitFor } from '../../harness/common.js';
import { AGGREGATION_TEMPORALITY, encodePartialSuccess, otlpProto, startOtlpCaptureServer, type OtlpAnswer, type OtlpCaptureServer, type OtlpMetric, type OtlpResource } from './helpers.js';

const SENT = 'pprofcol_exporter_samples_sent_total';
const RETRIED = 'pprofcol_exporter_samples_retried_total';
const DROPPED = 'pprofcol_exporter_samples_dropped_total';

/** From opentelemetry-proto's enum, not a literal. */
const CUMULATIVE = AGGREGATION_TEMPORALITY.AGGREGATION_TEMPORALITY_CUMULATIVE;

const goroutines: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' };
const allocTotal: MetricFamily = { name: 'go_memstats_alloc_bytes_total', type: 'counter', help: 'Total number of bytes allocated, even if freed.', unit: 'bytes' };
const gcDuration: MetricFamily = { name: 'go_gc_duration_seconds', type: 'summary', help: 'A summary of the pause duration of garbage collection cycles.', unit: 'seconds' };
const pprofUp: MetricFamily = { name: 'pprof_up', type: 'gauge', help: '1 when every configured profile was fetched and parsed.', unit: '' };

function pt(family: MetricFamily, labels: Record<string, string>, value: number, ts: number, name = family.name, stale = false): Point {
  return { family, name, labels, value, timestampMs: ts, stale };
}

/** One scrape of a target as pprof_metrics emits it: target labels on every point. */
function scrape(target: Record<string, string>, ts: number, alloc: number): Point[] {
  return [
    pt(pprofUp, { ...target }, 1, ts),
    pt(goroutines, { ...target }, 42, ts),
    pt(allocTotal, { ...target }, alloc, ts),
    pt(gcDuration, { ...target, quantile: '0' }, 0.0001, ts),
    pt(gcDuration, { ...target, quantile: '0.5' }, 0.0002, ts),
    pt(gcDuration, { ...target, quantile: '1' }, 0.0009, ts),
    pt(gcDuration, { ...target }, 0.012, ts, 'go_gc_duration_seconds_sum'),
    pt(gcDuration, { ...target }, 37, ts, 'go_gc_duration_seconds_count'),
  ];
}

function settings(id: string): CreateSettings {
  return { id, logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() };
}

const servers: OtlpCaptureServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
async function capture(answer?: (n: number) => OtlpAnswer): Promise<OtlpCaptureServer> {
  const s = await startOtlpCaptureServer(answer);
  servers.push(s);
  return s;
}

const FAST_RETRY = { initial_interval: '10ms', max_interval: '50ms' };

function byService(resources: OtlpResource[], job: string): OtlpResource {
  const r = resources.find((x) => x.attributes['service.name'] === job);
  assert.ok(r, `a resource for job ${job} in ${JSON.stringify(resources.map((x) => x.attributes))}`);
  return r;
}
function metricOf(r: OtlpResource, name: string): OtlpMetric {
  const m = r.metrics.find((x) => x.name === name);
  assert.ok(m, `metric ${name} in ${r.metrics.map((x) => x.name).join(', ')}`);
  return m;
}
const nanos = (ms: number): string => (BigInt(ms) * 1_000_000n).toString();

for (const encoding of ['proto', 'json'] as const) {
  describe(`otlphttp exporter, encoding ${encoding}`, () => {
    it('sends one resource per target with service.name, service.instance.id and target labels; gauges, cumulative monotonic sums, the summary mapped', async () => {
      const server = await capture();
      const s = settings(`otlphttp/${encoding}`);
      const exp = new OtlpHttpExporter(
        s,
        configSchema.parse({
          endpoint: `${server.url}/otlp/`,
          encoding,
          headers: { 'X-Scope-OrgID': 'tenant-1' },
          external_labels: { cluster: 'c1', env: 'not-used' },
          retry_on_failure: FAST_RETRY,
        }),
      );
      await exp.start();
      const t0 = Date.now() - 15_000;
      const a = { job: 'api', instance: '10.0.0.1:6060', env: 'prod' };
      const b = { job: 'worker', instance: '10.0.0.2:6060' };
      await exp.consume(metricBatch('pprof', [...scrape(a, t0, 1000), ...scrape(b, t0, 5000)]));
      await waitFor('the first request', () => server.requests.length >= (encoding === 'json' ? 2 : 1));

      const first = server.requests[0];
      assert.equal(first.path, '/otlp/v1/metrics');
      assert.equal(first.headers['content-type'], encoding === 'json' ? 'application/json' : 'application/x-protobuf');
      assert.equal(first.headers['content-encoding'], 'gzip');
      assert.equal(first.headers['x-scope-orgid'], 'tenant-1');
      assert.ok(String(first.headers['user-agent']).startsWith(USER_AGENT), String(first.headers['user-agent']));

      const resources = server.requests.flatMap((r) => r.resources);
      assert.equal(resources.length, 2, 'one resource per target');
      const ra = byService(resources, 'api');
      // job -> service.name, instance -> service.instance.id, the other target label as an attribute,
      // external labels where the target lacks them.
      assert.deepEqual(ra.attributes, { 'service.name': 'api', 'service.instance.id': '10.0.0.1:6060', env: 'prod', cluster: 'c1' });
      assert.deepEqual(byService(resources, 'worker').attributes, { 'service.name': 'worker', 'service.instance.id': '10.0.0.2:6060', cluster: 'c1', env: 'not-used' });
      assert.equal(ra.scope.name, 'pprofcol');

      const g = metricOf(ra, 'go_goroutines');
      assert.equal(g.type, 'gauge');
      assert.equal(g.description, goroutines.help);
      assert.deepEqual(g.points.map((p) => [p.value, p.timeUnixNano, p.attributes]), [[42, nanos(t0), {}]]);

      const c = metricOf(ra, 'go_memstats_alloc_bytes_total');
      assert.equal(c.type, 'sum');
      assert.equal(c.temporality, CUMULATIVE);
      assert.equal(c.monotonic, true);
      assert.equal(c.unit, 'By');
      assert.equal(c.points[0].value, 1000);
      // Start time: when pprofcol first saw the series (here, its first point).
      assert.equal(c.points[0].startTimeUnixNano, nanos(t0));

      // The GC summary: quantiles as a gauge with a quantile attribute, _sum and _count as sums.
      const q = metricOf(ra, 'go_gc_duration_seconds');
      assert.equal(q.type, 'gauge');
      assert.equal(q.unit, 's');
      assert.deepEqual(q.points.map((p) => [p.attributes.quantile, p.value]), [['0', 0.0001], ['0.5', 0.0002], ['1', 0.0009]]);
      const sum = metricOf(ra, 'go_gc_duration_seconds_sum');
      assert.deepEqual([sum.type, sum.temporality, sum.monotonic, sum.points[0].value], ['sum', CUMULATIVE, true, 0.012]);
      const count = metricOf(ra, 'go_gc_duration_seconds_count');
      assert.deepEqual([count.type, count.temporality, count.monotonic, count.points[0].value, count.unit], ['sum', CUMULATIVE, true, 37, '']);
      assert.ok(resources.every((r) => r.metrics.every((m) => m.type !== 'summary')));

      // A second scrape: the counter keeps its start time; a stale point is not sent (and is counted).
      const before = server.requests.length;
      const t1 = t0 + 15_000;
      await exp.consume(metricBatch('pprof', [...scrape(a, t1, 3000), pt(goroutines, b, NaN, t1, 'go_goroutines', true)]));
      await waitFor('the second request', () => server.requests.length > before);
      const second = server.requests.slice(before).flatMap((r) => r.resources);
      assert.equal(second.length, 1, 'the stale point of worker makes no resource');
      const c2 = metricOf(byService(second, 'api'), 'go_memstats_alloc_bytes_total');
      assert.deepEqual([c2.points[0].value, c2.points[0].startTimeUnixNano, c2.points[0].timeUnixNano], [3000, nanos(t0), nanos(t1)]);

      // A counter that went down (the target restarted): a new start time just after the last point.
      const before2 = server.requests.length;
      const t2 = t1 + 15_000;
      await exp.consume(metricBatch('pprof', scrape(a, t2, 10)));
      await waitFor('the third request', () => server.requests.length > before2);
      const c3 = metricOf(byService(server.requests.slice(before2).flatMap((r) => r.resources), 'api'), 'go_memstats_alloc_bytes_total');
      assert.deepEqual([c3.points[0].value, c3.points[0].startTimeUnixNano], [10, nanos(t1 + 1)]);

      await exp.shutdown();
      assert.equal(await metric(s.telemetry, SENT, { exporter: s.id }), 16 + 8 + 8);
      assert.equal(await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'stale' }), 1);
    });

    it('retries 503 and 429 (honouring Retry-After), drops a 400 and counts each', async () => {
      const answers: OtlpAnswer[] = [
        { status: 503 },
        { status: 429, headers: { 'retry-after': '0' } },
        { status: 200 },
        { status: 400, body: 'bad data' },
      ];
      const server = await capture((n) => answers[n] ?? { status: 200 });
      const s = settings(`otlphttp/retry-${encoding}`);
      const exp = new OtlpHttpExporter(s, configSchema.parse({ endpoint: server.url, encoding, compression: 'none', retry_on_failure: FAST_RETRY }));
      await exp.start();
      const ts = Date.now();
      const target = { job: 'api', instance: 'x:1' };
      await exp.consume(metricBatch('pprof', [pt(goroutines, target, 1, ts)]));
      await waitFor('delivery after two retryable answers', async () => (await metric(s.telemetry, SENT, { exporter: s.id })) === 1);
      // The SDK's JSON exporter retries 503/429 itself before our loop sees a failure.
      assert.ok(server.requests.length >= 3);
      if (encoding === 'proto') assert.equal(await metric(s.telemetry, RETRIED, { exporter: s.id }), 2);
      await exp.consume(metricBatch('pprof', [pt(goroutines, target, 2, ts + 1000)]));
      await waitFor('the 400 drop', async () => (await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'http_400' })) === 1);
      await exp.shutdown();
      assert.equal(server.requests.length, 4, 'a 400 is not retried');
    });
  });
}

describe('otlphttp exporter, protobuf specifics', () => {
  it('the body is an ExportMetricsServiceRequest of opentelemetry-proto, field for field', async () => {
    const server = await capture();
    const s = settings('otlphttp/official');
    const exp = new OtlpHttpExporter(s, configSchema.parse({ endpoint: server.url, compression: 'none', retry_on_failure: FAST_RETRY }));
    await exp.start();
    const t0 = Date.now() - 5_000;
    await exp.consume(metricBatch('pprof', scrape({ job: 'api', instance: '10.0.0.1:6060', zone: 'a' }, t0, 7)));
    await waitFor('the request', () => server.requests.length >= 1);
    await exp.shutdown();
    const body = server.requests[0].body;
    const { ExportMetricsServiceRequest } = otlpProto.opentelemetry.proto.collector.metrics.v1;
    const message = ExportMetricsServiceRequest.decode(body);
    // Every byte is a field the official schema knows: decoding drops unknown fields, so re-encoding
    // what was decoded gives the same bytes only if nothing was unknown or misplaced.
    assert.ok(Buffer.from(ExportMetricsServiceRequest.encode(message).finish()).equals(body), 'decode + encode with the official types is the identity');
    // oneofs: true names the member each oneof holds (data: gauge | sum | ..., value: asDouble | asInt).
    const o = ExportMetricsServiceRequest.toObject(message, { longs: String, enums: Number, oneofs: true, arrays: true }) as {
      resourceMetrics: Array<{
        resource: { attributes: Array<{ key: string; value: { value: string; stringValue?: string } }> };
        scopeMetrics: Array<{
          scope: { name: string; version: string };
          metrics: Array<{ name: string; unit: string; data: string; sum?: { aggregationTemporality: number; isMonotonic: boolean; dataPoints: Array<{ value: string; asDouble: number }> }; gauge?: { dataPoints: Array<{ value: string; asDouble: number; timeUnixNano: string; startTimeUnixNano?: string }> } }>;
        }>;
      }>;
    };
    assert.equal(o.resourceMetrics.length, 1);
    const rm = o.resourceMetrics[0];
    assert.deepEqual(
      Object.fromEntries(rm.resource.attributes.map((a) => [a.key, [a.value.value, a.value.stringValue]])),
      { 'service.name': ['stringValue', 'api'], 'service.instance.id': ['stringValue', '10.0.0.1:6060'], zone: ['stringValue', 'a'] },
    );
    assert.equal(rm.scopeMetrics.length, 1);
    assert.equal(rm.scopeMetrics[0].scope.name, 'pprofcol');
    const byName = new Map(rm.scopeMetrics[0].metrics.map((m) => [m.name, m]));
    assert.deepEqual([...byName.keys()].sort(), ['go_gc_duration_seconds', 'go_gc_duration_seconds_count', 'go_gc_duration_seconds_sum', 'go_goroutines', 'go_memstats_alloc_bytes_total', 'pprof_up']);
    const types = Object.fromEntries([...byName].map(([name, m]) => [name, m.data]));
    assert.deepEqual(types, {
      pprof_up: 'gauge',
      go_goroutines: 'gauge',
      go_memstats_alloc_bytes_total: 'sum',
      go_gc_duration_seconds: 'gauge',
      go_gc_duration_seconds_sum: 'sum',
      go_gc_duration_seconds_count: 'sum',
    });
    for (const m of byName.values()) {
      const points = m.sum?.dataPoints ?? m.gauge?.dataPoints ?? [];
      assert.ok(points.length > 0, m.name);
      for (const p of points) assert.equal(p.value, 'asDouble', `${m.name}: values are doubles`);
      if (m.sum !== undefined) {
        assert.equal(m.sum.aggregationTemporality, CUMULATIVE, m.name);
        assert.equal(m.sum.isMonotonic, true, m.name);
      }
    }
    const goroutinesPoint = byName.get('go_goroutines')?.gauge?.dataPoints[0];
    assert.equal(goroutinesPoint?.asDouble, 42);
    assert.equal(goroutinesPoint?.timeUnixNano, nanos(t0));
    assert.equal(byName.get('go_memstats_alloc_bytes_total')?.unit, 'By');
    assert.equal(byName.get('go_memstats_alloc_bytes_total')?.sum?.dataPoints[0].asDouble, 7);
  });

  it('counts the data points a partial success rejects', async () => {
    const server = await capture(() => ({ status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: encodePartialSuccess(1, 'one point too old') }));
    const s = settings('otlphttp/partial');
    const exp = new OtlpHttpExporter(s, configSchema.parse({ endpoint: server.url }));
    await exp.start();
    const ts = Date.now();
    await exp.consume(metricBatch('pprof', [pt(goroutines, { job: 'a', instance: 'x:1' }, 1, ts), pt(goroutines, { job: 'a', instance: 'x:2' }, 2, ts)]));
    await waitFor('the partial success counted', async () => (await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'partial_success' })) === 1);
    assert.equal(await metric(s.telemetry, SENT, { exporter: s.id }), 1);
    await exp.shutdown();
  });

  it('gives up after max_elapsed_time and, with block_timeout 0, drops at once what does not fit the queue', async () => {
    const server = await capture(() => ({ status: 503 }));
    const s = settings('otlphttp/giveup');
    const exp = new OtlpHttpExporter(
      s,
      configSchema.parse({
        endpoint: server.url,
        retry_on_failure: { initial_interval: '10ms', max_interval: '20ms', max_elapsed_time: '100ms' },
        sending_queue: { queue_size: 2, block_timeout: 0 },
      }),
    );
    await exp.start();
    const ts = Date.now();
    const target = { job: 'a', instance: 'x:1' };
    await assert.rejects(exp.consume(metricBatch('pprof', [pt(goroutines, target, 1, ts), pt(pprofUp, target, 1, ts), pt(allocTotal, target, 5, ts)])), { code: 'ERR_QUEUE_FULL', dropped: 1 });
    assert.equal(await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'queue_full' }), 1);
    await waitFor('retries exhausted', async () => (await metric(s.telemetry, DROPPED, { exporter: s.id, reason: 'retries_exhausted' })) === 2, 5_000);
    await exp.shutdown();
  });

  it('rejects reserved headers and bad values at validation, naming the key', () => {
    const r = configSchema.safeParse({ endpoint: 'http://x:4318', headers: { 'Content-Type': 'x' }, encoding: 'xml', compression: 'zstd' });
    assert.equal(r.success, false);
    const paths = r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    assert.ok(paths.includes('headers.Content-Type'), paths.join(' '));
    assert.ok(paths.includes('encoding'), paths.join(' '));
    assert.ok(paths.includes('compression'), paths.join(' '));
    const d = configSchema.parse({ endpoint: 'http://x:4318' });
    assert.equal(d.encoding, 'proto');
    assert.equal(d.compression, 'gzip');
    assert.equal(d.timeout, 30_000);
    assert.deepEqual(d.retry_on_failure, { enabled: true, initial_interval: 5000, max_interval: 30_000, max_elapsed_time: 300_000 });
    assert.deepEqual(d.sending_queue, { queue_size: 10_000, max_points_per_request: 2000, block_timeout: 10_000 });
  });
});
