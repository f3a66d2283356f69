// A throwaway PKI for TLS tests, made with the openssl CLI in a temporary directory: a CA, a server
// certificate for 127.0.0.1/localhost, a server certificate for a name only (to test server_name), a
// client certificate (mutual TLS), and a second CA nobody trusts. EC P-256 keys: fast to make.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestPki {
  dir: string;
  /** Paths. */
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** A server certificate whose only name is `namedHost` (no IP SAN). */
  namedCertFile: string;
  namedKeyFile: string;
  namedHost: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A client certificate signed by a CA the server does not trust. */
  rogueCertFile: string;
  rogueKeyFile: string;
  /** Contents, for Node servers. */
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  namedCert: Buffer;
  namedKey: Buffer;
  cleanup(): void;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeLeaf(dir: string, name: string, ca: string, cn: string, ext: string): void {
  writeFileSync(path.join(dir, `${name}.ext`), `${ext}\nbasicConstraints=CA:FALSE\n`);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pprofcol-pki-'));
  const namedHost = 'pprof.internal.test';
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  makeLeaf(dir, 'server', 'ca', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
  makeLeaf(dir, 'named', 'ca', namedHost, `subjectAltName=DNS:${namedHost}\nextendedKeyUsage=serverAuth`);
  makeLeaf(dir, 'client', 'ca', 'pprofcol-client', 'extendedKeyUsage=clientAuth');
  makeLeaf(dir, 'rogue', 'rogue-ca', 'rogue-client', 'extendedKeyUsage=clientAuth');
  const p = (f: string): string => path.join(dir, f);
  return {
    dir,
    caFile: p('ca.pem'),
    serverCertFile: p('server.pem'),
    serverKeyFile: p('server.key'),
    namedCertFile: p('named.pem'),
    namedKeyFile: p('named.key'),
    namedHost,
    clientCertFile: p('client.pem'),
    clientKeyFile: p('client.key'),
    rogueCertFile: p('rogue.pem'),
    rogueKeyFile: p('rogue.key'),
    ca: readFileSync(p('ca.pem')),
    serverCert: readFileSync(p('server.pem')),
    serverKey: readFileSync(p('server.key')),
    namedCert: readFileSync(p('named.pem')),
    namedKey: readFileSync(p('named.key')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
