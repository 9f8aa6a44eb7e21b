import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decideUnreachable,
  type Reachability,
  UNREACHABLE_MARK_TTL_MS,
  UNREACHABLE_RELEASE_INTERVAL_MS,
  type UnreachableInput,
  unreachableNote,
} from "../src/ha/unreachable.js";
import { ManualClock } from "./support/manual-clock.js";

// Issue 21, "A lease holder that cannot reach its FreeSWITCH": the rules each replica applies per
// instance (src/ha/unreachable.ts), then three replicas applying them together over simulated
// minutes, with the Redis side (marks that expire, the once-a-minute release key) modelled here.

const RELEASE_AFTER = 30_000;
const OK: Reachability = { failingSince: null, error: null };

function input(overrides: Partial<UnreachableInput>): UnreachableInput {
  return {
    now: 100_000,
    releaseAfterMs: RELEASE_AFTER,
    self: "a#1",
    members: ["a#1", "b#1", "c#1"],
    marks: new Set(),
    held: true,
    reach: OK,
    releasedRecently: false,
    ...overrides,
  };
}

const failingFor = (ms: number): Reachability => ({
  failingSince: 100_000 - ms,
  error: "connection refused",
});

describe("decideUnreachable", () => {
  it("a holder keeps the lease until its connection has failed for the whole delay", () => {
    const d = decideUnreachable(input({ reach: failingFor(RELEASE_AFTER - 1) }));
    assert.deepEqual([d.mark, d.release, d.avoid], [false, false, false]);
  });

  it("then marks the instance and releases it to the live replicas that have not marked it", () => {
    const d = decideUnreachable(
      input({ reach: failingFor(RELEASE_AFTER), marks: new Set(["c#1"]) }),
    );
    assert.deepEqual([d.mark, d.release], [true, true]);
    assert.deepEqual(d.others, ["b#1"]);
  });

  it("keeps it, still trying, when every other live replica marked it or none is live", () => {
    const reach = failingFor(RELEASE_AFTER * 3);
    const all = decideUnreachable(input({ reach, marks: new Set(["b#1", "c#1"]) }));
    assert.deepEqual([all.mark, all.release, all.others.length], [true, false, 0]);
    const alone = decideUnreachable(input({ reach, members: ["a#1"] }));
    assert.deepEqual([alone.mark, alone.release], [true, false]);
    // A mark of a replica that is no longer live is not in `members`, so it changes nothing.
    const dead = decideUnreachable(
      input({ reach, members: ["a#1", "b#1"], marks: new Set(["c#1"]) }),
    );
    assert.deepEqual(dead.others, ["b#1"]);
  });

  it("never releases within a minute of the last release of the instance", () => {
    const d = decideUnreachable(
      input({ reach: failingFor(RELEASE_AFTER), releasedRecently: true }),
    );
    assert.deepEqual([d.mark, d.release], [true, false]);
  });

  it("clears its mark once connected", () => {
    const d = decideUnreachable(input({ marks: new Set(["a#1"]) }));
    assert.deepEqual([d.clear, d.mark, d.release], [true, false, false]);
  });

  it("a replica that marked it does not take it while a live replica that did not can", () => {
    const marked = input({ held: false, marks: new Set(["a#1"]) });
    assert.equal(decideUnreachable(marked).avoid, true);
    assert.equal(decideUnreachable({ ...marked, marks: new Set(["a#1", "b#1"]) }).avoid, true);
    assert.equal(
      decideUnreachable({ ...marked, marks: new Set(["a#1", "b#1", "c#1"]) }).avoid,
      false,
    );
    assert.equal(decideUnreachable({ ...marked, members: ["a#1"] }).avoid, false);
    assert.equal(decideUnreachable(input({ held: false })).avoid, false, "not marked: may take it");
  });
});

describe("unreachableNote", () => {
  it("says why for /health", () => {
    const d = decideUnreachable(input({ held: false, marks: new Set(["a#1"]) }));
    assert.equal(
      unreachableNote({
        decision: d,
        held: false,
        owner: "b",
        markedBy: [],
        failedForMs: 0,
        error: null,
        released: { failedForMs: 31_200, error: "connection refused" },
        releasedRecently: true,
      }),
      "released: unreachable from this replica for 31 s (connection refused); held by b",
    );
    const kept = decideUnreachable(
      input({ reach: failingFor(45_000), marks: new Set(["a#1", "b#1", "c#1"]) }),
    );
    assert.equal(
      unreachableNote({
        decision: kept,
        held: true,
        owner: "a",
        markedBy: ["b", "c"],
        failedForMs: 45_000,
        error: "host unreachable",
        released: null,
        releasedRecently: false,
      }),
      "held although unreachable from this replica for 45 s (host unreachable): no other live replica can reach it; unreachable from b, c too",
    );
  });
});

/**
 * Three replicas ticking every second on one clock, one instance. `reaches` says which replicas'
 * connections get through. Redis is modelled as the scripts use it: a mark expires
 * UNREACHABLE_MARK_TTL_MS after it was last written; a release sets a key for a minute (NX).
 * A free lease goes, at the next tick, to the first replica (in order) not avoiding it.
 */
function simulate(reaches: Record<string, boolean>, minutes: number) {
  const clock = new ManualClock(0);
  const ids = Object.keys(reaches);
  const marks = new Map<string, number>(); // member → expiry
  let releaseKeyUntil = Number.NEGATIVE_INFINITY;
  let owner: string | null = ids[0] ?? null;
  let failingSince: number | null = owner !== null && reaches[owner] ? null : clock.now();
  const releases: { at: number; by: string }[] = [];
  const held: { at: number; by: string }[] = [{ at: 0, by: owner ?? "" }];
  for (let t = 0; t < minutes * 60; t++) {
    clock.advance(1_000);
    const now = clock.now();
    for (const [m, until] of marks) if (until <= now) marks.delete(m);
    if (owner === null) {
      const taker = ids.find(
        (id) =>
          !decideUnreachable({
            now,
            releaseAfterMs: RELEASE_AFTER,
            self: id,
            members: ids,
            marks: new Set(marks.keys()),
            held: false,
            reach: OK,
            releasedRecently: now < releaseKeyUntil,
          }).avoid,
      );
      if (taker === undefined) continue;
      owner = taker;
      failingSince = reaches[taker] ? null : now;
      held.push({ at: now, by: taker });
      continue;
    }
    const d = decideUnreachable({
      now,
      releaseAfterMs: RELEASE_AFTER,
      self: owner,
      members: ids,
      marks: new Set(marks.keys()),
      held: true,
      reach: { failingSince, error: failingSince === null ? null : "connection refused" },
      releasedRecently: now < releaseKeyUntil,
    });
    if (d.mark) marks.set(owner, now + UNREACHABLE_MARK_TTL_MS);
    if (d.clear) marks.delete(owner);
    if (d.release && now >= releaseKeyUntil) {
      releaseKeyUntil = now + UNREACHABLE_RELEASE_INTERVAL_MS;
      releases.push({ at: now, by: owner });
      owner = null;
    }
  }
  return { releases, held, owner };
}

describe("three replicas applying the rules together (ManualClock)", () => {
  it("the holder that alone cannot reach it hands over once, 30 s in, and the instance stays put", () => {
    const { releases, held, owner } = simulate({ a: false, b: true, c: true }, 20);
    assert.deepEqual(releases, [{ at: RELEASE_AFTER, by: "a" }]);
    assert.equal(owner, "b");
    assert.equal(held.length, 2, "a, then b for good (a does not take it back)");
  });

  it("when nobody can reach it, one replica keeps it and it moves at most once a minute", () => {
    const { releases, held, owner } = simulate({ a: false, b: false, c: false }, 30);
    assert.notEqual(owner, null, "always one owner trying");
    assert.ok(releases.length >= 2, "each replica gets its turn first");
    for (let i = 1; i < releases.length; i++) {
      const gap = (releases[i]?.at ?? 0) - (releases[i - 1]?.at ?? 0);
      assert.ok(gap >= UNREACHABLE_RELEASE_INTERVAL_MS, `releases ${gap} ms apart`);
    }
    // A replica takes it back only once its mark has run out: the cool-down.
    for (const release of releases) {
      const back = held.find((h) => h.by === release.by && h.at > release.at);
      if (back !== undefined) assert.ok(back.at - release.at >= UNREACHABLE_MARK_TTL_MS);
    }
  });

  it("a replica that can reach it keeps it: no mark, no release", () => {
    const { releases, held } = simulate({ a: true, b: true, c: true }, 10);
    assert.deepEqual(releases, []);
    assert.equal(held.length, 1);
  });
});
