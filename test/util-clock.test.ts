import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withTimeout } from "../src/util/clock.js";
import { ManualClock } from "./support/manual-clock.js";

// The shared manual clock every timing unit test drives (test/support/manual-clock.ts), and the
// clock helpers of src/util/clock.ts on it.

describe("ManualClock", () => {
  it("fires due timers in due order, ties in the order they were set, with now() at each one's instant", () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
    clock.setTimeout(at("c"), 30);
    clock.setTimeout(at("a"), 10);
    clock.setTimeout(at("b1"), 20);
    clock.setTimeout(at("b2"), 20);
    clock.advance(19);
    assert.deepEqual(fired, ["a@1010"]);
    assert.equal(clock.now(), 1_019);
    clock.advance(11);
    assert.deepEqual(fired, ["a@1010", "b1@1020", "b2@1020", "c@1030"]);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(clock.scheduled, 4);
  });

  it("fires timers set while advancing when they fall due before the end, not after", () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    const tick = (): void => {
      fired.push(clock.now());
      clock.setTimeout(tick, 100);
    };
    clock.setTimeout(tick, 100);
    clock.advance(350);
    assert.deepEqual(fired, [100, 200, 300]);
    assert.equal(clock.nextTimerAt(), 400);
  });

  it("takes delays as Node does: below 1 ms or past 2^31 − 1 ms means 1 ms", () => {
    const clock = new ManualClock(0);
    for (const ms of [0, -5, Number.NaN, 2 ** 31]) clock.setTimeout(() => undefined, ms);
    assert.equal(clock.nextTimerAt(), 1);
    clock.advance(0);
    assert.equal(clock.pendingTimers, 4, "a 0 ms timer does not fire without time passing");
    clock.advance(1);
    assert.equal(clock.pendingTimers, 0);
  });

  it("clearTimeout cancels; advanceTo fires one timer at a time", () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    const first = clock.setTimeout(() => fired.push(1), 10);
    clock.setTimeout(() => fired.push(2), 20);
    clock.setTimeout(() => fired.push(3), 30);
    clock.clearTimeout(first);
    assert.equal(clock.advanceTo(100), true);
    assert.deepEqual(fired, [2]);
    assert.equal(clock.now(), 20);
    assert.equal(clock.advanceTo(25), false);
    assert.equal(clock.now(), 25);
    assert.equal(clock.advanceTo(100), true);
    assert.equal(clock.advanceTo(100), false);
    assert.deepEqual(fired, [2, 3]);
    assert.equal(clock.now(), 100);
    assert.throws(() => clock.advance(-1), RangeError);
  });
});

describe("withTimeout on the injected clock", () => {
  it("gives up exactly at its bound, and clears its timer when the promise wins", async () => {
    const clock = new ManualClock(0);
    const never = new Promise<string>(() => undefined);
    let result: string | undefined = "pending";
    void withTimeout(never, 500, clock).then((value) => {
      result = value;
    });
    clock.advance(499);
    await Promise.resolve();
    assert.equal(result, "pending");
    clock.advance(1);
    await Promise.resolve();
    assert.equal(result, undefined);

    assert.equal(await withTimeout(Promise.resolve("done"), 500, clock), "done");
    assert.equal(await withTimeout(Promise.reject(new Error("x")), 500, clock), undefined);
    assert.equal(clock.pendingTimers, 0, "the timers of settled promises are cleared");
  });
});
