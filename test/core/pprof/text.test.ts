// The debug=1 text parsers on profiles recorded from real Go programs, and on input that is not one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MAX_FUNCTIONS, parseGoroutineStacks, parseHeapMemStats, parseProfileTotal, ProfileDecodeError } from '../../../core/pprof/text.js';
import { repoRoot } from '../../harness/servers.js';

const testdata = (file: string) => readFileSync(path.join(repoRoot(), 'test', 'testdata', file));

/** The value of one `# Field = N` line, read independently of the parser under test. */
function memstatsLine(text: string, field: string): string {
  const match = new RegExp(`^# ${field} = (.*)$`, 'm').exec(text);
  assert.ok(match, `${field} missing from testdata`);
  return match[1];
}

describe('debug=1 text parsers', () => {
  for (const program of ['prometheus-2.42', 'goprog']) {
    it(`reads the totals of ${program}'s goroutine and threadcreate profiles`, () => {
      for (const name of ['goroutine', 'threadcreate'] as const) {
        const body = testdata(`${program}/${name}.debug1.txt`);
        const expected = Number(/^\w+ profile: total (\d+)/.exec(body.toString())![1]);
        assert.equal(parseProfileTotal(body, name), expected);
      }
    });

    it(`reads every MemStats field of ${program}'s heap profile`, () => {
      const body = testdata(`${program}/heap.debug1.txt`);
      const text = body.toString();
      const stats = parseHeapMemStats(body);
      assert.equal(stats.Alloc, Number(memstatsLine(text, 'Alloc')));
      assert.equal(stats.HeapReleased, Number(memstatsLine(text, 'HeapReleased')));
      assert.equal(stats.LastGC, Number(memstatsLine(text, 'LastGC')));
      assert.equal(stats.NumGC, Number(memstatsLine(text, 'NumGC')));
      const [stackInuse, stackSys] = memstatsLine(text, 'Stack').split(' / ').map(Number);
      assert.equal(stats.StackInuse, stackInuse);
      assert.equal(stats.StackSys, stackSys);
      assert.equal(stats.PauseNs.length, 256);
      assert.equal(stats.PauseTotalNs, undefined, 'heap?debug=1 carries no PauseTotalNs');
    });
  }

  it('rejects what is not a Go profile with a decode error', () => {
    assert.throws(() => parseProfileTotal(Buffer.from('<html>hello</html>'), 'goroutine'), ProfileDecodeError);
    assert.throws(() => parseProfileTotal(testdata('goprog/threadcreate.debug1.txt'), 'goroutine'), /expected a goroutine profile/);
    assert.throws(() => parseHeapMemStats(Buffer.from('heap profile: 1: 2 [3: 4] @ heap/1048576\n')), /no "# runtime.MemStats"/);
    assert.throws(() => parseHeapMemStats(Buffer.from('garbage')), ProfileDecodeError);
    const truncated = testdata('goprog/heap.debug1.txt').toString().replace(/^# NextGC = .*$/m, '');
    assert.throws(() => parseHeapMemStats(Buffer.from(truncated)), /lacks NextGC/);
    const corrupt = testdata('goprog/heap.debug1.txt').toString().replace(/^# HeapIdle = .*$/m, '# HeapIdle = lots');
    assert.throws(() => parseHeapMemStats(Buffer.from(corrupt)), /HeapIdle = "lots" is not a count/);
  });
});

describe('parseGoroutineStacks bounds', () => {
  it('refuses stacks attributed to more than MAX_FUNCTIONS functions as too large', () => {
    const records = (n: number) =>
      Buffer.from(`goroutine profile: total ${n}\n` + Array.from({ length: n }, (_, i) => `1 @ 0x1\n#\t0x1\tmain.f${i}+0x1\t/m.go:1\n\n`).join(''));
    assert.equal(parseGoroutineStacks(records(MAX_FUNCTIONS), () => false).byFunction.size, MAX_FUNCTIONS);
    assert.throws(() => parseGoroutineStacks(records(MAX_FUNCTIONS + 1), () => false), (err: unknown) => err instanceof ProfileDecodeError && err.tooLarge);
  });
});
