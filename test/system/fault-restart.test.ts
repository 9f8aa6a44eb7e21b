import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { SHOW_CHANNELS } from "../../src/legs/show-channels.js";
import { emptyLeg } from "../../src/quality/labels.js";
import { E2eHarness, RTCP_METRICS } from "../support/e2e.js";
import { waitFor } from "../support/wait.js";

// Issue 4, fault 1: FreeSWITCH restarts mid-call. The agent reconnects and resubscribes, RTCP
// of the surviving calls flows again, and the legs of calls that ended while it was
// disconnected (their DESTROY was never delivered) are reconciled away against
// `show channels as json`: none leaked, none of the live ones removed.

describe("fault: FreeSWITCH restarts mid-call", () => {
  const harnesses: E2eHarness[] = [];
  after(async () => {
    for (const h of harnesses) await h.close();
  });

  it("reconnects, resubscribes, exports again and removes exactly the legs that ended meanwhile", async () => {
    const h = await E2eHarness.start();
    harnesses.push(h);
    const agent = h.current;
    const store = agent.store;

    // Three bridged calls (2 legs each) and one parked call (1 leg): 7 legs.
    const surviving = [
      h.generator.startCall({ bridged: true }),
      h.generator.startCall({ bridged: true }),
    ];
    const ending = [
      h.generator.startCall({ bridged: true }),
      h.generator.startCall({ bridged: false }),
    ];
    const legsOf = (calls: typeof surviving): string[] =>
      calls.flatMap((c) => [c.aLeg.uuid, ...(c.bLeg === undefined ? [] : [c.bLeg.uuid])]);
    const survivingLegs = legsOf(surviving);
    const endingLegs = legsOf(ending);
    assert.equal(survivingLegs.length, 4);
    assert.equal(endingLegs.length, 3);
    for (const uuid of [...survivingLegs, ...endingLegs]) h.generator.sendRtcp(uuid);
    await waitFor(
      () => h.counters().rtcpProcessed === 7 && store.size === 7,
      "7 legs with RTCP in the store",
    );
    // A leg of another FreeSWITCH instance in the shared store: it is not in this simulator's
    // listing, and reconciling this instance must not touch it.
    store.save(emptyLeg("leg-of-another-instance"));

    // server.restart() with its down time opened up: the calls ending while nothing listens
    // publish HANGUP/DESTROY to no client, exactly like a FreeSWITCH the agent is cut off from.
    const port = h.server.port;
    assert.ok(port !== undefined);
    await h.server.stop();
    await waitFor(() => agent.connections[0]?.connected === false, "the agent to see the drop");
    for (const call of ending) h.generator.hangupCall(call.uuid);
    assert.equal(h.channels.size, 4, "the simulator keeps only the surviving legs");
    const subscribesBefore = h.commands.filter((c) => c.startsWith("event ")).length;
    await h.server.listen(port, "127.0.0.1");

    await waitFor(
      () =>
        agent.connections[0]?.connected === true &&
        h.server.clientInfo().some((c) => c.subscription.events.length > 0) &&
        h.counters().legsReconciled > 0,
      "the agent to reconnect, resubscribe and reconcile",
    );
    assert.ok(agent.connections[0]!.stats.reconnects >= 1);
    assert.ok(h.commands.filter((c) => c.startsWith("event ")).length > subscribesBefore);
    assert.ok(h.commands.some((c) => c === `api ${SHOW_CHANNELS}`));

    assert.equal(h.counters().legsReconciled, endingLegs.length);
    assert.equal(agent.legStore().legs, survivingLegs.length + 1);
    for (const uuid of endingLegs) assert.equal(store.peek(uuid), undefined, `${uuid} removed`);
    for (const uuid of survivingLegs) assert.ok(store.peek(uuid) !== undefined, `${uuid} kept`);
    assert.ok(store.peek("leg-of-another-instance") !== undefined, "other instance untouched");
    const scraped = await (await fetch(`${agent.url}/metrics`)).text();
    assert.match(scraped, /fsagent_legs_reconciled_total\{fs_instance="fs-e2e"\} 3\n/);

    // Metrics continue: each surviving leg's next report is exported after the restart.
    const fromRequest = h.receiver.metricRequests.length;
    const rtcpBefore = h.counters().rtcpProcessed;
    for (const uuid of survivingLegs) h.generator.sendRtcp(uuid);
    await waitFor(() => h.counters().rtcpProcessed === rtcpBefore + 4, "4 reports after restart");
    await h.flush();
    for (const uuid of survivingLegs) {
      assert.ok(
        h.pointsOf(RTCP_METRICS.jitter.name, uuid, fromRequest).length > 0,
        `jitter of ${uuid} exported after the restart`,
      );
    }
    // Reconciling again removes nothing more: the live legs are listed.
    assert.equal(agent.legStore().legs, survivingLegs.length + 1);
    assert.equal(h.counters().legsReconciled, endingLegs.length);
  });
});

// ---- the reconcile on its own: parsing and the races the e2e test cannot pin down ----------
