// A real FreeSWITCH that goes away under a connected agent, twice: stopped cleanly (SIGTERM) and
// killed (SIGKILL, no goodbye on the socket) while calls are up. Each time the agent must see it
// (/ready 503), reconnect once FreeSWITCH is back (/ready 200), complete the legs that vanished
// (their per-leg series end) and carry the new calls' data.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Call, skipWithoutFreeswitch } from "../support/freeswitch.js";
import { legPoints } from "../support/fs-assert.js";
import { type AgentProcess, captureAll, FS_NAME, Rig, sleep } from "../support/fs-rig.js";
import { pollUntil } from "../support/net.js";
import type { RawEslClient } from "../support/raw-esl.js";

const INSTANCE = { fs_instance: FS_NAME };

/** The legs (uuids) FreeSWITCH has for these calls, from the test's own capture. */
function legsOf(capture: RawEslClient, calls: readonly Call[]): string[] {
  const created = capture.eventsNamed("CHANNEL_CREATE").map((e) => e.get("Unique-ID")!);
  const first = created.indexOf(calls[0]?.uuid ?? "");
  assert.ok(first >= 0, "the call's first leg was created");
  return created.slice(first, first + 4 * calls.length);
}

describe("real FreeSWITCH stopped and killed under a connected agent", {
  skip: skipWithoutFreeswitch(),
}, () => {
  let rig: Rig;
  let agent: AgentProcess;

  before(async () => {
    rig = await Rig.start({ name: "restart" });
    // Reconnection after at most 2 s (the default backoff grows to 30 s): keeps the test short.
    agent = await rig.startAgent({ env: { FSAGENT_ESL_BACKOFF_MAX: "2s" } });
  });

  after(() => rig?.dispose());

  /** Waits for /ready to answer `status`. */
  const ready = (status: number, what: string) =>
    pollUntil(
      () => agent.ready(),
      (s) => s === status,
      what,
      30_000,
    );

  /** Calls up with RTCP flowing, as the agent saw them. */
  async function callsReporting(capture: RawEslClient): Promise<{ calls: Call[]; legs: string[] }> {
    const calls = await rig.fs.originate(1, { codec: "PCMU" });
    await sleep(7000);
    const legs = legsOf(capture, calls);
    for (const leg of legs) {
      await rig.receiver.waitFor(
        () => legPoints(rig.receiver, "freeswitch.rtcp.jitter", leg).length > 0,
        `RTCP points of ${leg}`,
      );
    }
    assert.equal(await agent.requireSample("fsagent_legs_active"), 4);
    return { calls, legs };
  }

  /** After FreeSWITCH came back: no leg left from before, and no point of theirs any more. */
  async function vanished(legs: readonly string[]): Promise<void> {
    await agent.waitForSample("fsagent_legs_active", {}, (v) => v === 0, "no leg left");
    await sleep(600);
    const from = rig.receiver.metricRequests.length;
    await rig.receiver.waitFor(
      () => rig.receiver.metricRequests.length >= from + 3,
      "three more exports",
    );
    const late = rig.receiver
      .points()
      .filter((p) => p.request >= from && legs.includes(p.attributes.channel_id ?? ""));
    assert.deepEqual(
      late.map((p) => p.name),
      [],
      "the vanished legs' series ended",
    );
  }

  /** freeswitch.calls.completed is a cumulative sum: the latest value of each series, added. */
  function completedSoFar(): number {
    const latest = new Map<string, number>();
    for (const p of rig.receiver.points("freeswitch.calls.completed")) {
      assert.equal(p.temporality, "cumulative");
      if (p.attributes.fs_instance === FS_NAME) latest.set(JSON.stringify(p.attributes), p.value);
    }
    return [...latest.values()].reduce((sum, v) => sum + v, 0);
  }

  it("stopped cleanly (SIGTERM): 503, then 200 once it is back; its legs completed; new calls flow", async () => {
    let capture = await captureAll(rig.fs);
    const { legs } = await callsReporting(capture);
    await rig.fs.stop();
    await ready(503, "/ready 503 while FreeSWITCH is down");
    assert.equal((await agent.health()).connections[FS_NAME]?.connected, false);
    await rig.fs.restart();
    await ready(200, "/ready 200 once FreeSWITCH is back");
    await vanished(legs);
    await rig.receiver.waitFor(() => completedSoFar() === 4, "4 legs completed", 10_000);

    capture = await captureAll(rig.fs);
    const next = await callsReporting(capture);
    await rig.fs.hangup(next.calls);
    await rig.receiver.waitFor(
      () => completedSoFar() === 8,
      "the new call's 4 legs completed",
      10_000,
    );
    for (const leg of next.legs) {
      await rig.receiver.waitFor(
        () => legPoints(rig.receiver, "freeswitch.qos.total_packets", leg).length === 1,
        `QoS of ${leg}`,
      );
    }
    capture.close();
  });

  it("killed (SIGKILL, no goodbye): detected, reconnected, its legs reconciled away; new calls flow", async () => {
    let capture = await captureAll(rig.fs);
    const { legs } = await callsReporting(capture);
    const completedBefore = completedSoFar();
    const reconciledBefore =
      (await agent.requireSample("fsagent_legs_reconciled_total", INSTANCE)) ?? 0;
    await rig.fs.kill();
    await ready(503, "/ready 503 after the kill");
    await rig.fs.restart();
    await ready(200, "/ready 200 once FreeSWITCH is back");
    // FreeSWITCH lost the calls without an event: the agent's reconcile finds them gone.
    await agent.waitForSample(
      "fsagent_legs_reconciled_total",
      INSTANCE,
      (v) => v === reconciledBefore + 4,
      "the 4 legs reconciled",
    );
    await vanished(legs);
    await rig.receiver.waitFor(
      () => completedSoFar() === completedBefore + 4,
      "4 legs completed",
      10_000,
    );
    for (const leg of legs) {
      assert.equal(
        legPoints(rig.receiver, "freeswitch.qos.total_packets", leg).length,
        0,
        "no QoS: FreeSWITCH never had one",
      );
    }

    capture = await captureAll(rig.fs);
    const next = await callsReporting(capture);
    await rig.fs.hangup(next.calls);
    for (const leg of next.legs) {
      await rig.receiver.waitFor(
        () => legPoints(rig.receiver, "freeswitch.qos.total_packets", leg).length === 1,
        `QoS of ${leg}`,
      );
    }
    capture.close();
  });
});
