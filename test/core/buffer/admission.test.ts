// FairAdmission's wait for room (core/buffer/admission.ts), which both exporters' queues use.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { FairAdmission, type EnterWait } from '../../../core/buffer/admission.js';
import { ShuttingDownError } from '../../../core/errors.js';

function waitFor(blockTimeoutMs: number, drops: string[]): EnterWait {
  return { blockTimeoutMs, now: () => Date.now(), stopping: () => false, dropped: (reason, n) => drops.push(`${reason}:${n}`) };
}

describe('FairAdmission.enter', () => {
  it('a block_timeout past the longest timer (2^31 - 1 ms, ~24.8 days) still waits, and shutdown ends the wait', async () => {
    // Node fires a setTimeout of more than 2^31 - 1 ms after 1 ms (TimeoutOverflowWarning): the wait
    // ended at once as if block_timeout had run out, and the points were dropped as queue_full.
    const admission = new FairAdmission(() => 10);
    const drops: string[] = [];
    let settled: string | undefined;
    const call = admission.enter('a', 5, (from) => from, waitFor(30 * 24 * 3600 * 1000, drops)).then(
      () => (settled = 'resolved'),
      (err: unknown) => (settled = err instanceof ShuttingDownError ? 'shutdown' : `rejected: ${String(err)}`),
    );
    // 200 ms: a wait that ends early ends after ~1 ms; a loaded machine delays timers, never hastens them.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(settled, undefined, `the wait ended early (${drops.join(', ')})`);
    admission.stop();
    await call;
    assert.equal(settled, 'shutdown');
    assert.deepEqual(drops, ['shutdown:5']);
  });
});
