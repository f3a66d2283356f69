// sample_limit and the label limits on the pprof receiver, against our Go test program: the limit
// travels with the profile batch, pprof_metrics enforces it after deriving (the scrape goes out failed:
// pprof_up 0 with the reason in its note, every derived series ended) and reports back on the batch, and
// the receiver counts the reason in pprofcol_receiver_scrape_failures_total and logs the target down.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Batch } from '../../../core/component.js';
import { silentLogger } from '../../../core/logger.js';
import type { Point } from '../../../core/model/metrics.js';
import { Telemetry } from '../../../core/telemetry/metrics.js';
import { configSchema as metricsConfig } from '../../../processors/pprof_metrics/config.js';
import { PprofMetricsProcessor } from '../../../processors/pprof_metrics/processor.js';
import { configSchema } from '../../../receivers/pprof/config.js';
import { PprofReceiver } from '../../../receivers/pprof/receiver.js';
import { eventually } from '../../harness/pprofcol.js';
import { startGoProgram, type GoProgramServer } from '../../harness/servers.js';

let go: GoProgramServer;
before(async () => {
  go = await startGoProgram('goroutines', ['-goroutines', '50']);
});
after(async () => go?.stop());

/** Receiver -> pprof_metrics at 1s until `scrapes` batches arrived: the points of each, and the telemetry. */
async function run(extra: Record<string, unknown>, scrapes = 2): Promise<{ batches: Point[][]; telemetry: Telemetry }> {
  const telemetry = new Telemetry();
  const settings = { id: 'pprof', logger: silentLogger(), telemetry, configDir: process.cwd() };
  const batches: Point[][] = [];
  const processor = new PprofMetricsProcessor(settings, metricsConfig.parse({}), { consume: async (b: Batch) => void (b.signal === 'metrics' && batches.push(b.points)) });
  const config = configSchema.parse({
    scrape_configs: [{ job_name: 'lim', scrape_interval: '1s', profiles: ['goroutine', 'heap', 'goroutine_functions'], static_configs: [{ targets: [go.hostPort] }], ...extra }],
  });
  const receiver = new PprofReceiver(settings, config, processor);
  await receiver.start();
  try {
    await eventually(`${scrapes} scrapes`, 20_000, () => (batches.filter((b) => b.some((p) => p.name === 'pprof_up')).length >= scrapes ? true : undefined));
  } finally {
    await receiver.shutdown();
  }
  return { batches: batches.filter((b) => b.some((p) => p.name === 'pprof_up')), telemetry };
}

async function failures(telemetry: Telemetry, reason: string): Promise<number> {
  const values = (await telemetry.registry.getSingleMetric('pprofcol_receiver_scrape_failures_total')?.get())?.values ?? [];
  return values.filter((v) => v.labels.reason === reason).reduce((a, v) => a + v.value, 0);
}

const upOf = (points: Point[]) => points.find((p) => p.name === 'pprof_up')!;
const live = (points: Point[]) => points.filter((p) => !p.stale && p.name !== 'pprof_up' && p.name !== 'pprof_scrape_duration_seconds');

describe('pprof receiver: scrape limits', () => {
  it('at the default sample_limit (100000) the target is up; the samples it derives are the count to limit', async () => {
    const { batches, telemetry } = await run({});
    assert.equal(upOf(batches[0]).value, 1);
    assert.ok(live(batches[0]).length > 30, `${live(batches[0]).length} samples derived`);
    assert.equal(await failures(telemetry, 'sample_limit'), 0);
  });

  it('sample_limit below what is derived: pprof_up 0 with the reason, nothing derived sent, sample_limit counted once per scrape', async () => {
    const { batches, telemetry } = await run({ sample_limit: 10 });
    for (const points of batches) {
      assert.equal(upOf(points).value, 0);
      assert.match(upOf(points).note ?? '', /sample_limit/);
      assert.deepEqual(live(points), []);
    }
    const counted = await failures(telemetry, 'sample_limit');
    assert.ok(counted >= batches.length && counted <= batches.length + 1, `${counted} counted for ${batches.length} scrapes`);
  });

  it('label_value_length_limit shorter than a derived function name: pprof_up 0, label_value_length_limit counted', async () => {
    const { batches, telemetry } = await run({ label_value_length_limit: 12 });
    assert.equal(upOf(batches[0]).value, 0);
    assert.match(upOf(batches[0]).note ?? '', /label_value_length_limit/);
    assert.ok((await failures(telemetry, 'label_value_length_limit')) >= 1);
  });
});
