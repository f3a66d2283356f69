// pprofcol's own listeners behind TLS and basic auth, with a real Prometheus 2.42 on the other side:
// Prometheus scrapes pprofcol's telemetry /metrics over mutual TLS with basic_auth, and sends its
// samples by remote_write (basic_auth, tls_config) into pprofcol's remote-write receiver. Two more
// remote_write queues send a wrong password and none: 401, counted in pprofcol_http_auth_failures_total.
// The hashes come from Debian's htpasswd, not from the library pprofcol checks them with.
//
// Then a run with known secrets in every place a secret can go (URL userinfo of both exporters, a
// basic_auth password, a bearer token, a password_file, an ${env:...} value): no log line, no /metrics
// line, no `validate` output and no start error holds any of them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { makeTestPki, type TestPki } from '../harness/certs.js';
import { eventually, parseExposition, runCli, startDaemonOnFreePort, writeConfig, type Daemon } from '../harness/pprofcol.js';
import { freePort, htpasswdHash, secureFetcher, startPrometheus, type Fetcher, type PromServer } from '../harness/servers.js';

let pki: TestPki;
const SENDER = 'sender';
const SENDER_PASSWORD = 'remote-write-pw';
const SCRAPER = 'scraper';
const SCRAPER_PASSWORD = 'telemetry-pw';
let hashes: { sender: string; scraper: string };

before(() => {
  pki = makeTestPki();
  hashes = { sender: htpasswdHash(SENDER, SENDER_PASSWORD), scraper: htpasswdHash(SCRAPER, SCRAPER_PASSWORD) };
});
after(() => pki?.cleanup());

/** The value of a sample in exposition text, summed over the series that match `labels`. */
function sampleSum(text: string, name: string, labels: Record<string, string>): number {
  return parseExposition(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

describe('a real Prometheus against pprofcol listeners with TLS and basic_auth_users', () => {
  let daemon: Daemon;
  let receiverPort: number;
  let telemetry: string;
  let prom: PromServer;
  let scrape: Fetcher;

  before(async () => {
    const started = await startDaemonOnFreePort(
      (port) => `
receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:${port}
    tls_server_config: {cert_file: ${pki.serverCertFile}, key_file: ${pki.serverKeyFile}}
    basic_auth_users: {${SENDER}: "${hashes.sender}"}
exporters:
  debug: {}
service:
  pipelines:
    metrics: {receivers: [prometheusremotewrite], exporters: [debug]}
  telemetry:
    http:
      listen: "{{TELEMETRY}}"
      tls_server_config:
        cert_file: ${pki.serverCertFile}
        key_file: ${pki.serverKeyFile}
        client_ca_file: ${pki.caFile}
        client_auth_type: RequireAndVerifyClientCert
      basic_auth_users: {${SCRAPER}: "${hashes.scraper}"}
`,
      /remote-write receiver listening/,
      20_000,
    );
    daemon = started.daemon;
    receiverPort = started.port;
    telemetry = daemon.telemetryUrl.replace('http://', '');
    scrape = secureFetcher({ ca: pki.ca, cert: readFileSync(pki.clientCertFile), key: readFileSync(pki.clientKeyFile), username: SCRAPER, password: SCRAPER_PASSWORD });
    const tlsClient = { ca_file: pki.caFile, cert_file: pki.clientCertFile, key_file: pki.clientKeyFile };
    const writeUrl = `https://127.0.0.1:${receiverPort}/api/v1/write`;
    const queue = { batch_send_deadline: '500ms', min_backoff: '50ms', max_backoff: '200ms' };
    prom = await startPrometheus({
      rawScrapeConfigs: [
        // pprofcol's own /metrics as the sample source, over mutual TLS with basic auth.
        { job_name: 'pprofcol', scheme: 'https', tls_config: tlsClient, basic_auth: { username: SCRAPER, password: SCRAPER_PASSWORD }, static_configs: [{ targets: [telemetry] }] },
        { job_name: 'pprofcol_wrong', scheme: 'https', tls_config: tlsClient, basic_auth: { username: SCRAPER, password: 'wrong' }, static_configs: [{ targets: [telemetry] }] },
      ],
      remoteWrite: [
        { name: 'good', url: writeUrl, basic_auth: { username: SENDER, password: SENDER_PASSWORD }, tls_config: { ca_file: pki.caFile }, queue_config: queue },
        { name: 'wrong', url: writeUrl, basic_auth: { username: SENDER, password: 'not-it' }, tls_config: { ca_file: pki.caFile }, queue_config: queue },
        { name: 'missing', url: writeUrl, tls_config: { ca_file: pki.caFile }, queue_config: queue },
      ],
    });
  });
  after(async () => {
    await prom?.stop();
    await daemon?.stop();
  });

  const own = async (): Promise<string> => {
    const res = await scrape(`https://${telemetry}/metrics`);
    assert.equal(res.status, 200);
    return res.text();
  };

  it('Prometheus scrapes the telemetry listener over mutual TLS and basic auth; a wrong password is down', { timeout: 30_000 }, async () => {
    await eventually('up{job="pprofcol"} == 1', 20_000, async () => ((await prom.query('up{job="pprofcol"} == 1')).length === 1 ? true : undefined));
    await eventually('up{job="pprofcol_wrong"} == 0', 20_000, async () => ((await prom.query('up{job="pprofcol_wrong"} == 0')).length === 1 ? true : undefined));
    await eventually('the wrong scrape password counted', 10_000, async () => (sampleSum(await own(), 'pprofcol_http_auth_failures_total', { listener: 'telemetry', reason: 'wrong_password' }) >= 1 ? true : undefined));
  });

  it('the telemetry listener: no client certificate is refused in the handshake; no password is 401 with WWW-Authenticate: Basic', { timeout: 15_000 }, async () => {
    const handshake = await new Promise<string>((resolve) => {
      const [host, port] = telemetry.split(':');
      const socket = tls.connect({ host, port: Number(port), ca: pki.ca }, () => socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'));
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('error', (err) => resolve(`error: ${err.message}`));
      socket.on('close', () => resolve(got));
    });
    assert.doesNotMatch(handshake, /^HTTP\/1\.1 200/, 'nothing served without a client certificate');
    const noPassword = secureFetcher({ ca: pki.ca, cert: readFileSync(pki.clientCertFile), key: readFileSync(pki.clientKeyFile) });
    const res = await noPassword(`https://${telemetry}/metrics`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="pprofcol"');
    assert.doesNotMatch(await res.text(), /pprofcol_/);
  });

  it('remote_write with basic_auth and tls_config gets in; a wrong and a missing password get 401 and are counted', { timeout: 40_000 }, async () => {
    await eventually('samples received from Prometheus', 30_000, async () => (sampleSum(await own(), 'pprofcol_receiver_write_samples_total', {}) > 0 ? true : undefined));
    await eventually('401s counted by reason', 30_000, async () => {
      const text = await own();
      const wrong = sampleSum(text, 'pprofcol_http_auth_failures_total', { listener: 'prometheusremotewrite', reason: 'wrong_password' });
      const missing = sampleSum(text, 'pprofcol_http_auth_failures_total', { listener: 'prometheusremotewrite', reason: 'missing' });
      return wrong >= 1 && missing >= 1 ? true : undefined;
    });
    // Prometheus's side (its own /metrics: it does not scrape itself here): the good queue sent, the
    // others were refused (4xx: dropped, not retried).
    await eventually('Prometheus saw the refusals', 20_000, async () => {
      const failed = parseExposition(await prom.metricsText()).filter((s) => s.name === 'prometheus_remote_storage_samples_failed_total');
      const byQueue = new Map(failed.map((s) => [s.labels.remote_name, s.value]));
      if ((byQueue.get('wrong') ?? 0) > 0 && (byQueue.get('missing') ?? 0) > 0 && byQueue.get('good') === 0) return true;
      throw new Error(`samples failed by queue: ${JSON.stringify([...byQueue])}`);
    });
    // The requests refused were never decoded: every sample counted came through the good queue.
    const text = await own();
    assert.equal(sampleSum(text, 'pprofcol_receiver_write_requests_total', { code: '401' }), 0, 'a 401 is the listener\'s, before the receiver sees the request');
  });
});

describe('no secret appears in logs, /metrics, validate output or errors', () => {
  const SECRETS = {
    url: 'Url-Secret-7741',
    otlpUrl: 'Otlp-Url-Secret-2297',
    basic: 'Basic-Secret-5532',
    token: 'Bearer-Token-Secret-9913',
    file: 'File-Secret-3381',
    env: 'Env-Secret-6620',
    scrape: 'Scrape-Secret-1184',
    query: 'Query-Secret-4410',
  };
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-secrets-'));
    writeFileSync(path.join(dir, 'password'), `${SECRETS.file}\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const configFor = async (receiverPort: number, extra = ''): Promise<string> => {
    const dead = await freePort();
    const own = `https://127.0.0.1:${receiverPort}/api/v1/write`;
    return `
receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:${receiverPort}
    tls_server_config: {cert_file: ${pki.serverCertFile}, key_file: ${pki.serverKeyFile}}
    basic_auth_users: {${SENDER}: "${hashes.sender}"}
  pprof:
    scrape_configs:
      - job_name: secret
        scrape_interval: 1s
        scheme: https
        tls_config: {ca_file: ${pki.caFile}}
        profiles: [goroutine]
        # pprofcol's own receiver answers 401 to this password.
        static_configs: [{targets: ["127.0.0.1:${receiverPort}"]}]
        basic_auth: {username: ${SENDER}, password: ${SECRETS.scrape}}
processors:
  pprof_metrics: {}
exporters:
  debug: {}
  prometheusremotewrite/url:
    endpoint: http://writer:${SECRETS.url}@127.0.0.1:${dead}/api/v1/write?api_key=${SECRETS.query}
    queue_config: {min_backoff: 50ms, max_backoff: 200ms}
  prometheusremotewrite/basic:
    endpoint: ${own}
    tls_config: {ca_file: ${pki.caFile}}
    basic_auth: {username: ${SENDER}, password: ${SECRETS.basic}}
  prometheusremotewrite/token:
    endpoint: ${own}
    tls_config: {ca_file: ${pki.caFile}}
    authorization: {credentials: ${SECRETS.token}}
  prometheusremotewrite/file:
    endpoint: ${own}
    tls_config: {ca_file: ${pki.caFile}}
    basic_auth: {username: ${SENDER}, password_file: ${path.join(dir, 'password')}}
  prometheusremotewrite/env:
    endpoint: ${own}
    tls_config: {ca_file: ${pki.caFile}}
    basic_auth: {username: ${SENDER}, password: "\${env:PPROFCOL_TEST_SECRET}"}
  otlphttp:
    endpoint: http://otel:${SECRETS.otlpUrl}@127.0.0.1:${dead}
    retry_on_failure: {initial_interval: 50ms, max_interval: 200ms}
service:
  pipelines:
    metrics:
      receivers: [pprof]
      processors: [pprof_metrics]
      exporters: [prometheusremotewrite/url, prometheusremotewrite/basic, prometheusremotewrite/token, prometheusremotewrite/file, prometheusremotewrite/env, otlphttp]
    metrics/in: {receivers: [prometheusremotewrite], exporters: [debug]}
  telemetry:
    http: {listen: "{{TELEMETRY}}"}
${extra}`;
  };
  const env = { PPROFCOL_TEST_SECRET: SECRETS.env };
  const assertClean = (what: string, text: string): void => {
    for (const [where, secret] of Object.entries(SECRETS)) assert.ok(!text.includes(secret), `${what} holds the ${where} secret:\n${text.split('\n').filter((l) => l.includes(secret)).slice(0, 3).join('\n')}`);
  };

  it('a running daemon whose every exporter fails: log lines and /metrics', { timeout: 40_000 }, async () => {
    const receiverPort = await freePort();
    const text = await configFor(receiverPort);
    const { daemon: d } = await startDaemonOnFreePort(() => text, /pprofcol started/, 20_000, env);
    try {
      // Every exporter has failed at least once, and said so: the URL's exporters (connect), the others (401).
      await d.waitFor('stderr', /writer:xxxxx@127\.0\.0\.1/, 20_000);
      await d.waitFor('stderr', /otel:xxxxx@127\.0\.0\.1/, 20_000);
      await eventually('every 401 counted', 20_000, async () => {
        const res = await fetch(`${d.telemetryUrl}/metrics`);
        const metrics = await res.text();
        return sampleSum(metrics, 'pprofcol_http_auth_failures_total', { reason: 'wrong_password' }) >= 5 ? metrics : undefined;
      });
      // Each exporter sent its secret and logged its refusal (the error names the endpoint).
      for (const id of ['basic', 'token', 'file', 'env']) {
        await d.waitFor('stderr', new RegExp(`"component":"exporter/prometheusremotewrite/${id}".*rejected a request`), 20_000);
      }
      const metrics = await (await fetch(`${d.telemetryUrl}/metrics`)).text();
      assertClean('/metrics', metrics);
      // The pages that show the configuration, the exporters' endpoints and last errors, the targets.
      for (const page of ['/status', '/api/v1/status/pipeline', '/api/v1/targets']) {
        const res = await fetch(`${d.telemetryUrl}${page}`);
        assert.equal(res.status, 200, page);
        const body = await res.text();
        assertClean(page, body);
        if (page !== '/api/v1/targets') assert.ok(body.includes('writer:xxxxx@127.0.0.1') && body.includes('api_key=xxxxx'), `${page} shows the masked endpoint`);
        else assert.match(body, /"job":"secret"/, 'the targets API lists the scraped target');
      }
    } finally {
      await d.stop();
    }
    assertClean('the log', d.stderr());
    assertClean('stdout', d.stdout());
  });

  it('validate (its warnings and its errors) and a daemon that cannot start', { timeout: 30_000 }, async () => {
    const receiverPort = await freePort();
    const telemetryPort = await freePort();
    // Listening beyond loopback without auth: a warning that names the key; the config's secrets stay out of it.
    const exposed = (await configFor(receiverPort)).replace('{{TELEMETRY}}', `0.0.0.0:${telemetryPort}`);
    const valid = await runCli(['validate', '--config', writeConfig(exposed)], { env });
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stderr, /warning: service\.telemetry\.http\.listen: "0\.0\.0\.0:\d+" listens on every interface without authentication/);
    assertClean('validate output', valid.stdout + valid.stderr);

    // Errors beside every secret: unknown keys, an endpoint that is no URL (with a password in it).
    const broken = exposed
      .replace(`password: ${SECRETS.basic}}`, `password: ${SECRETS.basic}, bogus: 1}`)
      .replace(`credentials: ${SECRETS.token}}`, `credentials: ${SECRETS.token}, bogus: 1}`)
      .replace(`@127.0.0.1:`, `@127.0.0.1:notaport:`);
    const invalid = await runCli(['validate', '--config', writeConfig(broken)], { env: {} });
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /exporters\.prometheusremotewrite\/basic\.basic_auth/);
    assertClean('validate errors', invalid.stdout + invalid.stderr);

    // Cannot start: the receiver's certificate is not there.
    const unstartable = (await configFor(receiverPort)).replace('{{TELEMETRY}}', `127.0.0.1:${telemetryPort}`).replace(`cert_file: ${pki.serverCertFile}`, `cert_file: ${path.join(dir, 'missing.pem')}`);
    const run = await runCli(['run', '--config', writeConfig(unstartable)], { env, timeoutMs: 20_000 });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /tls_server_config: cannot use cert_file/);
    assertClean('the start error', run.stdout + run.stderr);
  });
});
