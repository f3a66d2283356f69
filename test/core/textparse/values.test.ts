// Sample values as the parser reads them: plain integers take a fast path (read from the character
// codes, no slice or regex), everything else goes through parseValue. Both must give Go's ParseFloat's
// number, and the fast path must hand anything that is not a whole integer token to the slow one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition, TextParseError } from '../../../core/textparse/index.js';

const valueOf = (text: string): number => parseExposition(`m ${text}\n`, 'text')[0].value;

describe('textparse: sample values', () => {
  it('reads integers exactly, at and past the fast path\'s 15 digits', () => {
    assert.equal(valueOf('0'), 0);
    assert.ok(Object.is(valueOf('-0'), -0), '-0 stays negative zero, as ParseFloat gives');
    assert.equal(valueOf('7'), 7);
    assert.equal(valueOf('007'), 7);
    assert.equal(valueOf('-42'), -42);
    assert.equal(valueOf('999999999999999'), 999999999999999);
    assert.equal(valueOf('-123456789012345'), -123456789012345);
    // 16 to 20 digits: the slow path, rounded as a double like Number() and ParseFloat round them.
    assert.equal(valueOf('9007199254740993'), 9007199254740992);
    assert.equal(valueOf('18446744073709551615'), 18446744073709551615);
  });

  it('reads the other forms through the full check', () => {
    assert.equal(valueOf('1.5'), 1.5);
    assert.equal(valueOf('+5'), 5);
    assert.equal(valueOf('1e3'), 1000);
    assert.equal(valueOf('-2.5E-3'), -0.0025);
    assert.equal(valueOf('12.'), 12);
    assert.equal(valueOf('+Inf'), Infinity);
    assert.equal(valueOf('-Inf'), -Infinity);
    assert.ok(Number.isNaN(valueOf('NaN')));
  });

  it('an integer followed by a timestamp, with a tab or spaces between', () => {
    const [a, b] = parseExposition('a 12 1700000000000\nb\t-3\t1700000000001\n', 'text');
    assert.deepEqual([a.value, a.timestampMs, b.value, b.timestampMs], [12, 1700000000000, -3, 1700000000001]);
  });

  it('rejects a token that starts like an integer but is not a number', () => {
    for (const bad of ['12x', '1-2', '-', '--1', '0x10', '1_000', '12,5']) {
      assert.throws(() => valueOf(bad), TextParseError, bad);
    }
  });
});
