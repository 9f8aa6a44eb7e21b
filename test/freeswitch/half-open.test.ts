// Issue 21, "FreeSWITCH going away badly": a real FreeSWITCH frozen with SIGSTOP during calls.
// The socket stays open and nothing answers (half-open). The agent must see it within its
// keepalive bound (esl.idle_timeout of silence, then the `api status` probe's command_timeout),
// say so on /ready, reconnect once FreeSWITCH runs again (SIGCONT), and still export each leg's
// end-of-call QoS exactly once when the calls end normally afterwards.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipWithoutFreeswitch } from "../support/freeswitch.js";
import { assertQosExactlyOnce } from "../support/fs-assert.js";
import { type AgentProcess, FS_NAME, Rig } from "../support/fs-rig.js";
import { pollUntil } from "../support/net.js";

const IDLE_TIMEOUT_MS = 2_000;
const COMMAND_TIMEOUT_MS = 1_000;

describe("real FreeSWITCH frozen (SIGSTOP) under a connected agent", {
  skip: skipWithoutFreeswitch(),
}, () => {
  let rig: Rig;
  let agent: AgentProcess;

  before(async () => {
    rig = await Rig.start({ name: "halfopen" });
    agent = await rig.startAgent({
      env: {
        FSAGENT_ESL_IDLE_TIMEOUT: `${IDLE_TIMEOUT_MS}ms`,
        FSAGENT_ESL_COMMAND_TIMEOUT: `${COMMAND_TIMEOUT_MS}ms`,
        FSAGENT_ESL_BACKOFF_MAX: "1s",
      },
    });
  });

  after(async () => {
    const pid = rig?.fs.pid;
    if (pid !== undefined) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    await rig?.dispose();
  });

  it("detected within idle_timeout + command_timeout, reconnected after SIGCONT, QoS once", async (t) => {
    const calls = await rig.fs.originate(1, { codec: "PCMU" });
    await rig.fs.waitForChannels(4);
    await agent.waitForSample("fsagent_legs_active", {}, (v) => v === 4, "4 legs");
    const legs = rig.capture
      .eventsNamed("CHANNEL_CREATE")
      .map((e) => e.get("Unique-ID") ?? "")
      .slice(-4);

    const pid = rig.fs.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, "SIGSTOP");
    const frozenAt = Date.now();
    await pollUntil(
      async () => (await agent.health()).connections[FS_NAME]?.connected,
      (connected) => connected === false,
      "the agent sees the frozen FreeSWITCH",
      15_000,
    );
    const detectedMs = Date.now() - frozenAt;
    t.diagnostic(`half-open FreeSWITCH detected after ${detectedMs} ms`);
    // The bound: silence for idle_timeout, then the probe's command_timeout; plus the time the
    // test's own polling adds (100 ms steps) and a scheduling margin.
    assert.ok(
      detectedMs <= IDLE_TIMEOUT_MS + COMMAND_TIMEOUT_MS + 1_500,
      `detected after ${detectedMs} ms`,
    );
    assert.equal(await agent.ready(), 503);

    process.kill(pid, "SIGCONT");
    await pollUntil(
      () => agent.ready(),
      (s) => s === 200,
      "/ready 200 once FreeSWITCH runs again",
      30_000,
    );
    // The calls went on: reconnect kept their legs (FreeSWITCH still lists them).
    assert.equal(await rig.fs.channelCount(), 4);
    await agent.waitForSample("fsagent_legs_active", {}, (v) => v === 4, "4 legs after");

    await rig.fs.hangup(calls);
    await assertQosExactlyOnce(rig.receiver, legs, 1_500);
  });
});
