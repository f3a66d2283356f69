/**
 * One scrape of one target: fetch every source the configured families need, in parallel,
 * within one deadline, and parse each. Failures become results with a reason, never exceptions.
 */
import { errorMessage } from '../../core/errors.js';
import type { FailureReason, ParsedProfile, ProfileFamily, ProfileResult, TargetScrape } from '../../core/model/profiles.js';
import { parseHeapMemStats, parseProfileTotal, ProfileDecodeError } from '../../core/pprof/text.js';
import { ScrapeError, type HttpScraper } from '../../core/scrape/http.js';
import type { Target } from '../../core/scrape/targets.js';

/** What the debug=1 text forms cost the target is small next to their proto forms for these values. */
const SOURCES: Record<ProfileFamily, { path: string; parse(body: Buffer): ParsedProfile }> = {
  goroutine: { path: '/goroutine?debug=1', parse: (b) => ({ family: 'goroutine', total: parseProfileTotal(b, 'goroutine') }) },
  threadcreate: { path: '/threadcreate?debug=1', parse: (b) => ({ family: 'threadcreate', total: parseProfileTotal(b, 'threadcreate') }) },
  heap: { path: '/heap?debug=1', parse: (b) => ({ family: 'heap', memstats: parseHeapMemStats(b) }) },
};

export interface ScrapeSettings {
  pathPrefix: string;
  profiles: readonly ProfileFamily[];
  timeoutMs: number;
  bodySizeLimit: number;
}

export async function scrapeTarget(
  http: HttpScraper,
  target: Target,
  settings: ScrapeSettings,
  startedMs: number,
  signal?: AbortSignal,
): Promise<TargetScrape> {
  const t0 = performance.now();
  const results = await Promise.all(
    settings.profiles.map(async (family): Promise<ProfileResult> => {
      const source = SOURCES[family];
      const url = `${target.baseUrl}${settings.pathPrefix}${source.path}`;
      try {
        const body = await http.get(url, { timeoutMs: settings.timeoutMs, limitBytes: settings.bodySizeLimit, accept: 'text/plain', signal });
        return { family, ok: true, profile: source.parse(body), source: url };
      } catch (err) {
        return { family, ok: false, reason: reasonOf(err), message: errorMessage(err), source: url };
      }
    }),
  );
  return { target, startedMs, durationSeconds: (performance.now() - t0) / 1000, results };
}

function reasonOf(err: unknown): FailureReason {
  if (err instanceof ScrapeError) return err.reason;
  if (err instanceof ProfileDecodeError) return 'decode';
  return 'other';
}
