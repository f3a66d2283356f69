/**
 * Checks `Authorization: Basic` against basic_auth_users (bcrypt hashes), as Prometheus's
 * exporter-toolkit does and for the same reasons:
 *
 * - bcrypt costs 65-105ms of CPU per check at cost 10 (bcryptjs; bench/basic-auth.ts), on the one JS thread:
 *   the verdict for what was presented is cached, keyed by a SHA-256 of user and password (never the
 *   password itself), so a sender that sends the same credentials on every request pays once. Accepted
 *   and refused verdicts are kept apart, so guesses never evict a real sender's. Checks
 *   of the same credentials that arrive together share one bcrypt run (a Prometheus opens its shards at once).
 * - At most MAX_AUTH_CHECKS distinct checks run at once; one more is answered 503 (`busy`) instead of
 *   queueing: a flood of guesses costs the flooder retries, not every sender its latency.
 * - An unknown user's password is compared against a dummy hash of the same cost, so the answer takes
 *   as long as for a known user: timing does not tell which user names exist.
 *
 * bcryptjs is pure JavaScript (no native build, installs with `npm ci` anywhere) and its async
 * compare yields to the event loop between rounds, so a check does not stall other requests.
 */
import { createHash, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { ByteLru, MAP_ENTRY_BYTES, stringBytes } from '../lru.js';

/**
 * bcrypt checks running at once. They share the one JS thread: 4 at cost 10 finish within 260-400ms
 * together (bench/basic-auth.ts, loaded machine), so a request that does need a check waits at most
 * that, not seconds; the event loop meanwhile lags at most ~20ms (bcryptjs yields between rounds).
 */
export const MAX_AUTH_CHECKS = 4;
/**
 * Accepted credentials kept. An entry costs MAP_ENTRY_BYTES + a 64-character key (144 bytes): ~250
 * bytes, so 1024 of them are ~250KiB; far more distinct credentials than a listener's senders present.
 */
export const AUTH_CACHE_ENTRIES = 1024;
/**
 * Refused credentials kept, apart from the accepted ones: a guesser sending fresh passwords fills only
 * this one, so it cannot push a real sender's verdict out (who would then pay bcrypt again, or get
 * 503 busy while the guesses hold every check). Small: it only spares a misconfigured sender that
 * repeats one wrong password its bcrypt run; 256 entries, ~64KiB.
 */
export const AUTH_FAILURE_CACHE_ENTRIES = 256;
const ENTRY_BYTES = MAP_ENTRY_BYTES + stringBytes('0'.repeat(64));

/** What a request's credentials came to; everything but `ok` is a failure reason in pprofcol_http_auth_failures_total. */
export type AuthVerdict = 'ok' | 'missing' | 'malformed' | 'unknown_user' | 'wrong_password' | 'busy';
type Checked = 'ok' | 'unknown_user' | 'wrong_password';

/** The cost field of a bcrypt hash (`$2y$10$...` -> 10). */
function costOf(hash: string): number {
  return Number(hash.slice(4, 6));
}

export class BasicAuthGuard {
  private readonly users: Map<string, string>;
  private readonly dummyHash: string;
  private readonly accepted = new ByteLru<string, Checked>({ maxBytes: AUTH_CACHE_ENTRIES * ENTRY_BYTES });
  private readonly refused = new ByteLru<string, Checked>({ maxBytes: AUTH_FAILURE_CACHE_ENTRIES * ENTRY_BYTES });
  /** Checks running, by key: a second request with the same credentials waits for the first. */
  private readonly running = new Map<string, Promise<Checked>>();

  constructor(
    users: Readonly<Record<string, string>>,
    private readonly maxChecks = MAX_AUTH_CHECKS,
  ) {
    this.users = new Map(Object.entries(users));
    // The dearest configured cost: an unknown user then never answers faster than a known one.
    const cost = Math.max(10, ...[...this.users.values()].map(costOf));
    this.dummyHash = bcrypt.hashSync(randomBytes(18).toString('base64'), cost);
  }

  /**
   * The verdict on an Authorization header: at once (a value) when it is missing, malformed or its
   * verdict is cached, else once bcrypt has run (a promise; 'busy' at once past maxChecks).
   */
  check(header: string | undefined): AuthVerdict | Promise<AuthVerdict> {
    if (header === undefined || header === '') return 'missing';
    const credentials = parseBasic(header);
    if (credentials === undefined) return 'malformed';
    const { user, password } = credentials;
    // Length-prefixed: user "a:b" + password "c" and user "a" + password "b:c" get different keys.
    const key = createHash('sha256').update(`${user.length}:${user}:${password}`).digest('hex');
    const cached = this.accepted.get(key) ?? this.refused.get(key);
    if (cached !== undefined) return cached;
    const joined = this.running.get(key);
    if (joined !== undefined) return joined;
    if (this.running.size >= this.maxChecks) return 'busy';
    const hash = this.users.get(user);
    const run = bcrypt.compare(password, hash ?? this.dummyHash).then(
      (match): Checked => (hash === undefined ? 'unknown_user' : match ? 'ok' : 'wrong_password'),
      // bcryptjs rejects only a malformed hash; the schema let none in, so this is a refusal, not a crash.
      (): Checked => 'wrong_password',
    );
    this.running.set(key, run);
    return run.then((verdict) => {
      this.running.delete(key);
      (verdict === 'ok' ? this.accepted : this.refused).set(key, verdict, ENTRY_BYTES);
      return verdict;
    });
  }
}

/** `Basic base64(user:password)`; undefined when it is another scheme or does not decode to user:password. */
function parseBasic(header: string): { user: string; password: string } | undefined {
  const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (match === null) return undefined;
  const text = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
