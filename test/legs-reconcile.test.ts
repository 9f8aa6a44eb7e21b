// The leg tracker's reconcile after a reconnection: parsing FreeSWITCH's listing, and the races
// the end-to-end test (system/fault-restart.test.ts) cannot pin down.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PlainEvent } from "../src/esl/event.js";
import { plainEventBody } from "../src/esl/wire.js";
import type { LegTracker } from "../src/legs/leg-tracker.js";
import { parseChannelUuids, SHOW_CHANNELS } from "../src/legs/show-channels.js";
import type { Router } from "../src/pipeline/router.js";
import { MemoryStore } from "../src/state/memory-store.js";
import { pipeline } from "./support/pipeline.js";

function channelEvent(name: string, uuid: string): PlainEvent {
  return new PlainEvent(
    plainEventBody([
      ["Event-Name", name],
      ["Unique-ID", uuid],
      ["Call-Direction", "inbound"],
      ["Channel-Call-UUID", uuid],
    ]),
  );
}

/** One instance's pipeline, whose FreeSWITCH answers the listing with `listing()`. */
function router(
  store: MemoryStore,
  instance = "fs1",
  listing: (command: string) => Promise<string> = async () => '{"row_count":0}',
): { router: Router; legs: LegTracker; ended: string[]; answer: { listing: typeof listing } } {
  const ended: string[] = [];
  const answer = { listing };
  const { router: r, legs } = pipeline({
    store,
    instance,
    sinks: { legEnded: (uuid) => ended.push(uuid) },
    api: (command) => answer.listing(command),
  });
  return { router: r, legs, ended, answer };
}

const listing = (...uuids: string[]): string =>
  uuids.length === 0
    ? JSON.stringify({ row_count: 0 })
    : JSON.stringify({ row_count: uuids.length, rows: uuids.map((uuid) => ({ uuid, x: "1" })) });

describe("reconcile", () => {
  it("parses show channels as json, and refuses what it cannot trust", () => {
    assert.deepEqual(parseChannelUuids('{"row_count":0}'), new Set());
    assert.deepEqual(parseChannelUuids(listing("a", "b")), new Set(["a", "b"]));
    for (const bad of [
      "",
      "-ERR no reply\n",
      "{",
      "[]",
      "null",
      '{"rows":[]}',
      '{"row_count":2}',
      '{"row_count":-1}',
      '{"row_count":2,"rows":[{"uuid":"a"}]}',
      '{"row_count":1,"rows":[{"name":"a"}]}',
      '{"row_count":1,"rows":[null]}',
      '{"row_count":1,"rows":{"uuid":"a"}}',
    ]) {
      assert.equal(parseChannelUuids(bad), undefined, bad);
    }
  });

  it("removes only this router's gone legs, and keeps legs created while the listing is on its way", async () => {
    const store = new MemoryStore({ maxLegs: 100, legTtlMs: 3_600_000 });
    const fs1 = router(store, "fs1");
    const fs2 = router(store, "fs2");
    for (const uuid of ["live", "gone1", "gone2"])
      fs1.router.handle(channelEvent("CHANNEL_CREATE", uuid));
    fs2.router.handle(channelEvent("CHANNEL_CREATE", "other"));
    assert.equal(store.size, 4);

    fs1.answer.listing = async (command) => {
      assert.equal(command, SHOW_CHANNELS);
      // Events keep arriving while the reply is awaited: a new leg, not in this listing.
      fs1.router.handle(channelEvent("CHANNEL_CREATE", "newcomer"));
      return listing("live");
    };
    const removed = await fs1.legs.reconcile();
    assert.equal(removed, 2);
    assert.deepEqual(fs1.ended.sort(), ["gone1", "gone2"]);
    assert.deepEqual([...store.uuids()].sort(), ["live", "newcomer", "other"]);
    assert.equal(fs2.ended.length, 0);
    await store.close();
  });

  it("skips reconciling on an unreadable or failed listing, without throwing", async () => {
    const store = new MemoryStore({ maxLegs: 100, legTtlMs: 3_600_000 });
    const { router: r, legs, ended, answer } = router(store);
    r.handle(channelEvent("CHANNEL_CREATE", "a"));
    answer.listing = async () => "-ERR whatever\n";
    assert.equal(await legs.reconcile(), undefined);
    answer.listing = async () => {
      throw new Error("not connected");
    };
    assert.equal(await legs.reconcile(), undefined);
    assert.equal(store.size, 1);
    assert.equal(ended.length, 0);
    // An empty listing (row_count 0, no rows) means every leg is gone.
    answer.listing = async () => '{"row_count":0}';
    assert.equal(await legs.reconcile(), 1);
    assert.equal(store.size, 0);
    await store.close();
  });
});
