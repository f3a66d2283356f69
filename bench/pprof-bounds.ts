// What crafted profiles cost the decoder: for each (test/harness/crafted.ts), one decode in a fresh child
// process, reporting the peak RSS it added (VmHWM from /proc/self/status, minus the VmHWM before the
// decode), the time on the thread, and what the decode said. Baseline side by side: pprof-format's
// Profile.decode on the same inflated bytes (it builds every record as an object).
//
//   npm run build && node dist/bench/pprof-bounds.js [decoder ...]   (decoders: pprofcol, pprof-format)
//
// One child per measurement: VmHWM only rises, so each measurement needs a process of its own.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { decodeProfile, isRuntimeFrame } from '../core/pprof/decode.js';
import { parseGoroutineStates } from '../core/pprof/text.js';
import { deepStacks, distinctIdRecords, emptyStrings, goroutineDump, gz, locationBomb, millionFunctions } from '../test/harness/crafted.js';

const MIB = 1024 * 1024;

const CASES: Record<string, () => Buffer> = {
  location_bomb: () => gz(locationBomb()),
  distinct_locations_4M: () => gz(distinctIdRecords(0x22, 4_000_000)),
  distinct_functions_4M: () => gz(distinctIdRecords(0x2a, 4_000_000)),
  empty_strings_32MiB: () => gz(emptyStrings(32 * MIB)),
  million_functions: () => gz(millionFunctions()),
  deep_stacks: () => gz(deepStacks()),
};

function vmHwm(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m![1]) * 1024;
}

function child(name: string, decoder: string): void {
  const gzipped = name === 'goroutine_dump_60MiB' ? goroutineDump() : CASES[name]();
  const raw = name === 'goroutine_dump_60MiB' ? gzipped : gunzipSync(gzipped);
  const before = vmHwm();
  const t0 = performance.now();
  let outcome: string;
  try {
    if (name === 'goroutine_dump_60MiB') {
      const states = parseGoroutineStates(raw);
      outcome = `ok: ${states.total} goroutines, ${states.byState.size} states`;
    } else if (decoder === 'pprofcol') {
      const s = decodeProfile(gzipped, { skipFrame: isRuntimeFrame });
      outcome = `ok: ${s.sampleCount} samples, ${s.byFunction.size} functions`;
    } else {
      const p = Profile.decode(raw);
      outcome = `ok: ${p.sample.length} samples, ${p.location.length} locations, ${p.function.length} functions`;
    }
  } catch (err) {
    outcome = `refused: ${(err as Error).message.slice(0, 90)}`;
  }
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ name, decoder, gzipped_bytes: gzipped.length, inflated_bytes: raw.length, added_peak_rss_bytes: vmHwm() - before, ms, outcome }) + '\n');
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4]);
} else {
  const decoders = process.argv.length > 2 ? process.argv.slice(2) : ['pprofcol', 'pprof-format'];
  const rows: Array<Record<string, unknown>> = [];
  const self = fileURLToPath(import.meta.url);
  for (const name of [...Object.keys(CASES), 'goroutine_dump_60MiB']) {
    for (const decoder of name === 'goroutine_dump_60MiB' ? ['pprofcol'] : decoders) {
      let line: string;
      try {
        line = execFileSync(process.execPath, ['--max-old-space-size=4096', self, '--child', name, decoder], { encoding: 'utf8', maxBuffer: 1 << 20 });
      } catch (err) {
        line = JSON.stringify({ name, decoder, outcome: `child failed: ${(err as Error).message.slice(0, 80)}` });
      }
      const row = JSON.parse(line.trim()) as Record<string, unknown>;
      rows.push(row);
      const peak = typeof row.added_peak_rss_bytes === 'number' ? `${(row.added_peak_rss_bytes / MIB).toFixed(1)} MiB` : '-';
      const ratio = typeof row.added_peak_rss_bytes === 'number' ? (row.added_peak_rss_bytes / (row.inflated_bytes as number)).toFixed(2) : '-';
      const ms = typeof row.ms === 'number' ? `${row.ms.toFixed(0)} ms` : '-';
      console.log(`${name.padEnd(24)} ${decoder.padEnd(13)} gz ${String(row.gzipped_bytes).padStart(9)} B  raw ${String(row.inflated_bytes).padStart(9)} B  +peak ${peak.padStart(10)} (${ratio}/B)  ${ms.padStart(8)}  ${String(row.outcome)}`);
    }
  }
  console.log(JSON.stringify({ bench: 'pprof-bounds', rows }));
}
