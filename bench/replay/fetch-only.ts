// The fetch-only baseline of bench/many-targets.ts, in its own process: the daemon's scrape loops
// (core/scrape/pool.ts, same offsets and timers) and HTTP client (core/scrape/http.ts) asking for
// the same sources on the same schedule as the pprof receiver would (receivers/pprof/scrape.ts
// dueFamilies), bodies discarded: nothing parsed, derived or exported. Its CPU per target-scrape is
// the floor pprofcol's figure is divided by.
//
//   node dist/bench/replay/fetch-only.js <config.yaml>
// reads the pprof receiver's first scrape config from the daemon's own file; prints
// {"scrapes":K} on stdout every second.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { silentLogger } from '../../core/logger.js';
import type { ProfileFamily } from '../../core/model/profiles.js';
import { HttpScraper } from '../../core/scrape/http.js';
import { ScrapePool } from '../../core/scrape/pool.js';
import { configSchema, type PprofScrapeConfig } from '../../receivers/pprof/config.js';
import { dueFamilies, scrapeSettingsOf, sourcePath, TargetSourceState, type ScrapeSettings, type SourceId } from '../../receivers/pprof/scrape.js';

const file = process.argv[2];
const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { receivers: { pprof: unknown } };
const receiver = configSchema.parse(doc.receivers.pprof);
const config: PprofScrapeConfig = receiver.scrape_configs[0];
const VARS = process.env.REPLAY_VARS !== '0';

/** The source the receiver settles on per family against the replay (the first candidate the replay serves). */
function sourceOf(family: Exclude<ProfileFamily, 'cpu'>): SourceId {
  switch (family) {
    case 'goroutine':
    case 'threadcreate':
      return 'index';
    case 'heap':
      return VARS ? 'expvar' : 'heap_debug1';
    case 'goroutine_functions':
      return 'goroutine_debug1';
    case 'goroutine_states':
      return 'goroutine_debug2';
    default:
      return family;
  }
}

const settings: ScrapeSettings = scrapeSettingsOf(config);
if (!VARS) settings.heapEveryScrapeFromExpvar = false;

const http = new HttpScraper(config, path.dirname(file));
const states = new Map<string, TargetSourceState>();
let scrapes = 0;
const pool = new ScrapePool({
  config,
  configDir: path.dirname(file),
  logger: silentLogger(),
  handler: {
    scrape: async (target, _startedMs, signal, monotonicMs) => {
      let state = states.get(target.key);
      if (state === undefined) states.set(target.key, (state = new TargetSourceState()));
      const sources = new Set(dueFamilies(settings, state, monotonicMs).map(sourceOf));
      await Promise.all(
        [...sources].map((s) =>
          http.get(`${target.baseUrl}${sourcePath(s, settings)}`, { timeoutMs: settings.timeoutMs, limitBytes: settings.bodySizeLimit, signal }).catch(() => undefined),
        ),
      );
      for (const f of settings.profiles) if (f !== 'cpu') state.lastFetchedMs.set(f, monotonicMs);
      scrapes++;
    },
    targetGone: async () => undefined,
  },
});
await pool.start();
setInterval(() => process.stdout.write(`${JSON.stringify({ scrapes })}\n`), 1000);
process.on('SIGTERM', () => {
  void pool.stop().finally(() => process.exit(0));
});
