import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type BalancePlan, planBalance } from "../src/ha/balance.js";

// The balance rules on their own: replicas act on a shared table of lease holders (what Redis
// holds), one after the other in a shuffled order, with SET NX semantics for acquisitions.

type Owners = Map<string, string | null>;

function names(n: number, prefix: string): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

function planFor(
  self: string,
  members: readonly string[],
  instances: readonly string[],
  owners: Owners,
): BalancePlan {
  const held = new Set(instances.filter((i) => owners.get(i) === self));
  return planBalance({ instances, self, members, owners, held, busy: new Set() });
}

/** One round: every replica plans on the current table and acts (release first, then NX). */
function round(
  members: readonly string[],
  instances: readonly string[],
  owners: Owners,
  order: readonly string[],
): number {
  let changes = 0;
  for (const self of order) {
    const plan = planFor(self, members, instances, owners);
    for (const instance of plan.release) {
      owners.set(instance, null);
      changes++;
    }
    for (const instance of plan.acquire) {
      if (owners.get(instance) === null) {
        owners.set(instance, self);
        changes++;
      }
    }
  }
  return changes;
}

function counts(members: readonly string[], owners: Owners): number[] {
  return members.map((m) => [...owners.values()].filter((o) => o === m).length);
}

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Runs rounds until nothing changes; returns how many rounds changed something. */
function settle(
  members: readonly string[],
  instances: readonly string[],
  owners: Owners,
  random: () => number,
): number {
  for (let rounds = 0; rounds < 20; rounds++) {
    if (round(members, instances, owners, shuffled(members, random)) === 0) return rounds;
  }
  assert.fail(`no steady state after 20 rounds: ${JSON.stringify([...owners])}`);
}

function assertBalanced(
  members: readonly string[],
  instances: readonly string[],
  owners: Owners,
): void {
  const m = instances.length;
  const n = members.length;
  for (const instance of instances)
    assert.ok(owners.get(instance) !== null, `${instance} is owned`);
  for (const [i, c] of counts(members, owners).entries()) {
    assert.ok(
      c >= Math.floor(m / n) && c <= Math.ceil(m / n),
      `${members[i]} holds ${c} of ${m} over ${n}`,
    );
  }
}

describe("HA balance", () => {
  it("3 replicas starting together share 5 instances 2/2/1", () => {
    const instances = names(5, "fs");
    const members = names(3, "r");
    const owners: Owners = new Map(instances.map((i) => [i, null]));
    settle(members, instances, owners, prng(1));
    assert.deepEqual(counts(members, owners).sort(), [1, 2, 2]);
  });

  it("a late joiner gets its share: the replica above the cap hands one over", () => {
    const instances = names(5, "fs");
    const owners: Owners = new Map(instances.map((i, n) => [i, n < 3 ? "r1" : "r2"]));
    const members = ["r1", "r2", "r3"];
    const r1 = planFor("r1", members, instances, owners);
    assert.equal(r1.cap, 2);
    assert.equal(r1.release.length, 1, "r1 holds 3 > ceil(5/3)");
    assert.deepEqual(planFor("r2", members, instances, owners).release, [], "r2 is at the cap");
    const r3 = planFor("r3", members, instances, owners);
    assert.equal(r3.waiting, true, "nothing free yet: the joiner looks again soon");
    settle(members, instances, owners, prng(2));
    assert.deepEqual(counts(members, owners), [2, 2, 1]);
  });

  it("when every replica is at the cap, exactly the highest-ranked ones donate to a joiner", () => {
    const instances = names(4, "fs");
    const owners: Owners = new Map(instances.map((i, n) => [i, n < 2 ? "r1" : "r2"]));
    const members = ["r1", "r2", "r3"];
    const donors = members.filter((m) => planFor(m, members, instances, owners).release.length > 0);
    assert.deepEqual(donors, ["r1"], "one lease is missing, so one donor: the first by name");
    settle(members, instances, owners, prng(3));
    assert.deepEqual(counts(members, owners).sort(), [1, 1, 2]);
  });

  it("the survivors take a dead replica's instances once its leases are free, up to the new cap", () => {
    const instances = names(5, "fs");
    const owners: Owners = new Map([
      ["fs1", "r1"],
      ["fs2", "r1"],
      ["fs3", "r2"],
      ["fs4", "r2"],
      ["fs5", "r3"],
    ]);
    // r1 died; its leases have expired and its heartbeat is gone.
    owners.set("fs1", null);
    owners.set("fs2", null);
    const members = ["r2", "r3"];
    settle(members, instances, owners, prng(4));
    assertBalanced(members, instances, owners);
    assert.deepEqual(counts(members, owners).sort(), [2, 3]);
  });

  it("leases of a replica that is no longer live count for nobody, and are not taken before they expire", () => {
    const instances = names(3, "fs");
    const owners: Owners = new Map([
      ["fs1", "dead"],
      ["fs2", null],
      ["fs3", null],
    ]);
    const plan = planFor("r1", ["r1"], instances, owners);
    assert.deepEqual([...plan.acquire].sort(), ["fs2", "fs3"]);
  });

  it("a replica at its floor leaves the free leases to the replicas below theirs", () => {
    const instances = names(6, "fs");
    // r1 holds 2 (its floor and cap), r2 holds 1, r3 none; fs4..fs6 free, cap 2.
    const owners: Owners = new Map([
      ["fs1", "r1"],
      ["fs2", "r1"],
      ["fs3", "r2"],
      ["fs4", null],
      ["fs5", null],
      ["fs6", null],
    ]);
    const members = ["r1", "r2", "r3"];
    assert.deepEqual(planFor("r1", members, instances, owners).acquire, []);
    assert.equal(planFor("r2", members, instances, owners).acquire.length, 1, "one left for r2");
    const r3 = planFor("r3", members, instances, owners);
    assert.equal(r3.needy, true);
    assert.equal(r3.acquire.length, 2);
  });

  it("a lease Redis still gives to this replica is free for it to take back", () => {
    const instances = ["fs1"];
    const owners: Owners = new Map([["fs1", "r1"]]);
    const plan = planBalance({
      instances,
      self: "r1",
      members: ["r1"],
      owners,
      held: new Set(),
      busy: new Set(),
    });
    assert.deepEqual(plan.acquire, ["fs1"]);
    const busy = planBalance({
      instances,
      self: "r1",
      members: ["r1"],
      owners,
      held: new Set(),
      busy: new Set(["fs1"]),
    });
    assert.deepEqual(busy.acquire, [], "not while it is being handed over");
  });

  it("converges from any assignment to floor/ceil shares with every instance owned, and stays put", () => {
    const random = prng(42);
    for (let trial = 0; trial < 300; trial++) {
      const m = Math.floor(random() * 13);
      const n = 1 + Math.floor(random() * 6);
      const instances = names(m, "fs");
      const members = names(n, "r");
      // Any start: free, held by a live replica, or by one that died.
      const owners: Owners = new Map(
        instances.map((i) => {
          const pick = Math.floor(random() * (n + 2));
          return [i, pick < n ? (members[pick] ?? null) : pick === n ? null : "gone"];
        }),
      );
      // Leases of the dead replica expire.
      for (const [i, o] of owners) if (o === "gone") owners.set(i, null);
      const rounds = settle(members, instances, owners, random);
      assert.ok(rounds <= 6, `M=${m} N=${n} took ${rounds} rounds`);
      assertBalanced(members, instances, owners);
      // Steady: nobody plans anything any more.
      for (const self of members) {
        const plan = planFor(self, members, instances, owners);
        assert.deepEqual([plan.acquire, plan.release], [[], []], `M=${m} N=${n} ${self}`);
      }
    }
  });
});

// Issue 21, a holder that cannot reach its FreeSWITCH: replicas that marked an instance
// unreachable do not take it (the lease manager puts it in `busy`), and the others must still
// own every instance.
describe("HA balance with instances marked unreachable", () => {
  type Marks = Map<string, Set<string>>;

  function planWithMarks(
    self: string,
    members: string[],
    instances: string[],
    owners: Owners,
    marks: Marks,
  ) {
    const held = new Set(instances.filter((i) => owners.get(i) === self));
    const busy = new Set(instances.filter((i) => !held.has(i) && marks.get(i)?.has(self) === true));
    return planBalance({ instances, self, members, owners, held, busy, marks });
  }

  it("a replica above the cap gives up an instance another replica can take, not one only it can", () => {
    const instances = ["fs1", "fs2", "fs3"];
    const members = ["r1", "r2", "r3"];
    const owners: Owners = new Map([
      ["fs1", "r2"],
      ["fs2", "r2"],
      ["fs3", "r3"],
    ]);
    // Whichever r2 prefers, it keeps the one r1 (the only replica with room) cannot reach.
    const keepFs1 = planWithMarks(
      "r2",
      members,
      instances,
      owners,
      new Map([["fs1", new Set(["r1"])]]),
    );
    assert.deepEqual(keepFs1.release, ["fs2"]);
    const keepFs2 = planWithMarks(
      "r2",
      members,
      instances,
      owners,
      new Map([["fs2", new Set(["r1"])]]),
    );
    assert.deepEqual(keepFs2.release, ["fs1"]);
  });

  it("a free instance only marked replicas have room for is taken above the cap, not left unowned", () => {
    const instances = ["fs1", "fs2", "fs3"];
    const members = ["r1", "r2", "r3"];
    const owners: Owners = new Map([
      ["fs1", null],
      ["fs2", "r2"],
      ["fs3", "r3"],
    ]);
    const marks: Marks = new Map([["fs1", new Set(["r1"])]]);
    assert.deepEqual(planWithMarks("r1", members, instances, owners, marks).acquire, []);
    assert.deepEqual(planWithMarks("r2", members, instances, owners, marks).acquire, ["fs1"]);
    assert.deepEqual(planWithMarks("r3", members, instances, owners, marks).acquire, ["fs1"]);
    // Unmarked, the same table leaves fs1 to r1, below its floor.
    assert.deepEqual(planWithMarks("r2", members, instances, owners, new Map()).acquire, []);
  });

  it("converges with every instance owned by a replica that did not mark it", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = prng(seed);
      const members = names(2 + Math.floor(random() * 3), "r");
      const instances = names(1 + Math.floor(random() * 7), "fs");
      const owners: Owners = new Map(instances.map((i) => [i, null]));
      // Each instance marked by some replicas, never all (then the rules keep one trying).
      const marks: Marks = new Map(
        instances.map((i) => [
          i,
          new Set(members.filter(() => random() < 0.3).slice(0, members.length - 1)),
        ]),
      );
      let steady = false;
      for (let rounds = 0; rounds < 30 && !steady; rounds++) {
        let changes = 0;
        for (const self of shuffled(members, random)) {
          const plan = planWithMarks(self, members, instances, owners, marks);
          for (const instance of plan.release) {
            owners.set(instance, null);
            changes++;
          }
          for (const instance of plan.acquire) {
            if (owners.get(instance) === null) {
              owners.set(instance, self);
              changes++;
            }
          }
        }
        steady = changes === 0;
      }
      const table = JSON.stringify({
        owners: [...owners],
        marks: [...marks].map(([i, m]) => [i, [...m]]),
      });
      assert.ok(steady, `seed ${seed}: steady state (${table})`);
      for (const instance of instances) {
        const owner = owners.get(instance) ?? null;
        assert.notEqual(owner, null, `seed ${seed}: ${instance} owned (${table})`);
        assert.equal(
          marks.get(instance)?.has(owner ?? ""),
          false,
          `seed ${seed}: ${instance} (${table})`,
        );
      }
    }
  });
});
