// Issue 21, "FreeSWITCH going away badly", the HA part, on a real FreeSWITCH: two replicas share
// it through Redis leases (keys under a random prefix on 127.0.0.1:6379). The holder is SIGKILLed
// during a bridged call; the standby must consume the FreeSWITCH within the lease TTL + 5 s, and
// once the call ends, the Collector must hold each leg's end-of-call QoS exactly once.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { tempDir } from "../support/child.js";
import { skipWithoutFreeswitch } from "../support/freeswitch.js";
import { assertQosExactlyOnce, callWithRtcp } from "../support/fs-assert.js";
import { FS_NAME, Rig, sleep } from "../support/fs-rig.js";
import { consumerOf, deleteRedisKeys, Replica, replicaEnv } from "../support/ha.js";
import { pollUntil } from "../support/net.js";

const TTL_MS = 3_000;

describe("real FreeSWITCH: the HA lease holder killed during a call", {
  skip: skipWithoutFreeswitch(),
}, () => {
  const prefix = `fsagent-ha-fs-${randomUUID()}:`;
  let rig: Rig;
  let cwd: { dir: string; remove(): void };
  const replicas: Replica[] = [];

  const env = (id: string): Record<string, string> =>
    replicaEnv({
      instances: [rig.fs.agentInstance(FS_NAME)],
      replicaId: id,
      keyPrefix: prefix,
      leaseTtl: String(TTL_MS / 1000),
      redisPort: 6379,
      otlpEndpoint: rig.receiver.endpoint,
    });

  before(async () => {
    rig = await Rig.start({ name: "hafail" });
    cwd = tempDir();
    for (const id of ["replica-a", "replica-b"]) {
      replicas.push(await Replica.start(cwd.dir, env(id)));
    }
  });

  after(async () => {
    for (const r of replicas) await r.process.kill();
    await rig?.dispose();
    cwd?.remove();
    await deleteRedisKeys(prefix);
  });

  const holder = () => consumerOf(replicas, FS_NAME);

  it("the standby consumes it within lease TTL + 5 s; each leg's QoS reaches the Collector once", async (t) => {
    const first = await pollUntil(holder, (r) => r !== undefined, "one replica holds it", 15_000);
    assert.ok(first);
    // The holder has seen the legs and written their state (write-behind) before it dies.
    const { calls, legs } = await callWithRtcp(rig);
    await sleep(1_000);

    const killedAt = Date.now();
    await first.process.kill();
    const standby = replicas.find((r) => r !== first)!;
    await pollUntil(
      async () => (await standby.consuming()).includes(FS_NAME),
      (yes) => yes,
      "the standby consumes the FreeSWITCH",
      TTL_MS + 10_000,
    );
    const tookMs = Date.now() - killedAt;
    t.diagnostic(`standby consuming ${tookMs} ms after the kill (lease TTL ${TTL_MS} ms)`);
    assert.ok(tookMs <= TTL_MS + 5_000, `took over after ${tookMs} ms`);

    await rig.fs.hangup(calls);
    await assertQosExactlyOnce(rig.receiver, legs, 2_000);
  });
});
