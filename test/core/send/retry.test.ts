// The sender chain's retry step: what a final, a recoverable, a Retry-After and a shutdown answer come to.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SendError } from '../../../core/send/errors.js';
import { ExponentialBackoff, IntervalBackoff, sendWithRetry, type Attempt } from '../../../core/send/retry.js';

type Ok = { ok: true; n: number };
const recoverable = (retryAfterMs?: number) => new SendError('http_503', 'answered HTTP 503', { retryable: true, status: 503, retryAfterMs }, 'ERR_TEST');
const final = () => new SendError('http_400', 'answered HTTP 400', { retryable: false, status: 400 }, 'ERR_TEST');

/** An attempt that fails with `fail(n)` for attempt n (0-based), else succeeds. */
function attempts(fail: (n: number) => SendError | undefined): { attempt: () => Promise<Attempt<Ok>>; count: () => number } {
  let n = 0;
  return {
    attempt: async () => {
      const e = fail(n++);
      return e === undefined ? { ok: true, n } : { ok: false, error: e };
    },
    count: () => n,
  };
}

describe('sendWithRetry', () => {
  const policy = () => ({ backoff: new ExponentialBackoff(30, 5_000, () => 0.5), maxBackoffMs: 5_000 });

  it('returns a final failure at once, with its stable code', async () => {
    const a = attempts(() => final());
    const slept: number[] = [];
    const out = await sendWithRetry(a.attempt, policy(), { stopping: () => false, sleep: async (ms) => void slept.push(ms) });
    assert.equal(out.kind, 'final');
    assert.equal(out.kind === 'final' && out.error.code, 'ERR_TEST_HTTP_400');
    assert.equal(a.count(), 1);
    assert.deepEqual(slept, []);
  });

  it('retries a recoverable failure, waiting the longer of backoff and Retry-After', async () => {
    const a = attempts((n) => (n === 0 ? recoverable(2_000) : n === 1 ? recoverable() : undefined));
    const slept: number[] = [];
    let recovered = 0;
    const out = await sendWithRetry(a.attempt, policy(), { stopping: () => false, sleep: async (ms) => void slept.push(ms), recoverable: () => void recovered++ });
    assert.equal(out.kind, 'sent');
    assert.equal(a.count(), 3);
    assert.equal(recovered, 2);
    // First: Retry-After 2s beats the 30ms backoff; second: the backoff (ceiling 60ms, jitter 0.5 -> 45ms).
    assert.deepEqual(slept, [2_000, 45]);
  });

  it('gives up without waiting once shutdown has begun', async () => {
    const a = attempts(() => recoverable());
    const out = await sendWithRetry(a.attempt, policy(), { stopping: () => true, sleep: async () => assert.fail('slept') });
    assert.equal(out.kind, 'stopped');
    assert.equal(a.count(), 1);
  });

  it('stops when the caller refuses the retry, and treats every failure as final with retries off', async () => {
    const a = attempts(() => recoverable());
    const out = await sendWithRetry(a.attempt, policy(), { stopping: () => false, sleep: async () => {}, retrying: () => false });
    assert.equal(out.kind, 'exhausted');
    const b = attempts(() => recoverable());
    const off = await sendWithRetry(b.attempt, { ...policy(), enabled: false }, { stopping: () => false, sleep: async () => {} });
    assert.equal(off.kind, 'final');
    assert.equal(b.count(), 1);
  });

  it('IntervalBackoff jitters each interval to [interval/2, interval*1.5), doubling up to max', () => {
    const low = new IntervalBackoff(5_000, 30_000, () => 0);
    assert.deepEqual([low.next(), low.next(), low.next(), low.next()], [2_500, 5_000, 10_000, 15_000]);
    const high = new IntervalBackoff(5_000, 30_000, () => 0.999);
    assert.ok(high.next() < 7_500);
  });
});
