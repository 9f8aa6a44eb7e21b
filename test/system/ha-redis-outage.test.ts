import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { killAllChildren, tempDir } from "../support/child.js";
import {
  PrivateRedisServer,
  Replica,
  replicaEnv,
  sample,
  startSims,
  type WatchedSim,
  waitAllConsumed,
} from "../support/ha.js";
import { pollUntil } from "../support/net.js";
import { OtlpReceiver } from "../support/otlp-receiver.js";
import { sleep, waitFor } from "../support/wait.js";

// Issue 7, Redis outage: two replicas (real processes) share three simulated FreeSWITCH
// instances through a private redis-server, which is then killed for longer than the lease TTL
// and started again (empty: it persists nothing). From the FreeSWITCH side, no instance may ever
// have two authenticated listeners; the replicas keep their connections until their leases
// would have expired, then let go, and take the instances again once Redis is back.

const TTL_MS = 3_000;
const MARGIN_MS = TTL_MS / 5;

describe("HA: Redis stopped for longer than the lease TTL", () => {
  const password = `pw-${randomUUID()}`;
  let dir: { dir: string; remove(): void };
  let redis: PrivateRedisServer;
  let sims: WatchedSim[];
  let receiver: OtlpReceiver;
  const replicas: Replica[] = [];
  const measured: Record<string, number> = {};

  before(async () => {
    dir = tempDir();
    redis = await PrivateRedisServer.start(dir.dir, password);
    sims = await startSims(3);
    receiver = await OtlpReceiver.start();
  });

  after(async () => {
    await killAllChildren();
    for (const s of sims) await s.close();
    await receiver.close();
    await redis.stop();
    dir.remove();
    console.log(`# HA Redis outage measurements: ${JSON.stringify(measured)}`);
  });

  it("keeps the connections until the leases would expire, never has two consumers, and resumes after Redis returns", async () => {
    for (const id of ["ra", "rb"]) {
      replicas.push(
        await Replica.start(
          dir.dir,
          replicaEnv({
            sims,
            replicaId: id,
            keyPrefix: "fsagent:",
            leaseTtl: String(TTL_MS / 1000),
            redisPort: redis.port,
            redisPassword: password,
            otlpEndpoint: receiver.endpoint,
          }),
        ),
      );
    }
    await waitAllConsumed(sims, "every instance consumed", 15_000);
    // Both replicas hold leases when Redis goes: 2/1.
    await pollUntil(
      () => Promise.all(replicas.map((r) => r.consuming())),
      (lists) => lists.every((l) => l.length >= 1) && lists.flat().length === 3,
      "both replicas consuming",
      10_000,
    );

    const killedAt = Date.now();
    await redis.stop();
    // Each instance is let go at its lease's local deadline: the last renewal (at most a third
    // of the TTL before the kill) + TTL − margin. Not before: the connections are kept meanwhile.
    await waitFor(() => sims.every((s) => s.current === 0), "every instance let go", 2 * TTL_MS);
    for (const s of sims) {
      const droppedAt = s.reached(0, killedAt) ?? Number.NaN;
      const after = droppedAt - killedAt;
      measured[`${s.name}_dropped_after_ms`] = after;
      assert.ok(after <= TTL_MS - MARGIN_MS + 250, `${s.name} let go ${after} ms after the kill`);
      assert.ok(after >= TTL_MS - MARGIN_MS - TTL_MS / 3 - 500, `${s.name} kept for ${after} ms`);
    }
    // A replica with nothing connected and no Redis cannot take anything over: not ready.
    for (const replica of replicas) {
      assert.equal(await replica.ready(), 503);
      const health = await replica.health();
      assert.equal(health.ha?.redis, "unreachable");
      assert.equal(health.ha?.leases_held, 0);
    }
    // Down for longer than the TTL.
    await sleep(Math.max(0, killedAt + TTL_MS + 1_000 - Date.now()));
    for (const s of sims) assert.equal(s.current, 0, `${s.name} stays free while Redis is down`);

    const restartedAt = Date.now();
    await redis.start();
    await waitAllConsumed(sims, "every instance consumed again", 15_000);
    measured.resumed_after_ms = Math.max(
      ...sims.map((s) => (s.reached(1, restartedAt) ?? 0) - restartedAt),
    );
    const owned = await pollUntil(
      () => Promise.all(replicas.map((r) => r.consuming())),
      (lists) => lists.flat().length === 3,
      "ownership in /health",
    );
    assert.deepEqual(owned.flat().sort(), ["fs1", "fs2", "fs3"], "each instance owned once");
    for (const replica of replicas) {
      // A replica left without an instance is ready once its own lease connection is back (its
      // reconnection backoff may end a moment after the other replica took everything).
      await pollUntil(
        () => replica.ready(),
        (status) => status === 200,
        `${replica.id} ready`,
        5_000,
      );
      const metrics = await replica.metrics();
      assert.equal(sample(metrics, "fsagent_ha_redis_up"), 1);
      assert.ok((sample(metrics, "fsagent_ha_redis_errors_total") ?? 0) >= 1);
    }
    const expired = await Promise.all(
      replicas.map(
        async (r) =>
          sample(await r.metrics(), "fsagent_ha_lease_losses_total", { reason: "expired" }) ?? 0,
      ),
    );
    assert.equal(
      expired.reduce((x, y) => x + y, 0),
      3,
      "every lease lost by its deadline",
    );

    for (const s of sims)
      assert.ok(s.maxConcurrent <= 1, `${s.name} had ${s.maxConcurrent} listeners`);
    for (const replica of replicas) {
      assert.equal(replica.process.running, true, "no crash");
      assert.equal(replica.process.stderr, "");
      assert.doesNotMatch(replica.process.stdout, /\\n\s+at /, "no stack trace");
      const ha = replica
        .logLines(/^HA: /)
        .map((l) => l.msg)
        .join("\n");
      // The first failure may be a refused connection or a command cut off by the kill.
      assert.equal(
        replica.logLines(
          /^HA: Redis unreachable \(.+\); keeping [12] connection\(s\) until their leases would expire \(in \d\.\d s\), taking no instance meanwhile$/,
        ).length,
        1,
        ha,
      );
      assert.ok(
        replica.logLines(
          /^HA: the lease on fs\d could not be renewed in time \(Redis unreachable\); disconnected before it can expire$/,
        ).length >= 1,
        ha,
      );
      assert.ok(replica.logLines(/^HA: Redis reachable again after/).length >= 1, ha);
      // Every line is one JSON object: nothing multi-line reached stdout.
      assert.equal(replica.process.jsonLines().length, replica.process.lines().length);
    }
  });
});
