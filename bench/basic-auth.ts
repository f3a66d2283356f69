/**
 * What basic_auth_users costs a listener (core/http/basicauth.ts): a check that must run bcrypt (a
 * known user's wrong password, an unknown user against the dummy hash), one answered from the cache,
 * and the event loop's worst lag while MAX_AUTH_CHECKS checks run at once (bcryptjs yields between
 * rounds, so other requests go on). Baseline: bcryptjs.compare alone on the same hash.
 * Goals: unknown user within 25% of a known one (timing tells no names); a cached check under 10 us.
 *   node dist/bench/basic-auth.js [rounds]      (default 10)
 */
import bcrypt from 'bcryptjs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BasicAuthGuard, MAX_AUTH_CHECKS } from '../core/http/basicauth.js';

const rounds = Number(process.argv[2] ?? 10);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const hash = bcrypt.hashSync('the password', 10);
const guard = new BasicAuthGuard({ alice: hash });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function timed(f: () => unknown): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

const raw: number[] = [];
const known: number[] = [];
const unknown: number[] = [];
for (let i = 0; i < rounds; i++) {
  // Interleaved, each with fresh credentials (no cache hit).
  raw.push(await timed(() => bcrypt.compare(`wrong ${i}`, hash)));
  known.push(await timed(() => guard.check(basic('alice', `wrong ${i}`))));
  unknown.push(await timed(() => guard.check(basic(`nobody${i}`, `wrong ${i}`))));
}
const cachedN = 100_000;
const header = basic('alice', 'wrong 0');
const t0 = performance.now();
for (let i = 0; i < cachedN; i++) guard.check(header);
const cachedUs = ((performance.now() - t0) / cachedN) * 1000;

const lag = monitorEventLoopDelay({ resolution: 1 });
lag.enable();
const t1 = performance.now();
await Promise.all(Array.from({ length: MAX_AUTH_CHECKS }, (_, i) => guard.check(basic('alice', `parallel ${i}`))));
const parallelMs = performance.now() - t1;
lag.disable();

const figures = {
  bench: 'basic-auth',
  bcrypt_cost: 10,
  baseline_bcryptjs_compare_ms: +median(raw).toFixed(1),
  known_user_check_ms: +median(known).toFixed(1),
  unknown_user_check_ms: +median(unknown).toFixed(1),
  unknown_over_known: +(median(unknown) / median(known)).toFixed(2),
  cached_check_us: +cachedUs.toFixed(2),
  parallel_checks: MAX_AUTH_CHECKS,
  parallel_total_ms: +parallelMs.toFixed(0),
  event_loop_max_lag_ms: +(lag.max / 1e6).toFixed(1),
  node: process.version,
};
console.log(`bcryptjs.compare alone (baseline): ${figures.baseline_bcryptjs_compare_ms} ms`);
console.log(`known user, wrong password:        ${figures.known_user_check_ms} ms`);
console.log(`unknown user (dummy hash):         ${figures.unknown_user_check_ms} ms  (x${figures.unknown_over_known} of known; goal within 25%)`);
console.log(`cached verdict:                    ${figures.cached_check_us} us  (goal < 10)`);
console.log(`${MAX_AUTH_CHECKS} checks at once: ${figures.parallel_total_ms} ms together, event loop lagged at most ${figures.event_loop_max_lag_ms} ms`);
console.log(JSON.stringify(figures));
