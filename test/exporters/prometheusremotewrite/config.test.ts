import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parseRetryAfter } from '../../../core/httpclient.js';
import { configSchema } from '../../../exporters/prometheusremotewrite/config.js';

describe('prometheusremotewrite config', () => {
  it('fills Prometheus defaults (retry_on_http_429 true)', () => {
    const c = configSchema.parse({ endpoint: 'http://127.0.0.1:9090/api/v1/write' });
    assert.equal(c.timeout, 30_000);
    assert.equal(c.retry_on_http_429, true);
    assert.deepEqual(c.queue_config, {
      capacity: 10_000, max_shards: 50, min_shards: 1, max_samples_per_send: 2000,
      batch_send_deadline: 5000, min_backoff: 30, max_backoff: 5000, sample_age_limit: 0, block_timeout: 10_000,
    });
    assert.deepEqual(c.metadata_config, { send: true, send_interval: 60_000, max_samples_per_send: 2000, cache_size: 16 * 1024 * 1024 });
    assert.equal(c.isolate_rejected, false);
    assert.deepEqual(c.buffer, { type: 'memory' });
    const disk = configSchema.parse({ endpoint: 'http://x/y', buffer: { type: 'disk', directory: 'wal' } });
    assert.deepEqual(disk.buffer, { type: 'disk', directory: 'wal', max_size: 1024 ** 3, fsync: 'always', shards: 4 });
    const redis = configSchema.parse({ endpoint: 'http://x/y', buffer: { type: 'redis', url: 'redis://127.0.0.1:6379' } });
    assert.deepEqual(redis.buffer, { type: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'pprofcol', shards: 4, lock_duration: 30_000 });
  });

  it('rejects what it should, naming the key', () => {
    const bad = (raw: unknown, path: string) => {
      const r = configSchema.safeParse(raw);
      assert.equal(r.success, false, JSON.stringify(raw));
      if (!r.success) assert.ok(r.error.issues.some((i) => i.path.join('.') === path), `${path}: ${JSON.stringify(r.error.issues)}`);
    };
    bad({}, 'endpoint');
    bad({ endpoint: 'ftp://x/y' }, 'endpoint');
    bad({ endpoint: 'http://x/y', queue_config: { capacty: 1 } }, 'queue_config');
    bad({ endpoint: 'http://x/y', headers: { 'Content-Type': 'x' } }, 'headers.Content-Type');
    bad({ endpoint: 'http://x/y', queue_config: { min_shards: 5, max_shards: 2 } }, 'queue_config.min_shards');
    bad({ endpoint: 'http://x/y', queue_config: { batch_send_deadline: '5 s' } }, 'queue_config.batch_send_deadline');
    bad({ endpoint: 'http://x/y', external_labels: { 'bad-name': 'x' } }, 'external_labels.bad-name');
    bad({ endpoint: 'http://x/y', buffer: { type: 'disk' } }, 'buffer.directory');
    bad({ endpoint: 'http://x/y', buffer: { type: 'disk', directory: 'd', max_size: '1KiB' } }, 'buffer.max_size');
    bad({ endpoint: 'http://x/y', buffer: { type: 'tape' } }, 'buffer.type');
    bad({ endpoint: 'http://x/y', buffer: { type: 'redis', url: 'http://x' } }, 'buffer.url');
    bad({ endpoint: 'http://x/y', buffer: { type: 'memory', directory: 'd' } }, 'buffer');
  });

  it('reads Retry-After as seconds or an HTTP-date', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(parseRetryAfter('2', now), 2000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});
