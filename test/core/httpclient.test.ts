// The retry pause every exporter uses: Retry-After obeyed within bounds, never a tight loop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter, RETRY_AFTER_CAP_MS, retryDelayMs } from '../../core/httpclient.js';

describe('retry pauses', () => {
  it('take the backoff as the floor, so Retry-After: 0 or a past date cannot make a tight loop', () => {
    assert.equal(retryDelayMs(parseRetryAfter('0', 0), 250, 5000), 250);
    assert.equal(retryDelayMs(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.now()), 250, 5000), 250);
    assert.equal(retryDelayMs(undefined, 800, 5000), 800);
  });

  it('obey a longer Retry-After up to max(max_backoff, the cap)', () => {
    assert.equal(retryDelayMs(2000, 250, 5000), 2000);
    assert.equal(retryDelayMs(86_400_000, 250, 5000), RETRY_AFTER_CAP_MS);
    assert.equal(retryDelayMs(86_400_000, 250, 600_000), 600_000);
  });
});
