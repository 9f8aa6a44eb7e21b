import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { silentLogger } from "../src/log/logger.js";
import type { LegState } from "../src/quality/types.js";
import { createLegStore } from "../src/state/create-store.js";
import { type DropReason, MemoryStore } from "../src/state/memory-store.js";
import { ManualClock } from "./support/manual-clock.js";

function leg(uuid: string, jitterCount = 0): LegState {
  return {
    uuid,
    callUuid: uuid,
    sipCallId: `${uuid}@sip`,
    ownDomain: "",
    labels: {
      channelId: uuid,
      correlationId: `${uuid}@sip`,
      domainName: "example.com",
      callDirection: "inbound",
      codecName: "PCMU",
      srcIp: "192.0.2.1",
      dstIp: "192.0.2.2",
    },
    rtpRate: 8000,
    inbound: [],
    outbound: [],
    videoSsrcs: [],
    jitterSumMs: 0,
    jitterCount,
    farEndLost: 0,
    qosReported: false,
    rtcpIn: null,
    rtcpOut: null,
    labelSource: "event",
  };
}

const HOUR = 3_600_000;

describe("MemoryStore", () => {
  it("keeps legs, peeks synchronously, and has nothing durable", async () => {
    const store = new MemoryStore({ maxLegs: 10, legTtlMs: HOUR, sweepIntervalMs: 0 });
    const a = leg("a");
    store.save(a);
    assert.equal(store.kind, "memory");
    assert.equal(store.peek("a"), a, "the very object saved: no copy, no wrapper");
    assert.equal(store.peek("b"), undefined);
    assert.equal(store.size, 1);
    assert.equal(await store.load("a"), undefined, "load() never has a durable copy");
    assert.deepEqual(store.operations(), []);
    await store.flush();
    await store.close();
  });

  it("latest save wins", () => {
    const store = new MemoryStore({ maxLegs: 10, legTtlMs: HOUR, sweepIntervalMs: 0 });
    store.save(leg("a", 1));
    store.save(leg("a", 2));
    assert.equal(store.size, 1);
    assert.equal(store.peek("a")?.jitterCount, 2);
  });

  it("evicts the least recently saved leg past maxLegs, and counts it", () => {
    const dropped: [string, DropReason][] = [];
    const store = new MemoryStore({
      maxLegs: 3,
      legTtlMs: HOUR,
      sweepIntervalMs: 0,
      onDrop: (uuid, reason) => dropped.push([uuid, reason]),
    });
    for (const id of ["a", "b", "c"]) store.save(leg(id));
    store.save(leg("a", 1)); // a is now the most recent: b is the oldest
    store.save(leg("d"));
    assert.equal(store.size, 3);
    assert.equal(store.evicted, 1);
    assert.equal(store.peek("b"), undefined);
    assert.deepEqual([...store.uuids()].sort(), ["a", "c", "d"]);
    store.save(leg("e"));
    assert.equal(store.peek("c"), undefined, "then c, the next oldest");
    assert.equal(store.evicted, 2);
    assert.deepEqual(dropped, [
      ["b", "evicted"],
      ["c", "evicted"],
    ]);
    // Updating a leg already present never evicts.
    store.save(leg("d", 5));
    assert.equal(store.evicted, 2);
    assert.equal(store.expired, 0);
  });

  it("expires legs not saved for legTtlMs (injected clock, manual sweep), and counts them", () => {
    const clock = new ManualClock();
    const dropped: string[] = [];
    const store = new MemoryStore({
      maxLegs: 100,
      legTtlMs: 10_000,
      clock,
      sweepIntervalMs: 0,
      onDrop: (uuid, reason) => dropped.push(`${uuid}:${reason}`),
    });
    store.save(leg("a"));
    clock.advance(4_000);
    store.save(leg("b"));
    clock.advance(5_999);
    assert.equal(store.sweep(), 0, "a is 9.999 s old: not yet");
    clock.advance(1);
    assert.equal(store.sweep(), 1, "a is exactly 10 s old");
    assert.equal(store.peek("a"), undefined);
    assert.ok(store.peek("b"));
    assert.equal(store.expired, 1);
    assert.equal(store.evicted, 0);
    assert.deepEqual(dropped, ["a:expired"]);
  });

  it("a re-save refreshes expiry; remove() forgets at once and is not counted", () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ maxLegs: 100, legTtlMs: 10_000, clock, sweepIntervalMs: 0 });
    store.save(leg("a"));
    store.save(leg("b"));
    store.save(leg("c"));
    clock.advance(8_000);
    store.save(leg("a", 1)); // refreshed: now the newest
    clock.advance(2_000);
    assert.equal(store.sweep(), 2, "b and c expire");
    assert.deepEqual([...store.uuids()], ["a"]);
    clock.advance(7_999);
    assert.equal(store.sweep(), 0, "a lives 10 s from its last save");
    store.remove("a");
    store.remove("never-saved");
    assert.equal(store.size, 0);
    assert.equal(store.expired, 2);
    assert.equal(store.evicted, 0);
  });

  it("sweeps on its own timer with bounded work per step", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({
      maxLegs: 100_000,
      legTtlMs: 60_000,
      clock,
      sweepIntervalMs: 1_000,
      sweepBatch: 1_000,
    });
    for (let i = 0; i < 25_000; i++) store.save(leg(`old-${i}`));
    clock.advance(30_000);
    for (let i = 0; i < 10; i++) store.save(leg(`new-${i}`));
    assert.equal(store.expired, 0);
    // The timer fires every second; the old legs are 60 s old at t = 60 s.
    clock.advance(29_999);
    assert.equal(store.expired, 0);
    // One step removes at most 1,000; a full step re-arms at delay 0 (1 ms, as Node runs it), so
    // the backlog drains in 25 steps within 25 ms (each a separate timer callback, not one long
    // loop).
    let steps = 0;
    assert.equal(clock.pendingTimers, 1, "exactly one sweep timer");
    const original = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn, ms) => {
      steps++;
      return original(fn, ms);
    };
    clock.advance(1_000);
    assert.equal(store.expired, 25_000);
    assert.equal(store.size, 10);
    assert.ok(steps >= 25, `the backlog took ${steps} steps`);
    await store.close();
    assert.equal(clock.pendingTimers, 0, "close() stops the timer");
  });

  it("the sweep timer is unref'd (it never keeps the process alive)", async () => {
    let unrefs = 0;
    const clock = new ManualClock();
    const original = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn, ms) => {
      const handle = original(fn, ms);
      return {
        unref: () => {
          unrefs++;
          return handle;
        },
      };
    };
    const store = new MemoryStore({ maxLegs: 10, legTtlMs: HOUR, clock });
    assert.equal(unrefs, 1);
    await store.close();
  });

  it("size never exceeds maxLegs and the map behaves as an LRU with expiry (model check)", () => {
    type Op =
      | { kind: "save"; id: number }
      | { kind: "remove"; id: number }
      | { kind: "tick"; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant("save"), id: fc.nat(30) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove"), id: fc.nat(30) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("tick"), ms: fc.nat(400) }) },
    ) as fc.Arbitrary<Op>;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(op, { minLength: 20, maxLength: 300, size: "max" }),
        (max, ops) => {
          const clock = new ManualClock();
          const ttl = 1_000;
          const store = new MemoryStore({ maxLegs: max, legTtlMs: ttl, clock, sweepIntervalMs: 0 });
          // The model: uuids in order of last save, with their save times.
          let model: { id: string; at: number }[] = [];
          let evicted = 0;
          let expired = 0;
          for (const o of ops) {
            if (o.kind === "save") {
              const id = `leg-${o.id}`;
              const present = model.some((m) => m.id === id);
              model = model.filter((m) => m.id !== id);
              if (!present && model.length >= max) {
                model.shift();
                evicted++;
              }
              model.push({ id, at: clock.now() });
              store.save(leg(id));
            } else if (o.kind === "remove") {
              model = model.filter((m) => m.id !== `leg-${o.id}`);
              store.remove(`leg-${o.id}`);
            } else {
              clock.advance(o.ms);
              const live = model.filter((m) => clock.now() - m.at < ttl);
              expired += model.length - live.length;
              model = live;
              store.sweep(Number.MAX_SAFE_INTEGER);
            }
            assert.ok(store.size <= max, `size ${store.size} > maxLegs ${max}`);
            assert.deepEqual([...store.uuids()].sort(), model.map((m) => m.id).sort());
            assert.equal(store.evicted, evicted);
            assert.equal(store.expired, expired);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("createLegStore", () => {
  it("builds a memory store from StorageConfig", async () => {
    const store = createLegStore(
      {
        type: "memory",
        maxLegs: 2,
        legTtlMs: HOUR,
        redis: {
          host: "127.0.0.1",
          port: 6379,
          password: "",
          db: 0,
          keyPrefix: "fsagent:",
          username: "",
          tls: false,
          caFile: "",
        },
      },
      { logger: silentLogger() },
    );
    assert.equal(store.kind, "memory");
    for (const id of ["a", "b", "c"]) store.save(leg(id));
    assert.equal(store.size, 2);
    assert.equal(store.evicted, 1);
    await store.close();
  });
});
