// The secret masker that `pprofcol config` (and the status page) print through.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_SECRET_MASK, maskSecrets } from '../../../core/config/mask.js';

describe('maskSecrets', () => {
  it('masks secrets by key name at any depth, keeps *_file paths and everything else, leaves the input alone', () => {
    const input = {
      receivers: {
        prometheusremotewrite: { basic_auth_users: { alice: '$2y$10$abc', bob: '$2y$10$def' }, tls_server_config: { key_file: 'server.key', cert_file: 'server.crt' } },
        pprof: { scrape_configs: [{ job_name: 'api', basic_auth: { username: 'u', password: 'p', password_file: '/run/secret' }, authorization: { type: 'Bearer', credentials: 'c', credentials_file: '/f' } }] },
      },
      exporters: {
        x: { headers: { Authorization: 'Basic x', 'X-Api-Key': 'k', Cookie: 'c', 'X-Scope-OrgID': 'tenant' }, buffer: { type: 'redis', url: 'redis://:pw@127.0.0.1:6379/0' }, endpoint: 'http://127.0.0.1:9090/api/v1/write' },
        plugin: { token: 't', client_secret: 's', api_key: 'a', access_token: 'at', max_tokens: 5, empty_password: '' },
        cloud: { secret_key: 's', access_key: 'a', secretKey: 's', 'x-api-key': 'k', apikey: 'k', access_key_id: 'AKIA', monkey: 'm', url: 'https://host/w?api_key=abc&tenant=t' },
      },
    };
    const copy = structuredClone(input);
    const out = maskSecrets(input) as typeof input;
    assert.deepEqual(input, copy, 'input unchanged');
    assert.deepEqual(out.receivers.prometheusremotewrite.basic_auth_users, { alice: CONFIG_SECRET_MASK, bob: CONFIG_SECRET_MASK });
    assert.deepEqual(out.receivers.prometheusremotewrite.tls_server_config, { key_file: 'server.key', cert_file: 'server.crt' });
    assert.deepEqual(out.receivers.pprof.scrape_configs[0].basic_auth, { username: 'u', password: CONFIG_SECRET_MASK, password_file: '/run/secret' });
    assert.deepEqual(out.receivers.pprof.scrape_configs[0].authorization, { type: 'Bearer', credentials: CONFIG_SECRET_MASK, credentials_file: '/f' });
    assert.deepEqual(out.exporters.x.headers, { Authorization: CONFIG_SECRET_MASK, 'X-Api-Key': CONFIG_SECRET_MASK, Cookie: CONFIG_SECRET_MASK, 'X-Scope-OrgID': 'tenant' });
    assert.equal(out.exporters.x.buffer.url, 'redis://:xxxxx@127.0.0.1:6379/0');
    assert.equal(out.exporters.x.endpoint, 'http://127.0.0.1:9090/api/v1/write');
    // An empty secret shows as empty: nothing is hidden, and "not set" stays visible.
    assert.deepEqual(out.exporters.cloud, {
      secret_key: CONFIG_SECRET_MASK,
      access_key: CONFIG_SECRET_MASK,
      secretKey: CONFIG_SECRET_MASK,
      'x-api-key': CONFIG_SECRET_MASK,
      apikey: CONFIG_SECRET_MASK,
      access_key_id: 'AKIA',
      monkey: 'm',
      url: 'https://host/w?api_key=xxxxx&tenant=t',
    });
    assert.deepEqual(out.exporters.plugin, { token: CONFIG_SECRET_MASK, client_secret: CONFIG_SECRET_MASK, api_key: CONFIG_SECRET_MASK, access_token: CONFIG_SECRET_MASK, max_tokens: 5, empty_password: '' });
  });

});
