/**
 * gapfill's third source of what a target exports: a Prometheus-compatible query API (Prometheus, Thanos
 * query, Mimir, VictoriaMetrics), for the case where the native series do not flow through pprofcol (a
 * Prometheus scrapes the service and pprofcol remote-writes into the same store).
 *
 * One instant query per target and poll, of a range selector:
 *
 *   {__name__=~"up|go_goroutines|go_threads|...", job="app", instance="10.0.0.5:8080"}[<window>]
 *
 * A range selector at an instant gives every raw sample in the window with its exact timestamp: no step,
 * no lookback, no subquery resolution (`last_over_time(timestamp(...)[w:])` would evaluate `timestamp` at
 * step points and return the lookback's sample, not each sample). Raw samples are what the exclusion
 * needs: pprofcol itself writes into these series, and it tells its own samples from the target's by
 * timestamp (it remembers every timestamp it wrote per series for the window; a native sample has a time
 * pprofcol never wrote). `/api/v1/series` would say which series exist but not when each was last seen,
 * so it would need this query anyway. The names asked for are the ones the derived stream produced for
 * that target plus `up`: the query costs (series derived + 1) x (window / scrape interval) samples.
 *
 * `up` is written by the native scraper on every scrape, failed or not, and never by pprofcol: its newest
 * timestamp is the native watermark (how far the native stream is known), as in the in-pipeline source.
 * The query API's lag (scrape duration, plus the remote-write delay behind Mimir or Thanos receive) needs
 * no setting: a scrape counts once its `up` is visible.
 */
import { copyLabels } from '../../core/model/metrics.js';
import { Agent, type Dispatcher } from 'undici';
import { errorMessage, PprofcolError } from '../../core/errors.js';
import { authorizationHeader, discardBody, loadTlsOptions, TlsErrorTracker } from '../../core/httpclient.js';
import type { HttpClientConfig } from '../../core/config/types.js';
import { maskUrl } from '../../core/redact.js';
import { USER_AGENT } from '../../core/version.js';

export interface QueryApiOptions extends HttpClientConfig {
  url: string;
  timeout: number;
}

/** One raw sample series of the answer: its labels (with `__name__`) and [timestampMs, value] pairs. */
export interface RawSeries {
  name: string;
  labels: Record<string, string>;
  timestampsMs: number[];
}

export class QueryApiError extends PprofcolError {
  readonly reason: 'timeout' | 'connect' | 'http_status' | 'decode' | 'tls';
  constructor(reason: QueryApiError['reason'], message: string, options?: { cause?: unknown }) {
    super(`ERR_GAPFILL_QUERY_${reason.toUpperCase()}`, message, { cause: options?.cause, retryable: true });
    this.name = 'QueryApiError';
    this.reason = reason;
  }
}

/** Largest answer read (a target's derived families x the window's samples are far below this). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** A PromQL double-quoted string: Go escapes, which JSON's are a subset of for what label values hold. */
function promString(s: string): string {
  return JSON.stringify(s);
}

/** Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*: none needs escaping in a regex. */
export function selector(names: Iterable<string>, job: string | undefined, instance: string, windowMs: number): string {
  const alternatives = [...new Set(['up', ...names])].sort().join('|');
  const matchers = [`__name__=~${promString(alternatives)}`];
  if (job !== undefined) matchers.push(`job=${promString(job)}`);
  matchers.push(`instance=${promString(instance)}`);
  return `{${matchers.join(',')}}[${Math.max(1, Math.ceil(windowMs))}ms]`;
}

interface PromAnswer {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: Array<{ metric?: Record<string, string>; values?: Array<[number, string]> }> };
}

export class QueryApiClient {
  private readonly agent: Promise<Agent>;
  private readonly tlsErrors = new TlsErrorTracker();
  private readonly base: URL;
  /** The URL as errors show it: userinfo masked. */
  private readonly shown: string;

  constructor(
    private readonly options: QueryApiOptions,
    private readonly configDir: string,
  ) {
    this.base = new URL(options.url.replace(/\/+$/, '') + '/api/v1/query');
    this.shown = maskUrl(this.base.href);
    this.agent = loadTlsOptions(options.tls_config, configDir).then(
      (tls) => new Agent({ keepAliveTimeout: 60_000, connections: 2, connect: this.tlsErrors.connector(tls) }),
    );
    this.agent.catch(() => undefined);
  }

  /** Raw samples of `expr` (a range selector) evaluated at `atMs`. */
  async rangeSelect(expr: string, atMs: number, signal?: AbortSignal): Promise<RawSeries[]> {
    let agent: Agent;
    try {
      agent = await this.agent;
    } catch (err) {
      throw new QueryApiError('tls', `query_api.tls_config: cannot read a file: ${errorMessage(err)}`, { cause: err });
    }
    const deadline = AbortSignal.timeout(this.options.timeout);
    const body = new URLSearchParams({ query: expr, time: (atMs / 1000).toFixed(3) }).toString();
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    let response: Dispatcher.ResponseData;
    try {
      const auth = await authorizationHeader(this.options, this.configDir);
      if (auth !== undefined) headers.authorization = auth;
      // POST: a long selector (many names) would not fit every proxy's URL limit.
      response = await agent.request({
        origin: this.base.origin,
        path: this.base.pathname,
        method: 'POST',
        headers,
        body,
        signal: signal === undefined ? deadline : AbortSignal.any([deadline, signal]),
      });
    } catch (err) {
      const tls = await this.tlsErrors.explain(err);
      if (tls !== undefined) throw new QueryApiError('tls', `${this.shown}: ${errorMessage(tls)}`, { cause: tls });
      if (deadline.aborted) throw new QueryApiError('timeout', `${this.shown}: no answer within ${this.options.timeout}ms (query_api.timeout)`, { cause: err });
      throw new QueryApiError('connect', `${this.shown}: ${errorMessage(err)}`, { cause: err });
    }
    let text: string;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          discardBody(response.body);
          throw new QueryApiError('decode', `${this.shown}: answer over ${MAX_ANSWER_BYTES} bytes`);
        }
        chunks.push(chunk);
      }
      text = Buffer.concat(chunks, size).toString('utf8');
    } catch (err) {
      if (err instanceof QueryApiError) throw err;
      if (deadline.aborted) throw new QueryApiError('timeout', `${this.shown}: answer not read within ${this.options.timeout}ms`, { cause: err });
      throw new QueryApiError('connect', `${this.shown}: ${errorMessage(err)}`, { cause: err });
    }
    let answer: PromAnswer;
    try {
      answer = JSON.parse(text) as PromAnswer;
    } catch (err) {
      throw new QueryApiError('decode', `${this.shown} answered HTTP ${response.statusCode} with no JSON: ${text.slice(0, 200)}`, { cause: err });
    }
    if (response.statusCode !== 200 || answer.status !== 'success') {
      throw new QueryApiError('http_status', `${this.shown} answered HTTP ${response.statusCode}: ${answer.error ?? text.slice(0, 200)}`);
    }
    if (answer.data?.resultType !== 'matrix' || !Array.isArray(answer.data.result)) {
      throw new QueryApiError('decode', `${this.shown}: expected a matrix, got ${answer.data?.resultType ?? 'nothing'}`);
    }
    const out: RawSeries[] = [];
    for (const r of answer.data.result) {
      const labels = copyLabels(r.metric ?? {});
      const name = labels.__name__;
      if (name === undefined) continue;
      delete labels.__name__;
      // Seconds with millisecond decimals: round, not truncate (0.001 is not exact in binary).
      const timestampsMs = (r.values ?? []).map(([sec]) => Math.round(sec * 1000));
      out.push({ name, labels, timestampsMs });
    }
    return out;
  }

  async close(): Promise<void> {
    const agent = await this.agent.catch(() => undefined);
    await agent?.close();
  }
}
