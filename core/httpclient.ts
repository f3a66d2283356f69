/**
 * The client side of Prometheus's shared HTTP keys (`basic_auth`, `authorization`, `tls_config`), for
 * components that post or fetch over HTTP. Secrets and TLS files are read from disk here; relative
 * paths resolve against the config file's folder.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { HttpClientConfig, TlsConfig } from './config/types.js';

/** What Node's TLS connect options need from a `tls_config` (undici's `connect`, https.Agent). */
export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

export function resolveConfigPath(file: string, configDir: string): string {
  return isAbsolute(file) ? file : resolve(configDir, file);
}

/** Reads the files a `tls_config` names. Without `ca_file` the system roots are used (Node's default). */
export async function loadTlsOptions(tls: TlsConfig | undefined, configDir: string): Promise<TlsOptions> {
  const read = async (file: string | undefined): Promise<Buffer | undefined> => (file === undefined ? undefined : readFile(resolveConfigPath(file, configDir)));
  const [ca, cert, key] = await Promise.all([read(tls?.ca_file), read(tls?.cert_file), read(tls?.key_file)]);
  const out: TlsOptions = { rejectUnauthorized: !(tls?.insecure_skip_verify ?? false) };
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  // An empty server_name means "the URL's host", as in Prometheus.
  if (tls?.server_name !== undefined && tls.server_name !== '') out.servername = tls.server_name;
  return out;
}

/**
 * The Authorization header value from `basic_auth` or `authorization`, or undefined when neither is
 * set. `*_file` secrets are read on every call (they rotate); the trailing newline is trimmed.
 */
export async function authorizationHeader(client: HttpClientConfig, configDir: string): Promise<string | undefined> {
  const basic = client.basic_auth;
  if (basic !== undefined) {
    const password = basic.password_file !== undefined ? (await readFile(resolveConfigPath(basic.password_file, configDir), 'utf8')).trim() : (basic.password ?? '');
    return `Basic ${Buffer.from(`${basic.username}:${password}`).toString('base64')}`;
  }
  const auth = client.authorization;
  if (auth !== undefined) {
    const credentials = auth.credentials_file !== undefined ? (await readFile(resolveConfigPath(auth.credentials_file, configDir), 'utf8')).trim() : (auth.credentials ?? '');
    return `${auth.type} ${credentials}`;
  }
  return undefined;
}
