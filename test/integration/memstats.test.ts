// Every go_memstats_* family of the design's table, derived by pprofcol from heap?debug=1, against the
// same process's own client_golang /metrics (test/go/nativemetrics: client_golang 1.14, which reads the
// runtime's runtime/metrics; pprofcol reads runtime.MemStats). The program shapes its heap so that the
// families stand apart and then holds it still (-hold-memory), and the test checks that its own bounds
// are tight enough to catch any two families swapped in pprofcol's mapping.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseExposition, runCli } from '../harness/pprofcol.js';
import { startGoProgram, type GoProgramServer } from '../harness/servers.js';

/**
 * How far the derived value may lie outside the range of the two native reads taken just before and
 * just after it, as a fraction of that range's top, per family. Between collections (the program ends
 * its setup with one and none is due for minutes) nothing is freed, so:
 *   0: counters, and what only grows or stands still without a collection (live bytes and objects,
 *      memory obtained from the OS, the heap goal, the time of the last collection, the per-P caches);
 *   1%: what only grows here but that we did not prove monotonic (heap in use, span structures);
 *   2%: what moves both ways by a few pages (stacks come from heap pages, so idle, released and heap
 *      sys move with them; GC metadata and work buffers);
 *   20% + 64 KiB: stacks (one HTTP connection's goroutine stacks are 8-32 KiB on ~450 KiB) and other
 *      runtime memory, seen moving by 10% between two reads a second apart.
 */
const SLACK: Record<string, number> = {
  go_memstats_alloc_bytes: 0,
  go_memstats_alloc_bytes_total: 0,
  go_memstats_sys_bytes: 0,
  go_memstats_mallocs_total: 0,
  go_memstats_frees_total: 0,
  go_memstats_heap_alloc_bytes: 0,
  go_memstats_heap_sys_bytes: 0.02,
  go_memstats_heap_idle_bytes: 0.02,
  go_memstats_heap_inuse_bytes: 0.01,
  go_memstats_heap_released_bytes: 0.02,
  go_memstats_heap_objects: 0,
  go_memstats_stack_inuse_bytes: 0.2,
  go_memstats_stack_sys_bytes: 0.2,
  go_memstats_mspan_inuse_bytes: 0.01,
  go_memstats_mspan_sys_bytes: 0,
  go_memstats_mcache_inuse_bytes: 0,
  go_memstats_mcache_sys_bytes: 0,
  go_memstats_buck_hash_sys_bytes: 0,
  go_memstats_gc_sys_bytes: 0.02,
  go_memstats_other_sys_bytes: 0.2,
  go_memstats_next_gc_bytes: 0,
  go_memstats_last_gc_time_seconds: 0,
};
const FAMILIES = Object.keys(SLACK);
/** Absolute slack on top, for the families that move by whole goroutine stacks. */
const SLACK_BYTES: Record<string, number> = {
  go_memstats_stack_inuse_bytes: 64 << 10,
  go_memstats_stack_sys_bytes: 64 << 10,
  go_memstats_other_sys_bytes: 64 << 10,
};
/**
 * Pairs that are equal by the runtime's definition, so a swap between them is harmless and no
 * comparison can see it: Alloc is HeapAlloc; StackSys is StackInuse plus OS thread stacks, which a Go
 * program without cgo does not have (runtime/metrics: /memory/classes/os-stacks is zero).
 */
const EQUAL = [
  ['go_memstats_alloc_bytes', 'go_memstats_heap_alloc_bytes'],
  ['go_memstats_stack_inuse_bytes', 'go_memstats_stack_sys_bytes'],
];
const GC_COUNT = 'go_gc_duration_seconds_count';

type Values = Map<string, number>;
const valuesOf = (text: string): Values => new Map(parseExposition(text).map((s) => [s.name, s.value]));

describe('go_memstats_* against the target\'s own client_golang values', () => {
  let prog: GoProgramServer;
  before(async () => {
    prog = await startGoProgram('nativemetrics', ['-hold-memory']);
  });
  after(async () => prog?.stop());

  const nativeRead = async (): Promise<Values> => {
    const res = await fetch(`${prog.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    return valuesOf(await res.text());
  };

  it('each of the 22 families lies within the target\'s reads before and after, and a swap of any two would fail', async () => {
    // A collection between the reads frees memory and moves every family: the runtime forces one every
    // 2 minutes, so a slow machine may see one land in the window. Then the reads are taken again.
    let before: Values | undefined;
    let derived: Values | undefined;
    let afterReads: Values | undefined;
    for (let attempt = 1; attempt <= 3; attempt++) {
      before = await nativeRead();
      const result = await runCli(['scrape', prog.url, '--profiles', 'heap']);
      assert.equal(result.code, 0, result.stderr);
      derived = valuesOf(result.stdout);
      afterReads = await nativeRead();
      const gcs = [before.get(GC_COUNT), derived.get(GC_COUNT), afterReads.get(GC_COUNT)];
      if (gcs[0] === gcs[1] && gcs[1] === gcs[2]) break;
      if (attempt === 3) assert.fail(`a collection in every window: ${GC_COUNT} ${gcs.join(', ')}`);
    }
    const [n0, d, n1] = [before!, derived!, afterReads!];

    const band = (name: string): [number, number] => {
      const [a, b] = [n0.get(name), n1.get(name)];
      assert.ok(a !== undefined && b !== undefined, `the target's /metrics has no ${name}`);
      const slack = SLACK[name]! * Math.max(a, b) + (SLACK_BYTES[name] ?? 0);
      return [Math.min(a, b) - slack, Math.max(a, b) + slack];
    };
    const inBand = (name: string, v: number) => {
      const [lo, hi] = band(name);
      return v >= lo && v <= hi;
    };

    assert.equal(FAMILIES.length, 22);
    const derivedMemstats = [...d.keys()].filter((n) => n.startsWith('go_memstats_')).sort();
    assert.deepEqual(derivedMemstats, [...FAMILIES].sort(), 'the go_memstats_* families pprofcol derives');
    for (const name of FAMILIES) {
      const v = d.get(name)!;
      const [lo, hi] = band(name);
      assert.ok(inBand(name, v), `${name}: derived ${v}, native ${n0.get(name)} then ${n1.get(name)} (accepted ${lo}..${hi})`);
    }

    // The bounds' power: for every two families not equal by definition, the value derived for one
    // falls outside the other's bounds, so a mapping that swapped them would fail above.
    for (const [a, b] of EQUAL) assert.equal(n1.get(a), n1.get(b), `${a} and ${b} are equal by definition`);
    const equal = (a: string, b: string) => EQUAL.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
    for (let i = 0; i < FAMILIES.length; i++) {
      for (let j = i + 1; j < FAMILIES.length; j++) {
        const [a, b] = [FAMILIES[i]!, FAMILIES[j]!];
        if (equal(a, b)) continue;
        const swapPasses = inBand(a, d.get(b)!) && inBand(b, d.get(a)!);
        assert.ok(!swapPasses, `a swap of ${a} (${d.get(a)}) and ${b} (${d.get(b)}) would pass: the program's heap does not set them apart`);
      }
    }
  });
});
