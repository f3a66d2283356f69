// The hand-off log: one line per run of failures, however the failures and successes interleave.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Writable } from 'node:stream';
import { HandOff } from '../../../core/scrape/handoff.js';
import type { Target } from '../../../core/scrape/targets.js';

describe('scrape hand-off', () => {
  it('partial backpressure (taken, refused, taken, ...) logs one line, and one more after a quiet minute', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    let now = 0;
    const handOff = new HandOff(logger, () => now);
    const target = { instance: 'h:1' } as Target;
    const fail = async () => {
      throw new Error('queue full');
    };
    const ok = async () => undefined;
    for (let i = 0; i < 50; i++) {
      now += 1000;
      assert.equal(await handOff.run(i % 2 === 0 ? fail : ok, 'j', target), i % 2 !== 0);
    }
    assert.equal(lines.filter((l) => l.includes('rejected a scrape')).length, 1);
    assert.equal(lines.filter((l) => l.includes('takes scrapes again')).length, 0, 'not "again" while failures keep coming');
    now += 61_000;
    await handOff.run(ok, 'j', target);
    assert.equal(lines.filter((l) => l.includes('takes scrapes again')).length, 1);
    await handOff.run(fail, 'j', target);
    assert.equal(lines.filter((l) => l.includes('rejected a scrape')).length, 2);
  });
});
