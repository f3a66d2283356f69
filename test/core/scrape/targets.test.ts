// Target labels follow Prometheus: group labels may set job and instance; __ labels are never kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeTarget } from '../../../core/scrape/targets.js';

describe('target labels', () => {
  it('take job from job_name and instance from the address unless the group sets them', () => {
    const plain = makeTarget('api', 'http', '10.0.0.1:6060', { env: 'prod' });
    assert.deepEqual({ ...plain.labels }, { env: 'prod', instance: '10.0.0.1:6060', job: 'api' });
    const named = makeTarget('api', 'http', '10.0.0.1:6060', { instance: 'web-1', job: 'web', __meta_zone: 'a', empty: '' });
    assert.deepEqual({ ...named.labels }, { instance: 'web-1', job: 'web' });
    assert.equal(named.instance, 'web-1');
    assert.equal(named.baseUrl, 'http://10.0.0.1:6060');
  });

  it('keep two addresses apart even when their instance labels are equal', () => {
    const a = makeTarget('api', 'http', '10.0.0.1:6060', { instance: 'same' });
    const b = makeTarget('api', 'http', '10.0.0.2:6060', { instance: 'same' });
    assert.notEqual(a.key, b.key);
  });
});
