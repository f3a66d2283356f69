// The prometheus receiver against a page server of the test's own (every edge case of the text format
// on the wire, with the Content-Type that selects the parser) and against a real Prometheus's /metrics.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Batch } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import type { Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { parseExposition, TextParseError } from '../../../core/textparse/index.js';
import { configSchema } from '../../../receivers/prometheus/config.js';
import { prometheusReceiverFactory } from '../../../receivers/prometheus/factory.js';
import { eventually } from '../../harness/pprofcol.js';
import { startPrometheus, type PromServer } from '../../harness/servers.js';

const TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const OM = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** A server whose page and Content-Type the test sets; records the Accept header it was sent. */
async function pageServer() {
  const state = { body: '', type: TEXT, status: 200, accept: '' };
  const server = http.createServer((req, res) => {
    state.accept = String(req.headers.accept ?? '');
    res.writeHead(state.status, { 'content-type': state.type });
    res.end(state.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { state, hostPort: `127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Runs a receiver on one target at 200ms and collects what it hands on, batch by batch. */
function runReceiver(target: string, extra: Record<string, unknown> = {}) {
  const batches: Point[][] = [];
  const config = configSchema.parse({
    scrape_configs: [{ job_name: 'edge', scrape_interval: '200ms', static_configs: [{ targets: [target], labels: { env: 'test' } }], ...extra }],
  });
  const receiver = prometheusReceiverFactory.create(
    { id: 'prometheus', logger: silentLogger(), telemetry: new Telemetry(), configDir: process.cwd() },
    config,
    { consume: async (b: Batch) => void (b.signal === 'metrics' && batches.push(b.points)) },
  );
  return { receiver, batches };
}

const find = (points: Point[], name: string, labels: Record<string, string> = {}) =>
  points.filter((p) => p.name === name && Object.entries(labels).every(([k, v]) => p.labels[k] === v));

describe('text parser', () => {
  it('reads histograms, summaries, escapes, timestamps and special values', () => {
    const page = [
      '# HELP http_request_duration_seconds A histogram with \\\\ and \\n in HELP.',
      '# TYPE http_request_duration_seconds histogram',
      'http_request_duration_seconds_bucket{le="0.05"} 24054',
      'http_request_duration_seconds_bucket{le="+Inf"} 144320',
      'http_request_duration_seconds_sum 53423',
      'http_request_duration_seconds_count 144320',
      '# TYPE rpc_duration_seconds summary',
      'rpc_duration_seconds{quantile="0.5"} 4773',
      'rpc_duration_seconds_sum 1.7560473e+07',
      'rpc_duration_seconds_count 2693',
      '# a free comment',
      'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
      'metric_without_timestamp_and_labels 12.47',
      'something_weird{problem="division by zero"} +Inf -3982045',
      'not_a_number NaN',
      '  spaced { a = "1" , } 2',
      '',
    ].join('\n');
    const s = parseExposition(page, 'text');
    assert.equal(s.length, 12);
    assert.equal(s[0].family.name, 'http_request_duration_seconds');
    assert.equal(s[0].family.type, 'histogram');
    assert.equal(s[0].family.help, 'A histogram with \\ and \n in HELP.');
    assert.equal(s[3].family, s[0].family, 'one family object for _bucket, _sum and _count');
    assert.equal(s[4].family.type, 'summary');
    assert.equal(s[5].name, 'rpc_duration_seconds_sum');
    assert.equal(s[5].family.name, 'rpc_duration_seconds');
    assert.deepEqual({ ...s[7].labels }, { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    assert.equal(s[7].family.type, 'untyped');
    assert.equal(s[9].value, Infinity);
    assert.equal(s[9].timestampMs, -3982045);
    const nan = s.find((x) => x.name === 'not_a_number');
    assert.ok(nan !== undefined && Number.isNaN(nan.value));
    const spaced = s.find((x) => x.name === 'spaced');
    assert.deepEqual({ ...spaced?.labels }, { a: '1' });
  });

  it('reads OpenMetrics: units, counters with _total, float-second timestamps, exemplars, # EOF', () => {
    const page = [
      '# TYPE acme_http_router_request_seconds summary',
      '# UNIT acme_http_router_request_seconds seconds',
      '# HELP acme_http_router_request_seconds Latency though all of ACME\'s HTTP request router.',
      'acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32 1520879607.789',
      'acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0',
      '# TYPE go_goroutines gauge',
      'go_goroutines 69',
      '# TYPE foo counter',
      'foo_total 17.0 1520879607.789 # {trace_id="KOO5S4vxi0o"} 0.67',
      'foo_created 1520430000.123',
      '# EOF',
    ].join('\n');
    const s = parseExposition(page + '\n', 'openmetrics');
    assert.equal(s.length, 5);
    assert.equal(s[0].family.unit, 'seconds');
    assert.equal(s[0].timestampMs, 1520879607789);
    assert.equal(s[3].family.name, 'foo');
    assert.equal(s[3].family.type, 'counter');
    assert.equal(s[3].value, 17);
    assert.throws(() => parseExposition(page.replace('# EOF', ''), 'openmetrics'), /does not end with # EOF/);
    assert.throws(() => parseExposition(`${page}\ngo_goroutines 1\n`, 'openmetrics'), /after # EOF/);
  });

  it('rejects what Prometheus rejects', () => {
    const bad = [
      'm{a="1",a="2"} 1', // a label name repeated in one series
      'm{a="1"} one',
      'm{a="1} 1',
      'm{1a="1"} 1',
      '0m 1',
      'm{a="\\x"} 1',
      'm 1 1.5', // text timestamps are integer milliseconds
      '# TYPE m flux',
      'm',
    ];
    for (const line of bad) assert.throws(() => parseExposition(`${line}\n`, 'text'), TextParseError, line);
  });
});

describe('prometheus receiver against a page server', () => {
  let server: Awaited<ReturnType<typeof pageServer>>;
  before(async () => {
    server = await pageServer();
  });
  after(async () => server.close());

  it('scrapes, applies target labels, ends vanished series, fails invalid pages with up 0', async () => {
    server.state.type = TEXT;
    server.state.body = [
      '# HELP rpc_duration_seconds RPC latency.',
      '# TYPE rpc_duration_seconds summary',
      'rpc_duration_seconds{quantile="0.99",job="theirs"} 0.5',
      'rpc_duration_seconds_sum{job="theirs"} 10',
      'rpc_duration_seconds_count{job="theirs"} 20',
      '# TYPE temp gauge',
      'temp{room="a\\"b"} 21.5',
      'temp{room="c"} 19',
      '',
    ].join('\n');
    const { receiver, batches } = runReceiver(server.hostPort);
    await receiver.start();
    try {
      const first = await eventually('a first scrape', 5000, () => batches[0]);
      assert.match(server.state.accept, /^application\/openmetrics-text;version=1.0.0,.*text\/plain;version=0.0.4;q=0.5/);
      const up = find(first, 'up')[0];
      assert.equal(up.value, 1);
      assert.deepEqual({ ...up.labels }, { env: 'test', instance: server.hostPort, job: 'edge' });
      assert.equal(find(first, 'scrape_samples_scraped')[0].value, 5);
      assert.ok(find(first, 'scrape_duration_seconds')[0].value > 0);
      const q = find(first, 'rpc_duration_seconds', { quantile: '0.99' })[0];
      assert.deepEqual({ ...q.labels }, { quantile: '0.99', job: 'edge', exported_job: 'theirs', instance: server.hostPort, env: 'test' });
      assert.equal(q.family.type, 'summary');
      assert.equal(find(first, 'temp', { room: 'a"b' })[0].value, 21.5);
      assert.ok(first.every((p) => p.timestampMs === up.timestampMs), 'one timestamp per scrape');

      // temp{room="c"} vanishes: one stale marker for it, the rest go on.
      server.state.body = server.state.body.replace('temp{room="c"} 19\n', '');
      const n = batches.length;
      const withStale = await eventually('a stale marker', 5000, () => batches.slice(n).find((b) => b.some((p) => p.stale)));
      const stale = withStale.filter((p) => p.stale);
      assert.equal(stale.length, 1);
      assert.equal(stale[0].name, 'temp');
      assert.equal(stale[0].labels.room, 'c');

      // A repeated label name invalidates the page: up 0 and every series ends.
      server.state.body += 'temp{room="d",room="e"} 1\n';
      const m = batches.length;
      const failed = await eventually('up 0', 5000, () => batches.slice(m).find((b) => find(b, 'up')[0]?.value === 0));
      assert.equal(failed.filter((p) => p.stale).length, 4, 'stale markers for the four series left');
      assert.match(find(failed, 'up')[0].note ?? '', /repeated/);

      // An OpenMetrics page without # EOF fails too; with it, it is up again.
      server.state.type = OM;
      server.state.body = '# TYPE g gauge\ng 1\n';
      const k = batches.length;
      await eventually('up 0 for a missing # EOF', 5000, () => batches.slice(k).find((b) => find(b, 'up')[0]?.note?.includes('EOF')));
      server.state.body = '# TYPE g gauge\n# UNIT g bytes\ng 1 1700000000.5\n# EOF\n';
      const j = batches.length;
      const ok = await eventually('up 1 on OpenMetrics', 5000, () => batches.slice(j).find((b) => find(b, 'up')[0]?.value === 1));
      assert.equal(find(ok, 'g')[0].timestampMs, 1700000000500, 'honor_timestamps keeps the page\'s timestamp');
      assert.equal(find(ok, 'g')[0].family.unit, 'bytes');

      // A 500 is a failed scrape, too.
      server.state.status = 500;
      const h = batches.length;
      await eventually('up 0 on HTTP 500', 5000, () => batches.slice(h).find((b) => find(b, 'up')[0]?.value === 0));
    } finally {
      await receiver.shutdown();
      server.state.status = 200;
    }
  });

  it('honor_labels: true keeps the scraped job; honor_timestamps: false stamps the scrape time', async () => {
    server.state.type = TEXT;
    server.state.body = 'x{job="theirs"} 1 1000\n';
    const { receiver, batches } = runReceiver(server.hostPort, { honor_labels: true, honor_timestamps: false });
    await receiver.start();
    try {
      const first = await eventually('a scrape', 5000, () => batches[0]);
      const x = find(first, 'x')[0];
      assert.equal(x.labels.job, 'theirs');
      assert.equal(x.labels.exported_job, undefined);
      assert.equal(x.timestampMs, find(first, 'up')[0].timestampMs);
    } finally {
      await receiver.shutdown();
    }
  });
});

describe('prometheus receiver against a real Prometheus', () => {
  let prom: PromServer;
  before(async () => {
    prom = await startPrometheus();
  });
  after(async () => prom?.stop());

  it('parses Prometheus 2.42\'s own /metrics: up 1, typed families, histograms', async () => {
    const { receiver, batches } = runReceiver(prom.hostPort);
    await receiver.start();
    try {
      const first = await eventually('a scrape', 10_000, () => batches[0]);
      assert.equal(find(first, 'up')[0].value, 1, find(first, 'up')[0].note);
      const goroutines = find(first, 'go_goroutines')[0];
      assert.equal(goroutines.family.type, 'gauge');
      assert.equal(goroutines.family.help, 'Number of goroutines that currently exist.');
      const buckets = first.filter((p) => p.name === 'prometheus_http_request_duration_seconds_bucket');
      assert.ok(buckets.length > 0);
      assert.equal(buckets[0].family.name, 'prometheus_http_request_duration_seconds');
      assert.equal(buckets[0].family.type, 'histogram');
      assert.ok(find(first, 'go_gc_duration_seconds', { quantile: '0.5' }).length === 1);
      assert.ok(find(first, 'scrape_samples_scraped')[0].value > 100);
    } finally {
      await receiver.shutdown();
    }
  });
});
