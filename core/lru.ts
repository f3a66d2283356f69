/**
 * A least-recently-used cache bounded by an estimate of the bytes its entries hold, for what pprofcol
 * learns from data it receives (metric metadata, label shapes): a sender decides how many distinct
 * names there are, so a count bound is no bound on memory. A Map keeps insertion order; a hit
 * re-inserts the entry, so the first key is always the least recently used and eviction is O(1).
 *
 * The costs are estimates made by the caller (see `stringBytes` and MAP_ENTRY_BYTES below). They
 * aim high: the bound is what the cache can hold at most, not what it usually holds.
 */

/**
 * Heap of one entry besides its key's and value's own bytes. V8's OrderedHashMap keeps key, value and
 * chain link (3 x 8 bytes on a 64-bit build without pointer compression, as Node ships) plus a bucket
 * slot per two entries, and grows by doubling, so a table just grown is half empty: 2 x (24 + 4) = 56,
 * rounded up to 64. The cache's own { value, cost } record adds a 24-byte object header and two
 * 8-byte fields: 40. Together 104.
 */
export const MAP_ENTRY_BYTES = 104;

/**
 * Heap of a plain object with `fields` properties stored in the object: a 24-byte header (map,
 * properties, elements) and 8 bytes per field.
 */
export function objectBytes(fields: number): number {
  return 24 + 8 * fields;
}

/**
 * Heap of a string of `length` UTF-16 code units: a 16-byte header (map, hash, length) and the
 * characters, two bytes each when any is outside Latin-1 (counted so: the worst case), rounded up
 * to V8's 8-byte alignment.
 */
export function stringBytes(s: string): number {
  return (16 + 2 * s.length + 7) & ~7;
}

export interface ByteLruOptions<K, V> {
  /** Most bytes (estimated) the entries may cost together; at least 1. */
  maxBytes: number;
  /** Called once per entry that is pushed out to make room (not for delete() or replacement). */
  onEvict?: (key: K, value: V) => void;
}

export class ByteLru<K, V> {
  private readonly entries = new Map<K, { value: V; cost: number }>();
  private used = 0;
  private evicted = 0;
  readonly maxBytes: number;

  constructor(private readonly options: ByteLruOptions<K, V>) {
    if (!(options.maxBytes >= 1)) throw new RangeError(`maxBytes must be at least 1, got ${options.maxBytes}`);
    this.maxBytes = options.maxBytes;
  }

  /** Estimated bytes held now. */
  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Entries pushed out since the cache was made. */
  get evictions(): number {
    return this.evicted;
  }

  /** The value, made the most recently used. */
  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  /** The value, leaving the order alone. */
  peek(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /**
   * Stores the value as the most recently used, evicting the least recently used until it fits.
   * An entry costing more than the whole bound is not stored (returns false): it would evict
   * everything and still not fit.
   */
  set(key: K, value: V, cost: number): boolean {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.used -= old.cost;
    }
    if (cost > this.maxBytes) return false;
    while (this.used + cost > this.maxBytes) this.evictOldest();
    this.entries.set(key, { value, cost });
    this.used += cost;
    return true;
  }

  delete(key: K): boolean {
    const e = this.entries.get(key);
    if (e === undefined) return false;
    this.entries.delete(key);
    this.used -= e.cost;
    return true;
  }

  /** Values from the least to the most recently used. */
  *values(): IterableIterator<V> {
    for (const e of this.entries.values()) yield e.value;
  }

  private evictOldest(): void {
    const first = this.entries.entries().next();
    if (first.done === true) return;
    const [key, e] = first.value;
    this.entries.delete(key);
    this.used -= e.cost;
    this.evicted++;
    this.options.onEvict?.(key, e.value);
  }
}
