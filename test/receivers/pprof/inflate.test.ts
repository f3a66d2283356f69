// Profile bodies are gzip inside (application/octet-stream, gzip magic): the receiver inflates them in
// zlib's thread pool, so a large profile does not stall the event loop (other targets' timers).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { inflateProfile } from '../../../core/pprof/decode.js';
import { ProfileDecodeError } from '../../../core/pprof/text.js';
import { HttpScraper } from '../../../core/scrape/http.js';
import { makeTarget } from '../../../core/scrape/targets.js';
import { scrapeCpu, scrapeTarget, type ScrapeSettings } from '../../../receivers/pprof/scrape.js';
import { repoRoot } from '../../harness/servers.js';

const MiB = 1024 * 1024;

/**
 * A recorded allocs profile with an unknown field of `padMiB` MiB appended (decoders skip it in O(1)),
 * gzipped: inflating it costs what a large profile costs, decoding it almost nothing.
 */
function paddedProfile(padMiB: number): Buffer {
  const raw = gunzipSync(readFileSync(path.join(repoRoot(), 'test', 'testdata', 'goprog', 'allocs.pb.gz')));
  // Hex digits from a PRNG: deflate codes them as literals, which inflate at ~200 MB/s, as a profile's
  // string table (names, paths) does; a copy of the output costs far less than that.
  const hex = Buffer.from('0123456789abcdef');
  const pad = Buffer.alloc(padMiB * MiB);
  for (let i = 0, x = 12345; i < pad.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    pad[i] = hex[x >>> 28];
  }
  // Field 1000, wire type 2 (length-delimited), then the length.
  return gzipSync(Buffer.concat([raw, uvarint((1000 << 3) | 2), uvarint(pad.length), pad]));
}

function uvarint(n: number): Buffer {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return Buffer.from(out);
}

/** The longest the event loop went without running a 1 ms interval while `work` ran. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    await work();
    const now = performance.now();
    return Math.max(longest, now - last);
  } finally {
    clearInterval(ticker);
  }
}

describe('pprof receiver: profile bodies inflate off the main thread', () => {
  it('a 32 MiB profile does not stall the event loop for its gunzip', async () => {
    const body = paddedProfile(32);
    let t = performance.now();
    gunzipSync(body, { maxOutputLength: 64 * MiB });
    const syncMs = performance.now() - t;

    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new HttpScraper({}, process.cwd());
    try {
      const target = makeTarget('inflate', 'http', `127.0.0.1:${(server.address() as AddressInfo).port}`, {});
      const settings: ScrapeSettings = { pathPrefix: '/debug/pprof', expvarPath: '', profiles: ['allocs'], timeoutMs: 10_000, bodySizeLimit: 64 * MiB };
      // Warm: connection, JIT, the decoder's name cache.
      await scrapeTarget(client, target, settings, Date.now());
      t = performance.now();
      let result: Awaited<ReturnType<typeof scrapeTarget>> | undefined;
      const stall = await longestStall(async () => (result = await scrapeTarget(client, target, settings, Date.now())));
      const scrapeMs = performance.now() - t;
      const r = result!.results[0];
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.ok(
        stall < syncMs / 2,
        `event loop stalled ${stall.toFixed(1)} ms in a ${scrapeMs.toFixed(1)} ms scrape; gunzip on the main thread takes ${syncMs.toFixed(1)} ms`,
      );

      // The CPU window's body goes the same way.
      const cpu = await scrapeCpu(client, target, settings, 1000, Date.now());
      assert.equal(cpu.results[0].ok, true, JSON.stringify(cpu.results[0]));
    } finally {
      await client.close();
      server.close();
    }
  });

  it('inflateProfile: raw bytes pass, a gzip bomb stops at the limit, garbage is a decode error', async () => {
    const raw = Buffer.from([0x08, 0x01]);
    assert.equal(await inflateProfile(raw), raw);
    assert.equal((await inflateProfile(gzipSync(Buffer.alloc(2 * MiB, 0x08)))).length, 2 * MiB);
    // Over the limit is a size problem (reason too_large), not a malformed profile.
    await assert.rejects(inflateProfile(gzipSync(Buffer.alloc(2 * MiB)), MiB), (err: unknown) => err instanceof ProfileDecodeError && err.tooLarge && /more than maxInflatedBytes \(1048576\)/.test(err.message));
    await assert.rejects(inflateProfile(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff])), (err: unknown) => err instanceof ProfileDecodeError && !err.tooLarge);
    await assert.rejects(inflateProfile(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff])), /does not inflate/);
    await assert.rejects(inflateProfile(Buffer.alloc(0)), /empty profile/);
    await assert.rejects(inflateProfile(Buffer.alloc(3 * MiB, 0x08), 2 * MiB), /exceeds maxInflatedBytes/);
  });
});
