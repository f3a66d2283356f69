// The 1.0 -> 2.0 transcoder: what a 2.0 receiver decodes (with a protobufjs schema of the 2.0 proto)
// is what the 1.0 request said, with symbols starting with "", label refs in pairs, metadata refs,
// and the stale marker's bytes intact.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { MetricFamily, Point } from '../../../core/model/metrics.js';
import { encodeWriteRequest, STALE_NAN_BYTES } from '../../../core/remotewrite/index.js';
import { V2Transcoder } from '../../../core/remotewrite/v2.js';
import { decodeV2 } from '../../harness/rw-v2.js';

const goroutines: MetricFamily = { name: 'go_goroutines', type: 'gauge', help: 'Number of goroutines that currently exist.', unit: '' };
const alloc: MetricFamily = { name: 'go_memstats_alloc_bytes_total', type: 'counter', help: 'Total number of bytes allocated, even if freed.', unit: 'bytes' };
const gc: MetricFamily = { name: 'go_gc_duration_seconds', type: 'summary', help: 'A summary of the pause duration of garbage collection cycles.', unit: 'seconds' };
const untracked: MetricFamily = { name: 'pprof_other', type: 'gauge', help: '', unit: '' };

function pt(family: MetricFamily, labels: Record<string, string>, value: number, ts: number, name = family.name, stale = false): Point {
  return { family, name, labels, value, timestampMs: ts, stale };
}

describe('remote write 2.0 transcoder', () => {
  it('writes symbols from "", label refs, metadata refs, samples in order, and keeps stale NaN bytes', () => {
    const t = 1_700_000_000_000;
    const base = { job: 'api', instance: '10.0.0.1:6060' };
    const points = [
      pt(goroutines, base, 12, t),
      pt(goroutines, base, 13, t + 15_000),
      pt(alloc, base, 1e9, t),
      pt(gc, { ...base, quantile: '0.5' }, 0.0002, t),
      pt(gc, base, 37, t, 'go_gc_duration_seconds_count'),
      pt(goroutines, { ...base, instance: '10.0.0.2:6060' }, 0, t, 'go_goroutines', true),
      pt(untracked, base, 1, t),
    ];
    const v1 = encodeWriteRequest(points, [goroutines, alloc, gc], { externalLabels: { cluster: 'c1' } });
    const result = new V2Transcoder().transcode(v1);
    assert.equal(result.series, 6);
    assert.equal(result.samples, 7);
    const decoded = decodeV2(result.body);
    assert.equal(decoded.symbols[0], '', 'symbols MUST start with the empty string');
    assert.equal(new Set(decoded.symbols).size, decoded.symbols.length, 'symbols are de-duplicated');

    const g = decoded.series.find((s) => s.labels.__name__ === 'go_goroutines' && s.labels.instance === '10.0.0.1:6060');
    assert.ok(g);
    assert.deepEqual(g.labels, { __name__: 'go_goroutines', cluster: 'c1', instance: '10.0.0.1:6060', job: 'api' });
    assert.equal(g.refs.length % 2, 0);
    const names = [];
    for (let i = 0; i < g.refs.length; i += 2) names.push(decoded.symbols[g.refs[i]]);
    assert.deepEqual(names, [...names].sort(), 'label refs in name order');
    assert.deepEqual(g.samples.map((s) => [s.value, s.timestamp, s.start_timestamp]), [[12, t, 0], [13, t + 15_000, 0]]);
    assert.deepEqual(g.metadata && [g.metadata.type, g.metadata.help, g.metadata.unit_ref], [2, goroutines.help, 0]);

    const c = decoded.series.find((s) => s.labels.__name__ === 'go_memstats_alloc_bytes_total');
    // A counter: type COUNTER, unit by ref; start_timestamp left unset (0), as pprof cannot know it.
    assert.deepEqual(c?.metadata && [c.metadata.type, c.metadata.help, c.metadata.unit], [1, alloc.help, 'bytes']);
    assert.equal(c?.samples[0].start_timestamp, 0);

    // A summary's _count finds its family's metadata.
    const count = decoded.series.find((s) => s.labels.__name__ === 'go_gc_duration_seconds_count');
    assert.equal(count?.metadata?.type, 5);
    // A series whose family carried no metadata gets none.
    assert.equal(decoded.series.find((s) => s.labels.__name__ === 'pprof_other')?.metadata, undefined);

    // The stale marker: its eight bytes, after the Sample.value tag (0x09), unchanged.
    const at = result.body.indexOf(STALE_NAN_BYTES);
    assert.ok(at > 0);
    assert.equal(result.body[at - 1], 0x09);
    const stale = decoded.series.find((s) => s.labels.instance === '10.0.0.2:6060');
    assert.ok(Number.isNaN(stale?.samples[0].value));
  });

  it('a metadata-only 1.0 request has no series in 2.0', () => {
    const v1 = encodeWriteRequest([], [goroutines, alloc]);
    const result = new V2Transcoder().transcode(v1);
    assert.equal(result.series, 0);
  });
});
