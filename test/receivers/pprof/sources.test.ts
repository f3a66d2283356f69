// Parsers of the cheap sources and of goroutine stacks, on text recorded from real Go programs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { indexCount, parseExpvarMemStats, parseIndexCounts } from '../../../core/pprof/sources.js';
import { parseGoroutineStacks, parseGoroutineStates, parseHeapMemStats, parseProfileTotal, ProfileDecodeError } from '../../../core/pprof/text.js';
import { profileIntervalMs, configSchema } from '../../../receivers/pprof/config.js';
import { dueFamilies, skipFrame, sourcePath, TargetSourceState } from '../../../receivers/pprof/scrape.js';
import { repoRoot } from '../../harness/servers.js';

const testdata = (file: string) => readFileSync(path.join(repoRoot(), 'test', 'testdata', file));

describe('cheap sources', () => {
  it('reads goroutine and threadcreate counts from the index page, equal to the debug=1 totals of the same recording', () => {
    for (const dir of ['goprog', 'prometheus-2.42']) {
      const counts = parseIndexCounts(testdata(`${dir}/index.html`));
      assert.ok(counts.has('heap') && counts.has('goroutine') && counts.has('threadcreate'), dir);
      // Fetched seconds apart from the debug=1 files: thread counts only grow, goroutines move a little.
      assert.equal(counts.get('threadcreate'), parseProfileTotal(testdata(`${dir}/threadcreate.debug1.txt`), 'threadcreate'), dir);
      const goroutines = parseProfileTotal(testdata(`${dir}/goroutine.debug1.txt`), 'goroutine');
      assert.ok(Math.abs(counts.get('goroutine')! - goroutines) <= 5, `${dir}: ${counts.get('goroutine')} vs ${goroutines}`);
    }
    assert.ok(parseIndexCounts(testdata('goprog/index.html')).get('goroutine')! >= 200);
  });

  it('rejects a page that is not the pprof index', () => {
    assert.throws(() => parseIndexCounts(Buffer.from('<html>404 page not found</html>')), ProfileDecodeError);
    assert.throws(() => indexCount(Buffer.from('<html>404 page not found</html>'), 'goroutine'), /no profile table/);
    assert.throws(() => indexCount(Buffer.from("<tr><td>3</td><td><a href='heap?debug=1'>"), 'goroutine'), /lists no goroutine profile/);
  });

  it('reads the table as the row pattern does, on pages built from its pieces and their near misses', () => {
    // The reading the byte scanner replaced: a regular expression over the page's text, the last row of a name winning.
    const pattern = /<tr><td>(\d+)<\/td><td><a href=['"]?([A-Za-z0-9_]+)\?debug=1['"]?>/g;
    const byPattern = (text: string) => new Map([...text.matchAll(pattern)].map((m): [string, number] => [m[2], Number(m[1])]));
    const piece = fc.constantFrom('<tr><td>', '</td><td><a href=', "'", '"', '?debug=1', '>', 'goroutine', 'threadcreate', 'heap', '12', '0', '98765432109876543210', '<tr>', '<td>', ' ', 'é', '\n', '?debug=2', 'a_b9',
      "<tr><td>7</td><td><a href='goroutine?debug=1'>", '<tr><td>3</td><td><a href="threadcreate?debug=1">', '<tr><td>40</td><td><a href=heap?debug=1>', '<tr><td>5</td><td><a href=');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const text = pieces.join('');
        const expected = byPattern(text);
        const body = Buffer.from(text, 'utf8');
        if (expected.size === 0) {
          assert.throws(() => parseIndexCounts(body), /no profile table/);
          return;
        }
        assert.deepEqual([...parseIndexCounts(body)], [...expected]);
        for (const name of ['goroutine', 'threadcreate']) {
          if (expected.has(name)) assert.equal(indexCount(body, name), expected.get(name));
          else assert.throws(() => indexCount(body, name), /lists no/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('reads runtime.MemStats from expvar with PauseTotalNs, agreeing with heap?debug=1 fetched just before', () => {
    const vars = parseExpvarMemStats(testdata('goprog/vars.json'));
    const heap = parseHeapMemStats(testdata('goprog/heap.debug1.txt'));
    assert.ok(vars.PauseTotalNs! > 0);
    assert.equal(vars.PauseNs.length, 256);
    assert.ok(vars.NumGC >= heap.NumGC && vars.NumGC - heap.NumGC < 50, `NumGC ${heap.NumGC} then ${vars.NumGC}`);
    assert.ok(vars.TotalAlloc >= heap.TotalAlloc);
    assert.ok(Math.abs(vars.Sys - heap.Sys) < 0.2 * heap.Sys);
    assert.throws(() => parseExpvarMemStats(Buffer.from('{"cmdline": []}')), /memstats/);
    assert.throws(() => parseExpvarMemStats(Buffer.from('<html>')), /not JSON/);
  });
});

describe('goroutine breakdowns', () => {
  it('attributes goroutines to the first non-runtime, non-sync frame', () => {
    const profile = parseGoroutineStacks(testdata('goprog/goroutine.debug1.txt'), skipFrame);
    const by = (name: string) => profile.byFunction.get(name)?.[0] ?? 0;
    assert.ok(by('main.parkedWorker') >= 200, `parkedWorker ${by('main.parkedWorker')}`);
    // Waiting in sync.(*Mutex).Lock is charged to the caller.
    assert.ok(by('main.contendLock') >= 1);
    assert.equal([...profile.byFunction.keys()].filter((n) => n.startsWith('runtime.') && n !== 'runtime.goexit').filter((n) => by(n) > 5).length, 0);
    let sum = 0;
    for (const v of profile.byFunction.values()) sum += v[0];
    assert.equal(sum, profile.totals[0]);
  });

  it('counts goroutines by state from debug=2 headers and reads waits in minutes', () => {
    const states = parseGoroutineStates(testdata('goprog/goroutine.debug2.txt'));
    assert.ok(states.byState.get('chan receive')! >= 200);
    assert.equal(states.total, [...states.byState.values()].reduce((a, b) => a + b, 0));
    const dump = Buffer.from('goroutine 1 [select, 7 minutes]:\nmain.main()\n\ngoroutine 9 [IO wait, 2 minutes, locked to thread]:\nx()\n\ngoroutine 3 [running]:\n');
    const parsed = parseGoroutineStates(dump);
    assert.equal(parsed.waitMaxSeconds, 420);
    assert.deepEqual([...parsed.byState], [['select', 1], ['IO wait', 1], ['running', 1]]);
  });
});

describe('per-family intervals', () => {
  const parse = (extra: object) =>
    configSchema.safeParse({ scrape_configs: [{ job_name: 'a', scrape_interval: '15s', static_configs: [{ targets: ['127.0.0.1:1'] }], ...extra }] });

  it('defaults: counts every interval, the rest every minute; never faster than scrape_interval', () => {
    const result = parse({});
    assert.ok(result.success);
    const config = result.data.scrape_configs[0];
    assert.equal(profileIntervalMs(config, 'goroutine'), 15_000);
    assert.equal(profileIntervalMs(config, 'heap'), 60_000);
    assert.equal(config.cpu.window, 10_000);
    assert.equal(result.data.max_concurrent_cpu_profiles, 4);
  });

  it('rejects intervals of 5m or more (Prometheus would drop the series between fetches) and below scrape_interval', () => {
    const result = parse({ profile_intervals: { heap: '5m', mutex: '5s' }, cpu: { window: '1500ms', every: '10m' } });
    assert.ok(!result.success);
    const messages = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
    assert.match(messages, /profile_intervals\.heap: must be under 5m/);
    assert.match(messages, /profile_intervals\.mutex: must be 0 or at least scrape_interval/);
    assert.match(messages, /cpu\.window: must be whole seconds/);
    assert.match(messages, /cpu\.every: must be under 5m/);
  });

  it('a family is due once per its interval, with half a scrape interval of slack for timer jitter', () => {
    const settings = {
      pathPrefix: '/debug/pprof',
      profiles: ['goroutine', 'heap'] as const,
      timeoutMs: 1000,
      bodySizeLimit: 0,
      scrapeIntervalMs: 15_000,
      intervalMs: (f: string) => (f === 'heap' ? 60_000 : 15_000),
    };
    const state = new TargetSourceState();
    const seen: string[] = [];
    for (let t = 0; t <= 120_000; t += 15_000) {
      const due = dueFamilies({ ...settings, profiles: [...settings.profiles] }, state, t + (t % 2 === 0 ? 40 : -40));
      for (const f of due) state.lastFetchedMs.set(f, t);
      seen.push(due.join('+'));
    }
    assert.deepEqual(seen, ['goroutine+heap', 'goroutine', 'goroutine', 'goroutine', 'goroutine+heap', 'goroutine', 'goroutine', 'goroutine', 'goroutine+heap']);
    assert.equal(sourcePath('cpu', { pathPrefix: '/debug/pprof', expvarPath: '/debug/vars' }, 10), '/debug/pprof/profile?seconds=10');
  });

  it('fetches memstats every scrape while /debug/vars serves them, once a minute after falling back to heap?debug=1', () => {
    const settings = {
      pathPrefix: '/debug/pprof',
      expvarPath: '/debug/vars',
      profiles: ['goroutine', 'heap'] as Array<'goroutine' | 'heap'>,
      timeoutMs: 1000,
      bodySizeLimit: 0,
      scrapeIntervalMs: 15_000,
      intervalMs: (f: string) => (f === 'heap' ? 60_000 : 15_000),
      heapEveryScrapeFromExpvar: true,
    };
    const state = new TargetSourceState();
    const walk = (from: number): string[] => {
      const seen: string[] = [];
      for (let t = from; t < from + 60_000; t += 15_000) {
        const due = dueFamilies(settings, state, t);
        for (const f of due) state.lastFetchedMs.set(f, t);
        seen.push(due.join('+'));
      }
      return seen;
    };
    assert.deepEqual(walk(0), ['goroutine+heap', 'goroutine+heap', 'goroutine+heap', 'goroutine+heap']);
    // The target turned out to have no /debug/vars: memstats come from heap?debug=1, once a minute.
    state.missingUntilMs.set('expvar', 10 * 60_000);
    assert.deepEqual(walk(60_000), ['goroutine', 'goroutine', 'goroutine', 'goroutine+heap']);
    // An explicit profile_intervals.heap wins over the expvar rule.
    assert.deepEqual(dueFamilies({ ...settings, heapEveryScrapeFromExpvar: false, expvarPath: '/debug/vars' }, new TargetSourceState(), 0), ['goroutine', 'heap']);
  });
});
