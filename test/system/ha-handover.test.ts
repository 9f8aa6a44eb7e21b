// HA hand-over with Redis on 127.0.0.1:6379: what the old owner forgets, what the new one reads.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { PlainEvent } from "../../src/esl/event.js";
import { plainEventBody } from "../../src/esl/wire.js";
import { silentLogger } from "../../src/log/logger.js";
import type { RtcpObservation } from "../../src/quality/types.js";
import { RedisStore } from "../../src/state/redis-store.js";
import type { Clock } from "../../src/util/clock.js";
import { ManualClock } from "../support/manual-clock.js";
import { pipeline } from "../support/pipeline.js";
import { sampleLeg } from "../support/redis.js";
import { minimalRecv } from "../support/samples.js";
import { waitFor } from "../support/wait.js";

function channel(name: string, uuid: string, callUuid: string): PlainEvent {
  return new PlainEvent(
    plainEventBody([
      ["Event-Name", name],
      ["Unique-ID", uuid],
      ["Call-Direction", "inbound"],
      ["Channel-Call-UUID", callUuid],
      ["variable_sip_call_id", `${callUuid}@example.com`],
      ["variable_domain_name", "example.com"],
    ]),
  );
}

describe("handing an instance over: what the old owner forgets (Redis on 6379)", () => {
  const prefix = `fsagent-ha-units-${randomUUID()}:`;
  let redis: Redis;
  const stores: RedisStore[] = [];

  function store(clock?: Clock): RedisStore {
    const s = new RedisStore(
      {
        type: "redis",
        maxLegs: 1000,
        legTtlMs: 60_000,
        redis: {
          host: "127.0.0.1",
          port: 6379,
          password: "",
          db: 0,
          keyPrefix: prefix,
          username: "",
          tls: false,
          caFile: "",
        },
      },
      { logger: silentLogger(), flushIntervalMs: 10, ...(clock === undefined ? {} : { clock }) },
    );
    stores.push(s);
    return s;
  }

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
    for (const s of stores) await s.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("unload drops the hot copy, after writing a pending change, and keeps the Redis copy", async () => {
    const clock = new ManualClock();
    const s = store(clock);
    await waitFor(() => s.connected, "Redis");
    s.save(sampleLeg("clean", 1));
    clock.advance(10);
    await waitFor(() => s.pending === 0, "the write");
    s.unload("clean");
    assert.equal(s.peek("clean"), undefined, "a written leg goes at once");
    assert.equal(
      JSON.parse((await redis.get(`${prefix}leg:clean`)) ?? "{}").inbound[0].lastLost,
      1,
    );

    s.save(sampleLeg("dirty", 5));
    s.unload("dirty");
    assert.equal(s.peek("dirty")?.inbound[0]?.lastLost, 5, "kept until its write is sent");
    clock.advance(9);
    assert.equal(s.peek("dirty")?.inbound[0]?.lastLost, 5, "still kept at 9 ms");
    clock.advance(1);
    await waitFor(() => s.peek("dirty") === undefined, "the hot copy to go after the write");
    assert.equal(
      JSON.parse((await redis.get(`${prefix}leg:dirty`)) ?? "{}").inbound[0].lastLost,
      5,
    );

    s.save(sampleLeg("again", 1));
    s.unload("again");
    s.save(sampleLeg("again", 2)); // taken back and saved before the write: it stays
    clock.advance(10);
    await waitFor(() => s.pending === 0, "the write");
    clock.advance(30); // three more write-behind intervals: nothing else happens to it
    assert.equal(s.pending, 0, "nothing left to write");
    assert.equal(s.peek("again")?.inbound[0]?.lastLost, 2);
    assert.equal(s.evicted, 0, "not counted as evictions");
  });

  it("with HA's 10 ms write-behind, every change is sent to Redis within 10 ms (the kill -9 window, plus one round trip)", async () => {
    const clock = new ManualClock();
    const s = store(clock); // flushIntervalMs 10, as the agent sets it with HA
    await waitFor(() => s.connected, "Redis");
    // 40 changes of one leg, 0 to 14 ms apart; each write's round trip is awaited before the
    // clock moves on, so a change's lag is when the write carrying it was sent, minus its save.
    const savedAt: number[] = [];
    const lags: number[] = [];
    let written = 0;
    for (let n = 1; n <= 40; n++) {
      const gap = (n * 7) % 15;
      const saveAt = clock.now() + gap;
      while (clock.advanceTo(saveAt)) {
        const sentAt = clock.now();
        await waitFor(() => s.pending === 0, "the write");
        const text = await redis.get(`${prefix}leg:lag`);
        assert.equal(JSON.parse(text ?? "{}").inbound[0]?.lastLost, savedAt.length);
        for (; written < savedAt.length; written++) lags.push(sentAt - (savedAt[written] ?? 0));
      }
      s.save(sampleLeg("lag", n));
      savedAt.push(clock.now());
    }
    clock.advance(9);
    assert.equal(s.pending, 1, "the last change is not sent before 10 ms");
    clock.advance(1);
    await waitFor(() => s.pending === 0, "the last write");
    for (; written < savedAt.length; written++) lags.push(10);
    const text = await redis.get(`${prefix}leg:lag`);
    assert.equal(JSON.parse(text ?? "{}").inbound[0]?.lastLost, 40);
    assert.equal(lags.length, 40);
    assert.equal(Math.max(...lags), 10, "no change waits longer than the write-behind delay");
    assert.ok(Math.min(...lags) >= 0);
  });

  it("a router that hands over forgets its legs; taking the instance back reads them from Redis again", async () => {
    const s = store();
    await waitFor(() => s.connected, "Redis");
    const rtcp: RtcpObservation[] = [];
    const ended: string[] = [];
    const { router, legs } = pipeline({
      store: s,
      sinks: { rtcp: (o) => rtcp.push(o), legEnded: (u) => ended.push(u) },
    });
    const leg = `leg-${randomUUID()}`;
    router.handle(channel("CHANNEL_CREATE", leg, leg));
    router.handle(minimalRecv(leg, 3));
    await waitFor(() => rtcp.length === 1, "the first report");
    legs.handOver();
    // Its last write is still pending: the sinks forget the leg once it is answered (with HA,
    // that is when the loss it carries may be exported).
    assert.deepEqual(ended, [], "not before its pending write is answered");
    await waitFor(() => s.peek(leg) === undefined, "the leg to leave memory");
    assert.deepEqual(ended, [leg], "the sinks forget the leg");

    // Meanwhile the other replica moved the baseline on (its report with cumulative loss 8).
    const stored = JSON.parse((await redis.get(`${prefix}leg:${leg}`)) ?? "{}");
    stored.inbound[0].lastLost = 8;
    await redis.set(`${prefix}leg:${leg}`, JSON.stringify(stored), "PX", 60_000);

    // Back to this replica: the next report counts from the other replica's baseline.
    router.handle(minimalRecv(leg, 10));
    await waitFor(() => rtcp.length === 2, "the report after taking the instance back");
    assert.equal(rtcp[1]?.packetsLost, 2, "10 − 8, not 10 − 3");
    assert.equal(rtcp[1]?.labels.correlationId, `${leg}@example.com`);
  });
});
