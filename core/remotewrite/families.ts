/**
 * The metric families a remote-write receiver learns from what it is sent: Prometheus sends metadata
 * (type, HELP, unit) apart from the samples, every minute (1.0's field 3) or with each series (2.0),
 * and a series takes the family of its own name or of the name its suffix belongs to. A sender
 * chooses the names, so both caches are LRUs bounded by estimated bytes: a family forgotten is
 * learned again from the next metadata the sender sends, and until then its series are untyped.
 */
import { ByteLru, MAP_ENTRY_BYTES, objectBytes, stringBytes } from '../lru.js';
import type { MetricFamily, MetricType } from '../model/metrics.js';

const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created'];

/** The two caches, as the `cache` label of the eviction counters names them. */
export type FamilyCacheName = 'metadata' | 'untyped';

/**
 * Share of the bound given to the untyped placeholders (series whose name has no metadata). They are
 * only saved allocations (one frozen object per name instead of one per series per request), so
 * they get the smaller part; the metadata, which cannot be rebuilt until the sender sends it again,
 * gets the rest.
 */
const UNTYPED_SHARE = 0.25;

export interface FamilyRegistryOptions {
  /** Most bytes (estimated) both caches hold together. */
  maxBytes: number;
  /** Called for each family pushed out of a cache. */
  onEvict?: (cache: FamilyCacheName) => void;
}

/**
 * Estimated heap of one cached family: the entry, the frozen { name, type, help, unit } object, and
 * its strings (the name is also the key: the same string, counted once; the type is one of five
 * constant strings, counted never).
 */
export function familyBytes(name: string, help: string, unit: string): number {
  return MAP_ENTRY_BYTES + objectBytes(4) + stringBytes(name) + (help === '' ? 0 : stringBytes(help)) + (unit === '' ? 0 : stringBytes(unit));
}

/** Families known to the receiver across requests. */
export class FamilyRegistry {
  private readonly byName: ByteLru<string, MetricFamily>;
  private readonly untyped: ByteLru<string, MetricFamily>;

  constructor(options: FamilyRegistryOptions) {
    const untypedBytes = Math.max(1, Math.floor(options.maxBytes * UNTYPED_SHARE));
    const onEvict = options.onEvict;
    this.byName = new ByteLru({ maxBytes: Math.max(1, options.maxBytes - untypedBytes), onEvict: onEvict && (() => onEvict('metadata')) });
    this.untyped = new ByteLru({ maxBytes: untypedBytes, onEvict: onEvict && (() => onEvict('untyped')) });
  }

  /** Estimated bytes held by each cache. */
  bytes(cache: FamilyCacheName): number {
    return cache === 'metadata' ? this.byName.bytes : this.untyped.bytes;
  }

  /**
   * Learns a family's metadata. The same metadata again only refreshes its place in the LRU; changed
   * metadata makes a new (frozen) family, so points already made keep the one they were made with.
   * One whose strings alone exceed the bound is not kept: its series are untyped.
   */
  set(name: string, type: MetricType, help: string, unit: string): void {
    const known = this.byName.get(name);
    if (known !== undefined && known.type === type && known.help === help && known.unit === unit) return;
    this.byName.set(name, Object.freeze({ name, type, help, unit }), familyBytes(name, help, unit));
    // The name has metadata now: its placeholder would never be read again.
    this.untyped.delete(name);
  }

  /** The family of a series name: itself, or the family whose suffix it carries, or an untyped one. */
  of(name: string): MetricFamily {
    const own = this.byName.get(name);
    if (own !== undefined) return own;
    for (const suffix of SUFFIXES) {
      if (name.endsWith(suffix)) {
        const base = this.byName.get(name.slice(0, -suffix.length));
        if (base !== undefined) return base;
      }
    }
    let u = this.untyped.get(name);
    if (u === undefined) {
      u = Object.freeze({ name, type: 'untyped', help: '', unit: '' });
      this.untyped.set(name, u, familyBytes(name, '', ''));
    }
    return u;
  }
}
