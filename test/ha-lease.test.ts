import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { RedisConfig } from "../src/config/types.js";
import { LeaseManager, type LossReason } from "../src/ha/lease-manager.js";
import { QosClaims } from "../src/ha/qos-claims.js";
import { silentLogger } from "../src/log/logger.js";
import { tempDir } from "./support/child.js";
import { PrivateRedisServer } from "./support/ha.js";
import { capturingLogger } from "./support/redis.js";
import { sleep, waitFor } from "./support/wait.js";

// The lease manager in this process against a real Redis: the shared one on 6379 (keys under a
// random prefix, removed afterwards) and, where Redis must go away, a private redis-server.

const TTL = 1_500;

interface HookEvent {
  readonly at: number;
  readonly kind: "acquired" | "lost" | "handOver";
  readonly instance: string;
  readonly reason?: LossReason;
}

function redisConfig(prefix: string, port = 6379, password = ""): RedisConfig {
  return {
    host: "127.0.0.1",
    port,
    password,
    db: 0,
    keyPrefix: prefix,
    username: "",
    tls: false,
    caFile: "",
  };
}

const managers: LeaseManager[] = [];

function manager(
  id: string,
  instances: readonly string[],
  redis: RedisConfig,
  options: { clock?: { now(): number } } = {},
): { lease: LeaseManager; events: HookEvent[]; log: ReturnType<typeof capturingLogger> } {
  const events: HookEvent[] = [];
  const log = capturingLogger("info");
  const lease = new LeaseManager({
    instances,
    replicaId: id,
    leaseTtlMs: TTL,
    redis,
    logger: log.logger,
    ...(options.clock === undefined
      ? {}
      : {
          clock: {
            now: () => options.clock?.now() ?? Date.now(),
            setTimeout: (fn, ms) => setTimeout(fn, ms),
            clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
          },
        }),
    hooks: {
      acquired: (instance) => events.push({ at: Date.now(), kind: "acquired", instance }),
      lost: (instance, reason) => events.push({ at: Date.now(), kind: "lost", instance, reason }),
      handOver: async (instance) => {
        events.push({ at: Date.now(), kind: "handOver", instance });
      },
    },
  });
  managers.push(lease);
  lease.start();
  return { lease, events, log };
}

describe("HA leases against Redis", () => {
  const prefix = `fsagent-ha-${randomUUID()}:`;
  let redis: Redis;

  before(async () => {
    redis = new Redis({
      host: "127.0.0.1",
      port: 6379,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    await redis.connect();
  });

  after(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("splits the instances, renews every third of the TTL, and hands over on a graceful stop", async () => {
    const redisA = redisConfig(`${prefix}split:`);
    const a = manager("replica-a", ["fs1", "fs2"], redisA);
    const b = manager("replica-b", ["fs1", "fs2"], redisA);
    await waitFor(
      () => a.lease.leasesHeld === 1 && b.lease.leasesHeld === 1,
      "one lease each",
      5_000,
    );
    const owned = (m: LeaseManager) => ["fs1", "fs2"].filter((i) => m.holds(i));
    const [aInstance] = owned(a.lease);
    const [bInstance] = owned(b.lease);
    assert.ok(aInstance !== undefined && bInstance !== undefined && aInstance !== bInstance);
    assert.equal(await redis.get(`${prefix}split:ha:lease:${aInstance}`), a.lease.member);
    assert.match(a.lease.member, /^replica-a#[0-9a-f]{8}$/);
    // Known from the next snapshot on: the holder's replica id, not its token.
    await waitFor(() => a.lease.ownerOf(bInstance) === "replica-b", "A to see B's lease", 2_000);
    assert.deepEqual(
      (await redis.zrange(`${prefix}split:ha:replicas`, "0", "-1")).sort(),
      [a.lease.member, b.lease.member].sort(),
    );

    // Over two TTLs the leases stay put: renewed, never lost, the TTL in Redis kept topped up.
    const pttls: number[] = [];
    const until = Date.now() + 2 * TTL;
    while (Date.now() < until) {
      pttls.push(await redis.pttl(`${prefix}split:ha:lease:${aInstance}`));
      await sleep(50);
    }
    // Renewed every TTL/3: the remaining TTL never falls much below two thirds of it.
    assert.ok(
      Math.min(...pttls) > TTL - TTL / 3 - 300,
      `PTTL stayed high: min ${Math.min(...pttls)}`,
    );
    assert.ok(Math.max(...pttls) <= TTL);
    assert.deepEqual(
      [...a.events, ...b.events].filter((e) => e.kind !== "acquired"),
      [],
      "no loss, no hand-over",
    );
    assert.equal(a.lease.replicas, 2);
    assert.equal(a.lease.fairShare, 1);

    // A graceful stop deletes the lease and the heartbeat: B takes the instance within a tick.
    const stoppedAt = Date.now();
    await a.lease.stop();
    await waitFor(() => b.lease.holds(aInstance), "B to take A's instance", 3_000);
    const took = Date.now() - stoppedAt;
    assert.ok(took < 1_500, `taken over in ${took} ms`);
    assert.equal(await redis.get(`${prefix}split:ha:lease:${aInstance}`), b.lease.member);
    assert.deepEqual(await redis.zrange(`${prefix}split:ha:replicas`, "0", "-1"), [b.lease.member]);
    assert.equal(a.lease.stats.handovers, 1);
  });

  it("drops a lease at once when its renewal is refused, and never touches the other holder's key", async () => {
    const cfg = redisConfig(`${prefix}refused:`);
    const c = manager("replica-c", ["fs1"], cfg);
    await waitFor(() => c.lease.holds("fs1"), "C to take fs1", 5_000);
    const key = `${prefix}refused:ha:lease:fs1`;
    await redis.set(key, "intruder#00000000", "PX", 30_000);
    const stolenAt = Date.now();
    await waitFor(() => c.events.some((e) => e.kind === "lost"), "C to notice", 3_000);
    const lost = c.events.find((e) => e.kind === "lost");
    assert.equal(lost?.reason, "refused");
    assert.ok((lost?.at ?? 0) - stolenAt <= TTL / 3 + 600, "noticed at the next renewal");
    assert.equal(c.lease.holds("fs1"), false);
    assert.equal(c.lease.ownerOf("fs1"), "intruder");
    await sleep(TTL);
    assert.equal(await redis.get(key), "intruder#00000000", "neither renewed nor deleted by C");
    assert.equal(c.events.filter((e) => e.kind === "acquired").length, 1, "not taken back");
    assert.match(
      c.log.text(),
      /HA: lost the lease on fs1 \(another replica holds it\); disconnected/,
    );
    // Free again: C takes it back.
    await redis.del(key);
    await waitFor(() => c.lease.holds("fs1"), "C to take fs1 again", 3_000);
    assert.equal(c.lease.stats.losses.refused, 1);
  });

  it("stops consuming at the deadline on the clock even before its timer runs (a paused process)", async () => {
    let offset = 0;
    const d = manager("replica-d", ["fs1"], redisConfig(`${prefix}pause:`), {
      clock: { now: () => Date.now() + offset },
    });
    await waitFor(() => d.lease.holds("fs1"), "D to take fs1", 5_000);
    offset = TTL; // as if the process had been stopped for a whole TTL
    assert.equal(d.lease.holds("fs1"), false);
    offset = 0;
  });

  it("reports each leg's end-of-call QoS once across replicas", async () => {
    const cfg = redisConfig(`${prefix}qos:`);
    const e = manager("replica-e", [], cfg);
    const f = manager("replica-f", [], cfg);
    await waitFor(() => e.lease.redisReachable && f.lease.redisReachable, "both connected", 5_000);
    const claimsOf = (lease: LeaseManager): QosClaims =>
      new QosClaims({
        setOnce: (key, ttlMs) => lease.setOnce(key, ttlMs),
        keyPrefix: cfg.keyPrefix,
        leaseTtlMs: TTL,
        logger: silentLogger(),
        where: lease.redisAddress,
      });
    const [eClaims, fClaims] = [claimsOf(e.lease), claimsOf(f.lease)];
    const uuid = randomUUID();
    const claims = await Promise.all([eClaims.claim(uuid), fClaims.claim(uuid)]);
    assert.deepEqual(claims.sort(), [false, true]);
    assert.equal(await fClaims.claim(uuid), false);
    const ttl = await redis.pttl(`${prefix}qos:ha:qos:${uuid}`);
    assert.ok(ttl > 250_000 && ttl <= 300_000, `claim kept 5 min: ${ttl}`);
    assert.equal(eClaims.stats.claimed + fClaims.stats.claimed, 1);
    assert.equal(eClaims.stats.duplicate + fClaims.stats.duplicate, 2);
  });
});

describe("HA leases when Redis goes away (private redis-server)", () => {
  const password = `pw-${randomUUID()}`;
  let dir: { dir: string; remove(): void };
  let server: PrivateRedisServer;

  before(async () => {
    dir = tempDir();
    server = await PrivateRedisServer.start(dir.dir, password);
  });

  after(async () => {
    await Promise.all(managers.splice(0).map((m) => m.stop()));
    await server.stop();
    dir.remove();
  });

  it("drops the leases at the local deadline, before they can expire in Redis, and takes them again after", async () => {
    const g = manager(
      "replica-g",
      ["fs1", "fs2"],
      redisConfig("ha-outage:", server.port, password),
    );
    await waitFor(() => g.lease.leasesHeld === 2, "G to take both", 5_000);
    await sleep(TTL / 2);
    const killedAt = Date.now();
    await server.stop();
    await waitFor(
      () => g.events.filter((e) => e.kind === "lost").length === 2,
      "both lost",
      3 * TTL,
    );
    const losses = g.events.filter((e) => e.kind === "lost");
    const margin = TTL / 5;
    for (const loss of losses) {
      assert.equal(loss.reason, "expired");
      // The last renewal was sent before the kill, so the lease lives in Redis until at least
      // killedAt + TTL; the local deadline is TTL/5 before that.
      const after = loss.at - killedAt;
      assert.ok(after <= TTL - margin + 100, `dropped ${after} ms after the kill`);
      assert.ok(
        after >= TTL - margin - TTL / 3 - 300,
        `kept until close to the deadline: ${after} ms`,
      );
    }
    assert.equal(g.lease.redisReachable, false);
    assert.equal(g.lease.leasesHeld, 0);
    assert.match(
      g.log.text(),
      /HA: Redis unreachable \(not connected[^)]*\); keeping 2 connection\(s\) until their leases would expire/,
    );
    assert.match(
      g.log.text(),
      /could not be renewed in time \(Redis unreachable\); disconnected before it can expire/,
    );
    assert.doesNotMatch(g.log.text(), /\\n\s+at /, "no stack trace");

    await server.start();
    await waitFor(() => g.lease.leasesHeld === 2, "G to take both again", 10_000);
    assert.equal(g.lease.redisReachable, true);
    assert.equal(g.lease.stats.acquisitions, 4);
    assert.equal(g.lease.stats.losses.expired, 2);
    assert.match(g.log.text(), /HA: Redis reachable again after/);
  });
});
