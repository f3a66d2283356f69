// Authentication and TLS on every HTTP client pprofcol has: the scrape side (core/scrape/http.ts, and
// the pprof receiver through it), the prometheusremotewrite exporter and the otlphttp exporter (both
// encodings). Real HTTPS servers of the test's own, with a CA and certificates made by the openssl
// CLI: basic_auth with password_file, authorization with credentials_file, tls_config with ca_file,
// cert_file/key_file (mutual TLS), server_name and insecure_skip_verify.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';

import type { Batch, CreateSettings } from '../../core/component.js';
import { silentLogger } from '../../core/logger.js';
import { metricBatch, type MetricFamily } from '../../core/model/metrics.js';
import { snappyUncompress } from '../../core/remotewrite/index.js';
import { decodeWriteRequest } from '../core/remotewrite/reference-decoder.js';
import { HttpScraper, ScrapeError } from '../../core/scrape/http.js';
import { Telemetry } from '../../core/telemetry/metrics.js';
import { configSchema as otlpConfigSchema } from '../../exporters/otlphttp/config.js';
import { OtlpHttpExporter } from '../../exporters/otlphttp/exporter.js';
import { pprofReceiverFactory } from '../../receivers/pprof/factory.js';
import { makeTestPki, type TestPki } from '../harness/certs.js';
import { repoRoot } from '../harness/servers.js';
import { exporterFor, metric, waitFor } from '../exporters/prometheusremotewrite/helpers.js';
import { decodeOtlpJson, decodeOtlpProto } from '../exporters/otlphttp/helpers.js';

let pki: TestPki;
const PASSWORD_FILE = 'password.txt';
const TOKEN_FILE = 'token.txt';

before(() => {
  pki = makeTestPki();
  // Secrets as operators write them: with a trailing newline, which must not reach the header.
  writeFileSync(path.join(pki.dir, PASSWORD_FILE), 's3cret\n');
  writeFileSync(path.join(pki.dir, TOKEN_FILE), 'tok-1\n');
});
after(() => pki?.cleanup());

interface Seen {
  url: string;
  authorization: string | undefined;
  /** CN of the client certificate, '' when none. */
  clientCn: string;
  /** SNI the client sent. */
  servername: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

interface SecureServer {
  url: string;
  hostPort: string;
  seen: Seen[];
  close(): Promise<void>;
}

const servers: SecureServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/**
 * An HTTPS server. `mtls`: it asks for a client certificate and refuses the handshake without one
 * signed by the test CA. `auth`: the Authorization value it wants (401 otherwise).
 */
async function secureServer(options: { named?: boolean; mtls?: boolean; auth?: () => string; respond?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void }): Promise<SecureServer> {
  const seen: Seen[] = [];
  const server = https.createServer(
    {
      cert: options.named === true ? pki.namedCert : pki.serverCert,
      key: options.named === true ? pki.namedKey : pki.serverKey,
      ca: pki.ca,
      requestCert: options.mtls === true,
      rejectUnauthorized: options.mtls === true,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const socket = req.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        const body = Buffer.concat(chunks);
        seen.push({
          url: req.url ?? '',
          authorization: req.headers.authorization,
          clientCn: String(peer?.subject?.CN ?? ''),
          servername: String((socket as TLSSocket & { servername?: string | false }).servername || ''),
          headers: req.headers,
          body,
        });
        if (options.auth !== undefined && req.headers.authorization !== options.auth()) {
          res.writeHead(401).end('bad credentials');
          return;
        }
        if (options.respond !== undefined) options.respond(req, res, body);
        else res.writeHead(200).end('ok');
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const s: SecureServer = {
    url: `https://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  servers.push(s);
  return s;
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Serves the recorded Go program's profiles as net/http/pprof and expvar do. */
function pprofFiles(req: IncomingMessage, res: ServerResponse): void {
  const dir = path.join(repoRoot(), 'test', 'testdata', 'goprog');
  const url = new URL(req.url ?? '/', 'https://x');
  let file: string | undefined;
  if (url.pathname === '/debug/pprof/' || url.pathname === '/debug/pprof') file = 'index.html';
  else if (url.pathname === '/debug/vars') file = 'vars.json';
  else if (url.pathname.startsWith('/debug/pprof/')) {
    const name = url.pathname.slice('/debug/pprof/'.length);
    file = url.searchParams.get('debug') === '1' ? `${name}.debug1.txt` : url.searchParams.get('debug') === '2' ? `${name}.debug2.txt` : `${name}.pb.gz`;
  }
  try {
    if (file === undefined) throw new Error('no file');
    const body = readFileSync(path.join(dir, file));
    res.writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : file.endsWith('.html') ? 'text/html' : 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end('404 page not found');
  }
}

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

describe('scrape side (core/scrape/http.ts)', () => {
  it('mutual TLS with ca_file, cert_file and key_file; basic_auth from password_file, re-read when it changes', async () => {
    let password = 's3cret';
    const server = await secureServer({ mtls: true, auth: () => basic('pprofcol', password), respond: pprofFiles });
    // Relative paths resolve against the config file's folder.
    const scraper = new HttpScraper(
      { tls_config: { ca_file: 'ca.pem', cert_file: 'client.pem', key_file: 'client.key', insecure_skip_verify: false }, basic_auth: { username: 'pprofcol', password_file: PASSWORD_FILE } },
      pki.dir,
    );
    const body = await scraper.get(`${server.url}/debug/pprof/goroutine?debug=1`, { timeoutMs: 5_000, limitBytes: 0 });
    assert.match(body.toString('utf8'), /^goroutine profile: total \d+/);
    assert.equal(server.seen[0].clientCn, 'pprofcol-client');
    assert.equal(server.seen[0].authorization, basic('pprofcol', 's3cret'));

    password = 'rotated';
    writeFileSync(path.join(pki.dir, PASSWORD_FILE), 'rotated\n');
    await scraper.get(`${server.url}/debug/pprof/goroutine?debug=1`, { timeoutMs: 5_000, limitBytes: 0 });
    assert.equal(server.seen[1].authorization, basic('pprofcol', 'rotated'));
    writeFileSync(path.join(pki.dir, PASSWORD_FILE), 's3cret\n');
    await scraper.close();
  });

  it('authorization from credentials_file, and a wrong secret is an http_status failure (401)', async () => {
    const server = await secureServer({ auth: () => 'Bearer tok-1' });
    const good = new HttpScraper({ tls_config: { ca_file: pki.caFile, insecure_skip_verify: false }, authorization: { type: 'Bearer', credentials_file: TOKEN_FILE } }, pki.dir);
    assert.equal((await good.get(`${server.url}/x`, { timeoutMs: 5_000, limitBytes: 0 })).toString(), 'ok');
    assert.equal(server.seen[0].authorization, 'Bearer tok-1');
    const bad = new HttpScraper({ tls_config: { ca_file: pki.caFile, insecure_skip_verify: false }, authorization: { type: 'Bearer', credentials: 'wrong' } }, pki.dir);
    const err = await scrapeError(bad, `${server.url}/x`);
    assert.equal(err.reason, 'http_status');
    assert.equal(err.status, 401);
    await Promise.all([good.close(), bad.close()]);
  });

  it('a server that wants a client certificate refuses none (reason tls, with the alert) and one from another CA', async () => {
    const server = await secureServer({ mtls: true });
    const none = new HttpScraper({ tls_config: { ca_file: pki.caFile, insecure_skip_verify: false } }, pki.dir);
    // TLS 1.3: the refusal is an alert read after the handshake; undici alone reports "other side closed".
    const refused = await scrapeError(none, `${server.url}/x`);
    assert.equal(refused.reason, 'tls', refused.message);
    assert.match(refused.message, /certificate required/);
    // Node's TLS server drops a connection whose certificate it cannot verify without an alert: the
    // client only sees the connection close, so this can honestly be no more than `connect` or `tls`.
    const rogue = new HttpScraper({ tls_config: { ca_file: pki.caFile, cert_file: pki.rogueCertFile, key_file: pki.rogueKeyFile, insecure_skip_verify: false } }, pki.dir);
    assert.ok(['tls', 'connect'].includes((await scrapeError(rogue, `${server.url}/x`)).reason));
    assert.equal(server.seen.length, 0);
    await Promise.all([none.close(), rogue.close()]);
  });

  it('without ca_file the test CA is not trusted (tls); insecure_skip_verify accepts it', async () => {
    const server = await secureServer({});
    const strict = new HttpScraper({}, pki.dir);
    const err = await scrapeError(strict, `${server.url}/x`);
    assert.equal(err.reason, 'tls', err.message);
    const lax = new HttpScraper({ tls_config: { insecure_skip_verify: true } }, pki.dir);
    assert.equal((await lax.get(`${server.url}/x`, { timeoutMs: 5_000, limitBytes: 0 })).toString(), 'ok');
    await Promise.all([strict.close(), lax.close()]);
  });

  it('server_name: verifies the certificate against that name (and sends it as SNI) when the address is an IP', async () => {
    const server = await secureServer({ named: true });
    const byAddress = new HttpScraper({ tls_config: { ca_file: pki.caFile, insecure_skip_verify: false } }, pki.dir);
    const err = await scrapeError(byAddress, `${server.url}/x`);
    assert.equal(err.reason, 'tls', err.message);
    const byName = new HttpScraper({ tls_config: { ca_file: pki.caFile, server_name: pki.namedHost, insecure_skip_verify: false } }, pki.dir);
    assert.equal((await byName.get(`${server.url}/x`, { timeoutMs: 5_000, limitBytes: 0 })).toString(), 'ok');
    assert.equal(server.seen[0].servername, pki.namedHost);
    const wrongName = new HttpScraper({ tls_config: { ca_file: pki.caFile, server_name: 'other.test', insecure_skip_verify: false } }, pki.dir);
    assert.equal((await scrapeError(wrongName, `${server.url}/x`)).reason, 'tls');
    await Promise.all([byAddress.close(), byName.close(), wrongName.close()]);
  });

  it('the pprof receiver scrapes an https target with mutual TLS, server_name and basic_auth from files', async () => {
    const server = await secureServer({ named: true, mtls: true, auth: () => basic('scraper', 's3cret'), respond: pprofFiles });
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
            profiles: ['goroutine', 'threadcreate'],
            static_configs: [{ targets: [server.hostPort] }],
            tls_config: { ca_file: 'ca.pem', cert_file: 'client.pem', key_file: 'client.key', server_name: pki.namedHost },
            basic_auth: { username: 'scraper', password_file: PASSWORD_FILE },
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
    assert.ok(server.seen.length >= 1);
    for (const r of server.seen) {
      assert.equal(r.clientCn, 'pprofcol-client');
      assert.equal(r.servername, pki.namedHost);
      assert.equal(r.authorization, basic('scraper', 's3cret'));
    }
  });
});

const goroutines: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' };
function onePoint(value: number) {
  return metricBatch('pprof', [{ family: goroutines, name: goroutines.name, labels: { job: 'tls', instance: 'x:1' }, value, timestampMs: Date.now(), stale: false }]);
}

describe('prometheusremotewrite exporter', () => {
  it('mutual TLS with server_name and basic_auth from password_file', async () => {
    const server = await secureServer({ named: true, mtls: true, auth: () => basic('writer', 's3cret'), respond: (_q, res) => res.writeHead(204).end() });
    const s = settings('prometheusremotewrite/tls');
    const exp = exporterFor(s, {
      endpoint: `${server.url}/api/v1/write`,
      tls_config: { ca_file: 'ca.pem', cert_file: 'client.pem', key_file: 'client.key', server_name: pki.namedHost },
      basic_auth: { username: 'writer', password_file: PASSWORD_FILE },
      queue_config: { batch_send_deadline: '20ms', min_backoff: '10ms', max_backoff: '50ms' },
      metadata_config: { send: false },
    });
    await exp.start();
    await exp.consume(onePoint(7));
    await waitFor('the sample accepted', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 1);
    await exp.shutdown();
    const req = server.seen[0];
    assert.equal(req.clientCn, 'pprofcol-client');
    assert.equal(req.servername, pki.namedHost);
    assert.equal(req.authorization, basic('writer', 's3cret'));
    const decoded = decodeWriteRequest(snappyUncompress(req.body));
    assert.equal(decoded.timeseries[0].samples[0].value, 7);
  });

  it('authorization from credentials_file; insecure_skip_verify without ca_file', async () => {
    const server = await secureServer({ auth: () => 'Token tok-1', respond: (_q, res) => res.writeHead(204).end() });
    const s = settings('prometheusremotewrite/token');
    const exp = exporterFor(s, {
      endpoint: `${server.url}/api/v1/write`,
      tls_config: { insecure_skip_verify: true },
      authorization: { type: 'Token', credentials_file: TOKEN_FILE },
      queue_config: { batch_send_deadline: '20ms', min_backoff: '10ms', max_backoff: '50ms' },
      metadata_config: { send: false },
    });
    await exp.start();
    await exp.consume(onePoint(8));
    await waitFor('the sample accepted', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 1);
    await exp.shutdown();
    assert.equal(server.seen[0].authorization, 'Token tok-1');
  });
});

for (const encoding of ['proto', 'json'] as const) {
  describe(`otlphttp exporter (${encoding})`, () => {
    it('mutual TLS with server_name and basic_auth from password_file', async () => {
      const server = await secureServer({ named: true, mtls: true, auth: () => basic('otel', 's3cret') });
      const s = settings(`otlphttp/tls-${encoding}`);
      const exp = new OtlpHttpExporter(
        s,
        otlpConfigSchema.parse({
          endpoint: server.url,
          encoding,
          compression: 'none',
          tls_config: { ca_file: 'ca.pem', cert_file: 'client.pem', key_file: 'client.key', server_name: pki.namedHost },
          basic_auth: { username: 'otel', password_file: PASSWORD_FILE },
          retry_on_failure: { initial_interval: '10ms', max_interval: '50ms' },
        }),
      );
      await exp.start();
      await exp.consume(onePoint(9));
      await waitFor('the point accepted', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 1);
      await exp.shutdown();
      const req = server.seen[0];
      assert.equal(req.url, '/v1/metrics');
      assert.equal(req.clientCn, 'pprofcol-client');
      assert.equal(req.servername, pki.namedHost);
      assert.equal(req.authorization, basic('otel', 's3cret'));
      const resources = encoding === 'json' ? decodeOtlpJson(req.body) : decodeOtlpProto(req.body);
      assert.equal(resources[0].metrics[0].points[0].value, 9);
    });

    it('authorization from credentials_file; an untrusted server is not sent to', async () => {
      const server = await secureServer({ auth: () => 'Bearer tok-1' });
      const s = settings(`otlphttp/token-${encoding}`);
      const exp = new OtlpHttpExporter(
        s,
        otlpConfigSchema.parse({ endpoint: server.url, encoding, tls_config: { ca_file: pki.caFile }, authorization: { credentials_file: TOKEN_FILE }, retry_on_failure: { initial_interval: '10ms', max_interval: '50ms' } }),
      );
      await exp.start();
      await exp.consume(onePoint(10));
      await waitFor('the point accepted', async () => (await metric(s.telemetry, 'pprofcol_exporter_samples_sent_total', {})) === 1);
      await exp.shutdown();
      assert.equal(server.seen[0].authorization, 'Bearer tok-1');

      // No ca_file: the system roots do not know the test CA, so nothing reaches the server.
      const before = server.seen.length;
      const s2 = settings(`otlphttp/untrusted-${encoding}`);
      const strict = new OtlpHttpExporter(s2, otlpConfigSchema.parse({ endpoint: server.url, encoding, retry_on_failure: { enabled: false } }));
      await strict.start();
      await strict.consume(onePoint(11));
      await waitFor('the point dropped', async () => (await metric(s2.telemetry, 'pprofcol_exporter_samples_dropped_total', {})) === 1, 15_000);
      await strict.shutdown();
      assert.equal(server.seen.length, before);
    });
  });
}
