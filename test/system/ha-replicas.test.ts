import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { killAllChildren, tempDir } from "../support/child.js";
import {
  eventOf,
  QOS_METRICS,
  RTCP_METRICS,
  specFraction,
  specJitterMs,
  specQos,
  specQosLabels,
  specRtcpLabels,
} from "../support/e2e.js";
import {
  Replica,
  replicaEnv,
  sample,
  startSims,
  type WatchedSim,
  waitAllConsumed,
} from "../support/ha.js";
import { pollUntil } from "../support/net.js";
import type { MetricPoint } from "../support/otlp-receiver.js";
import { OtlpReceiver } from "../support/otlp-receiver.js";
import { sleep, waitFor } from "../support/wait.js";

// Issue 7 with real processes: agent replicas (node dist/cli.js) sharing five simulated
// FreeSWITCH instances through the Redis on 127.0.0.1:6379 (keys under a random prefix), each
// exporting to a real OTLP receiver. Ownership is checked from the FreeSWITCH side: every
// simulator records how many authenticated listeners it has at every moment. The steps run in
// order on one cluster: 3 replicas balance 2/2/1; kill -9 of the busiest one, with a bridged
// call in progress on one of its instances; a late joiner; a graceful stop.

const TTL_MS = 3_000;
const RENEWAL_MS = TTL_MS / 3;
const PCMU_RATE = 8000;
const CALL_ID = "ha-handover@tenant-ha.example";
const DOMAIN = "tenant-ha.example";

describe("HA: replicas sharing FreeSWITCH instances", () => {
  const prefix = `fsagent-ha-e2e-${randomUUID()}:`;
  let cwd: { dir: string; remove(): void };
  let sims: WatchedSim[];
  let receiver: OtlpReceiver;
  let redis: Redis;
  const replicas = new Map<string, Replica>();
  const measured: Record<string, number | string> = {};

  async function start(id: string): Promise<Replica> {
    const replica = await Replica.start(
      cwd.dir,
      replicaEnv({
        sims,
        replicaId: id,
        keyPrefix: prefix,
        leaseTtl: String(TTL_MS / 1000),
        redisPort: 6379,
        otlpEndpoint: receiver.endpoint,
      }),
    );
    replicas.set(id, replica);
    return replica;
  }

  /** Instances each running replica owns and is connected to, per /health. */
  async function ownership(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const [id, replica] of replicas) {
      if (replica.process.running) out.set(id, await replica.consuming());
    }
    return out;
  }

  /** Waits until the running replicas consume every instance once, with these counts. */
  async function waitBalanced(counts: number[], timeoutMs: number): Promise<Map<string, string[]>> {
    return pollUntil(
      ownership,
      (owned) => {
        const all = [...owned.values()].flat().sort();
        const got = [...owned.values()].map((l) => l.length).sort();
        return (
          JSON.stringify(all) === JSON.stringify(sims.map((s) => s.name).sort()) &&
          JSON.stringify(got) === JSON.stringify([...counts].sort()) &&
          sims.every((s) => s.current === 1)
        );
      },
      `ownership ${counts.join("/")}`,
      timeoutMs,
    );
  }

  function sim(name: string): WatchedSim {
    const found = sims.find((s) => s.name === name);
    assert.ok(found !== undefined, name);
    return found;
  }

  function points(name: string, channelId: string): MetricPoint[] {
    return receiver.points(name).filter((p) => p.attributes.channel_id === channelId);
  }

  before(async () => {
    cwd = tempDir();
    sims = await startSims(5);
    receiver = await OtlpReceiver.start();
    redis = new Redis({
      host: "127.0.0.1",
      port: 6379,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    await redis.connect();
  });

  after(async () => {
    await killAllChildren();
    for (const s of sims) await s.close();
    await receiver.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    cwd.remove();
    console.log(`# HA measurements: ${JSON.stringify(measured)}`);
  });

  it("3 replicas, 5 instances: each instance consumed by exactly one replica, balanced 2/2/1", async () => {
    await Promise.all(["r1", "r2", "r3"].map((id) => start(id)));
    await waitAllConsumed(sims, "every instance consumed", 15_000);
    const owned = await waitBalanced([2, 2, 1], 10_000);
    // Still so after two more renewals: no churn.
    await sleep(2 * RENEWAL_MS);
    assert.deepEqual(await ownership(), owned);
    for (const s of sims) assert.equal(s.current, 1, `${s.name}: one listener`);

    const r1 = replicas.get("r1");
    assert.ok(r1 !== undefined);
    const health = await r1.health();
    assert.equal(health.status, "healthy");
    assert.deepEqual(health.ha, {
      replica_id: "r1",
      redis: "reachable",
      replicas: 3,
      leases_held: owned.get("r1")?.length,
      fair_share: 2,
    });
    for (const [name, connection] of Object.entries(health.connections)) {
      const holder = [...owned].find(([, list]) => list.includes(name))?.[0];
      assert.equal(connection.owner, holder, `${name}'s owner`);
      assert.equal(connection.owned, holder === "r1");
      assert.equal(connection.state, holder === "r1" ? "connected" : "stopped");
    }
    for (const replica of replicas.values()) assert.equal(await replica.ready(), 200);
    const metrics = await r1.metrics();
    assert.equal(sample(metrics, "fsagent_ha_leases_held"), owned.get("r1")?.length);
    assert.equal(sample(metrics, "fsagent_ha_replicas"), 3);
    assert.equal(sample(metrics, "fsagent_ha_redis_up"), 1);
  });

  it("kill -9 of the busiest replica: its instances consumed again within lease_ttl + 5 s; a bridged call keeps every point once, with incremental loss", async () => {
    const before = await ownership();
    const [victimId, victimInstances] = [...before].find(([, list]) => list.length === 2) ?? [];
    assert.ok(victimId !== undefined && victimInstances !== undefined);
    const victim = replicas.get(victimId);
    assert.ok(victim !== undefined);
    const fsName = victimInstances[0] ?? "";
    const fs = sim(fsName);

    // A bridged call on one of the victim's instances, and the first RTCP report of each leg.
    const t0 = Date.now();
    const call = fs.generator.startCall({
      bridged: true,
      domain: DOMAIN,
      codec: "PCMU",
      sipCallId: CALL_ID,
      bSipCallId: "ha-b-leg-own-call-id",
      atMs: t0,
    });
    const a = call.uuid;
    const b = call.bLeg?.uuid ?? "";
    await pollUntil(
      () => victim.metrics(),
      (text) =>
        (sample(text, "fsagent_events_processed_total", {
          fs_instance: fsName,
          event: "CHANNEL_BRIDGE",
        }) ?? 0) >= 1,
      "the victim to see the call",
    );
    fs.generator.sendRtcp(a, { jitter: 160, lost: 3, fraction: 64, atMs: t0 + 5000 });
    fs.generator.sendRtcp(b, { jitter: 56, lost: 4, fraction: 16, atMs: t0 + 5000 });
    await receiver.waitFor(
      () =>
        points(RTCP_METRICS.packetsLost.name, a).length === 1 &&
        points(RTCP_METRICS.packetsLost.name, b).length === 1,
      "the first reports exported",
    );
    // Exported points have their loss baseline in Redis: the write-behind is far shorter than
    // the export interval.
    const storedA = JSON.parse((await redis.get(`${prefix}leg:${a}`)) ?? "null") as {
      inbound: Array<{ lastLost: number }>;
    } | null;
    assert.equal(storedA?.inbound[0]?.lastLost, 3);

    const killedAt = Date.now();
    await victim.process.kill();
    await waitAllConsumed(sims, "every instance consumed again", TTL_MS + 15_000);
    for (const name of victimInstances) {
      const again = sim(name).reached(1, killedAt);
      assert.ok(again !== undefined);
      measured[`failover_kill9_${name}_ms`] = again - killedAt;
      assert.ok(
        again - killedAt <= TTL_MS + 5_000,
        `${name} consumed again after ${again - killedAt} ms`,
      );
    }
    const survivors = await waitBalanced([3, 2], 5_000);
    const newOwner = [...survivors].find(([, list]) => list.includes(fsName))?.[0];
    assert.ok(newOwner !== undefined && newOwner !== victimId);
    await waitFor(() => fs.subscribed === 1, "the new owner to subscribe");
    const commandsBefore = fs.commands.length;

    // The second report of each leg, to the new owner: it has never seen the call begin.
    fs.generator.sendRtcp(a, { jitter: 80, lost: 10, fraction: 32, atMs: t0 + 10_000 });
    fs.generator.sendRtcp(b, { jitter: 40, lost: 9, fraction: 8, atMs: t0 + 10_000 });
    await receiver.waitFor(
      () =>
        points(RTCP_METRICS.packetsLost.name, a).length === 2 &&
        points(RTCP_METRICS.packetsLost.name, b).length === 2,
      "the second reports exported",
    );
    const ended = fs.generator.hangupCall(a, {
      atMs: t0 + 60_000,
      qos: { inPacketCount: 2950, inFlaws: 9, jitterMs: 4 },
      bQos: { inPacketCount: 2980, inFlaws: 2, jitterMs: 3 },
    });
    await receiver.waitFor(
      () =>
        points(QOS_METRICS.mos.name, a).length >= 1 && points(QOS_METRICS.mos.name, b).length >= 1,
      "the end-of-call QoS exported",
    );
    await sleep(1_500); // three more export intervals: a duplicate would show up by now

    const rtcp = (uuid: string, jitter: number[], fraction: number[], lost: number[]) => {
      const labels = { ...specRtcpLabels(uuid, CALL_ID, DOMAIN, "inbound"), fs_instance: fsName };
      for (const [metric, values] of [
        [RTCP_METRICS.jitter.name, jitter],
        [RTCP_METRICS.fractionLost.name, fraction],
        [RTCP_METRICS.packetsLost.name, lost],
      ] as const) {
        const got = points(metric, uuid);
        assert.deepEqual(
          got.map((p) => p.value),
          values,
          `${metric} of ${uuid === a ? "A" : "B"}`,
        );
        for (const p of got) assert.deepEqual(p.attributes, labels, `${metric} labels`);
        assert.deepEqual(
          got.map((p) => p.resource["service.instance.id"]),
          [victimId, newOwner],
          "each replica exports as itself",
        );
      }
    };
    rtcp(
      a,
      [specJitterMs(160, PCMU_RATE), specJitterMs(80, PCMU_RATE)],
      [specFraction(64), specFraction(32)],
      [3, 7],
    );
    rtcp(
      b,
      [specJitterMs(56, PCMU_RATE), specJitterMs(40, PCMU_RATE)],
      [specFraction(16), specFraction(8)],
      [4, 5],
    );

    const qos = (uuid: string, jitters: number[], farEndLost: number) => {
      const hc = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", uuid);
      const labels = { ...specQosLabels(hc, CALL_ID, DOMAIN), fs_instance: fsName };
      const values = specQos(hc, jitters, farEndLost);
      for (const metric of Object.values(QOS_METRICS)) {
        const got = points(metric.name, uuid);
        assert.equal(
          got.length,
          1,
          `${metric.name}: exactly one point for ${uuid === a ? "A" : "B"}`,
        );
        assert.ok(
          Math.abs((got[0]?.value ?? Number.NaN) - (values[metric.name] ?? 0)) < 1e-9,
          metric.name,
        );
        assert.deepEqual(got[0]?.attributes, labels);
        assert.equal(got[0]?.resource["service.instance.id"], newOwner);
      }
    };
    qos(a, [specJitterMs(160, PCMU_RATE), specJitterMs(80, PCMU_RATE)], 10);
    qos(b, [specJitterMs(56, PCMU_RATE), specJitterMs(40, PCMU_RATE)], 9);
    // Labels came from Redis: the new owner never asked FreeSWITCH about the legs.
    const dumps = fs.commands.slice(commandsBefore).filter((c) => c.line.includes("uuid_dump"));
    assert.deepEqual(dumps, []);
  });

  it("a replica started later receives a fair share within two renewal intervals", async () => {
    const joiner = await start("r4");
    await waitFor(
      () => joiner.logTime(/^HA: replica r4 joined/) !== undefined,
      "r4 to join",
      10_000,
    );
    const joinedAt = joiner.logTime(/^HA: replica r4 joined/) ?? 0;
    const got = await pollUntil(
      () => joiner.consuming(),
      (list) => list.length >= 1,
      "r4 to consume an instance",
      10_000,
    );
    const at = Date.now();
    measured.late_joiner_ms = at - joinedAt;
    measured.late_joiner_from_spawn_ms = at - joiner.spawnedAt;
    assert.ok(
      at - joinedAt <= 2 * RENEWAL_MS,
      `fair share after ${at - joinedAt} ms (${got.join(",")})`,
    );
    await waitBalanced([2, 2, 1], 5_000);
    // What r4 got was handed over gracefully by a replica above its fair share.
    const handedOver = [...replicas.values()]
      .flatMap((r) => r.logLines(/^HA: handing .* over to balance the load/))
      .filter((line) => typeof line.time === "number" && line.time >= joiner.spawnedAt)
      .map((line) => line.fs_instance);
    assert.ok(
      got.every((name) => handedOver.includes(name)),
      `${got.join(",")} among ${handedOver.join(",")}`,
    );
  });

  it("a graceful stop hands the replica's instances over within 5 s", async () => {
    const before = await ownership();
    const [id, instances] = [...before].find(([, list]) => list.length === 2) ?? [];
    assert.ok(id !== undefined && instances !== undefined);
    const replica = replicas.get(id);
    assert.ok(replica !== undefined);
    const stoppedAt = Date.now();
    replica.process.signal("SIGTERM");
    assert.equal((await replica.process.waitForExit(10_000)).code, 0);
    await waitAllConsumed(sims, "every instance consumed again", 10_000);
    for (const name of instances) {
      const again = sim(name).reached(1, stoppedAt);
      assert.ok(again !== undefined);
      measured[`failover_graceful_${name}_ms`] = again - stoppedAt;
      assert.ok(again - stoppedAt <= 5_000, `${name} consumed again after ${again - stoppedAt} ms`);
    }
    assert.ok(
      replica.logLines(/^HA: released 2 lease\(s\) and left the replicas set$/).length === 1,
    );
    await waitBalanced([3, 2], 5_000);
  });

  it("never had two consumers of one FreeSWITCH at once, and no replica printed a stack trace", () => {
    for (const s of sims) {
      measured[`${s.name}_max_listeners`] = s.maxConcurrent;
      assert.ok(s.maxConcurrent <= 1, `${s.name} had ${s.maxConcurrent} listeners at once`);
      assert.ok(s.longestOverlapMs <= RENEWAL_MS);
    }
    for (const replica of replicas.values()) {
      assert.equal(replica.process.stderr, "", `${replica.id} wrote to stderr`);
      assert.doesNotMatch(replica.process.stdout, /\\n\s+at /);
    }
  });
});
