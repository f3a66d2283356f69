// The periodic metadata request and shutdown: a retry pause is cut short by stop(), a metadata send in
// flight is aborted by it, and while the receiver is down the send_interval ticks do not pile up
// metadata runs to be sent back to back once it answers again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { metricBatch } from '../../../core/model/metrics.js';
import { snappyUncompress } from '../../../core/remotewrite/index.js';
import { RemoteWriteError, type SendResult } from '../../../exporters/prometheusremotewrite/send/client.js';
import { configSchema } from '../../../exporters/prometheusremotewrite/config.js';
import type { Sender } from '../../../exporters/prometheusremotewrite/send/delivery.js';
import { RemoteWriteExporter } from '../../../exporters/prometheusremotewrite/exporter.js';
import { decodeWriteRequest } from '../../core/remotewrite/reference-decoder.js';
import { goroutines, point, settings, waitFor } from '../../harness/common.js';

const isMetadataOnly = (body: Buffer): boolean => decodeWriteRequest(snappyUncompress(body)).timeseries.length === 0;

function exporterWith(sender: Sender, queue: Record<string, unknown> = {}): RemoteWriteExporter {
  const config = configSchema.parse({
    endpoint: 'http://127.0.0.1:1/api/v1/write',
    metadata_config: { send_interval: '20ms' },
    queue_config: { batch_send_deadline: '10ms', max_backoff: '30s', ...queue },
  });
  return new RemoteWriteExporter(settings(), config, { sender });
}

/**
 * How long shutdown may take in the tests below, where a broken one takes 60 s (a Retry-After waited
 * out) or forever (a send never aborted): far above what a loaded machine needs to stop a quiet exporter.
 */
const SHUTDOWN_BOUND_MS = 10_000;

/** Resolves with 'timeout' when `p` takes longer than `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

const ok: SendResult = { ok: true };
const unavailable = (retryAfterMs?: number): SendResult => ({ ok: false, error: new RemoteWriteError('http_503', 'answered HTTP 503', { retryable: true, status: 503, retryAfterMs }) });

describe('metadata loop and shutdown', () => {
  it('stop() cuts a metadata retry pause short', async () => {
    let metadataSends = 0;
    const exporter = exporterWith({
      send: async (body) => {
        if (!isMetadataOnly(body)) return ok;
        metadataSends++;
        return unavailable(60_000);
      },
    });
    await exporter.start();
    await exporter.consume(metricBatch('pprof', [point(goroutines, { job: 'a' }, 1, Date.now())]));
    await waitFor('a metadata request', () => metadataSends > 0);
    // The pause is 60 s; 10 s tells a cut pause from one waited out with room for a loaded machine.
    assert.notEqual(await within(exporter.shutdown(), SHUTDOWN_BOUND_MS), 'timeout', 'shutdown waited out Retry-After');
  });

  it('stop() aborts a metadata send in flight', async () => {
    let inFlight = false;
    const exporter = exporterWith({
      send: (body, signal) => {
        if (!isMetadataOnly(body)) return Promise.resolve(ok);
        inFlight = true;
        // A receiver that never answers: only the abort ends the send.
        return new Promise<SendResult>((resolve) => signal?.addEventListener('abort', () => resolve(unavailable())));
      },
    });
    await exporter.start();
    await exporter.consume(metricBatch('pprof', [point(goroutines, { job: 'a' }, 1, Date.now())]));
    await waitFor('a metadata request in flight', () => inFlight);
    assert.notEqual(await within(exporter.shutdown(), SHUTDOWN_BOUND_MS), 'timeout', 'shutdown waited for a metadata send that never ends');
  });

  it('ticks while a metadata run is pending are skipped, not queued', async () => {
    let release: (() => void) | undefined;
    const sends: number[] = [];
    const exporter = exporterWith({
      send: async (body) => {
        if (!isMetadataOnly(body)) return ok;
        sends.push(Date.now());
        if (sends.length === 1) await new Promise<void>((r) => (release = r));
        return ok;
      },
    });
    try {
      await exporter.start();
      await exporter.consume(metricBatch('pprof', [point(goroutines, { job: 'a' }, 1, Date.now())]));
      await waitFor('a metadata request', () => release !== undefined);
      // 15 send_intervals pass while the first request hangs.
      await new Promise((r) => setTimeout(r, 300));
      const releasedAt = Date.now();
      release?.();
      // Counted by the sends' own times, not by what has arrived when the sleep returns: on a loaded
      // machine the sleep can return 40 ms late, and by then the next regular tick (20 ms) has sent
      // again. Regular ticks are >= 19 ms apart (setInterval counts from each run), so a 15 ms window
      // holds at most one; queued ticks would be sent back to back, many within it.
      await new Promise((r) => setTimeout(r, 15));
      const burst = sends.filter((t) => t >= releasedAt && t < releasedAt + 15).length;
      assert.ok(burst <= 1, `${burst} metadata requests sent within 15ms of the receiver answering`);
    } finally {
      await exporter.shutdown();
    }
  });
});
