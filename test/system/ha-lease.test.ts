import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { setImmediate } from "node:timers/promises";
import { Redis } from "ioredis";
import type { RedisConfig } from "../../src/config/types.js";
import { LeaseManager, type LossReason } from "../../src/ha/lease-manager.js";
import { QosClaims } from "../../src/ha/qos-claims.js";
import { ACQUIRE_SCRIPT, RENEW_SCRIPT } from "../../src/ha/redis-keys.js";
import { silentLogger } from "../../src/log/logger.js";
import type { Fence } from "../../src/state/fence.js";
import type { Clock, TimerHandle } from "../../src/util/clock.js";
import { tempDir } from "../support/child.js";
import { PrivateRedisServer } from "../support/ha.js";
import { ManualClock } from "../support/manual-clock.js";
import { capturingLogger } from "../support/redis.js";
import { sleep } from "../support/wait.js";

// The lease manager in this process against a real Redis: the shared one on 6379 (keys under a
// random prefix, removed afterwards) and, where Redis must go away, a private redis-server.
//
// Its timers run on the manual clock, its Redis round trips on the real event loop: a test fires
// the timers due at the next instant and awaits the round trips they started before moving the
// clock on, so every time asserted is exact. The TTL is long next to the real duration of a test, so Redis's
// own expiry (wall clock) never interferes: TTL 60 s, a tick every 1 s, renewals every 20 s, the
// local deadline 48 s after a renewal. Jitter is fixed at 0.5.

const TTL = 60_000;

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

/**
 * One manager's view of the shared manual clock: counts the manager's own pending timers, and
 * can read ahead of the shared time (`offset`: a paused process whose timers have not run).
 */
class ManagerClock implements Clock {
  offset = 0;
  private readonly pending = new Set<TimerHandle>();

  constructor(private readonly base: ManualClock) {}

  now(): number {
    return this.base.now() + this.offset;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = this.base.setTimeout(() => {
      this.pending.delete(handle);
      fn();
    }, ms);
    this.pending.add(handle);
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle);
    this.base.clearTimeout(handle);
  }

  get timers(): number {
    return this.pending.size;
  }
}

interface Managed {
  readonly lease: LeaseManager;
  readonly events: HookEvent[];
  readonly log: ReturnType<typeof capturingLogger>;
  readonly clock: ManagerClock;
}

const managers: LeaseManager[] = [];

function manager(
  id: string,
  instances: readonly string[],
  redis: RedisConfig,
  shared: ManualClock,
): Managed {
  const events: HookEvent[] = [];
  const log = capturingLogger("info");
  const clock = new ManagerClock(shared);
  const lease = new LeaseManager({
    instances,
    replicaId: id,
    leaseTtlMs: TTL,
    redis,
    logger: log.logger,
    clock,
    random: () => 0.5,
    hooks: {
      acquired: (instance) => events.push({ at: clock.now(), kind: "acquired", instance }),
      lost: (instance, reason) => events.push({ at: clock.now(), kind: "lost", instance, reason }),
      handOver: async (instance) => {
        events.push({ at: clock.now(), kind: "handOver", instance });
      },
    },
  });
  managers.push(lease);
  lease.start();
  return { lease, events, log, clock };
}

/**
 * Runs managers on the manual clock. A manager is quiet when it waits on the clock alone: its
 * loop has its one timer (the next round, or the jitter before an acquisition) and each lease
 * it holds its deadline timer; while a round trip is in flight the loop has none.
 */
class Driver {
  private readonly running: Set<Managed>;

  constructor(
    private readonly clock: ManualClock,
    managed: readonly Managed[],
    /** Called once the round trips of each step are over, before the clock moves on. */
    private readonly afterStep: () => Promise<void> = async () => undefined,
  ) {
    this.running = new Set(managed);
  }

  /** Waits (wall clock, bounded) until every running manager is quiet. */
  async settle(): Promise<void> {
    const quiet = () => [...this.running].every((m) => m.clock.timers === 1 + m.lease.leasesHeld);
    const deadline = Date.now() + 10_000;
    for (let spins = 0; !quiet(); spins++) {
      if (Date.now() > deadline) throw new Error("lease rounds still in flight after 10 s");
      await (spins < 200 ? setImmediate() : sleep(5));
    }
    await this.afterStep();
  }

  /** Fires every timer due at the next instant with one (by `limit`), then settles. */
  private async step(limit: number): Promise<boolean> {
    if (!this.clock.advanceTo(limit)) return false;
    const at = this.clock.now();
    while (this.clock.nextTimerAt() === at) this.clock.advanceTo(at);
    await this.settle();
    return true;
  }

  /** Moves the clock `ms` forward, timer by timer. */
  async run(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    await this.settle();
    while (await this.step(end));
  }

  /**
   * Runs until `done` holds, at most `maxMs` of clock time. `paceMs` lets wall time pass between
   * steps, for what only wall time brings (a reconnection to a restarted Redis).
   */
  async until(done: () => boolean, what: string, maxMs = TTL, paceMs = 0): Promise<void> {
    const end = this.clock.now() + maxMs;
    await this.settle();
    while (!done()) {
      if (!(await this.step(end))) throw new Error(`${what}: not within ${maxMs} ms of clock`);
      if (paceMs > 0) await sleep(paceMs);
    }
  }

  /**
   * Stops a manager (its round trips are awaited; its clock timers are gone after). With
   * `moveClock` false the clock stands still, and stop() must not need it to.
   */
  async stop(m: Managed, moveClock = true): Promise<void> {
    this.running.delete(m);
    const stopped = m.lease.stop().then(() => true);
    // A round waiting for its acquisition jitter, or a round trip that never ends, is over when
    // the clock reaches its bound (stop() bounds everything by 1.5 s of clock).
    for (let i = 0; !(await Promise.race([stopped, sleep(20).then(() => false)])); i++) {
      if (i === (moveClock ? 100 : 500)) throw new Error(`${m.lease.replicaId} did not stop`);
      if (moveClock) this.clock.advance(m.lease.tickMs);
    }
  }

  async stopAll(): Promise<void> {
    for (const m of [...this.running]) await this.stop(m);
  }
}

/**
 * When each lease was sent (acquired with the acquire script, or renewed with the renew script) by a
 * member, on the manual clock: every socket write of this process is read while it is spied on
 * (ioredis writes a pipeline in one write, before the clock can move on).
 */
function leaseSends(clock: ManualClock): {
  sends(key: string, member: string): number[];
  restore(): void;
} {
  const writes: { at: number; text: string }[] = [];
  const original = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    const chunk = args[0];
    const text =
      typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("latin1") : "";
    if (text.includes("ha:lease:")) writes.push({ at: clock.now(), text });
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof original;
  const bulk = (value: string) => `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
  return {
    sends: (key, member) => {
      const acquire = `${bulk(ACQUIRE_SCRIPT)}${bulk("2")}${bulk(key)}`;
      const renew = `${bulk(RENEW_SCRIPT)}${bulk("1")}${bulk(key)}${bulk(member)}`;
      return writes
        .filter(
          ({ text }) =>
            (text.includes(acquire) && text.includes(bulk(member))) || text.includes(renew),
        )
        .map(({ at }) => at);
    },
    restore: () => {
      net.Socket.prototype.write = original;
    },
  };
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
    const clock = new ManualClock();
    const redisA = redisConfig(`${prefix}split:`);
    const spy = leaseSends(clock);
    const pttls: number[] = [];
    let watched: string | undefined;
    const a = manager("replica-a", ["fs1", "fs2"], redisA, clock);
    const b = manager("replica-b", ["fs1", "fs2"], redisA, clock);
    const drive = new Driver(clock, [a, b], async () => {
      if (watched !== undefined) pttls.push(await redis.pttl(watched));
    });
    try {
      await drive.until(
        () => a.lease.leasesHeld === 1 && b.lease.leasesHeld === 1,
        "one lease each",
        10_000,
      );
      const owned = (m: LeaseManager) => ["fs1", "fs2"].filter((i) => m.holds(i));
      const [aInstance] = owned(a.lease);
      const [bInstance] = owned(b.lease);
      assert.ok(aInstance !== undefined && bInstance !== undefined && aInstance !== bInstance);
      const aKey = `${prefix}split:ha:lease:${aInstance}`;
      assert.equal(await redis.get(aKey), a.lease.member);
      assert.match(a.lease.member, /^replica-a#[0-9a-f]{8}$/);
      // Known from the next snapshot on: the holder's replica id, not its token.
      await drive.until(() => a.lease.ownerOf(bInstance) === "replica-b", "A to see B's lease");
      assert.deepEqual(
        (await redis.zrange(`${prefix}split:ha:replicas`, "0", "-1")).sort(),
        [a.lease.member, b.lease.member].sort(),
      );

      // Over two TTLs the leases stay put: renewed, never lost, the TTL in Redis kept topped up.
      watched = aKey;
      const from = clock.now();
      await drive.run(2 * TTL);
      const sends = spy.sends(aKey, a.lease.member);
      const gaps = sends.slice(1).map((at, i) => at - (sends[i] ?? 0));
      assert.ok(gaps.length >= 6, `sends of A's lease: ${sends.join(", ")}`);
      // Renewed every TTL/3: never later; after the first renewal, exactly on time.
      assert.ok(
        gaps.every((gap) => gap <= TTL / 3),
        `gaps between renewals: ${gaps.join(", ")}`,
      );
      assert.deepEqual(
        gaps.slice(1),
        gaps.slice(1).map(() => TTL / 3),
      );
      assert.equal(
        sends.filter((at) => at > from && at <= from + 2 * TTL).length,
        6,
        "six renewals in two TTLs",
      );
      assert.ok(from + 2 * TTL - (sends.at(-1) ?? 0) < TTL / 3, "the last one under TTL/3 ago");
      assert.ok(pttls.length > 0 && Math.min(...pttls) > 0, "never expired in Redis");
      assert.ok(Math.max(...pttls) <= TTL);
      assert.deepEqual(
        [...a.events, ...b.events].filter((e) => e.kind !== "acquired"),
        [],
        "no loss, no hand-over",
      );
      assert.equal(a.lease.replicas, 2);
      assert.equal(a.lease.fairShare, 1);

      // A graceful stop deletes the lease and the heartbeat: B takes the instance within a tick
      // (and the jitter before an acquisition).
      const stoppedAt = clock.now();
      await drive.stop(a, false);
      await drive.until(() => b.lease.holds(aInstance), "B to take A's instance");
      const took = clock.now() - stoppedAt;
      assert.ok(took <= b.lease.tickMs + b.lease.tickMs / 2, `taken over in ${took} ms`);
      assert.equal(await redis.get(aKey), b.lease.member);
      assert.deepEqual(await redis.zrange(`${prefix}split:ha:replicas`, "0", "-1"), [
        b.lease.member,
      ]);
      assert.equal(a.lease.stats.handovers, 1);
    } finally {
      spy.restore();
      await drive.stopAll();
    }
  });

  it("drops a lease at once when its renewal is refused, and never touches the other holder's key", async () => {
    const clock = new ManualClock();
    const cfg = redisConfig(`${prefix}refused:`);
    const c = manager("replica-c", ["fs1"], cfg, clock);
    const drive = new Driver(clock, [c]);
    try {
      await drive.until(() => c.lease.holds("fs1"), "C to take fs1", 10_000);
      const key = `${prefix}refused:ha:lease:fs1`;
      await redis.set(key, "intruder#00000000", "PX", 600_000);
      const stolenAt = clock.now();
      await drive.until(() => c.events.some((e) => e.kind === "lost"), "C to notice");
      const lost = c.events.find((e) => e.kind === "lost");
      assert.equal(lost?.reason, "refused");
      assert.ok((lost?.at ?? 0) - stolenAt <= TTL / 3, "noticed at the next renewal");
      assert.equal(c.lease.holds("fs1"), false);
      assert.equal(c.lease.ownerOf("fs1"), "intruder");
      await drive.run(TTL);
      assert.equal(await redis.get(key), "intruder#00000000", "neither renewed nor deleted by C");
      assert.equal(c.events.filter((e) => e.kind === "acquired").length, 1, "not taken back");
      assert.match(
        c.log.text(),
        /HA: lost the lease on fs1 \(another replica holds it\); disconnected/,
      );
      // Free again: C takes it back.
      await redis.del(key);
      await drive.until(() => c.lease.holds("fs1"), "C to take fs1 again");
      assert.equal(c.lease.stats.losses.refused, 1);
    } finally {
      await drive.stopAll();
    }
  });

  it("stops consuming at the deadline on the clock even before its timer runs (a paused process)", async () => {
    const clock = new ManualClock();
    const d = manager("replica-d", ["fs1"], redisConfig(`${prefix}pause:`), clock);
    const drive = new Driver(clock, [d]);
    try {
      await drive.until(() => d.lease.holds("fs1"), "D to take fs1", 10_000);
      const acquired = d.events.find((e) => e.kind === "acquired");
      assert.equal(acquired?.at, clock.now(), "taken at this instant");
      // As if the process had been stopped: time moves on, no timer has run.
      d.clock.offset = TTL - d.lease.marginMs - 1;
      assert.equal(d.lease.holds("fs1"), true, "1 ms before the deadline");
      d.clock.offset = TTL - d.lease.marginMs;
      assert.equal(d.lease.holds("fs1"), false, "at the deadline, TTL − margin after the send");
      assert.equal(d.lease.leasesHeld, 0);
      d.clock.offset = 0;
    } finally {
      await drive.stopAll();
    }
  });

  it("the fencing token: a new epoch whenever the instance changes owner, kept by an owner that takes it back", async () => {
    const lease = `${prefix}script:ha:lease:fs9`;
    const fence = `${prefix}script:ha:fence:fs9`;
    const acquire = (member: string) =>
      redis.eval(ACQUIRE_SCRIPT, 2, lease, fence, member, "60000") as Promise<string | null>;
    assert.equal(await acquire("a#1"), "1/a#1");
    assert.equal(await acquire("b#2"), null, "held by a: not taken");
    assert.equal(await acquire("a#1"), "1/a#1", "renewed by its holder");
    await redis.del(lease); // a's lease expired; nobody else took it
    assert.equal(await acquire("a#1"), "1/a#1", "taken back: a's pending writes stay valid");
    await redis.del(lease);
    assert.equal(await acquire("b#2"), "2/b#2");
    await redis.del(lease);
    assert.equal(await acquire("a#1"), "3/a#1", "a's old token never comes back");
    await redis.del(lease, fence); // Redis lost its data
    assert.equal(await acquire("c#3"), "1/c#3");
    await redis.del(lease, fence);
  });

  it("reports each leg's end-of-call QoS once across replicas, and never from a replica that lost the instance", async () => {
    const clock = new ManualClock();
    const cfg = redisConfig(`${prefix}qos:`);
    const e = manager("replica-e", ["fs1"], cfg, clock);
    const f = manager("replica-f", ["fs1"], cfg, clock);
    const drive = new Driver(clock, [e, f]);
    try {
      await drive.until(
        () => e.lease.holds("fs1") || f.lease.holds("fs1"),
        "one holds fs1",
        10_000,
      );
      const [first, second] = e.lease.holds("fs1") ? [e, f] : [f, e];
      const claimsOf = (lease: LeaseManager): QosClaims =>
        new QosClaims({
          claimOnce: (instance, key, ttlMs) => lease.claim(lease.fence(instance), key, ttlMs),
          keyPrefix: cfg.keyPrefix,
          leaseTtlMs: TTL,
          logger: silentLogger(),
          where: lease.redisAddress,
        });
      const [firstClaims, secondClaims] = [claimsOf(first.lease), claimsOf(second.lease)];
      const ended = randomUUID();
      // The holder reports a leg (its HANGUP_COMPLETE); the standby, holding nothing, cannot.
      assert.equal(await firstClaims.claim(ended, "fs1"), true);
      assert.equal(await secondClaims.claim(randomUUID(), "fs1"), false);
      assert.equal(secondClaims.stats.fenced, 1);
      const ttl = await redis.pttl(`${prefix}qos:ha:qos:${ended}`);
      assert.ok(ttl > 250_000 && ttl <= 300_000, `claim kept 5 min: ${ttl}`);

      // The instance changes hands between the leg's HANGUP_COMPLETE and its DESTROY.
      const oldFence = first.lease.fence("fs1");
      const epochOf = (token: string): number => Number(token.split("/")[0]);
      await drive.stop(first);
      await drive.until(() => second.lease.holds("fs1"), "the other takes fs1", 10_000);
      const newFence = second.lease.fence("fs1");
      assert.equal(epochOf(newFence.token), epochOf(oldFence.token) + 1, "the epoch grows by one");
      assert.equal(await redis.get(`${prefix}qos:ha:fence:fs1`), newFence.token);
      assert.equal(await secondClaims.claim(ended, "fs1"), false, "reported once");
      assert.equal(secondClaims.stats.duplicate, 1);
      // A claim sent late under the old holder's token is refused, whichever leg it is for.
      const late = (fence: Fence) =>
        second.lease.claim(fence, `${cfg.keyPrefix}ha:qos:${randomUUID()}`, 1_000);
      assert.equal(await late(oldFence), "fenced");
      assert.equal(await late(newFence), "claimed");
      assert.equal(firstClaims.stats.claimed + secondClaims.stats.claimed, 1);
    } finally {
      await drive.stopAll();
    }
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
    const clock = new ManualClock();
    const spy = leaseSends(clock);
    const g = manager(
      "replica-g",
      ["fs1", "fs2"],
      redisConfig("ha-outage:", server.port, password),
      clock,
    );
    const drive = new Driver(clock, [g]);
    try {
      await drive.until(() => g.lease.leasesHeld === 2, "G to take both", 10_000);
      await drive.run(TTL / 2);
      await server.stop();
      const killedAt = clock.now();
      // Once a command has failed, G's connection knows Redis is gone: no renewal sent after
      // this reached Redis, so the last one sent is the last one Redis took.
      await assert.rejects(g.lease.claim(g.lease.fence("fs1"), "ha-outage:probe", 1_000));
      await drive.until(
        () => g.events.filter((e) => e.kind === "lost").length === 2,
        "both lost",
        TTL,
      );
      const losses = g.events.filter((e) => e.kind === "lost");
      const margin = TTL / 5;
      for (const loss of losses) {
        assert.equal(loss.reason, "expired");
        // The last renewal was sent at most TTL/3 before the kill, so the lease lives in Redis
        // until at least then + TTL; the local deadline is TTL/5 before that.
        const after = loss.at - killedAt;
        assert.ok(after <= TTL - margin, `dropped ${after} ms after the kill`);
        assert.ok(after >= TTL - margin - TTL / 3, `kept until close to the deadline: ${after} ms`);
        // Exactly: TTL − margin after the last renewal Redis took.
        const renewed = spy.sends(`ha-outage:ha:lease:${loss.instance}`, g.lease.member).at(-1);
        assert.equal(loss.at, (renewed ?? Number.NaN) + TTL - margin);
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
      // The reconnection takes wall time: the clock moves a tick per 10 ms meanwhile.
      await drive.until(() => g.lease.leasesHeld === 2, "G to take both again", 100 * TTL, 10);
      assert.equal(g.lease.redisReachable, true);
      assert.equal(g.lease.stats.acquisitions, 4);
      assert.equal(g.lease.stats.losses.expired, 2);
      assert.match(g.log.text(), /HA: Redis reachable again after/);
    } finally {
      spy.restore();
      await drive.stopAll();
    }
  });
});
