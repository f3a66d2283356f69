// The redis buffer against a Redis that cannot be reached at start: start() fails within its bound
// with an error that names buffer.url (without its password), instead of waiting forever, and the
// reconnect attempts meanwhile are logged once, not once each.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Telemetry } from '../../../core/telemetry/metrics.js';
import { ExporterMetrics } from '../../../exporters/prometheusremotewrite/metrics.js';
import { RedisQueue } from '../../../exporters/prometheusremotewrite/buffer/redis.js';
import { captureLogger, type Logged } from '../../harness/common.js';


describe('redis buffer start', () => {
  it('an unreachable Redis fails start within the bound, naming buffer.url, and is logged once', async () => {
    const lines: Logged[] = [];
    const queue = new RedisQueue(
      {
        // Port 1 refuses connections: ioredis reconnects every 50ms, 100ms, ... forever.
        url: 'redis://user:s3cret@127.0.0.1:1/0',
        prefix: 'pprofcol-test',
        name: 'prometheusremotewrite',
        shards: 2,
        lockDurationMs: 30_000,
        externalLabels: {},
        sendMetadata: false,
        minBackoffMs: 10,
        maxBackoffMs: 50,
        sampleAgeLimitMs: 0,
        isolateRejected: false,
        maxSamplesPerSend: 2000,
        startTimeoutMs: 1500,
      } as ConstructorParameters<typeof RedisQueue>[0],
      { send: async () => ({ ok: true }) },
      new ExporterMetrics(new Telemetry(), 'prometheusremotewrite'),
      captureLogger(lines),
    );
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      queue.start().then(
        () => 'started' as const,
        (err: unknown) => err,
      ),
      new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 4000))),
    ]);
    clearTimeout(timer);
    try {
      assert.ok(outcome instanceof Error, `start() ${String(outcome)}`);
      assert.match(outcome.message, /buffer\.url/);
      assert.match(outcome.message, /127\.0\.0\.1:1/);
      assert.doesNotMatch(outcome.message, /s3cret/);
      assert.ok(Date.now() - started < 3000);
      // Several reconnect attempts failed during those 1.5s: one warning for the connection going down.
      const loud = lines.filter((l) => l.level === 'warn' || l.level === 'error');
      assert.ok(loud.length <= 1, JSON.stringify(lines));
    } finally {
      await queue.stop();
    }
  });
});
