// Authentication and TLS on every HTTP client pprofcol has, against a real Prometheus 2.42 behind
// `--web.config.file` (exporter-toolkit's TLS, client certificates and basic auth, in front of every
// path it serves): the scrape side (core/scrape/http.ts, and the pprof receiver through it) fetches
// Prometheus's own /debug/pprof/*, the prometheusremotewrite exporter writes into its remote-write
// receiver and the sample is queried back, the otlphttp exporter (both encodings) gets past TLS and
// basic auth to a 404 (Prometheus 2.42 has no OTLP receiver: the 404 can only come after the
// handshake and the credentials passed; a wrong password gets 401). Hashes come from htpasswd.
//
// Prometheus A: a certificate for 127.0.0.1, RequireAndVerifyClientCert against the test CA, and
// basic_auth_users. Prometheus B: a certificate for a name only (server_name), no client auth.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { Batch, CreateSettings } from '../../core/component.js';
import { silentLogger } from '../../core/logger.js';
import { metricBatch, type MetricFamily } from '../../core/model/metrics.js';
import { HttpScraper, ScrapeError } from '../../core/scrape/http.js';
import { Telemetry } from '../../core/telemetry/metrics.js';
import { configSchema as otlpConfigSchema } from '../../exporters/otlphttp/config.js';
import { OtlpHttpExporter } from '../../exporters/otlphttp/exporter.js';
import { pprofReceiverFactory } from '../../receivers/pprof/factory.js';
import { makeTestPki, type TestPki } from '../harness/certs.js';
import { htpasswdHash, startPrometheus, type PromServer } from '../harness/servers.js';
import { metric, waitFor } from '../harness/common.js';
import { exporterFor } from '../harness/rw-capture.js';

let pki: TestPki;
/** A: TLS + RequireAndVerifyClientCert + basic auth. B: TLS with a name-only certificate. */
let promA: PromServer;
let promB: PromServer;
const PASSWORD_FILE = 'password.txt';
const TOKEN_FILE = 'token.txt';
const USER = 'pprofcol';
const PASSWORD = 's3cret';

before(async () => {
  pki = makeTestPki();
  // Secrets as operators write them: with a trailing newline, which must not reach the header.
  writeFileSync(path.join(pki.dir, PASSWORD_FILE), `${PASSWORD}\n`);
  // authorization with type Basic: the credentials are base64(user:password), as Prometheus documents.
  writeFileSync(path.join(pki.dir, TOKEN_FILE), `${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}\n`);
  const clientCerts = { ca: pki.ca, cert: readFileSync(pki.clientCertFile), key: readFileSync(pki.clientKeyFile) };
  [promA, promB] = await Promise.all([
    startPrometheus({
      remoteWriteReceiver: true,
      webConfig: {
        tls_server_config: { cert_file: pki.serverCertFile, key_file: pki.serverKeyFile, client_ca_file: pki.caFile, client_auth_type: 'RequireAndVerifyClientCert' },
        basic_auth_users: { [USER]: htpasswdHash(USER, PASSWORD) },
        client: { ...clientCerts, username: USER, password: PASSWORD },
      },
    }),
    startPrometheus({
      remoteWriteReceiver: true,
      webConfig: { tls_server_config: { cert_file: pki.namedCertFile, key_file: pki.namedKeyFile }, client: { ca: pki.ca, servername: pki.namedHost } },
    }),
  ]);
});
after(async () => {
  await Promise.all([promA?.stop(), promB?.stop()]);
  pki?.cleanup();
});

const GOROUTINE = '/debug/pprof/goroutine?debug=1';

async function scrapeError(scraper: HttpScraper, url: string): Promise<ScrapeError> {
  try {
    await scraper.get(url, { timeoutMs: 5_000, limitBytes: 0 });
  } catch (err) {
    assert.ok(err instanceof ScrapeError, String(err));
    return err;
  }
  assert.fail(`${url} was fetched, a failure was expected`);
}

function settings(id: string): CreateSettings {
  return { id, logger: silentLogger(), telemetry: new Telemetry(), configDir: pki.dir };
}

const mtls = () => ({ ca_file: 'ca.pem', cert_file: 'client.pem', key_file: 'client.key' });

describe('scrape side (core/scrape/http.ts) against Prometheus behind its web config', () => {
  it('mutual TLS and basic_auth from password_file; a rotated (wrong) password file is a 401', async () => {
    const scraper = new HttpScraper({ tls_config: { ...mtls(), insecure_skip_verify: false }, basic_auth: { username: USER, password_file: PASSWORD_FILE } }, pki.dir);
    const body = await scraper.get(`${promA.url}${GOROUTINE}`, { timeoutMs: 5_000, limitBytes: 0 });
    assert.match(body.toString('utf8'), /^goroutine profile: total \d+/);
    // Re-read on every request: a wrong one now is refused by Prometheus.
    writeFileSync(path.join(pki.dir, PASSWORD_FILE), 'rotated\n');
    try {
      const err = await scrapeError(scraper, `${promA.url}${GOROUTINE}`);
      assert.equal(err.reason, 'http_status');
      assert.equal(err.status, 401);
    } finally {
      writeFileSync(path.join(pki.dir, PASSWORD_FILE), `${PASSWORD}\n`);
    }
    assert.match((await scraper.get(`${promA.url}${GOROUTINE}`, { timeoutMs: 5_000, limitBytes: 0 })).toString('utf8'), /^goroutine profile/);
    await scraper.close();
  });

  it('authorization (type Basic) from credentials_file; wrong credentials are a 401', async () => {
    const good = new HttpScraper({ tls_config: { ...mtls(), insecure_skip_verify: false }, authorization: { type: 'Basic', credentials_file: TOKEN_FILE } }, pki.dir);
    assert.match((await good.get(`${promA.url}${GOROUTINE}`, { timeoutMs: 5_000, limitBytes: 0 })).toString('utf8'), /^goroutine profile/);
    const bad = new HttpScraper({ tls_config: { ...mtls(), insecure_skip_verify: false }, authorization: { type: 'Basic', credentials: Buffer.from(`${USER}:wrong`).toString('base64') } }, pki.dir);
    const err = await scrapeError(bad, `${promA.url}${GOROUTINE}`);
    assert.equal(err.reason, 'http_status');
    assert.equal(err.status, 401);
    await Promise.all([good.close(), bad.close()]);
  });

  it('Prometheus refuses no client certificate (reason tls, with the alert) and one from another CA', async () => {
    const none = new HttpScraper({ tls_config: { ca_file: pki.caFile, insecure_skip_verify: false }, basic_auth: { username: USER, password: PASSWORD } }, pki.dir);
    const refused = await scrapeError(none, `${promA.url}${GOROUTINE}`);
    assert.equal(refused.reason, 'tls', refused.message);
    assert.match(refused.message, /certificate/);
    const rogue = new HttpScraper(
      { tls_config: { ca_file: pki.caFile, cert_file: pki.rogueCertFile, key_file: pki.rogueKeyFile, insecure_skip_verify: false }, basic_auth: { username: USER, password: PASSWORD } },
      pki.dir,
    );
    const err = await scrapeError(rogue, `${promA.url}${GOROUTINE}`);
    assert.equal(err.reason, 'tls', err.message);
    await Promise.all([none.close(), rogue.close()]);
  });

  it('without ca_file the test CA is not trusted (tls); insecure_skip_verify accepts it', async () => {
    const strict = new HttpScraper({}, pki.dir);
    assert.equal((await scrapeError(strict, `${promB.url}${GOROUTINE}`)).reason, 'tls');
    const lax = new HttpScraper({ tls_config: { insecure_skip_verify: true } }, pki.dir);
    assert.match((await lax.get(`${promB.url}${GOROUTINE}`, { timeoutMs: 5_000, limitBytes: 0 })).toString('utf8'), /^goroutine profile/);
    await Promise.all([strict.close(), lax.close()]);
  });

  it('server_name: the certificate is verified against that name when the address is an IP', async () => {
    const byAddress = new HttpScraper({ tls_config: { ca_file: pki.caFile, insecure_skip_verify: false } }, pki.dir);
    const err = await scrapeError(byAddress, `${promB.url}${GOROUTINE}`);
    assert.equal(err.reason, 'tls', err.message);
    const byName = new HttpScraper({ tls_config: { ca_file: pki.caFile, server_name: pki.namedHost, insecure_skip_verify: false } }, pki.dir);
    assert.match((await byName.get(`${promB.url}${GOROUTINE}`, { timeoutMs: 5_000, limitBytes: 0 })).toString('utf8'), /^goroutine profile/);
    const wrongName = new HttpScraper({ tls_config: { ca_file: pki.caFile, server_name: 'other.test', insecure_skip_verify: false } }, pki.dir);
    assert.equal((await scrapeError(wrongName, `${promB.url}${GOROUTINE}`)).reason, 'tls');
    await Promise.all([byAddress.close(), byName.close(), wrongName.close()]);
  });

  it('the pprof receiver scrapes Prometheus over https with mutual TLS and basic_auth from a file', async () => {
    const s = settings('pprof/tls');
    const batches: Batch[] = [];
    const receiver = pprofReceiverFactory.create(
      s,
      pprofReceiverFactory.configSchema.parse({
        scrape_configs: [
          {
            job_name: 'secure',
            scheme: 'https',
            scrape_interval: '1s',
            profiles: ['goroutine', 'threadcreate', 'heap'],
            static_configs: [{ targets: [promA.hostPort] }],
            tls_config: mtls(),
            basic_auth: { username: USER, password_file: PASSWORD_FILE },
          },
        ],
      }),
      { consume: async (b) => void batches.push(b) },
    );
    await receiver.start();
    try {
      await waitFor('a successful scrape', async () => (await metric(s.telemetry, 'pprofcol_receiver_scrapes_total', { job: 'secure', result: 'success' })) >= 1, 15_000);
    } finally {
      await receiver.shutdown();
    }
    assert.equal(await metric(s.telemetry, 'pprofcol_receiver_scrape_failures_total', { job: 'secure' }), 0);
    assert.ok(batches.length >= 1);
  });
});

const family: MetricFamily = { name: 'pprofcol_tls_test', type: 'gauge', help: 'A test gauge.', unit: '' };
function onePoint(value: number, job: string) {
  return metricBatch('pprof', [{ family, name: family.name, labels: { job, instance: 'x:1' }, value, timestampMs: Date.now(), stale: false }]);
}
const fastQueue = { queue_config: { batch_send_deadline: '20ms', min_backoff: '10ms', max_backoff: '50ms' }, metadata_config: { send: false } };

async function queried(prom: PromServer, job: string): Promise<number | undefined> {
  const r = await prom.query(`${family.name}{job="${job}"}`);
  return r.length === 0 ? undefined : Number(r[0].value[1]);
}

describe('prometheusremotewrite exporter into Prometheus behind its web config', () => {
  it('mutual TLS and basic_auth from password_file: the sample is queryable', async () => {
    const s = settings('prometheusremotewrite/tls');
    const exp = exporterFor(s, { endpoint: `${promA.url}/api/v1/write`, tls_config: mtls(), basic_auth: { username: USER, password_file: PASSWORD_FILE }, ...fastQueue });
    await exp.start();
    await exp.consume(onePoint(7, 'mtls'));
    await waitFor('the sample accepted', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 1);
    await exp.shutdown();
    await waitFor('the sample in Prometheus', async () => (await queried(promA, 'mtls')) === 7, 10_000);
  });

  it('a wrong password is a 401: dropped at once, not retried', async () => {
    const s = settings('prometheusremotewrite/wrong');
    const exp = exporterFor(s, { endpoint: `${promA.url}/api/v1/write`, tls_config: mtls(), basic_auth: { username: USER, password: 'wrong' }, ...fastQueue });
    await exp.start();
    await exp.consume(onePoint(8, 'wrong'));
    await waitFor('the sample dropped', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', { reason: 'http_401' })) === 1);
    await exp.shutdown();
    assert.equal(await metric(s.telemetry, 'pprofcol_exporter_samples_retried_total', {}), 0);
    assert.equal(await queried(promA, 'wrong'), undefined);
  });

  it('server_name and ca_file; authorization (type Basic) from credentials_file; insecure_skip_verify', async () => {
    const s = settings('prometheusremotewrite/named');
    const named = exporterFor(s, { endpoint: `${promB.url}/api/v1/write`, tls_config: { ca_file: 'ca.pem', server_name: pki.namedHost }, authorization: { type: 'Basic', credentials_file: TOKEN_FILE }, ...fastQueue });
    const s2 = settings('prometheusremotewrite/lax');
    const lax = exporterFor(s2, { endpoint: `${promB.url}/api/v1/write`, tls_config: { insecure_skip_verify: true }, ...fastQueue });
    await Promise.all([named.start(), lax.start()]);
    await named.consume(onePoint(9, 'named'));
    await lax.consume(onePoint(10, 'lax'));
    await waitFor('both accepted', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 1 && (await metric(s2.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 1);
    await Promise.all([named.shutdown(), lax.shutdown()]);
    await waitFor('both in Prometheus', async () => (await queried(promB, 'named')) === 9 && (await queried(promB, 'lax')) === 10, 10_000);
  });
});

for (const encoding of ['proto', 'json'] as const) {
  describe(`otlphttp exporter (${encoding}) against Prometheus behind its web config`, () => {
    it('mutual TLS and basic_auth get through to Prometheus (404: it has no OTLP receiver); a wrong password gets 401', async () => {
      const send = async (id: string, password: string): Promise<Telemetry> => {
        const s = settings(`otlphttp/${id}-${encoding}`);
        const exp = new OtlpHttpExporter(
          s,
          otlpConfigSchema.parse({
            endpoint: promA.url,
            encoding,
            compression: 'none',
            tls_config: mtls(),
            basic_auth: { username: USER, password },
            retry_on_failure: { initial_interval: '10ms', max_interval: '50ms' },
          }),
        );
        await exp.start();
        await exp.consume(onePoint(11, 'otlp'));
        await waitFor('the point dropped', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_dropped_total', {})) === 1, 15_000);
        await exp.shutdown();
        return s.telemetry;
      };
      const passed = await send('good', PASSWORD);
      assert.equal(await metric(passed, 'pprofcol_exporter_samples_dropped_total', { reason: 'http_404' }), 1);
      const refused = await send('wrong', 'wrong');
      assert.equal(await metric(refused, 'pprofcol_exporter_samples_dropped_total', { reason: 'http_401' }), 1);
    });
  });
}
