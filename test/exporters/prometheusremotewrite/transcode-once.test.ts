// remote write 2.0: a request is transcoded once, and its retries post the same 2.0 bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../core/logger.js';
import { snappyCompress, WriteRequestEncoder } from '../../../core/remotewrite/index.js';
import { RemoteWriteError, type SendResult } from '../../../exporters/prometheusremotewrite/send/client.js';
import { ProtocolNegotiator } from '../../../exporters/prometheusremotewrite/send/protocol.js';
import { goroutines, point } from '../../harness/common.js';

describe('ProtocolNegotiator', () => {
  it('transcodes a request once: a retry of the same 1.0 body posts the very same 2.0 buffer', async () => {
    const posted: Buffer[] = [];
    const answers: SendResult[] = [
      { ok: false, error: new RemoteWriteError('http_503', 'answered HTTP 503', { retryable: true, status: 503 }) },
      { ok: true, headers: { 'x-prometheus-remote-write-samples-written': '2', 'x-prometheus-remote-write-histograms-written': '0', 'x-prometheus-remote-write-exemplars-written': '0' } },
    ];
    const negotiator = new ProtocolNegotiator(
      {
        send: async (body) => {
          posted.push(body);
          return answers[posted.length - 1];
        },
      },
      silentLogger(),
    );
    const t = 1_700_000_000_000;
    const body = snappyCompress(new WriteRequestEncoder().encode([point(goroutines, { job: 'a', instance: 'x:1' }, 1, t), point(goroutines, { job: 'a', instance: 'x:2' }, 2, t)], []));
    const first = await negotiator.send(body);
    assert.equal(first.ok, false);
    const second = await negotiator.send(body);
    assert.equal(second.ok, true);
    assert.equal(posted.length, 2);
    assert.notEqual(posted[0], body, 'what is posted is the 2.0 form, not the 1.0 body');
    assert.equal(posted[1], posted[0], 'the retry posts the buffer transcoded for the first attempt');
    assert.equal(negotiator.protocol, 'v2');
  });
});
