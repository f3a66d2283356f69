// TLS and basic auth on the shared listener (core/http): the five client_auth_type values on real TLS
// handshakes, bcrypt hashes made by Debian's htpasswd (not the library pprofcol checks them with), the
// verdict cache, the bound on checks running at once, the dummy hash for unknown users, a 401 sent
// before any body byte, and validate's warning for a listener beyond loopback without auth.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { AUTH_CACHE_ENTRIES, AUTH_FAILURE_CACHE_ENTRIES, BasicAuthGuard } from '../../../core/http/basicauth.js';
import { DEFAULT_BODY_TIMEOUT } from '../../../core/http/limits.js';
import { CLIENT_AUTH_TYPES, exposureWarning, tlsServerConfig, basicAuthUsers, type ClientAuthType } from '../../../core/http/security.js';
import { GuardedServer } from '../../../core/http/server.js';
import { maskUrl, maskUrlsIn } from '../../../core/redact.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { makeTestPki, type TestPki } from '../../harness/certs.js';
import { htpasswdHash } from '../../harness/servers.js';
import { metric } from '../../harness/common.js';

const LIMITS = { header_timeout: 5_000, body_timeout: 5_000, idle_timeout: 5_000, max_connections: 64 };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let pki: TestPki;
let aliceHash: string;
before(() => {
  pki = makeTestPki();
  aliceHash = htpasswdHash('alice', 'wonder land');
});
after(() => pki?.cleanup());

describe('BasicAuthGuard (htpasswd -nbBC 10 hashes)', () => {
  it('takes the right password, refuses a wrong one and an unknown user, and caches each verdict', async () => {
    const guard = new BasicAuthGuard({ alice: aliceHash, bob: htpasswdHash('bob', 'x') });
    assert.equal(guard.check(undefined), 'missing');
    assert.equal(guard.check('Bearer abc'), 'malformed');
    assert.equal(guard.check(`Basic ${Buffer.from('no colon').toString('base64')}`), 'malformed');
    assert.equal(await guard.check(basic('alice', 'wonder land')), 'ok');
    assert.equal(await guard.check(basic('alice', 'wonder')), 'wrong_password');
    // An unknown user costs a bcrypt run too (a promise, not an answer at once): the dummy hash.
    const unknown = guard.check(basic('mallory', 'wonder land'));
    assert.ok(unknown instanceof Promise, 'an unknown user is checked against the dummy hash');
    assert.equal(await unknown, 'unknown_user');
    // Cached: the same credentials again are answered at once, without bcrypt.
    assert.equal(guard.check(basic('alice', 'wonder land')), 'ok');
    assert.equal(guard.check(basic('alice', 'wonder')), 'wrong_password');
    assert.equal(guard.check(basic('mallory', 'wonder land')), 'unknown_user');
  });

  it('accepts $2y$, $2b$ and $2a$ prefixes of the same hash', async () => {
    for (const prefix of ['$2y$', '$2b$', '$2a$']) {
      const guard = new BasicAuthGuard({ alice: prefix + aliceHash.slice(4) });
      assert.equal(await guard.check(basic('alice', 'wonder land')), 'ok', prefix);
    }
  });

  it('bounds the distinct checks running at once (busy past it); the same credentials share one check', async () => {
    const guard = new BasicAuthGuard({ alice: aliceHash }, 2);
    const same = [guard.check(basic('alice', 'a')), guard.check(basic('alice', 'a'))];
    const other = guard.check(basic('alice', 'b'));
    assert.equal(guard.check(basic('alice', 'c')), 'busy');
    assert.deepEqual(await Promise.all([...same, other]), ['wrong_password', 'wrong_password', 'wrong_password']);
    // Room again once they are done.
    assert.equal(await guard.check(basic('alice', 'wonder land')), 'ok');
  });
});

describe('BasicAuthGuard verdict cache under guessing', () => {
  it('more distinct wrong passwords than the cache holds never evict an accepted sender: it is answered without bcrypt', { timeout: 120_000 }, async () => {
    // Cost 4 (htpasswd -C 4): 1000+ real bcrypt runs in a few seconds even on a loaded machine.
    const concurrent = 16;
    const guard = new BasicAuthGuard({ alice: htpasswdHash('alice', 'right', 4) }, concurrent);
    assert.equal(await guard.check(basic('alice', 'right')), 'ok');
    const guesses = AUTH_CACHE_ENTRIES + 100;
    for (let i = 0; i < guesses; i += concurrent) {
      const batch = Array.from({ length: concurrent }, (_, j) => guard.check(basic('alice', `guess ${i + j}`)));
      for (const verdict of await Promise.all(batch)) assert.equal(verdict, 'wrong_password');
    }
    // A value, not a promise: from the cache, no bcrypt run.
    assert.equal(guard.check(basic('alice', 'right')), 'ok', 'the accepted sender is still answered from the cache');
    // The refused ones have their own, smaller cache: the latest guesses are still in it, the first is not.
    const last = Math.ceil(guesses / concurrent) * concurrent - 1;
    assert.equal(guard.check(basic('alice', `guess ${last}`)), 'wrong_password');
    assert.ok(AUTH_FAILURE_CACHE_ENTRIES < guesses);
    const first = guard.check(basic('alice', 'guess 0'));
    assert.ok(first instanceof Promise, 'the oldest guess was evicted from the refusal cache');
    assert.equal(await first, 'wrong_password');
  });
});

describe('config schema', () => {
  it('refuses what is not a bcrypt hash, a user name with a colon, a verifying client_auth_type without client_ca_file', () => {
    assert.ok(basicAuthUsers.safeParse({ alice: aliceHash }).success);
    assert.ok(!basicAuthUsers.safeParse({ alice: 'plaintext' }).success);
    assert.ok(!basicAuthUsers.safeParse({ alice: '$1$abc$def' }).success);
    assert.ok(!basicAuthUsers.safeParse({ 'a:b': aliceHash }).success);
    assert.ok(!tlsServerConfig.safeParse({ cert_file: 'c', key_file: 'k', client_auth_type: 'RequireAndVerifyClientCert' }).success);
    assert.ok(!tlsServerConfig.safeParse({ cert_file: 'c', key_file: 'k', client_ca_file: 'ca' }).success);
    assert.ok(!tlsServerConfig.safeParse({ cert_file: 'c', key_file: 'k', client_auth_type: 'Sometimes' }).success);
    assert.ok(!tlsServerConfig.safeParse({ cert_file: 'c', key_file: 'k', min_version: 'TLS13', max_version: 'TLS12' }).success);
    assert.equal(tlsServerConfig.parse({ cert_file: 'c', key_file: 'k' }).client_auth_type, 'NoClientCert');
  });

  it('validate warns for a listener beyond loopback without auth, not for loopback or with auth', () => {
    const open = {};
    assert.match(exposureWarning('x.endpoint', ':9201', open) ?? '', /^x\.endpoint: ":9201" listens on every interface without authentication/);
    assert.match(exposureWarning('x.endpoint', '0.0.0.0:9201', open) ?? '', /every interface/);
    assert.match(exposureWarning('x.endpoint', '10.1.2.3:9201', open) ?? '', /listens on 10\.1\.2\.3/);
    assert.match(exposureWarning('x.endpoint', '[::]:9201', open) ?? '', /every interface/);
    // TLS alone (no client certificate asked) is not authentication.
    assert.ok(exposureWarning('x', '0.0.0.0:1', { tls_server_config: tlsServerConfig.parse({ cert_file: 'c', key_file: 'k' }) }) !== undefined);
    for (const loopback of ['127.0.0.1:9201', 'localhost:9201', '[::1]:9201']) assert.equal(exposureWarning('x', loopback, open), undefined, loopback);
    assert.equal(exposureWarning('x', ':9201', { basic_auth_users: { alice: aliceHash } }), undefined);
    const mtls = tlsServerConfig.parse({ cert_file: 'c', key_file: 'k', client_ca_file: 'ca', client_auth_type: 'RequireAndVerifyClientCert' });
    assert.equal(exposureWarning('x', ':9201', { tls_server_config: mtls }), undefined);
  });
});

describe('masking credentials in URLs', () => {
  it('masks the password (or a lone user) of URLs, alone and in text', () => {
    assert.equal(maskUrl('https://writer:s3cr%40t@host:9090/api/v1/write'), 'https://writer:xxxxx@host:9090/api/v1/write');
    assert.equal(maskUrl('redis://:pw@127.0.0.1:6379/0'), 'redis://:xxxxx@127.0.0.1:6379/0');
    assert.equal(maskUrl('https://tok3n@host/x'), 'https://xxxxx@host/x');
    assert.equal(maskUrl('http://host:9090/x'), 'http://host:9090/x');
    assert.equal(
      maskUrlsIn('{"msg":"http://a:p@ss@h:1/w answered 401; see https://u:v@other/"}'),
      '{"msg":"http://a:xxxxx@h:1/w answered 401; see https://u:xxxxx@other/"}',
    );
    assert.equal(maskUrlsIn('mail alice@example.com about http://h/x@y'), 'mail alice@example.com about http://h/x@y');
  });

  it('masks the values of credential query parameters, alone and in text; leaves other parameters', () => {
    assert.equal(maskUrl('https://host/api/v1/write?api_key=abc123&tenant=t1'), 'https://host/api/v1/write?api_key=xxxxx&tenant=t1');
    assert.equal(maskUrl('https://host/x?tenant=t1&token=abc'), 'https://host/x?tenant=t1&token=xxxxx');
    assert.equal(maskUrl('https://u:p@host/x?access_token=a&X-Amz-Signature=s&apikey=k'), 'https://u:xxxxx@host/x?access_token=xxxxx&X-Amz-Signature=xxxxx&apikey=xxxxx');
    // Parameters that merely contain such a word are not credentials.
    assert.equal(maskUrl('http://host/debug/pprof/profile?seconds=30&max_tokens=5&monkey=1'), 'http://host/debug/pprof/profile?seconds=30&max_tokens=5&monkey=1');
    assert.equal(
      maskUrlsIn('{"msg":"POST https://host/w?token=s3cr3t answered 401","url":"http://h/?key=k&x=1"}'),
      '{"msg":"POST https://host/w?token=xxxxx answered 401","url":"http://h/?key=xxxxx&x=1"}',
    );
  });
});

/** A guarded TLS listener whose handler answers 200 with the client certificate's CN; counts handled requests. */
async function tlsListener(type: ClientAuthType, users?: Record<string, string>, versions: { min_version?: string; max_version?: string } = {}) {
  const telemetry = new Telemetry();
  let handled = 0;
  const guard = new GuardedServer(
    (req, res) => {
      handled++;
      const cert = (req.socket as tls.TLSSocket).getPeerCertificate();
      res.writeHead(200).end(String(cert?.subject?.CN ?? ''));
    },
    {
      listener: 'test',
      limits: LIMITS,
      telemetry,
      configDir: pki.dir,
      security: {
        tls_server_config: tlsServerConfig.parse({
          cert_file: 'server.pem',
          key_file: 'server.key',
          ...(type === 'NoClientCert' ? {} : { client_ca_file: 'ca.pem' }),
          client_auth_type: type,
          ...versions,
        }),
        basic_auth_users: users,
      },
    },
  );
  await guard.listen('127.0.0.1', 0);
  const port = (guard.server.address() as net.AddressInfo).port;
  return { guard, port, telemetry, handled: () => handled };
}

type Presented = 'none' | 'good' | 'rogue';
/** One GET over TLS: the status, or 'refused' when the connection failed or closed without an answer. */
function get(port: number, presented: Presented, headers: Record<string, string> = {}): Promise<number | 'refused'> {
  const cert = presented === 'good' ? { cert: pki.clientCertFile, key: pki.clientKeyFile } : presented === 'rogue' ? { cert: pki.rogueCertFile, key: pki.rogueKeyFile } : undefined;
  return new Promise((resolve) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        ca: pki.ca,
        headers,
        agent: false,
        ...(cert === undefined ? {} : { cert: readFileSync(cert.cert), key: readFileSync(cert.key) }),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve('refused'));
      },
    );
    req.on('error', () => resolve('refused'));
    req.setTimeout(5_000, () => req.destroy());
  });
}

describe('tls_server_config client_auth_type on real handshakes', () => {
  // What each policy does with no certificate, one from the trusted CA, one from another CA.
  const expected: Record<ClientAuthType, Record<Presented, 'ok' | 'refused'>> = {
    NoClientCert: { none: 'ok', good: 'ok', rogue: 'ok' },
    RequestClientCert: { none: 'ok', good: 'ok', rogue: 'ok' },
    RequireAnyClientCert: { none: 'refused', good: 'ok', rogue: 'ok' },
    VerifyClientCertIfGiven: { none: 'ok', good: 'ok', rogue: 'refused' },
    RequireAndVerifyClientCert: { none: 'refused', good: 'ok', rogue: 'refused' },
  };
  for (const type of CLIENT_AUTH_TYPES) {
    it(type, { timeout: 20_000 }, async () => {
      const l = await tlsListener(type);
      try {
        let refusals = 0;
        for (const presented of ['none', 'good', 'rogue'] as const) {
          const got = await get(l.port, presented);
          const want = expected[type][presented];
          assert.equal(got === 200 ? 'ok' : got, want, `${type} with ${presented} certificate: ${got}`);
          if (want === 'refused') refusals++;
        }
        assert.equal(l.handled(), 3 - refusals);
        // Every refusal here is for the certificate (missing or not verified), none a failed handshake.
        assert.equal(await metric(l.telemetry, 'pprofcol_http_auth_failures_total', { listener: 'test', reason: 'client_cert' }), refusals, 'each refusal is counted as client_cert');
        assert.equal(await metric(l.telemetry, 'pprofcol_http_auth_failures_total', { listener: 'test', reason: 'tls_handshake' }), 0, 'no refusal is counted as tls_handshake');
      } finally {
        await l.guard.close(true);
      }
    });
  }
});

/** A bare TLS handshake within the given versions: the version agreed on, or 'refused'. */
function handshake(port: number, versions: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: pki.ca, ...versions }, () => {
      const agreed = socket.getProtocol() ?? 'unknown';
      socket.destroy();
      resolve(agreed);
    });
    socket.on('error', () => resolve('refused'));
    socket.setTimeout(5_000, () => socket.destroy());
  });
}

describe('tls_server_config min_version and max_version on real handshakes', () => {
  it('min_version TLS13 refuses a client that speaks at most TLS 1.2', { timeout: 20_000 }, async () => {
    const l = await tlsListener('NoClientCert', undefined, { min_version: 'TLS13' });
    try {
      assert.equal(await handshake(l.port, { maxVersion: 'TLSv1.2' }), 'refused');
      assert.equal(await handshake(l.port, {}), 'TLSv1.3');
    } finally {
      await l.guard.close(true);
    }
  });

  it('max_version TLS12 refuses a client that speaks only TLS 1.3', { timeout: 20_000 }, async () => {
    const l = await tlsListener('NoClientCert', undefined, { max_version: 'TLS12' });
    try {
      assert.equal(await handshake(l.port, { minVersion: 'TLSv1.3' }), 'refused');
      assert.equal(await handshake(l.port, {}), 'TLSv1.2');
    } finally {
      await l.guard.close(true);
    }
  });
});

describe('basic_auth_users on the listener', () => {
  it('401 with WWW-Authenticate: Basic before any body byte; counted by reason; the right password reaches the handler', { timeout: 20_000 }, async () => {
    const l = await tlsListener('NoClientCert', { alice: aliceHash });
    try {
      assert.equal(await get(l.port, 'none'), 401);
      assert.equal(await get(l.port, 'none', { authorization: basic('alice', 'nope') }), 401);
      assert.equal(await get(l.port, 'none', { authorization: basic('eve', 'nope') }), 401);
      assert.equal(await get(l.port, 'none', { authorization: 'Bearer x' }), 401);
      assert.equal(await get(l.port, 'none', { authorization: basic('alice', 'wonder land') }), 200);
      assert.equal(l.handled(), 1);
      for (const [reason, n] of [['missing', 1], ['wrong_password', 1], ['unknown_user', 1], ['malformed', 1]] as const) {
        assert.equal(await metric(l.telemetry, 'pprofcol_http_auth_failures_total', { listener: 'test', reason }), n, reason);
      }

      // Headers announcing 64MiB, and not one byte of body: the answer comes all the same, at once.
      const started = performance.now();
      const head = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: l.port, ca: pki.ca }, () => {
          socket.write(`POST /api/v1/write HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic('alice', 'wrong')}\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
        });
        let got = '';
        socket.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (got.includes('\r\n\r\n')) {
            socket.destroy();
            resolve(got);
          }
        });
        socket.on('error', reject);
      });
      // One bcrypt check (~65ms, more on a loaded machine) and a handshake: far inside body_timeout.
      const tookMs = performance.now() - started;
      assert.ok(tookMs < Number.parseInt(DEFAULT_BODY_TIMEOUT, 10) * 1000 / 3, `answered after ${tookMs.toFixed(0)}ms`);
      assert.match(head, /^HTTP\/1\.1 401 /);
      assert.match(head, /\r\nwww-authenticate: Basic realm="pprofcol"\r\n/i);
      assert.equal(l.handled(), 1, 'the handler never saw the refused request');
    } finally {
      await l.guard.close(true);
    }
  });
});

/** A guarded plain-HTTP listener with basic auth whose handler is given. */
async function plainListener(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const telemetry = new Telemetry();
  const guard = new GuardedServer(handler, { listener: 'test', limits: LIMITS, telemetry, security: { basic_auth_users: { alice: aliceHash } } });
  await guard.listen('127.0.0.1', 0);
  return { guard, telemetry, port: (guard.server.address() as net.AddressInfo).port };
}

/** Writes `head` on a raw socket, then `body` once the server says 100 Continue; everything it answered until it closes or `until` matches. */
function rawExchange(port: number, head: string, body: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let got = '';
    let sent = false;
    const done = () => {
      socket.destroy();
      resolve(got);
    };
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (!sent && got.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        sent = true;
        socket.write(body);
      }
      if (until.test(got)) done();
    });
    socket.on('close', done);
    socket.on('error', reject);
    socket.setTimeout(10_000, done);
  });
}

describe('Expect: 100-continue on a listener with basic_auth_users', () => {
  it('wrong credentials get 401 and never 100 Continue; right ones get 100, then the handler reads the body', { timeout: 20_000 }, async () => {
    let bodies = 0;
    const l = await plainListener((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies++;
        res.writeHead(200).end(`read ${Buffer.concat(chunks).length} bytes`);
      });
    });
    try {
      const head = (auth: string) => `POST /api/v1/write HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`;
      for (const auth of [basic('alice', 'wrong'), basic('alice', 'wrong'), basic('eve', 'x'), 'Bearer x']) {
        const refused = await rawExchange(l.port, head(auth), 'hello', /\r\n\r\nUnauthorized\n/);
        assert.match(refused, /^HTTP\/1\.1 401 /, `${auth}: ${refused}`);
        assert.doesNotMatch(refused, /100 Continue/, 'no 100 Continue before the credentials are checked');
        assert.match(refused, /\r\nwww-authenticate: Basic realm="pprofcol"\r\n/i);
      }
      assert.equal(await metric(l.telemetry, 'pprofcol_http_auth_failures_total', { listener: 'test', reason: 'wrong_password' }), 2);
      const accepted = await rawExchange(l.port, head(basic('alice', 'wonder land')), 'hello', /\r\n0\r\n\r\n$/);
      assert.match(accepted, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
      assert.match(accepted, /\r\nread 5 bytes\r\n/);
      assert.equal(bodies, 1, 'only the accepted request reached the handler');
    } finally {
      await l.guard.close(true);
    }
  });
});

describe('a handler that throws after the credentials were checked', () => {
  it('is answered 500, is no unhandled rejection, and the listener keeps serving', { timeout: 20_000 }, async () => {
    let rejections = 0;
    const onRejection = () => rejections++;
    process.on('unhandledRejection', onRejection);
    let calls = 0;
    const l = await plainListener((_req, res) => {
      calls++;
      if (calls <= 2) throw new Error('handler bug');
      res.writeHead(200).end('fine');
    });
    try {
      const get = (): Promise<number | string> =>
        new Promise((resolve) => {
          const req = http.get({ host: '127.0.0.1', port: l.port, path: '/', agent: false, headers: { authorization: basic('alice', 'wonder land') } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', (err) => resolve(`error: ${err.message}`));
          req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5s')));
        });
      // The first after a bcrypt check (the promise path), the second from the cache (at once).
      assert.equal(await get(), 500);
      assert.equal(await get(), 500);
      assert.equal(await get(), 200);
      await new Promise((r) => setImmediate(r));
      assert.equal(rejections, 0);
    } finally {
      process.off('unhandledRejection', onRejection);
      await l.guard.close(true);
    }
  });
});
