// Smoke test of the test harness: every real server the tests rely on starts, answers, and stops.
// A missing binary fails this test (with the install message), it never skips it.

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";

import {
  freePort,
  redisCommand,
  repoRoot,
  startGoProgram,
  startPrometheus,
  startRedis,
  startVictoriaMetrics,
  vmFlush,
  type ManagedServer,
} from "./harness/servers.js";

const started: ManagedServer[] = [];
after(async () => {
  await Promise.all(started.map((s) => s.stop()));
});

describe("test harness", () => {
  it("finds the repository root and free ports", async () => {
    assert.match(repoRoot(), /\S/);
    const p = await freePort();
    assert.ok(p > 0 && p < 65536);
  });

  it("starts Prometheus with the remote-write receiver", async () => {
    const prom = await startPrometheus({ remoteWriteReceiver: true });
    started.push(prom);
    const ready = await fetch(`${prom.url}/-/ready`);
    assert.equal(ready.status, 200);
    await ready.arrayBuffer();
    // The receiver is on: an empty POST is a 400 (bad snappy), not a 404 as when it is off.
    const rw = await fetch(`${prom.url}/api/v1/write`, { method: "POST", body: "" });
    await rw.arrayBuffer();
    assert.notEqual(rw.status, 404, "remote write receiver is not enabled");
    const text = await prom.metricsText();
    assert.match(text, /^go_goroutines /m);
    const v = await prom.query("1+1");
    assert.equal(v[0]?.value[1], "2");
    await prom.stop();
  });

  it("starts VictoriaMetrics", async () => {
    const vm = await startVictoriaMetrics();
    started.push(vm);
    const health = await fetch(`${vm.url}/health`);
    assert.equal(health.status, 200);
    await health.arrayBuffer();
    await vmFlush(vm.url);
    const v = await vm.query("vector(3)");
    assert.equal(v[0]?.value[1], "3");
    await vm.stop();
  });

  it("starts Redis", async () => {
    const redis = await startRedis();
    started.push(redis);
    assert.equal(await redisCommand(redis.port, "PING"), "+PONG");
    await redis.stop();
  });

  it("builds and starts the goroutines Go program", async () => {
    const prog = await startGoProgram("goroutines", ["-goroutines", "50"]);
    started.push(prog);
    const res = await fetch(`${prog.url}/debug/pprof/goroutine?debug=1`);
    assert.equal(res.status, 200);
    const first = (await res.text()).split("\n")[0] ?? "";
    const m = /^goroutine profile: total (\d+)$/.exec(first);
    assert.ok(m, `unexpected first line: ${first}`);
    assert.ok(Number(m[1]) >= 50, `only ${m[1]} goroutines`);

    const set = await fetch(`${prog.url}/goroutines?set=5`);
    assert.equal(set.status, 200);
    const total = Number((await set.text()).trim());
    assert.ok(total < 50, `after set=5 there are still ${total} goroutines`);
    await prog.stop();
  });
});
