import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff, backoffDelay } from "../src/util/backoff.js";

// The ESL reconnection's policy: esl.backoff's defaults, full jitter (connection.ts).
const config = { initialMs: 1000, factor: 2, maxMs: 30_000, jitter: "full" } as const;

test("ceiling doubles from the initial delay up to the cap", () => {
  const backoff = new Backoff(config, () => 0.999_999);
  const ceilings: number[] = [];
  for (let i = 0; i < 8; i++) {
    ceilings.push(backoff.ceiling());
    backoff.next();
  }
  assert.deepEqual(ceilings, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test("full jitter: each delay is drawn from [0, ceiling)", () => {
  const draws = [0, 0.5, 0.25, 0.999];
  let i = 0;
  const backoff = new Backoff(config, () => draws[i++ % draws.length]!);
  assert.equal(backoff.next(), 0);
  assert.equal(backoff.next(), 1000); // 0.5 × 2000
  assert.equal(backoff.next(), 1000); // 0.25 × 4000
  assert.equal(backoff.next(), 7992); // 0.999 × 8000
});

test("reset returns to the initial ceiling", () => {
  const backoff = new Backoff(config, () => 0.5);
  for (let i = 0; i < 10; i++) backoff.next();
  assert.equal(backoff.ceiling(), 30_000);
  backoff.reset();
  assert.equal(backoff.attempts, 0);
  assert.equal(backoff.ceiling(), 1000);
});

test("a very long outage never overflows the ceiling", () => {
  const backoff = new Backoff(config, () => 0.5);
  for (let i = 0; i < 10_000; i++) backoff.next();
  assert.equal(backoff.ceiling(), 30_000);
  assert.ok(Number.isFinite(backoff.next()));
});

test("no jitter: the ceiling itself, as the export sender waits (1 s doubling to 30 s)", () => {
  const policy = { initialMs: 1000, maxMs: 30_000 };
  const delays = [0, 1, 2, 3, 4, 5, 6, 100].map((n) => backoffDelay(n, policy, () => 0.5));
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test("equal jitter: from half the ceiling to all of it, rounded (the Redis reconnections)", () => {
  const policy = { initialMs: 100, maxMs: 5000, jitter: "equal" } as const;
  assert.equal(
    backoffDelay(0, policy, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(0, policy, () => 0.999_999),
    100,
  );
  assert.equal(
    backoffDelay(3, policy, () => 0.5),
    600,
  ); // 800 / 2 + 0.5 × 800 / 2
  assert.equal(
    backoffDelay(1000, policy, () => 0),
    2500,
  );
});
