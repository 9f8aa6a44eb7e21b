// Issue 21, look-up storms: RTCP of legs the agent has no state for must not cost a `uuid_dump`
// per report. The tracker and router as the agent wires them, a memory store, a manual clock and a
// fake FreeSWITCH API that answers like FreeSWITCH 1.11's mod_commands: `-ERR No such channel!`
// for a uuid it has no channel for (test/system/sim-server.test.ts holds the simulator to the
// same text).

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PlainEvent } from "../src/esl/event.js";
import { plainEventBody } from "../src/esl/wire.js";
import { DEFAULT_LOOKUP_LIMITS, type LookupLimits } from "../src/legs/leg-tracker.js";
import { NotFoundCache } from "../src/legs/not-found-cache.js";
import { PartialRetries } from "../src/legs/partial-retries.js";
import { PendingLegs } from "../src/legs/pending.js";
import type { RtcpObservation } from "../src/quality/types.js";
import { MemoryStore } from "../src/state/memory-store.js";
import { TokenBucket } from "../src/util/token-bucket.js";
import { ManualClock } from "./support/manual-clock.js";
import { pipeline, uuidDumps } from "./support/pipeline.js";
import { minimalRecv } from "./support/samples.js";

const NO_SUCH_CHANNEL = "-ERR No such channel!\n";

function event(name: string, headers: Array<[string, string]>): PlainEvent {
  return new PlainEvent(plainEventBody([["Event-Name", name], ...headers]));
}

function create(uuid: string, domain: string): PlainEvent {
  return event("CHANNEL_CREATE", [
    ["Unique-ID", uuid],
    ["Channel-Call-UUID", uuid],
    ["Call-Direction", "inbound"],
    ["variable_domain_name", domain],
  ]);
}

/** What `uuid_dump <uuid> json` gives for a live A-leg in `domain`. */
function liveLeg(uuid: string, domain: string): Record<string, unknown> {
  return {
    "Unique-ID": uuid,
    "Channel-Call-UUID": uuid,
    "Call-Direction": "inbound",
    variable_sip_call_id: `cid-${uuid}`,
    variable_domain_name: domain,
  };
}

const stores: MemoryStore[] = [];
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
});

function rig(
  api: (command: string) => Promise<string>,
  limits: Partial<LookupLimits> = {},
  clock = new ManualClock(),
) {
  const store = new MemoryStore({ maxLegs: 1000, legTtlMs: 3_600_000, clock });
  stores.push(store);
  const rtcp: RtcpObservation[] = [];
  const p = pipeline({
    store,
    api,
    clock,
    limits: { ...DEFAULT_LOOKUP_LIMITS, ...limits },
    sinks: { rtcp: (o) => rtcp.push(o) },
  });
  return { ...p, store, clock, rtcp };
}

/** Counts the `uuid_dump`s per uuid and answers each with `answer(uuid)`. */
function fakeFreeswitch(answer: (uuid: string) => string | Promise<string>) {
  const asked: string[] = [];
  const api = async (command: string): Promise<string> => {
    const match = /^uuid_dump (\S+) json$/.exec(command);
    if (match === null) throw new Error(`unexpected command: ${command}`);
    asked.push(match[1]!);
    return answer(match[1]!);
  };
  return { api, asked };
}

describe("look-ups: FreeSWITCH's 'no such channel' is remembered", () => {
  it("a leg FreeSWITCH does not have costs one uuid_dump per not_found_ttl, not one per report", async () => {
    const fs = fakeFreeswitch(() => NO_SUCH_CHANNEL);
    const { router, legs, counters, store, clock, rtcp } = rig(fs.api);
    router.handle(minimalRecv("gone-1", 1));
    await legs.settle();
    assert.deepEqual(fs.asked, ["gone-1"]);
    assert.equal(rtcp.length, 1, "the report that waited for the answer goes out");
    assert.equal(store.size, 0, "no state kept for a leg FreeSWITCH does not have");

    // Reports at RTCP pace for the next 59 s: no look-up, no export, no queue; each counted.
    for (let s = 1; s < 60; s++) {
      clock.advance(1_000);
      router.handle(minimalRecv("gone-1", 1 + s));
      await legs.settle();
    }
    assert.deepEqual(fs.asked, ["gone-1"]);
    assert.equal(rtcp.length, 1);
    assert.equal(counters.dropped.get("leg_not_found"), 59);
    assert.equal(counters.lookups.get("not_found"), 1);

    // 60 s after the answer it has expired: FreeSWITCH is asked once more.
    clock.advance(1_000);
    router.handle(minimalRecv("gone-1", 100));
    await legs.settle();
    assert.deepEqual(fs.asked, ["gone-1", "gone-1"]);
    assert.equal(counters.lookups.get("not_found"), 2);
  });

  it("honours lookups.not_found_ttl", async () => {
    const fs = fakeFreeswitch(() => NO_SUCH_CHANNEL);
    const { router, legs, clock } = rig(fs.api, { notFoundTtlMs: 5_000 });
    router.handle(minimalRecv("gone-2", 1));
    await legs.settle();
    clock.advance(4_999);
    router.handle(minimalRecv("gone-2", 2));
    await legs.settle();
    assert.equal(fs.asked.length, 1);
    clock.advance(1);
    router.handle(minimalRecv("gone-2", 3));
    await legs.settle();
    assert.equal(fs.asked.length, 2);
  });

  it("a channel event of the leg clears the answer: the leg's reports are handled again", async () => {
    const fs = fakeFreeswitch(() => NO_SUCH_CHANNEL);
    const { router, legs, counters, rtcp } = rig(fs.api);
    router.handle(minimalRecv("back-1", 1));
    await legs.settle();
    router.handle(minimalRecv("back-1", 2));
    assert.equal(counters.dropped.get("leg_not_found"), 1);
    router.handle(create("back-1", "t.example"));
    router.handle(minimalRecv("back-1", 3));
    await legs.settle();
    assert.equal(rtcp.length, 2);
    assert.equal(rtcp[1]?.labels.domainName, "t.example", "labelled by its own CHANNEL_CREATE");
    assert.equal(counters.dropped.get("leg_not_found"), 1);
    assert.deepEqual(fs.asked, ["back-1"], "the known leg is not looked up");
  });

  it("remembers only FreeSWITCH's own 'no such channel', not any unreadable answer", async () => {
    const fs = fakeFreeswitch(() => "-ERR Usage: uuid_dump <uuid> [format]\n");
    const { router, legs, counters } = rig(fs.api);
    router.handle(minimalRecv("odd-1", 1));
    await legs.settle();
    router.handle(minimalRecv("odd-1", 2));
    await legs.settle();
    assert.deepEqual(fs.asked, ["odd-1", "odd-1"]);
    assert.equal(counters.dropped.get("leg_not_found"), undefined);
  });

  it("1,000 legs FreeSWITCH does not have, each reporting every second for 3 minutes: at most one look-up per leg per minute", async () => {
    const clock = new ManualClock();
    const askedAt = new Map<string, number[]>();
    const fs = fakeFreeswitch((uuid) => {
      askedAt.set(uuid, [...(askedAt.get(uuid) ?? []), clock.now()]);
      return NO_SUCH_CHANNEL;
    });
    // No rate limit here: the answers remembered must bound the look-ups by themselves (the
    // 100 in flight still apply: a leg over them is retried 10 s later).
    const { router, legs, counters } = rig(fs.api, { ratePerSecond: 0 }, clock);
    for (let s = 0; s < 180; s++) {
      for (let i = 0; i < 1000; i++) router.handle(minimalRecv(`ghost-${i}`, s));
      await legs.settle();
      clock.advance(1_000);
    }
    assert.equal(askedAt.size, 1000, "every leg asked about");
    for (const [uuid, times] of askedAt) {
      assert.ok(times.length <= 3, `${uuid}: ${times.length} look-ups in 3 minutes`);
      for (let i = 1; i < times.length; i++) {
        assert.ok(times[i]! - times[i - 1]! >= 60_000, `${uuid}: two look-ups within a minute`);
      }
    }
    // Nearly every report was dropped at once (counted), not queued nor looked up.
    assert.ok((counters.dropped.get("leg_not_found") ?? 0) > 150_000);
  });
});

describe("look-ups: the per-instance rate limit", () => {
  it("sends at most lookups.rate a second; a leg over it goes out with partial labels, counted, and tries again a second later", async () => {
    const fs = fakeFreeswitch((uuid) => JSON.stringify(liveLeg(uuid, "t.example")));
    const { router, legs, counters, clock, rtcp } = rig(fs.api, { ratePerSecond: 2 });
    for (let i = 0; i < 5; i++) router.handle(minimalRecv(`L${i}`, 1));
    await legs.settle();
    // A second's worth (2) goes at once; the other three are not sent.
    assert.deepEqual(fs.asked, ["L0", "L1"]);
    assert.equal(counters.lookups.get("found"), 2);
    assert.equal(counters.lookups.get("rate_limited"), 3);
    assert.equal(counters.partialLabels.get("first"), 3);
    // (The legs not looked up are handled first: their answer needs no round trip.)
    assert.deepEqual(
      rtcp.map((o) => [o.labels.channelId, o.labels.correlationId, o.labels.domainName]).sort(),
      [
        ["L0", "cid-L0", "t.example"],
        ["L1", "cid-L1", "t.example"],
        ["L2", "L2", ""],
        ["L3", "L3", ""],
        ["L4", "L4", ""],
      ],
    );

    // Their reports before the retry is due go out partial, without a look-up.
    clock.advance(500);
    for (let i = 2; i < 5; i++) router.handle(minimalRecv(`L${i}`, 2));
    await legs.settle();
    assert.equal(fs.asked.length, 2);

    // 1 s on: the retry is due; the bucket holds 2 again, so two legs are labelled and the third
    // stays owed its look-up (not sent is not tried).
    clock.advance(500);
    for (let i = 2; i < 5; i++) router.handle(minimalRecv(`L${i}`, 3));
    await legs.settle();
    assert.deepEqual(fs.asked, ["L0", "L1", "L2", "L3"]);
    assert.equal(counters.lookups.get("rate_limited"), 4);
    assert.equal(counters.partialLabels.get("first"), 3, "each leg counted once");
    assert.equal(counters.partialLabels.get("retry"), undefined);
    assert.deepEqual(
      rtcp
        .slice(-3)
        .map((o) => [o.labels.channelId, o.labels.correlationId])
        .sort(),
      [
        ["L2", "cid-L2"],
        ["L3", "cid-L3"],
        ["L4", "L4"],
      ],
    );
    // The labelled leg kept the RTCP history of its partial reports.
    assert.equal(legs.peek("L2")?.rtcpIn?.reports, 3);

    clock.advance(999);
    router.handle(minimalRecv("L4", 4));
    await legs.settle();
    assert.equal(fs.asked.length, 4, "not before its second is over");
    clock.advance(1);
    router.handle(minimalRecv("L4", 5));
    await legs.settle();
    assert.deepEqual(fs.asked, ["L0", "L1", "L2", "L3", "L4"]);
    assert.equal(rtcp.at(-1)?.labels.correlationId, "cid-L4");
    assert.equal(counters.lookups.get("found"), 5);
  });

  it("rate 0 is no limit; the default is 100 a second", async () => {
    const unlimited = fakeFreeswitch((uuid) => JSON.stringify(liveLeg(uuid, "t.example")));
    const u = rig(unlimited.api, { ratePerSecond: 0 });
    // One at a time, so that the 100 in flight are never reached.
    for (let i = 0; i < 300; i++) {
      u.router.handle(minimalRecv(`U${i}`, 1));
      await u.legs.settle();
    }
    assert.equal(unlimited.asked.length, 300);
    assert.equal(u.counters.lookups.get("rate_limited"), undefined);

    const limited = fakeFreeswitch((uuid) => JSON.stringify(liveLeg(uuid, "t.example")));
    const d = rig(limited.api);
    for (let i = 0; i < 300; i++) {
      d.router.handle(minimalRecv(`U${i}`, 1));
      await d.legs.settle();
    }
    assert.equal(limited.asked.length, 100);
    assert.equal(d.counters.lookups.get("rate_limited"), 200);
  });
});

describe("look-ups: a leg left with partial labels is looked up once more", () => {
  it("a failed look-up: partial labels, one retry at the first report 10 s later; a second failure is final", async () => {
    let reachable = false;
    const fs = fakeFreeswitch((uuid) => {
      if (!reachable) throw new Error("not connected");
      return JSON.stringify(liveLeg(uuid, "t.example"));
    });
    const { router, legs, counters, clock, rtcp } = rig(fs.api);
    router.handle(minimalRecv("F1", 1));
    await legs.settle();
    assert.equal(counters.lookups.get("failed"), 1);
    assert.equal(counters.partialLabels.get("first"), 1);
    assert.equal(rtcp[0]?.labels.correlationId, "F1");
    assert.equal(legs.peek("F1")?.labelSource, "partial", "kept, for its next reports");

    clock.advance(9_999);
    router.handle(minimalRecv("F1", 2));
    await legs.settle();
    assert.equal(fs.asked.length, 1, "not before 10 s");

    clock.advance(1);
    router.handle(minimalRecv("F1", 3));
    await legs.settle();
    assert.equal(fs.asked.length, 2, "the retry");
    assert.equal(counters.lookups.get("failed"), 2);
    assert.equal(counters.partialLabels.get("retry"), 1);

    // FreeSWITCH answers again, but the leg had its retry: no look-up per report.
    reachable = true;
    for (let s = 0; s < 120; s++) {
      clock.advance(1_000);
      router.handle(minimalRecv("F1", 4 + s));
      await legs.settle();
    }
    assert.equal(fs.asked.length, 2);
    assert.equal(rtcp.at(-1)?.labels.correlationId, "F1");
  });

  it("a retry that finds the leg labels it, keeping the RTCP history of its partial reports", async () => {
    let reachable = false;
    const fs = fakeFreeswitch((uuid) => {
      if (!reachable) throw new Error("timed out");
      return JSON.stringify(liveLeg(uuid, "t.example"));
    });
    const { router, legs, counters, clock, rtcp } = rig(fs.api);
    router.handle(minimalRecv("R1", 2));
    router.handle(minimalRecv("R1", 5));
    await legs.settle();
    reachable = true;
    clock.advance(10_000);
    router.handle(minimalRecv("R1", 9));
    await legs.settle();
    assert.deepEqual(
      rtcp.map((o) => [o.labels.correlationId, o.labels.domainName, o.packetsLost]),
      [
        ["R1", "", 2],
        ["R1", "", 3],
        ["cid-R1", "t.example", 4],
      ],
    );
    assert.equal(legs.peek("R1")?.labelSource, "lookup");
    assert.equal(legs.peek("R1")?.rtcpIn?.reports, 3);
    assert.equal(counters.partialLabels.get("retry"), undefined);
  });

  it("a retry told 'no such channel' forgets the leg and drops its next reports", async () => {
    let gone = false;
    const fs = fakeFreeswitch(() => {
      if (!gone) throw new Error("timed out");
      return NO_SUCH_CHANNEL;
    });
    const { router, legs, counters, clock, store } = rig(fs.api);
    router.handle(minimalRecv("G1", 1));
    await legs.settle();
    gone = true;
    clock.advance(10_000);
    router.handle(minimalRecv("G1", 2));
    await legs.settle();
    assert.equal(store.peek("G1"), undefined);
    router.handle(minimalRecv("G1", 3));
    assert.equal(counters.dropped.get("leg_not_found"), 1);
    assert.equal(fs.asked.length, 2);
  });

  it("a leg's DESTROY ends the retry it was owed", async () => {
    const fs = fakeFreeswitch(() => {
      throw new Error("timed out");
    });
    const { router, legs, clock, counters } = rig(fs.api);
    router.handle(minimalRecv("D1", 1));
    await legs.settle();
    router.handle(
      event("CHANNEL_DESTROY", [
        ["Unique-ID", "D1"],
        ["Channel-Call-UUID", "D1"],
      ]),
    );
    clock.advance(10_000);
    // A late report after the DESTROY is a new look-up of a leg unknown again, not a retry.
    router.handle(minimalRecv("D1", 2));
    await legs.settle();
    assert.equal(fs.asked.length, 2);
    assert.equal(counters.partialLabels.get("first"), 2);
    assert.equal(counters.partialLabels.get("retry"), undefined);
  });
});

describe("look-ups: the events waiting for a leg's state are bounded by bytes", () => {
  it("drops what does not fit, counted as too_many_bytes_waiting, for the leg and for new legs", async () => {
    const answers: Array<() => void> = [];
    const api = uuidDumps(
      (uuid) => new Promise((resolve) => answers.push(() => resolve(liveLeg(uuid, "t.example")))),
    );
    const size = minimalRecv("W1", 1).byteLength;
    const { router, legs, counters, rtcp } = rig(api, { maxWaitingBytes: 3 * size });
    router.handle(minimalRecv("W1", 1));
    router.handle(minimalRecv("W1", 2));
    router.handle(minimalRecv("W1", 3));
    router.handle(minimalRecv("W1", 4));
    router.handle(minimalRecv("W2", 1));
    assert.equal(counters.dropped.get("too_many_bytes_waiting"), 2);
    await new Promise((resolve) => setImmediate(resolve));
    for (const answer of answers.splice(0)) answer();
    await legs.settle();
    assert.deepEqual(
      rtcp.map((o) => [o.labels.channelId, o.packetsLost]),
      [
        ["W1", 1],
        ["W1", 1],
        ["W1", 1],
      ],
    );
    // Once the waiting events are handled, their bytes are free again.
    router.handle(minimalRecv("W2", 1));
    await new Promise((resolve) => setImmediate(resolve));
    for (const answer of answers.splice(0)) answer();
    await legs.settle();
    assert.equal(rtcp.at(-1)?.labels.channelId, "W2");
  });
});

describe("PendingLegs", () => {
  it("refuses by legs, by events per leg and by bytes, and gives the bytes back on close", () => {
    const e = minimalRecv("P1", 1);
    const pending = new PendingLegs({ maxLegs: 2, maxEventsPerLeg: 2, maxBytes: 3 * e.byteLength });
    assert.equal(pending.open("P1", e), undefined);
    assert.equal(pending.add("P1", e), undefined);
    assert.equal(pending.add("P1", e), "leg_queue_full");
    assert.equal(pending.open("P2", e), undefined);
    assert.equal(pending.open("P3", e), "too_many_legs_waiting");
    assert.equal(pending.add("P2", e), "too_many_bytes_waiting");
    assert.equal(pending.bytes, 3 * e.byteLength);
    assert.equal(pending.close("P1").length, 2);
    assert.equal(pending.bytes, e.byteLength);
    assert.equal(pending.add("P2", e), undefined);
  });
});

describe("NotFoundCache", () => {
  it("expires on the clock and forgets the oldest past its bound", () => {
    const clock = new ManualClock();
    const cache = new NotFoundCache(60_000, 3, clock);
    cache.remember("a");
    clock.advance(1);
    cache.remember("b");
    cache.remember("c");
    cache.remember("d");
    assert.equal(cache.size, 3);
    assert.equal(cache.has("a"), false, "the oldest went");
    assert.equal(cache.has("b"), true);
    clock.advance(59_999);
    assert.equal(cache.has("b"), true, "1 ms before it expires");
    clock.advance(1);
    assert.equal(cache.has("b"), false, "60 s after it was said");
    cache.forget("c");
    assert.equal(cache.has("c"), false);
    assert.equal(cache.has("d"), false, "expired too");
  });

  it("sweeps expired answers as new ones come, so expired legs do not take the room", () => {
    const clock = new ManualClock();
    const cache = new NotFoundCache(1_000, 10, clock);
    for (let i = 0; i < 10; i++) cache.remember(`old-${i}`);
    clock.advance(1_000);
    cache.remember("new");
    assert.equal(cache.size, 1);
  });
});

describe("PartialRetries", () => {
  it("is due once, after the delay; bounded, oldest first", () => {
    const clock = new ManualClock();
    const retries = new PartialRetries(2, clock);
    retries.schedule("a", 10_000);
    retries.schedule("b", 10_000);
    retries.schedule("c", 10_000);
    assert.equal(retries.size, 2);
    clock.advance(9_999);
    assert.equal(retries.take("b"), false);
    clock.advance(1);
    assert.equal(retries.take("a"), false, "pushed out by c");
    assert.equal(retries.take("b"), true);
    assert.equal(retries.take("b"), false, "once");
  });
});

describe("TokenBucket", () => {
  it("allows a burst, then the rate; never saves more than the burst; a clock stepped back refills nothing", () => {
    let t = 1_000_000;
    const clock = {
      now: () => t,
      setTimeout: () => ({}),
      clearTimeout: () => undefined,
      advance: (ms: number) => {
        t += ms;
      },
    };
    const bucket = new TokenBucket(10, 10, clock);
    let taken = 0;
    while (bucket.take()) taken++;
    assert.equal(taken, 10);
    clock.advance(100);
    assert.equal(bucket.take(), true, "one token per 100 ms at 10/s");
    assert.equal(bucket.take(), false);
    clock.advance(3_600_000);
    taken = 0;
    while (bucket.take()) taken++;
    assert.equal(taken, 10, "an hour idle saves one burst, no more");
    t -= 5_000;
    assert.equal(bucket.take(), false, "stepped back");
    clock.advance(100);
    assert.equal(bucket.take(), true, "refills from the new time on");
  });
});
