import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { pino } from "pino";
import { RateLimitedLog } from "../src/log/rate-limit.js";
import { ManualClock } from "./support/manual-clock.js";

interface Line {
  level: number;
  msg: string;
  repeated?: number;
  [field: string]: unknown;
}

const INFO = 30;
const WARN = 40;
const ERROR = 50;
const WINDOW = 60_000;

let clock: ManualClock;
let lines: Line[];
let log: RateLimitedLog;

function setup(windowMs = WINDOW): void {
  clock = new ManualClock();
  lines = [];
  const logger = pino(
    { level: "debug", base: null, timestamp: false },
    { write: (text: string) => lines.push(JSON.parse(text) as Line) },
  );
  log = new RateLimitedLog(logger, windowMs, clock);
}

beforeEach(() => setup());
// RateLimitedLog only reads the time: it never schedules a timer (nothing to keep alive or cancel).
afterEach(() => assert.equal(clock.scheduled, 0, "no timer scheduled"));

describe("RateLimitedLog", () => {
  it("logs the first occurrence of a key at once, with its fields and level", () => {
    log.warn("fs1:connection refused", { reason: "connection refused" }, "cannot connect");
    assert.deepEqual(lines, [{ level: WARN, reason: "connection refused", msg: "cannot connect" }]);
  });

  it("only counts repeats inside the window", () => {
    log.warn("k", {}, "failed");
    for (let i = 0; i < 50; i++) {
      clock.advance(1000);
      log.warn("k", {}, "failed");
    }
    assert.equal(lines.length, 1);
  });

  it("logs the next occurrence after the window with repeated: N and the latest fields", () => {
    log.warn("k", { attempt: 0 }, "failed (attempt 0)");
    clock.advance(10);
    log.warn("k", { attempt: 1 }, "failed (attempt 1)");
    clock.advance(10);
    log.warn("k", { attempt: 2 }, "failed (attempt 2)");
    clock.advance(WINDOW);
    log.warn("k", { attempt: 3 }, "failed (attempt 3)");
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[1], {
      level: WARN,
      attempt: 3,
      repeated: 2,
      msg: "failed (attempt 3) (repeated 2 more times over 60.0 s)",
    });
  });

  it("treats the window as half-open: a repeat at exactly windowMs is logged", () => {
    log.warn("k", {}, "failed");
    clock.advance(WINDOW - 1);
    log.warn("k", {}, "failed");
    assert.equal(lines.length, 1, "one ms before the end of the window: suppressed");
    clock.advance(1);
    log.warn("k", {}, "failed");
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.repeated, 1);
  });

  it("starts a new window at the line it logs, and omits repeated when nothing was suppressed", () => {
    log.warn("k", {}, "failed");
    clock.advance(WINDOW * 3);
    log.warn("k", {}, "failed");
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.repeated, undefined, "no repeats, no count");
    assert.equal(lines[1]?.msg, "failed");
    clock.advance(WINDOW - 1);
    log.warn("k", {}, "failed");
    assert.equal(lines.length, 2, "the window restarted at the second line");
  });

  it("keeps distinct keys independent", () => {
    log.warn("fs1:connection refused", { fs: 1 }, "fs1 refused");
    log.warn("fs2:connection refused", { fs: 2 }, "fs2 refused");
    log.error("fs1:protocol:too_large", { fs: 1 }, "fs1 protocol error");
    assert.equal(lines.length, 3);
    clock.advance(5);
    log.warn("fs1:connection refused", { fs: 1 }, "fs1 refused");
    log.warn("fs2:connection refused", { fs: 2 }, "fs2 refused");
    log.warn("fs2:connection refused", { fs: 2 }, "fs2 refused");
    assert.equal(lines.length, 3);
    clock.advance(WINDOW);
    log.warn("fs2:connection refused", { fs: 2 }, "fs2 refused");
    assert.deepEqual(
      lines.slice(3).map((l) => [l.fs, l.repeated]),
      [[2, 2]],
      "each key counts its own repeats",
    );
  });

  it("logs at the level of the latest occurrence", () => {
    log.warn("k", {}, "soft");
    log.error("k", {}, "hard");
    clock.advance(WINDOW);
    log.error("k", {}, "hard");
    assert.deepEqual(
      lines.map((l) => l.level),
      [WARN, ERROR],
    );
  });

  it("clear() sums up what was still suppressed at info, with the time it spanned, and the key starts over", () => {
    log.warn("k", { n: 1 }, "failed");
    clock.advance(100);
    log.warn("k", { n: 2 }, "failed");
    log.warn("k", { n: 3 }, "failed");
    log.clear("k");
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.repeated, 2);
    assert.equal(lines[1]?.n, 3);
    assert.equal(lines[1]?.msg, "before recovery, this repeated 2 more times over 100 ms: failed");
    assert.equal(lines[1]?.level, INFO);
    // Forgotten: the next occurrence is a first occurrence again, logged at once.
    clock.advance(1);
    log.warn("k", { n: 4 }, "failed");
    assert.equal(lines.length, 3);
    assert.equal(lines[2]?.repeated, undefined);
  });

  it("clear() logs nothing when nothing was suppressed, and ignores unknown keys", () => {
    log.warn("k", {}, "failed");
    log.clear("k");
    log.clear("never-seen");
    assert.equal(lines.length, 1);
    log.warn("k", {}, "failed");
    assert.equal(lines.length, 2, "cleared: logged again at once");
  });

  it("clearPrefix() clears only the keys with that prefix", () => {
    log.warn("fs1:connection refused", {}, "fs1 refused");
    log.warn("fs1:handler", {}, "fs1 handler");
    log.warn("fs10:connection refused", {}, "fs10 refused");
    log.warn("fs2:connection refused", {}, "fs2 refused");
    for (const key of [
      "fs1:connection refused",
      "fs10:connection refused",
      "fs2:connection refused",
    ]) {
      log.warn(key, {}, `${key.split(":")[0]} refused`);
    }
    assert.equal(lines.length, 4);
    log.clearPrefix("fs1:");
    // Only fs1's suppressed repeat is summarised; fs1:handler had none.
    assert.deepEqual(
      lines.slice(4).map((l) => [l.msg, l.repeated]),
      [["before recovery, this repeated 1 more times over 0 ms: fs1 refused", 1]],
    );
    log.warn("fs1:handler", {}, "fs1 handler");
    log.warn("fs10:connection refused", {}, "fs10 refused");
    log.warn("fs2:connection refused", {}, "fs2 refused");
    assert.deepEqual(
      lines.slice(5).map((l) => l.msg),
      ["fs1 handler"],
      "fs1: keys start over; fs10: and fs2: are still inside their window",
    );
  });

  it("states the time the repeats actually spanned, not the window length", () => {
    setup(90_000);
    log.warn("k", {}, "failed");
    log.warn("k", {}, "failed");
    clock.advance(95_500);
    log.warn("k", {}, "failed");
    assert.equal(lines[1]?.msg, "failed (repeated 1 more times over 95.5 s)");
  });
});
