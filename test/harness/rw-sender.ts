// A remote-write client of the tests' own that remembers what it was told was taken: it sends one
// request at a time (so each series stays in order), resends a request until it gets 2xx (after the
// Retry-After of a 503, capped so tests stay short, or 100 ms when the daemon is down), and records
// every request answered 2xx. Tests then check that each of those samples reached the receiver.
import { makeLabels, type MetricFamily, type Point } from '../../core/model/metrics.js';
import { encodeWriteRequest, snappyCompress } from '../../core/remotewrite/index.js';

const FAMILY: MetricFamily = { name: 'ack_probe', type: 'gauge', help: 'Samples a test sender got 2xx for.', unit: '' };

export interface SenderStats {
  /** Timestamps of the requests answered 2xx: every series of the request holds a sample at each. */
  acked: number[];
  /** Answers by status (0: no answer: connection refused, reset, timeout). */
  statuses: Map<number, number>;
}

export class AckingSender {
  readonly stats: SenderStats = { acked: [], statuses: new Map() };
  private running = true;
  private loop: Promise<void> | undefined;
  private lastTs = 0;

  /** `series` series of `ack_probe{run, s}` per request. */
  constructor(
    private readonly url: () => string,
    private readonly run: string,
    private readonly series: number,
    private readonly maxRetryAfterMs = 1000,
    /** Least time from one request's start to the next's (0: back to back); a soak's steady rate. */
    private readonly intervalMs = 0,
  ) {}

  start(): void {
    this.loop ??= this.sendAll();
  }

  /** Stops after the request in progress has been answered 2xx (or given up after `graceMs`). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private request(ts: number): Buffer {
    const points: Point[] = [];
    for (let s = 0; s < this.series; s++) {
      const labels = makeLabels();
      labels.run = this.run;
      labels.s = String(s);
      points.push({ family: FAMILY, name: FAMILY.name, labels, value: ts % 1_000_000, timestampMs: ts, stale: false });
    }
    return snappyCompress(encodeWriteRequest(points));
  }

  private async sendAll(): Promise<void> {
    while (this.running) {
      const wait = this.lastTs + this.intervalMs - Date.now();
      if (this.intervalMs > 0 && wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!this.running) break;
      const ts = Math.max(Date.now(), this.lastTs + 1);
      this.lastTs = ts;
      const body = new Uint8Array(this.request(ts));
      // Resent until taken: the stop flag only ends the loop between requests.
      for (;;) {
        let status = 0;
        let retryAfterMs = 100;
        try {
          const res = await fetch(this.url(), {
            method: 'POST',
            body,
            headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' },
            signal: AbortSignal.timeout(30_000),
          });
          await res.arrayBuffer();
          status = res.status;
          const ra = Number(res.headers.get('retry-after'));
          if (Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra * 1000, this.maxRetryAfterMs);
        } catch {
          status = 0;
        }
        this.stats.statuses.set(status, (this.stats.statuses.get(status) ?? 0) + 1);
        if (status >= 200 && status < 300) {
          this.stats.acked.push(ts);
          break;
        }
        if (status >= 400 && status < 500 && status !== 429) throw new Error(`the receiver answered ${status}: a test sender never sends what it refuses`);
        await new Promise((r) => setTimeout(r, retryAfterMs));
      }
    }
  }
}

/**
 * Which acked samples VictoriaMetrics does not hold: /api/v1/export gives every raw sample of
 * `ack_probe{run}`; each acked timestamp must be there in all `series` series.
 */
export async function missingInVm(vmUrl: string, run: string, series: number, acked: readonly number[]): Promise<number> {
  const res = await fetch(`${vmUrl}/api/v1/export?match[]=${encodeURIComponent(`ack_probe{run="${run}"}`)}`, { signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  const bySeries = new Map<string, Set<number>>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { metric: Record<string, string>; timestamps: number[] };
    let set = bySeries.get(row.metric.s);
    if (set === undefined) bySeries.set(row.metric.s, (set = new Set()));
    for (const t of row.timestamps) set.add(t);
  }
  let missing = 0;
  for (let s = 0; s < series; s++) {
    const set = bySeries.get(String(s));
    for (const ts of acked) if (set === undefined || !set.has(ts)) missing++;
  }
  return missing;
}
