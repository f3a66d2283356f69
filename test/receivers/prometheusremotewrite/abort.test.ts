// A client that closes the connection mid-body is its own doing: counted as client_aborted, not
// logged or counted as a pipeline failure (500 downstream).
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema } from '../../../receivers/prometheusremotewrite/config.js';
import { prometheusRemoteWriteReceiverFactory } from '../../../receivers/prometheusremotewrite/factory.js';
import type { RemoteWriteReceiver } from '../../../receivers/prometheusremotewrite/receiver.js';

async function counterValues(telemetry: Telemetry, name: string): Promise<Map<string, number>> {
  const values = (await telemetry.registry.getSingleMetric(name)?.get())?.values ?? [];
  return new Map(values.map((v) => [String(v.labels.reason ?? v.labels.code), v.value]));
}

describe('prometheusremotewrite receiver: client aborts', () => {
  it('a body cut short by the client counts as client_aborted, and no pipeline failure is logged', async () => {
    const logged: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg: string }) });
    const telemetry = new Telemetry();
    let consumed = 0;
    const receiver = prometheusRemoteWriteReceiverFactory.create(
      { id: 'prometheusremotewrite', logger, telemetry, configDir: process.cwd() },
      configSchema.parse({ endpoint: '127.0.0.1:0' }),
      { consume: async () => void consumed++ },
    ) as RemoteWriteReceiver;
    await receiver.start();
    try {
      const [host, port] = receiver.address()!.split(':');
      const socket = net.connect(Number(port), host);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.write(
        'POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(100),
      );
      await sleep(100);
      socket.destroy();
      const end = Date.now() + 3_000;
      while (!(await counterValues(telemetry, 'pprofcol_receiver_write_requests_rejected_total')).has('client_aborted')) {
        assert.ok(Date.now() < end, `not counted; rejected: ${JSON.stringify([...(await counterValues(telemetry, 'pprofcol_receiver_write_requests_rejected_total'))])}`);
        await sleep(20);
      }
      await sleep(50);
      const rejected = await counterValues(telemetry, 'pprofcol_receiver_write_requests_rejected_total');
      assert.deepEqual([...rejected], [['client_aborted', 1]]);
      const answered = await counterValues(telemetry, 'pprofcol_receiver_write_requests_total');
      assert.equal(answered.get('500'), undefined, 'answered 500');
      assert.equal(consumed, 0);
      const failures = logged.filter((l) => l.level >= 40);
      assert.deepEqual(failures, [], 'logged as a failure');
    } finally {
      await receiver.shutdown();
    }
  });
});
