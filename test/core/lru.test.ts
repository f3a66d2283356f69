// The byte-bounded LRU and the receiver's FamilyRegistry built on it: the bound holds, the least
// recently used goes first, evictions are reported, an entry over the whole bound is not kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteLru } from '../../core/lru.js';
import { FamilyRegistry } from '../../core/remotewrite/families.js';

describe('ByteLru', () => {
  it('evicts the least recently used until the new entry fits, and counts it', () => {
    const evicted: string[] = [];
    const lru = new ByteLru<string, number>({ maxBytes: 100, onEvict: (k) => evicted.push(k) });
    lru.set('a', 1, 40);
    lru.set('b', 2, 40);
    assert.equal(lru.get('a'), 1); // a is now the most recent
    lru.set('c', 3, 40);
    assert.deepEqual(evicted, ['b']);
    assert.equal(lru.bytes, 80);
    assert.deepEqual([...lru.values()], [1, 3]);
    assert.equal(lru.set('huge', 4, 101), false, 'over the whole bound: not kept');
    assert.equal(lru.has('huge'), false);
    assert.equal(lru.bytes, 80, 'and nothing evicted for it');
    lru.set('a', 5, 10); // replacing is not an eviction
    assert.equal(lru.evictions, 1);
    assert.equal(lru.bytes, 50);
  });
});

describe('FamilyRegistry', () => {
  it('stays within its bytes under a flood of names; a family learned again is typed again', () => {
    const evictions = { metadata: 0, untyped: 0 };
    const families = new FamilyRegistry({ maxBytes: 64 * 1024, onEvict: (c) => evictions[c]++ });
    families.set('kept', 'counter', 'first', '');
    for (let i = 0; i < 10_000; i++) {
      families.set(`flood_${i}`, 'gauge', 'a help string of some length', '');
      families.of(`untyped_${i}`);
    }
    assert.ok(families.bytes('metadata') <= 48 * 1024 && families.bytes('untyped') <= 16 * 1024);
    assert.ok(evictions.metadata > 9000 && evictions.untyped > 9000, JSON.stringify(evictions));
    assert.equal(families.of('kept').type, 'untyped', 'evicted: untyped until sent again');
    families.set('kept', 'counter', 'second', '');
    assert.deepEqual({ ...families.of('kept_total') }, { name: 'kept', type: 'counter', help: 'second', unit: '' });
  });
});
