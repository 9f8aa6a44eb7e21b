// Issue 21, look-up storms, end to end: the simulator on a real ESL socket answers `uuid_dump` of
// a leg it no longer has with `-ERR No such channel!` (as FreeSWITCH 1.11 does:
// test/freeswitch/mid-call.test.ts); the Agent must ask once, then drop that leg's late reports
// (counted) instead of asking again at each.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { E2eHarness } from "../support/e2e.js";
import { minimalRecvHeaders } from "../support/samples.js";
import { waitFor } from "../support/wait.js";

const harnesses: E2eHarness[] = [];
after(async () => {
  for (const h of harnesses) await h.close();
});

/** A RECV_RTCP_MESSAGE for `uuid`, as FreeSWITCH writes one (SPEC §2). */
function lateReport(h: E2eHarness, uuid: string, lost: number): void {
  h.server.emitEvent("RECV_RTCP_MESSAGE", minimalRecvHeaders(uuid, lost));
}

describe("e2e look-ups: a leg FreeSWITCH no longer has", () => {
  it("late reports after its DESTROY cost one uuid_dump; the next ones are dropped and counted", async () => {
    const h = await E2eHarness.start();
    harnesses.push(h);
    const gen = h.generator;
    const call = gen.startCall({ bridged: false, domain: "tenant-l.example", codec: "PCMU" });
    gen.sendRtcp(call.uuid, { jitter: 80, lost: 1, fraction: 0 });
    gen.hangupCall(call.uuid);
    await h.waitProcessed("CHANNEL_DESTROY", 1);
    const processedBefore = h.processed("RECV_RTCP_MESSAGE");

    // The first late report waits for the look-up, and goes out with the labels it has.
    lateReport(h, call.uuid, 2);
    await h.waitProcessed("RECV_RTCP_MESSAGE", processedBefore + 1);
    assert.equal(h.uuidDumps(call.uuid), 1);
    assert.equal(h.counters().lookups.get("not_found"), 1);

    // The next ones, within lookups.not_found_ttl (60 s): no look-up, dropped, counted.
    for (let n = 0; n < 4; n++) lateReport(h, call.uuid, 3 + n);
    await waitFor(
      () => (h.counters().dropped.get("leg_not_found") ?? 0) === 4,
      "4 late reports dropped as leg_not_found",
    );
    assert.equal(h.uuidDumps(call.uuid), 1, "FreeSWITCH not asked again");
    assert.equal(h.processed("RECV_RTCP_MESSAGE"), processedBefore + 1);
    assert.equal(h.current.store.size, 0, "nothing kept for the leg");
  });
});
