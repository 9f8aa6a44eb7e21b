import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { after, afterEach, before, describe, it } from "node:test";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { Redis } from "ioredis";
import { pino } from "pino";
import type { StorageConfig } from "../../src/config/types.js";
import { addToSummary } from "../../src/legs/fold-rtcp.js";
import { createLegStore } from "../../src/state/create-store.js";
import { FENCED_SET_SCRIPT, landedKey } from "../../src/state/fence.js";
import { decodeLegState } from "../../src/state/leg-schema.js";
import { RedisStore, type RedisStoreOptions } from "../../src/state/redis-store.js";
import type { StoreOpCount } from "../../src/state/store.js";
import { tempDir } from "../support/child.js";
import { ManualClock } from "../support/manual-clock.js";
import { closedPort } from "../support/net.js";
import {
  capturingLogger,
  killProcess,
  legKey,
  sampleLeg,
  spawnRedisServer,
} from "../support/redis.js";
import { sleep, waitFor } from "../support/wait.js";

// Against real Redis: the shared server on 127.0.0.1:6379 (required in CI, never skipped), with
// a unique key prefix per test, and a private redis-server for the fault test.

const SHARED = { host: "127.0.0.1", port: 6379 };

describe("stored leg state read back", () => {
  const current = {
    ...sampleLeg("older", 2),
    rtcpIn: addToSummary(
      addToSummary(null, { jitterMs: 4, fractionLost: 0.01, packetsLost: 1, rttMs: 40, mos: 4.2 }),
      { jitterMs: 8, fractionLost: 0.03, packetsLost: 2, rttMs: 60, mos: 3.8 },
    ),
    rtcpOut: addToSummary(null, {
      jitterMs: 2,
      fractionLost: 0,
      packetsLost: 0,
      rttMs: undefined,
      mos: 4.4,
    }),
  };

  it("round-trips the summaries with the latest report's values", () => {
    assert.deepEqual(decodeLegState(JSON.stringify(current), "older"), current);
  });

  it("keeps LegState's fields only: a key it does not know is dropped", () => {
    const stored = { ...current, extra: 1, labels: { ...current.labels, extra: "x" } };
    assert.deepEqual(decodeLegState(JSON.stringify(stored), "older"), current);
  });

  it("refuses a summary whose latest values are not numbers", () => {
    const bad = { ...current, rtcpIn: { ...current.rtcpIn, lastMos: "4.2" } };
    assert.equal(decodeLegState(JSON.stringify(bad), "older"), undefined);
    const badRtt = { ...current, rtcpIn: { ...current.rtcpIn, lastRttMs: "x" } };
    assert.equal(decodeLegState(JSON.stringify(badRtt), "older"), undefined);
  });

  it("refuses state missing a field (no format other than today's is read)", () => {
    const { lastMos, ...noLatest } = current.rtcpIn;
    assert.equal(lastMos, 3.8, "the latest report's MOS");
    assert.equal(
      decodeLegState(JSON.stringify({ ...current, rtcpIn: noLatest }), "older"),
      undefined,
    );
    const { rtcpOut, ...noSummary } = current;
    assert.ok(rtcpOut !== null);
    assert.equal(decodeLegState(JSON.stringify(noSummary), "older"), undefined);
  });
});

function config(keyPrefix: string, overrides: Partial<StorageConfig> = {}): StorageConfig {
  return {
    type: "redis",
    maxLegs: 10_000,
    legTtlMs: 60_000,
    redis: { ...SHARED, password: "", db: 0, keyPrefix, username: "", tls: false, caFile: "" },
    ...overrides,
  };
}

function op(store: { operations(): readonly StoreOpCount[] }, operation: string, status: string) {
  return store.operations().find((o) => o.operation === operation && o.status === status)?.count;
}

/**
 * Every command the server receives (MONITOR on its own connection), filtered by key prefix.
 * barrier() resolves once MONITOR has shown every command Redis ran before it (MONITOR reports
 * in execution order): what it has not shown by then was never sent.
 */
async function monitor(
  client: Redis,
  prefix: string,
): Promise<{ commands: string[][]; barrier(): Promise<void>; stop(): void }> {
  const commands: string[][] = [];
  const barriers = new Set<string>();
  const mon = await client.monitor();
  mon.on("monitor", (_time: string, args: string[]) => {
    const key = args[1] ?? "";
    if (barriers.delete(key)) return;
    if (args.some((a) => a.startsWith(prefix))) commands.push(args);
  });
  let n = 0;
  return {
    commands,
    barrier: async () => {
      const key = `${prefix}monitor-barrier:${n++}`;
      barriers.add(key);
      await client.exists(key);
      await waitFor(() => !barriers.has(key), "MONITOR to catch up");
    },
    stop: () => mon.disconnect(),
  };
}

/**
 * Counts socket writes that carry `prefix` while `fn` runs: ioredis writes one pipeline in one
 * socket write, so this is the number of round trips the store started.
 */
function countSocketWrites(prefix: string): { readonly count: number; restore(): void } {
  const original = net.Socket.prototype.write;
  const counter = {
    count: 0,
    restore: () => {
      net.Socket.prototype.write = original;
    },
  };
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    const chunk = args[0];
    const text =
      typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("latin1") : "";
    if (text.includes(prefix)) counter.count++;
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof original;
  return counter;
}

async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== "0");
}

async function keysWith(client: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== "0");
  return out.sort();
}

describe("RedisStore (shared Redis on 127.0.0.1:6379)", () => {
  let admin: Redis;
  const prefixes: string[] = [];
  const stores: RedisStore[] = [];

  function newPrefix(): string {
    const prefix = `fsagent-test:${randomUUID()}:`;
    prefixes.push(prefix);
    return prefix;
  }

  async function newStore(
    prefix: string,
    options: Partial<RedisStoreOptions> = {},
    overrides: Partial<StorageConfig> = {},
  ): Promise<RedisStore> {
    const store = new RedisStore(config(prefix, overrides), {
      logger: options.logger ?? pino({ level: "silent" }),
      ...options,
    });
    stores.push(store);
    await waitFor(() => store.connected, "the store to connect to Redis");
    return store;
  }

  before(async () => {
    admin = new Redis({ ...SHARED, lazyConnect: true, maxRetriesPerRequest: 1 });
    admin.on("error", () => {});
    await admin.connect();
    assert.equal(await admin.ping(), "PONG");
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    for (const prefix of prefixes.splice(0)) await deleteKeys(admin, prefix);
  });

  after(() => {
    admin.disconnect();
  });

  it("writes behind: many saves of one leg become one SET of the latest state", async () => {
    const prefix = newPrefix();
    const clock = new ManualClock();
    const store = await newStore(prefix, { flushIntervalMs: 50, clock });
    const mon = await monitor(admin, prefix);
    try {
      for (let i = 1; i <= 200; i++) store.save(sampleLeg("leg-1", i));
      assert.equal(store.peek("leg-1")?.jitterCount, 200, "the hot map has it at once");
      clock.advance(49);
      assert.equal(clock.nextTimerAt(), clock.now() + 1, "the flush is due at 50 ms");
      await mon.barrier();
      assert.deepEqual(mon.commands, [], "nothing sent before the flush interval: behind");
      assert.equal(await admin.get(legKey(prefix, "leg-1")), null);
      clock.advance(1);
      await waitFor(() => op(store, "flush", "ok") === 1, "the flush timer to write the leg");
      assert.deepEqual(
        JSON.parse((await admin.get(legKey(prefix, "leg-1"))) ?? ""),
        sampleLeg("leg-1", 200),
      );
      clock.advance(150); // several more flush intervals: nothing else is written
      await mon.barrier();
      const sets = mon.commands.filter((c) => c[0] === "set");
      assert.equal(sets.length, 1, `one SET, got ${sets.length}`);
      assert.deepEqual(sets[0], [
        "set",
        legKey(prefix, "leg-1"),
        JSON.stringify(sampleLeg("leg-1", 200)),
        "PX",
        "60000",
      ]);
      assert.equal(op(store, "save", "ok"), 1);
      assert.equal(op(store, "flush", "ok"), 1);
      assert.equal(store.pending, 0);
    } finally {
      mon.stop();
    }
  });

  it("1,000 legs saved together go out as one pipeline (one socket write, one round trip)", async () => {
    const prefix = newPrefix();
    const store = await newStore(prefix, { flushIntervalMs: 10_000, batchSize: 1000 });
    const mon = await monitor(admin, prefix);
    const writes = countSocketWrites(prefix);
    try {
      // batchSize pending keys trigger the flush at once, without waiting for the interval.
      for (let i = 0; i < 1000; i++) store.save(sampleLeg(`leg-${i}`, i));
      await waitFor(() => op(store, "save", "ok") === 1000, "1,000 keys written", 3000);
      assert.equal(writes.count, 1, `socket writes carrying the keys: ${writes.count}`);
      assert.equal(op(store, "flush", "ok"), 1);
      await waitFor(() => mon.commands.length >= 1000, "MONITOR to see every SET");
      assert.equal(mon.commands.filter((c) => c[0] === "set").length, 1000);
      assert.equal((await keysWith(admin, prefix)).length, 1000);
    } finally {
      writes.restore();
      mon.stop();
    }
  });

  it("a backlog larger than one batch goes out in consecutive batches of batchSize", async () => {
    const prefix = newPrefix();
    const store = await newStore(prefix, { flushIntervalMs: 10_000, batchSize: 100 });
    for (let i = 0; i < 950; i++) store.save(sampleLeg(`leg-${i}`));
    await store.flush();
    assert.equal(op(store, "save", "ok"), 950);
    assert.equal(op(store, "flush", "ok"), 10);
    assert.equal(store.pending, 0);
    assert.equal((await keysWith(admin, prefix)).length, 950);
  });

  it("sets the TTL to legTtlMs and refreshes it on every write", async () => {
    const prefix = newPrefix();
    const store = await newStore(prefix, { flushIntervalMs: 10_000 }, { legTtlMs: 5_000 });
    store.save(sampleLeg("leg-ttl", 1));
    await store.flush();
    const first = await admin.pttl(legKey(prefix, "leg-ttl"));
    assert.ok(first > 4_800 && first <= 5_000, `PTTL after the first write: ${first}`);
    await sleep(300);
    const aged = await admin.pttl(legKey(prefix, "leg-ttl"));
    assert.ok(aged <= first - 250, `PTTL counts down: ${aged}`);
    store.save(sampleLeg("leg-ttl", 2));
    await store.flush();
    const refreshed = await admin.pttl(legKey(prefix, "leg-ttl"));
    assert.ok(refreshed > aged + 200, `PTTL refreshed by the next write: ${refreshed}`);
  });

  it("remove() deletes the key, and cancels a SET still pending", async () => {
    const prefix = newPrefix();
    const store = await newStore(prefix, { flushIntervalMs: 10_000 });
    store.save(sampleLeg("written"));
    await store.flush();
    assert.notEqual(await admin.get(legKey(prefix, "written")), null);

    const mon = await monitor(admin, prefix);
    try {
      store.remove("written");
      store.save(sampleLeg("pending", 1));
      store.save(sampleLeg("pending", 2));
      store.remove("pending"); // its SET never goes out
      assert.equal(store.peek("written"), undefined);
      assert.equal(store.peek("pending"), undefined);
      assert.equal(await store.load("written"), undefined, "removed: not read back before the DEL");
      await store.flush();
      assert.equal(await admin.get(legKey(prefix, "written")), null);
      assert.equal(await admin.get(legKey(prefix, "pending")), null);
      await mon.barrier();
      assert.equal(
        mon.commands.filter((c) => c[0] === "set").length,
        0,
        "no SET for a removed leg",
      );
      const dels = mon.commands.filter((c) => c[0] === "del");
      assert.equal(dels.length, 1, "one DEL command for the batch");
      assert.deepEqual(dels[0]?.slice(1).sort(), [
        legKey(prefix, "pending"),
        legKey(prefix, "written"),
      ]);
      assert.equal(op(store, "delete", "ok"), 2);
    } finally {
      mon.stop();
    }
  });

  it("a leg saved again after remove() is written again (the later operation wins)", async () => {
    const prefix = newPrefix();
    const store = await newStore(prefix, { flushIntervalMs: 10_000 });
    store.save(sampleLeg("again", 1));
    await store.flush();
    store.remove("again");
    store.save(sampleLeg("again", 2));
    await store.flush();
    assert.deepEqual(
      JSON.parse((await admin.get(legKey(prefix, "again"))) ?? ""),
      sampleLeg("again", 2),
    );
  });

  it("fenced writes: applied while the token is current, refused (counted, not retried, logged) once it is not", async () => {
    const prefix = newPrefix();
    const log = capturingLogger("info");
    const store = await newStore(prefix, { flushIntervalMs: 10_000, logger: log.logger });
    const fenceKey = `${prefix}ha:fence:fs1`;
    // The token scheme the lease manager uses ("<epoch>/<member>"); the store only compares.
    await admin.set(fenceKey, "1/replica-a#0001");
    const mine = { key: fenceKey, token: "1/replica-a#0001", instance: "fs1" };
    store.save(sampleLeg("kept", 1), mine);
    store.save(sampleLeg("gone", 1), mine);
    store.save(sampleLeg("plain", 1)); // no fence: not HA
    await store.flush();
    for (const leg of ["kept", "gone", "plain"]) {
      assert.deepEqual(JSON.parse((await admin.get(legKey(prefix, leg))) ?? ""), sampleLeg(leg, 1));
    }
    assert.ok((await admin.pttl(legKey(prefix, "kept"))) > 50_000, "written with the leg TTL");

    // Another replica takes fs1 over (a new token) and writes its newer state.
    await admin.set(fenceKey, "2/replica-b#0002");
    await admin.set(legKey(prefix, "kept"), JSON.stringify(sampleLeg("kept", 5)), "PX", 60_000);
    const mon = await monitor(admin, prefix);
    try {
      store.save(sampleLeg("kept", 2), mine); // late: this replica's pending write
      store.save(sampleLeg("late-new", 2), mine);
      store.remove("gone", mine);
      store.save(sampleLeg("plain", 2));
      await store.flush();
      await mon.barrier();
      assert.deepEqual(
        JSON.parse((await admin.get(legKey(prefix, "kept"))) ?? ""),
        sampleLeg("kept", 5),
        "the new owner's state stands",
      );
      assert.equal(await admin.get(legKey(prefix, "late-new")), null);
      assert.notEqual(await admin.get(legKey(prefix, "gone")), null, "nor is its DEL applied");
      assert.deepEqual(
        JSON.parse((await admin.get(legKey(prefix, "plain"))) ?? ""),
        sampleLeg("plain", 2),
      );
      assert.deepEqual(store.fencedWrites, { leg_state: 2, leg_delete: 1 });
      assert.equal(store.pending, 0, "refused writes are not retried");
      // One script call per fence and kind: the two fenced saves went in one.
      const evals = mon.commands.filter((c) => c[0] === "eval");
      assert.equal(evals.length, 2);
      assert.equal(op(store, "flush", "error"), 0, "a refusal is not a Redis failure");
      assert.match(
        log.text(),
        /HA: Redis refused this replica's late leg-state writes for fs1: another replica has owned it since/,
      );

      // Redis lost its data (no fence key): nobody has taken fs1 since, so nothing newer exists
      // and a holder's write restores what was lost; one made without holding fs1 ("") never
      // lands.
      await admin.del(fenceKey);
      store.save(sampleLeg("restored", 1), mine);
      store.save(sampleLeg("orphan", 1), { key: fenceKey, token: "", instance: "fs1" });
      await store.flush();
      assert.deepEqual(
        JSON.parse((await admin.get(legKey(prefix, "restored"))) ?? ""),
        sampleLeg("restored", 1),
      );
      assert.equal(await admin.get(legKey(prefix, "orphan")), null);
      assert.equal(store.fencedWrites.leg_state, 3);
    } finally {
      mon.stop();
    }
  });

  it("HA's durable loss: what each landed write adds, nothing for a refused one, what a timed-out write landed, the rest at remove", async () => {
    const prefix = newPrefix();
    const fenceKey = `${prefix}ha:fence:fs1`;
    await admin.set(fenceKey, "1/replica-a#0001");
    const mine = { key: fenceKey, token: "1/replica-a#0001", instance: "fs1" };
    const durable: [string, number, number][] = [];
    const options = {
      flushIntervalMs: 10_000,
      onDurableLoss: (uuid: string, inbound: number, outbound: number) => {
        durable.push([uuid, inbound, outbound]);
      },
    };
    const store = await newStore(prefix, options);
    // A leg's RTCP loss totals so far (summary.packetsLost per direction).
    const leg = (uuid: string, inbound: number, outbound: number) => {
      const base = sampleLeg(uuid, 1);
      const summary = addToSummary(null, {
        jitterMs: 4,
        fractionLost: 0.01,
        packetsLost: 0,
        rttMs: 40,
        mos: 4.2,
      });
      return {
        ...base,
        rtcpIn: { ...summary, packetsLost: inbound },
        rtcpOut: { ...summary, packetsLost: outbound },
      };
    };
    store.save(leg("x", 3, 1), mine);
    assert.deepEqual(durable, [], "nothing before Redis has it");
    await store.flush();
    store.save(leg("x", 5, 1), mine);
    store.save(leg("x", 6, 2), mine);
    await store.flush();
    assert.deepEqual(durable.splice(0), [
      ["x", 3, 1],
      ["x", 3, 1],
    ]);

    // Another process reads the leg from Redis: only what it adds afterwards is its own.
    const next = await newStore(prefix, options);
    assert.deepEqual((await next.load("x"))?.rtcpIn?.packetsLost, 6);
    next.save(leg("x", 8, 2), mine);
    await next.flush();
    assert.deepEqual(durable.splice(0), [["x", 2, 0]]);

    // This tenure's earlier write timed out (no reply) but landed at 10/3; then another replica
    // took fs1 over. The refused retry learns what landed: that much is durable, no more.
    await admin.eval(
      FENCED_SET_SCRIPT,
      3,
      fenceKey,
      landedKey(mine),
      legKey(prefix, "x"),
      mine.token,
      "60000",
      JSON.stringify(leg("x", 10, 3)),
      "10,3",
    );
    await admin.set(fenceKey, "2/replica-b#0002");
    next.save(leg("x", 12, 4), mine);
    await next.flush();
    assert.deepEqual(durable.splice(0), [["x", 2, 1]], "10/3 landed, 12/4 never will");
    assert.equal(next.fencedWrites.leg_state, 1);
    // The leg ends here all the same: what this replica saw after the refusal is reported.
    next.save(leg("x", 13, 4), mine);
    next.remove("x", mine);
    assert.deepEqual(durable.splice(0), [["x", 1, 0]]);
  });

  it("an unloaded leg whose write is refused leaves memory all the same", async () => {
    const prefix = newPrefix();
    const store = await newStore(prefix, { flushIntervalMs: 10_000 });
    const fenceKey = `${prefix}ha:fence:fs1`;
    await admin.set(fenceKey, "3/replica-b#0002");
    store.save(sampleLeg("handed", 1), {
      key: fenceKey,
      token: "2/replica-a#0001",
      instance: "fs1",
    });
    store.unload("handed");
    assert.notEqual(store.peek("handed"), undefined, "kept until its write is answered");
    await store.flush();
    assert.equal(store.peek("handed"), undefined);
    assert.equal(store.fencedWrites.leg_state, 1);
  });

  it("load() on a miss returns the state saved by another (restarted) agent", async () => {
    const prefix = newPrefix();
    const before = await newStore(prefix);
    const state = sampleLeg("survivor", 7);
    before.save(state);
    await before.close(); // close() flushes
    assert.equal(before.connected, false);

    const restarted = await newStore(prefix);
    assert.equal(restarted.peek("survivor"), undefined, "a new process starts empty");
    const loaded = await restarted.load("survivor");
    assert.deepEqual(loaded, state);
    assert.deepEqual(restarted.peek("survivor"), state, "a hit goes into the hot map");
    assert.equal(restarted.size, 1);
    assert.equal(await restarted.load("never-seen"), undefined);
    assert.equal(op(restarted, "load", "ok"), 2, "a hit and a clean miss");
    assert.equal(op(restarted, "load", "error"), 0);
    // Loading is not a change: nothing is written back.
    assert.equal(restarted.pending, 0);
  });

  it("a corrupt or foreign value reads as undefined, counted as a load error, logged once", async () => {
    const prefix = newPrefix();
    const log = capturingLogger();
    const store = await newStore(prefix, { logger: log.logger });
    await admin.set(legKey(prefix, "corrupt"), "{not json");
    await admin.set(legKey(prefix, "foreign"), JSON.stringify({ hello: "world" }));
    await admin.set(legKey(prefix, "other-uuid"), JSON.stringify(sampleLeg("someone-else")));
    const bad = { ...sampleLeg("bad-field"), jitterCount: "7" };
    await admin.set(legKey(prefix, "bad-field"), JSON.stringify(bad));
    await admin.hset(legKey(prefix, "wrong-type"), "a", "b");
    for (const uuid of ["corrupt", "foreign", "other-uuid", "bad-field", "wrong-type"]) {
      assert.equal(await store.load(uuid), undefined, uuid);
      assert.equal(store.peek(uuid), undefined, uuid);
    }
    assert.equal(op(store, "load", "error"), 5);
    assert.equal(op(store, "load", "ok"), 0);
    const warnings = log.lines.filter((l) => l.level === 40);
    assert.ok(warnings.length >= 1 && warnings.length <= 2, `rate-limited: ${warnings.length}`);
  });

  it("honours the key prefix: stores with different prefixes never see each other's legs", async () => {
    const p1 = newPrefix();
    const p2 = newPrefix();
    const one = await newStore(p1);
    const two = await newStore(p2);
    one.save(sampleLeg("shared-uuid", 1));
    two.save(sampleLeg("shared-uuid", 2));
    await Promise.all([one.flush(), two.flush()]);
    assert.deepEqual(await keysWith(admin, p1), [`${p1}leg:shared-uuid`]);
    assert.deepEqual(await keysWith(admin, p2), [`${p2}leg:shared-uuid`]);
    const third = await newStore(p1);
    assert.equal((await third.load("shared-uuid"))?.jitterCount, 1);
  });

  it("close() flushes what is pending, then disconnects; later calls are harmless", async () => {
    const prefix = newPrefix();
    const store = await newStore(prefix, { flushIntervalMs: 60_000 });
    store.save(sampleLeg("at-shutdown", 3));
    const quits = countSocketWrites("$4\r\nquit\r\n");
    try {
      await store.close();
    } finally {
      quits.restore();
    }
    assert.equal(quits.count, 1, "a graceful QUIT, not a cut connection");
    assert.equal(store.connected, false);
    assert.deepEqual(
      JSON.parse((await admin.get(legKey(prefix, "at-shutdown"))) ?? ""),
      sampleLeg("at-shutdown", 3),
    );
    store.save(sampleLeg("after-close"));
    store.remove("at-shutdown");
    assert.equal(await store.load("x"), undefined);
    await store.flush();
    await store.close();
  });

  it("createLegStore builds a Redis store from StorageConfig", async () => {
    const prefix = newPrefix();
    const store = createLegStore(config(prefix), { logger: pino({ level: "silent" }) });
    try {
      assert.equal(store.kind, "redis");
      assert.ok(store instanceof RedisStore);
      store.save(sampleLeg("factory"));
      await waitFor(() => store.connected, "connect");
      await store.flush();
      assert.notEqual(await admin.get(legKey(prefix, "factory")), null);
      assert.deepEqual(
        store.operations().map((o) => `${o.operation}:${o.status}`),
        [
          "save:ok",
          "save:error",
          "delete:ok",
          "delete:error",
          "load:ok",
          "load:error",
          "flush:ok",
          "flush:error",
        ],
      );
    } finally {
      await store.close();
    }
  });
});

describe("RedisStore.ready() on its clock", () => {
  it("answers false exactly at its bound when Redis never answers, and clears its timer", async () => {
    const clock = new ManualClock();
    const closed = await closedPort();
    const store = new RedisStore(
      config("never:", { redis: { ...config("never:").redis, port: closed } }),
      { logger: pino({ level: "silent" }), clock, sweepIntervalMs: 0 },
    );
    try {
      let answer: boolean | undefined;
      void store.ready(5000).then((ok) => {
        answer = ok;
      });
      clock.advance(4999);
      await yieldToLoop();
      assert.equal(answer, undefined, "still waiting at 4999 ms");
      clock.advance(1);
      await yieldToLoop();
      assert.equal(answer, false);
      assert.equal(clock.pendingTimers, 0);
    } finally {
      await store.close();
    }
  });
});

describe("RedisStore when Redis goes away (private redis-server)", () => {
  const PASSWORD = `pw-${randomUUID()}`;
  let port: number;
  let dir: { dir: string; remove(): void };
  let server: ChildProcess | null = null;
  let probe: Redis;

  function startServer(): ChildProcess {
    return spawnRedisServer(port, dir.dir, PASSWORD).child;
  }

  async function stopServer(): Promise<void> {
    const child = server;
    server = null;
    if (child !== null) await killProcess(child);
  }

  /** A store's configuration for the private server. */
  function privateConfig(keyPrefix: string, maxLegs = 1000): StorageConfig {
    return {
      type: "redis",
      maxLegs,
      legTtlMs: 60_000,
      redis: {
        host: "127.0.0.1",
        port,
        password: PASSWORD,
        db: 0,
        keyPrefix,
        username: "",
        tls: false,
        caFile: "",
      },
    };
  }

  before(async () => {
    port = await closedPort();
    dir = tempDir();
    server = startServer();
    probe = new Redis({
      host: "127.0.0.1",
      port,
      password: PASSWORD,
      retryStrategy: () => 25,
      maxRetriesPerRequest: null,
      disconnectTimeout: 50, // else disconnect() while the server is down holds the process 2 s
    });
    probe.on("error", () => {});
    assert.equal(await probe.ping(), "PONG");
  });

  after(async () => {
    probe.disconnect();
    await stopServer();
    dir.remove();
  });

  it("a leg removed while its GET is in flight does not come back from that GET", async () => {
    // The GET waits (CLIENT PAUSE) while the leg ends and the flush sends its DEL behind the
    // GET on the same connection: the GET then answers with the state just removed.
    const prefix = `race-${randomUUID()}:`;
    const clock = new ManualClock();
    const store = new RedisStore(privateConfig(prefix), {
      logger: pino({ level: "silent" }),
      flushIntervalMs: 50,
      clock,
    });
    try {
      await waitFor(() => store.connected, "the first connection");
      store.save(sampleLeg("race-1", 1));
      await store.flush();
      store.unload("race-1"); // written, so it leaves memory at once; Redis keeps it
      assert.equal(store.peek("race-1"), undefined);
      await probe.call("CLIENT", "PAUSE", "400", "ALL");
      const loading = store.load("race-1");
      store.remove("race-1");
      clock.advance(50); // the flush timer sends the DEL, queued behind the GET
      assert.equal(await loading, undefined, "the GET's answer is the removed state");
      assert.equal(store.peek("race-1"), undefined, "not put back in memory");
      await waitFor(() => store.pending === 0, "the DEL written", 2000);
      assert.equal(await probe.get(`${prefix}leg:race-1`), null);
    } finally {
      await store.close();
    }
  });

  it("a pipeline Redis refuses (OOM) is re-queued, retried at the flush pace, and written later", async () => {
    const prefix = `oom-${randomUUID()}:`;
    const clock = new ManualClock();
    const store = new RedisStore(privateConfig(prefix), {
      logger: pino({ level: "silent" }),
      flushIntervalMs: 50,
      sweepIntervalMs: 0,
      clock,
    });
    const refused = () => op(store, "flush", "error") ?? 0;
    /** One flush interval: nothing is sent before it is over, one attempt when it is. */
    const interval = async (): Promise<void> => {
      const before = refused();
      clock.advance(49);
      assert.equal(
        clock.nextTimerAt(),
        clock.now() + 1,
        "the next attempt is 50 ms after the last",
      );
      clock.advance(1);
      await waitFor(() => refused() === before + 1, "a refused flush");
    };
    try {
      await waitFor(() => store.connected, "the first connection");
      await probe.config("SET", "maxmemory", "1"); // noeviction (the default): writes refused
      for (let i = 0; i < 10; i++) store.save(sampleLeg(`leg-${i}`, 1));
      await interval();
      await interval();
      store.save(sampleLeg("leg-0", 2)); // newer state while refused: this one must be written
      // 300 ms more: six more attempts at the flush pace, not a tight loop.
      for (let i = 0; i < 6; i++) await interval();
      assert.equal(refused(), 8);
      assert.equal(op(store, "save", "ok"), 0);
      assert.equal(op(store, "save", "error"), 80, "each refused key counted, every attempt");
      assert.equal(store.pending, 10, "still one pending write per leg");
      await probe.config("SET", "maxmemory", "0");
      clock.advance(50);
      await waitFor(() => store.pending === 0, "the re-queued writes", 2000);
      assert.equal(op(store, "save", "ok"), 10);
      assert.equal(refused(), 8);
      assert.deepEqual(
        JSON.parse((await probe.get(legKey(prefix, "leg-0"))) ?? ""),
        sampleLeg("leg-0", 2),
      );
      assert.deepEqual(
        JSON.parse((await probe.get(legKey(prefix, "leg-9"))) ?? ""),
        sampleLeg("leg-9", 1),
      );
    } finally {
      await probe.config("SET", "maxmemory", "0");
      await store.close();
    }
  });

  it("keeps working in memory, fails fast, recovers by itself and writes the pending state", async (t) => {
    const unhandled: unknown[] = [];
    const onUnhandled = (error: unknown) => unhandled.push(error);
    process.on("unhandledRejection", onUnhandled);
    process.on("uncaughtException", onUnhandled);
    const log = capturingLogger();
    const prefix = "fsagent:";
    const store = new RedisStore(privateConfig(prefix, 20_000), {
      logger: log.logger,
      flushIntervalMs: 50,
      reconnect: { initialMs: 20, maxMs: 100 },
      commandTimeoutMs: 500,
    });
    try {
      await waitFor(() => store.connected, "the first connection");
      for (let i = 0; i < 100; i++) store.save(sampleLeg(`leg-${i}`, 1));
      await store.flush();
      assert.equal(op(store, "save", "ok"), 100);

      await stopServer();
      await waitFor(() => !store.connected, "the store to notice Redis is gone", 2000);

      // While Redis is down: saves keep working in memory with a smooth event loop.
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      const LEGS = 5000;
      for (let round = 2; round <= 6; round++) {
        for (let i = 0; i < LEGS; i++) store.save(sampleLeg(`leg-${i}`, round));
        await sleep(40);
      }
      // Fails fast: answered before the event loop comes round again, no I/O, no timer.
      let missing: unknown = "not answered";
      void store.load("not-in-memory").then((state) => {
        missing = state;
      });
      await yieldToLoop();
      assert.equal(missing, undefined, "load() while down answers at once");
      await sleep(200);
      delay.disable();
      const p99Ms = delay.percentile(99) / 1e6;
      t.diagnostic(
        `event-loop delay p99 ${p99Ms.toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
      );

      assert.ok(p99Ms < 50, `event-loop delay p99 ${p99Ms.toFixed(1)} ms`);
      assert.equal(store.size, LEGS);
      assert.equal(store.peek("leg-42")?.jitterCount, 6);
      assert.ok(store.pending <= 20_000, "pending writes bounded by maxLegs");
      assert.equal(store.pending, LEGS, "one pending write per leg, however many saves");
      assert.ok((op(store, "load", "error") ?? 0) >= 1, "the failed load is counted");
      assert.ok((op(store, "flush", "error") ?? 0) >= 1, "the failed flushes are counted");
      assert.equal(op(store, "save", "ok"), 100, "nothing claimed as written meanwhile");
      await store.flush(); // gives up at once (counted) rather than waiting for Redis
      const down = log.lines.filter((l) => (l.level as number) >= 40);
      assert.ok(down.length >= 1 && down.length <= 3, `warnings while down: ${down.length}`);

      // Redis comes back on the same port: the store reconnects by itself and writes it all.
      server = startServer();
      const restarted = performance.now();
      await waitFor(() => store.connected, "the store to reconnect by itself", 5000);
      await waitFor(() => store.pending === 0, "the pending writes to go out", 5000);
      t.diagnostic(
        `reconnected and wrote ${LEGS} pending legs ${(performance.now() - restarted).toFixed(0)} ms after the restart`,
      );
      const keys = Array.from({ length: LEGS }, (_, i) => legKey(prefix, `leg-${i}`));
      const values = await probe.mget(...keys);
      const stale = values.filter((v, i) => v !== JSON.stringify(sampleLeg(`leg-${i}`, 6)));
      assert.equal(stale.length, 0, `${stale.length} legs not written with their latest state`);
      assert.ok(
        log.lines.some((l) => l.level === 30 && String(l.msg).includes("recovered")),
        "the recovery is logged at info",
      );
      assert.equal(unhandled.length, 0, `unhandled: ${unhandled.map(String).join("; ")}`);
      assert.ok(!log.text().includes(PASSWORD), "the password never reaches the log");
    } finally {
      process.off("unhandledRejection", onUnhandled);
      process.off("uncaughtException", onUnhandled);
      await store.close();
    }
  });

  it("a frozen Redis (SIGSTOP: connected, silent) costs a bounded wait, then the same recovery", async () => {
    const prefix = `frozen-${randomUUID()}:`;
    const store = new RedisStore(privateConfig(prefix), {
      logger: pino({ level: "silent" }),
      flushIntervalMs: 50,
      commandTimeoutMs: 300,
      socketTimeoutMs: 600,
      connectTimeoutMs: 300,
      reconnect: { initialMs: 20, maxMs: 100 },
    });
    const frozen = server;
    try {
      await waitFor(() => store.connected, "the first connection");
      frozen?.kill("SIGSTOP");
      for (let i = 0; i < 100; i++) store.save(sampleLeg(`leg-${i}`, 1));
      const started = performance.now();
      assert.equal(await store.load("not-in-memory"), undefined);
      const waited = performance.now() - started;
      assert.ok(waited < 600, `load() against a frozen Redis waited ${waited.toFixed(0)} ms`);
      assert.equal(op(store, "load", "error"), 1);
      // The dead connection is detected (socketTimeout) and replaced by reconnect attempts.
      await waitFor(() => !store.connected, "the silent connection to be dropped", 3000);
      for (let i = 0; i < 100; i++) store.save(sampleLeg(`leg-${i}`, 2));
      frozen?.kill("SIGCONT");
      await waitFor(() => store.connected && store.pending === 0, "recovery and the writes", 5000);
      const values = await probe.mget(
        ...Array.from({ length: 100 }, (_, i) => legKey(prefix, `leg-${i}`)),
      );
      assert.ok(values.every((v, i) => v === JSON.stringify(sampleLeg(`leg-${i}`, 2))));
    } finally {
      frozen?.kill("SIGCONT");
      await store.close();
    }
  });

  it("close() gives up within its bound when Redis is down", async () => {
    await stopServer();
    const store = new RedisStore(privateConfig("x:", 100), {
      logger: pino({ level: "silent" }),
      reconnect: { initialMs: 20, maxMs: 50 },
    });
    store.save(sampleLeg("lost"));
    const started = performance.now();
    await store.close();
    assert.ok(performance.now() - started < 2500, "close() is bounded");
    assert.equal(store.connected, false);
    await yieldToLoop();
  });
});
