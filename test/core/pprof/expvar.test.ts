// The /debug/vars scanner against the JSON.parse reading it replaced: the same MemStats or the same
// error for the recordings, crafted bodies (grammar corners, wrong types, escaped keys, duplicate
// keys, LastGC past 2^53, nesting and size at the bounds) and deterministic mutations of the recording.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseExpvarMemStats, parseExpvarMemStatsByJsonParse } from '../../../core/pprof/expvar.js';
import { ProfileDecodeError } from '../../../core/pprof/text.js';
import { FUZZ_SEED, rng } from '../../harness/fuzz.js';
import { repoRoot } from '../../harness/servers.js';

const recording = (dir: string): Buffer => readFileSync(path.join(repoRoot(), 'test', 'testdata', dir, 'vars.json'));

type Outcome = { ok: true; stats: unknown } | { ok: false; error: string };

function outcome(parse: (b: Buffer) => unknown, body: Buffer): Outcome {
  try {
    return { ok: true, stats: parse(body) };
  } catch (err) {
    assert.ok(err instanceof ProfileDecodeError, `not a ProfileDecodeError: ${String(err)}`);
    return { ok: false, error: err.message };
  }
}

/** Both readings agree, values and errors alike (Object.is per number: -0 and NaN count). */
function assertSame(body: Buffer, what: string): Outcome {
  const scanned = outcome(parseExpvarMemStats, body);
  const parsed = outcome(parseExpvarMemStatsByJsonParse, body);
  assert.deepStrictEqual(scanned, parsed, `${what}: ${body.subarray(0, 120).toString('latin1')}`);
  return scanned;
}

const MEMSTATS =
  '"Alloc":1,"TotalAlloc":2,"Sys":3,"Mallocs":4,"Frees":5,"HeapAlloc":6,"HeapSys":7,"HeapIdle":8,"HeapInuse":9,' +
  '"HeapReleased":10,"HeapObjects":11,"StackInuse":12,"StackSys":13,"MSpanInuse":14,"MSpanSys":15,"MCacheInuse":16,' +
  '"MCacheSys":17,"BuckHashSys":18,"GCSys":19,"OtherSys":20,"NextGC":21,"LastGC":1795677921063547269,"NumGC":23,' +
  '"PauseTotalNs":24,"PauseNs":[1,2,3]';
const vars = (memstats: string, before = '"cmdline":["x"]', after = ''): Buffer =>
  Buffer.from(`{${before}${before === '' ? '' : ','}"memstats":{${memstats}}${after === '' ? '' : ','}${after}}`);

describe('/debug/vars scanner', () => {
  it('reads the recordings exactly as JSON.parse did, LastGC past 2^53 included', () => {
    for (const dir of ['goprog']) {
      const body = recording(dir);
      const got = assertSame(body, dir);
      assert.ok(got.ok);
      const stats = parseExpvarMemStats(body);
      assert.equal(stats.PauseNs.length, 256);
      assert.ok(stats.LastGC > 2 ** 53, `LastGC ${stats.LastGC}`);
      assert.equal(stats.LastGC, Number(/"LastGC":(\d+)/.exec(body.toString())![1]));
    }
    const crafted = parseExpvarMemStats(vars(MEMSTATS));
    assert.equal(crafted.LastGC, 1795677921063547269);
    assert.equal(crafted.NumGC, 23);
    assert.deepEqual(crafted.PauseNs, [1, 2, 3]);
    assert.equal(crafted.PauseTotalNs, 24);
  });

  it('gives the errors of today for bodies that are not JSON, wherever the damage lies', () => {
    const good = vars(MEMSTATS, '"cmdline":["x"]', '"zz":{"a":[1,{"b":null}]}').toString();
    const cases = [
      '', ' ', '<html>', '\uFEFF' + good, good + 'x', good + ',', good.slice(0, -1), good.replace('"zz"', 'zz'),
      good.replace('null', 'nul'), good.replace('[1,', '[1,,'), good.replace('}]', '},]'), good.replace('"b":', '"b"'),
      good.replace('["x"]', '["x\\q"]'), good.replace('["x"]', '["\\u12g4"]'), good.replace('["x"]', '["x\n"]'),
      good.replace('"Alloc":1', '"Alloc":01'), good.replace('"Alloc":1', '"Alloc":1.'), good.replace('"Alloc":1', '"Alloc":.5'),
      good.replace('"Alloc":1', '"Alloc":1e'), good.replace('"Alloc":1', '"Alloc":-'), good.replace('"Alloc":1', '"Alloc":+1'),
      good.replace('[1,2,3]', '[1,2,3'), good.replace('[1,2,3]', '[1 2]'), '{"memstats":{' + MEMSTATS + '}', '{"memstats":{' + MEMSTATS + '}}}',
      '{"memstats":{' + MEMSTATS + ',}}', '[' + good + ']]', '"\\u00',
    ];
    for (const text of cases) {
      const got = assertSame(Buffer.from(text), JSON.stringify(text.slice(0, 40)));
      assert.deepEqual(got, { ok: false, error: '/debug/vars is not JSON' }, JSON.stringify(text.slice(0, 60)));
    }
  });

  it('gives the errors of today for JSON without the fields, or with fields of the wrong type', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"cmdline": []}', /has no "memstats"/],
      ['[1,2]', /has no "memstats"/],
      ['{"memstats": [1]}', /has no "memstats"/],
      ['{"memstats": null}', /has no "memstats"/],
      [vars(MEMSTATS, '', '"memstats":5').toString(), /has no "memstats"/],
      [vars(MEMSTATS.replace('"Alloc":1,', '')).toString(), /memstats\.Alloc is not a count/],
      [vars(MEMSTATS.replace('"Sys":3', '"Sys":"3"')).toString(), /memstats\.Sys is not a count/],
      [vars(MEMSTATS.replace('"Sys":3', '"Sys":-3')).toString(), /memstats\.Sys is not a count/],
      [vars(MEMSTATS.replace('"Sys":3', '"Sys":1e400')).toString(), /memstats\.Sys is not a count/],
      [vars(MEMSTATS.replace('"NumGC":23', '"NumGC":null')).toString(), /memstats\.NumGC is not a count/],
      [vars(MEMSTATS.replace('[1,2,3]', '[1,"2",3]')).toString(), /PauseNs is not a list of numbers/],
      [vars(MEMSTATS.replace('[1,2,3]', '{"0":1}')).toString(), /PauseNs is not a list of numbers/],
      [vars(MEMSTATS.replace(',"PauseNs":[1,2,3]', '')).toString(), /PauseNs is not a list of numbers/],
      // Two fields wrong: the first in MemStats' order is named, as before.
      [vars(MEMSTATS.replace('"Sys":3', '"Sys":true').replace('"Alloc":1', '"Alloc":{}')).toString(), /memstats\.Alloc is not a count/],
    ];
    for (const [text, error] of cases) {
      const got = assertSame(Buffer.from(text), text.slice(0, 40));
      assert.equal(got.ok, false, text);
      assert.match((got as { error: string }).error, error, text);
    }
  });

  it('takes the last of duplicate keys, reads numbers in every form JSON allows, and skips what it does not read', () => {
    const cases = [
      vars(MEMSTATS, '', '"memstats":{' + MEMSTATS.replace('"Alloc":1', '"Alloc":99') + '}'),
      vars('"Alloc":"x",' + MEMSTATS),
      vars(MEMSTATS + ',"Alloc":7,"PauseNs":[]'),
      vars(MEMSTATS.replace('"Alloc":1', '"Alloc":-0').replace('"Sys":3', '"Sys":1.5e3').replace('"Frees":5', '"Frees":0.000').replace('"HeapSys":7', '"HeapSys":12345678901234567890123')),
      vars(MEMSTATS.replace('[1,2,3]', '[-1, 1E400, 0.5, 9007199254740993]').replace('"PauseTotalNs":24', '"PauseTotalNs":"n/a"')),
      vars(MEMSTATS.replace('"PauseTotalNs":24,', '')),
      vars(MEMSTATS, '"cmdline":["a\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\uD800", "\u00e9\u2028"], "x": {"y": [[[{}]], [], {"z": [true, false, null]}]}', '"zz": {"memstats": 5}'),
      Buffer.from(` \n\t\r{ \n"memstats" : { ${MEMSTATS.replaceAll(',', ' ,\n ').replaceAll(':', ' : ')} } , "cmdline" : [ ] } \n`),
      // Escaped keys: read the JSON.parse way, same answer.
      Buffer.from(`{"mem\\u0073tats":{${MEMSTATS.replace('"Alloc":1', '"\\u0041lloc":5')}}}`),
      Buffer.from(`{"mem\\u0073tats":7,"memstats":{${MEMSTATS}}}`),
      // Bytes that are not UTF-8 inside strings: JSON.parse saw U+FFFD there, and accepted them.
      Buffer.concat([Buffer.from('{"cmdline":["'), Buffer.from([0xff, 0xc0, 0xe2]), Buffer.from(`"],"memstats":{${MEMSTATS}}}`)]),
    ];
    for (const body of cases) {
      const got = assertSame(body, 'crafted');
      assert.equal(got.ok, true, body.toString('latin1').slice(0, 200));
    }
    assert.equal(parseExpvarMemStats(cases[0]).Alloc, 99);
    assert.equal(parseExpvarMemStats(cases[1]).Alloc, 1);
    assert.ok(Object.is(parseExpvarMemStats(cases[3]).Alloc, -0));
    assert.equal(parseExpvarMemStats(cases[5]).PauseTotalNs, undefined);
  });

  it('stays within its bounds at the size bound: deep nesting and a large var of the program beside memstats', () => {
    // 1 MiB of nesting: JSON.parse handles it; the scanner's stack is an array, not recursion.
    const depth = 512 * 1024;
    const deep = Buffer.concat([Buffer.from(`{"memstats":{${MEMSTATS}},"deep":`), Buffer.alloc(depth, '['), Buffer.alloc(depth, ']'), Buffer.from('}')]);
    assert.ok(assertSame(deep, 'deep').ok);
    const unclosed = deep.subarray(0, deep.length - 2);
    assert.deepEqual(assertSame(unclosed, 'unclosed'), { ok: false, error: '/debug/vars is not JSON' });
    // A program's own var of 16 MiB after memstats (a bound well under the default body_size_limit of
    // 64 MiB, which core/scrape/http.ts enforces before any parsing): read through, nothing kept of it.
    const big = Buffer.concat([Buffer.from(`{"memstats":{${MEMSTATS}},"zcache":["`), Buffer.alloc(16 * 1024 * 1024, 'a'), Buffer.from('"]}')]);
    assert.deepEqual(parseExpvarMemStats(big).PauseNs, [1, 2, 3]);
    big[big.length - 5] = 0x01; // one control character 16 MiB in: not JSON, as before
    assert.throws(() => parseExpvarMemStats(big), /not JSON/);
  });

  it('agrees with JSON.parse on mutations of the recording (deterministic, FUZZ_SEED)', () => {
    const src = recording('goprog');
    const rand = rng(FUZZ_SEED);
    const alphabet = Buffer.from('{}[],:"\\-+.eE0123456789 \ntfnu\x01\xff');
    let accepted = 0;
    for (let round = 0; round < 3000; round++) {
      const bytes = Buffer.from(src);
      let body: Buffer = bytes;
      const at = rand(bytes.length);
      switch (rand(4)) {
        case 0:
          bytes[at] = alphabet[rand(alphabet.length)];
          break;
        case 1:
          body = bytes.subarray(0, at);
          break;
        case 2:
          body = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + rand(8))]);
          break;
        default:
          body = Buffer.concat([bytes.subarray(0, at), alphabet.subarray(rand(alphabet.length)).subarray(0, 1 + rand(3)), bytes.subarray(at)]);
      }
      if (assertSame(body, `seed ${FUZZ_SEED} round ${round}`).ok) accepted++;
    }
    // Both kinds were exercised: many mutations land in a number or string and still parse.
    assert.ok(accepted > 300 && accepted < 2700, `accepted ${accepted} of 3000`);
  });
});
