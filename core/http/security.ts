/**
 * The keys that secure an HTTP listener pprofcol owns (the remote-write receiver, the telemetry
 * listener), with the names and meaning of Prometheus's web config (`--web.config.file`), so a file
 * written for a Prometheus or an exporter reads the same here:
 *
 *   tls_server_config: {cert_file, key_file, client_ca_file, client_auth_type, min_version, max_version}
 *   basic_auth_users:  {alice: "$2y$10$..."}     # bcrypt hashes, as `htpasswd -nbBC 10 alice PASSWORD` prints
 *
 * client_auth_type maps onto node's TLS server options as Go's tls.ClientAuthType does:
 *   NoClientCert                no certificate asked for
 *   RequestClientCert           asked for, not required, not verified
 *   RequireAnyClientCert        required, not verified (refused after the handshake when absent)
 *   VerifyClientCertIfGiven     not required; one that is sent must verify against client_ca_file
 *   RequireAndVerifyClientCert  required and verified against client_ca_file (node: a missing one fails
 *                               the handshake; one that does not verify is closed as the handshake ends)
 */
import { readFile } from 'node:fs/promises';
import type tls from 'node:tls';
import { z } from 'zod';
import { resolveConfigPath } from '../httpclient.js';

export const CLIENT_AUTH_TYPES = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];
/** Prometheus's default, and its names for the versions. */
export const DEFAULT_CLIENT_AUTH_TYPE: ClientAuthType = 'NoClientCert';
export const DEFAULT_TLS_MIN_VERSION = 'TLS12';
const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const satisfies Record<string, tls.SecureVersion>;
type TlsVersionName = keyof typeof TLS_VERSIONS;
const tlsVersion = z.enum(Object.keys(TLS_VERSIONS) as [TlsVersionName, ...TlsVersionName[]]);

/** A bcrypt hash as htpasswd -B, Go's bcrypt and bcryptjs write it: $2y$/$2b$/$2a$, a two-digit cost (4-31), 53 characters of salt and hash. */
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

export const tlsServerConfig = z
  .object({
    // The server's certificate (PEM, may hold the chain) and its key. Read at start.
    cert_file: z.string().min(1),
    key_file: z.string().min(1),
    // CAs that client certificates are verified against (PEM).
    client_ca_file: z.string().min(1).optional(),
    client_auth_type: z.enum(CLIENT_AUTH_TYPES).default(DEFAULT_CLIENT_AUTH_TYPE),
    min_version: tlsVersion.default(DEFAULT_TLS_MIN_VERSION),
    // Absent: the newest node speaks (TLS13).
    max_version: tlsVersion.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const verifies = v.client_auth_type === 'VerifyClientCertIfGiven' || v.client_auth_type === 'RequireAndVerifyClientCert';
    if (verifies && v.client_ca_file === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['client_ca_file'], message: `is required with client_auth_type ${v.client_auth_type}: the CAs client certificates are verified against` });
    }
    // Prometheus refuses this too: CAs given but never asked for is a mistake, not a policy.
    if (v.client_ca_file !== undefined && v.client_auth_type === 'NoClientCert') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['client_auth_type'], message: 'client_ca_file is set but no client certificate is asked for: set client_auth_type (RequireAndVerifyClientCert)' });
    }
    const order = Object.keys(TLS_VERSIONS);
    if (v.max_version !== undefined && order.indexOf(v.max_version) < order.indexOf(v.min_version)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['max_version'], message: `is below min_version (${v.min_version})` });
    }
  });

export const basicAuthUsers = z.record(
  // A user name ends at the first colon of the credentials: one with a colon could never log in.
  z.string().min(1).regex(/^[^:]*$/, 'a user name cannot hold ":"'),
  z.string().regex(BCRYPT_HASH, 'must be a bcrypt hash ($2y$, $2b$ or $2a$), as `htpasswd -nbBC 10 USER PASSWORD` prints after the colon'),
);

/** Spread into a listener's schema beside listenerLimitsShape. Absent: plain HTTP, no authentication. */
export const listenerSecurityShape = {
  tls_server_config: tlsServerConfig.optional(),
  basic_auth_users: basicAuthUsers.optional(),
};

export type TlsServerConfig = z.output<typeof tlsServerConfig>;
export interface ListenerSecurity {
  tls_server_config?: TlsServerConfig;
  basic_auth_users?: Record<string, string>;
}

/** What tls.createServer takes at construction (the policy) and what setSecureContext takes (the files). */
export interface ServerTlsPolicy {
  requestCert: boolean;
  rejectUnauthorized: boolean;
  minVersion: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
}

export function serverTlsPolicy(config: TlsServerConfig): ServerTlsPolicy {
  const type = config.client_auth_type;
  const policy: ServerTlsPolicy = {
    requestCert: type !== 'NoClientCert',
    // Only this one is refused by node itself (a missing certificate in the handshake, an unverified one
    // as it ends, without an error: server.ts reads authorizationError); the others by clientCertRefusal.
    rejectUnauthorized: type === 'RequireAndVerifyClientCert',
    minVersion: TLS_VERSIONS[config.min_version],
  };
  if (config.max_version !== undefined) policy.maxVersion = TLS_VERSIONS[config.max_version];
  return policy;
}

/**
 * Why a connection whose handshake is done must be closed for its client certificate, or undefined
 * when it may stay: RequireAnyClientCert without one, VerifyClientCertIfGiven with one that did not verify.
 */
export function clientCertRefusal(type: ClientAuthType, socket: tls.TLSSocket): string | undefined {
  if (type !== 'RequireAnyClientCert' && type !== 'VerifyClientCertIfGiven') return undefined;
  const given = Object.keys(socket.getPeerCertificate()).length > 0;
  if (type === 'RequireAnyClientCert') return given ? undefined : 'no client certificate (client_auth_type RequireAnyClientCert)';
  return given && !socket.authorized ? `client certificate not verified: ${String(socket.authorizationError)}` : undefined;
}

/**
 * What setSecureContext takes: the files of a tls_server_config (relative paths resolve against the
 * config file's folder) and the version bounds. The bounds must be here as well as in the server's
 * options: node's Server.setSecureContext resets minVersion/maxVersion to its defaults when they are
 * absent from its argument, which would silently drop min_version/max_version.
 */
export async function loadServerCredentials(config: TlsServerConfig, configDir: string): Promise<tls.SecureContextOptions> {
  const read = (file: string): Promise<Buffer> => readFile(resolveConfigPath(file, configDir));
  const [cert, key, ca] = await Promise.all([read(config.cert_file), read(config.key_file), config.client_ca_file === undefined ? undefined : read(config.client_ca_file)]);
  const { minVersion, maxVersion } = serverTlsPolicy(config);
  const versions: tls.SecureContextOptions = maxVersion === undefined ? { minVersion } : { minVersion, maxVersion };
  return ca === undefined ? { cert, key, ...versions } : { cert, key, ca, ...versions };
}

/** True when the listener asks every client for proof of who it is: a password or a verified certificate. */
export function authenticates(security: ListenerSecurity): boolean {
  return Object.keys(security.basic_auth_users ?? {}).length > 0 || security.tls_server_config?.client_auth_type === 'RequireAndVerifyClientCert';
}

/** 127.0.0.0/8, ::1 and localhost: only this machine reaches them. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * The warning `validate` (and `run`) gives for a listener that binds beyond loopback (`:PORT`,
 * 0.0.0.0, a public address) and lets anyone in, or undefined. `path` names the address's key.
 */
export function exposureWarning(path: string, address: string, security: ListenerSecurity): string | undefined {
  const colon = address.lastIndexOf(':');
  const host = colon < 0 ? address : address.slice(0, colon);
  if (isLoopback(host) || authenticates(security)) return undefined;
  const where = host === '' || host === '0.0.0.0' || host === '[::]' || host === '::' ? 'every interface' : host;
  return `${path}: "${address}" listens on ${where} without authentication: anyone who reaches it gets in; set basic_auth_users or tls_server_config.client_auth_type RequireAndVerifyClientCert beside it, or listen on 127.0.0.1`;
}
