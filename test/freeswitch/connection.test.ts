// The agent's Event Socket connection to a real FreeSWITCH: the right password connects, a wrong
// one shows auth_failed and keeps retrying, and FreeSWITCH sends the agent exactly the events it
// subscribed to (with events.rtcp: false, no RTCP event at all). Three agents watch one call
// side by side; the test's own connection captures everything FreeSWITCH sent (`event plain ALL`).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipWithoutFreeswitch } from "../support/freeswitch.js";
import { AGENT_SUBSCRIPTION, type AgentProcess, FS_NAME, Rig, sleep } from "../support/fs-rig.js";
import { sampleOf } from "../support/load.js";

const RTCP_EVENTS = ["RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE"];
const connected = { fs_instance: FS_NAME };

describe("real FreeSWITCH: connection and subscription", { skip: skipWithoutFreeswitch() }, () => {
  let rig: Rig;
  let agent: AgentProcess;
  let noRtcp: AgentProcess;
  let wrong: AgentProcess;

  before(async () => {
    rig = await Rig.start({ name: "conn", password: "s3cret-pw" });
    [agent, noRtcp, wrong] = await Promise.all([
      rig.startAgent(),
      rig.startAgent({ env: { FSAGENT_EVENTS_RTCP: "false" } }),
      // Retries at most 2 s apart (the default backoff grows to 30 s): the test sees several.
      rig.startAgent({
        password: "not-the-password",
        connected: false,
        env: { FSAGENT_ESL_BACKOFF_MAX: "2s" },
      }),
    ]);
    // The capture was open before the agents subscribed, and the call starts after: all three
    // connections see the call's events from the first to the last.
    const calls = await rig.fs.originate(1, { codec: "PCMU" });
    await sleep(10_000);
    await rig.fs.hangup(calls);
    await sleep(1000); // the last DESTROY on every connection
  });

  after(() => rig?.dispose());

  it("the right password connects: /health connected, /ready 200", async () => {
    const health = await agent.health();
    assert.equal(health.status, "healthy");
    assert.equal(health.connections[FS_NAME]?.connected, true);
    assert.equal(health.connections[FS_NAME]?.state, "connected");
    assert.equal(await agent.ready(), 200);
  });

  it("a wrong password shows auth_failed, keeps retrying, and never logs the password", async () => {
    const before = (await wrong.health()).connections[FS_NAME];
    assert.equal(before?.state, "auth_failed");
    assert.equal(before?.connected, false);
    assert.equal(await wrong.ready(), 503);
    const attempts = await wrong.requireSample("fsagent_esl_reconnects_total", connected);
    await wrong.waitForSample(
      "fsagent_esl_reconnects_total",
      connected,
      (v) => v >= attempts + 2,
      "two more attempts",
      20_000,
    );
    assert.equal((await wrong.health()).connections[FS_NAME]?.state, "auth_failed");
    const output = wrong.process.stdout + wrong.process.stderr;
    assert.doesNotMatch(output, /not-the-password|s3cret-pw/);
    assert.match(output, /auth/i, "the log says why");
  });

  it("FreeSWITCH sends the agent exactly the events it subscribed to, no other", async () => {
    const sent = new Map<string, number>();
    for (const e of rig.capture.events) sent.set(e.name, (sent.get(e.name) ?? 0) + 1);
    // FreeSWITCH fired much more than the agent asked for...
    for (const other of ["CHANNEL_STATE", "CHANNEL_HANGUP", "CODEC", "CHANNEL_OUTGOING"]) {
      assert.ok((sent.get(other) ?? 0) > 0, `FreeSWITCH fired ${other}`);
    }
    const metrics = await agent.metrics();
    for (const name of AGENT_SUBSCRIPTION) {
      if (name === "HEARTBEAT") continue; // every 20 s: the two connections may straddle one
      const got = sampleOf(metrics, "fsagent_events_received_total", { ...connected, event: name });
      assert.equal(got ?? 0, sent.get(name) ?? 0, `${name}: as many as FreeSWITCH sent`);
      assert.ok((sent.get(name) ?? 0) > 0, `the call fired ${name}`);
    }
    // ...and the agent's ESL layer delivered nothing else: no unexpected event name at all.
    assert.equal(
      sampleOf(metrics, "fsagent_events_received_total", { ...connected, event: "other" }),
      undefined,
    );
    const names = [
      ...metrics.matchAll(/^fsagent_events_received_total\{[^}]*event="([^"]+)"/gm),
    ].map((m) => m[1]);
    for (const name of names)
      assert.ok((AGENT_SUBSCRIPTION as readonly string[]).includes(name!), name);
  });

  it("with events.rtcp: false FreeSWITCH sends that agent no RTCP event", async () => {
    const metrics = await noRtcp.metrics();
    for (const name of RTCP_EVENTS) {
      assert.ok(rig.capture.eventsNamed(name).length > 0, `the call fired ${name}`);
      assert.equal(
        sampleOf(metrics, "fsagent_events_received_total", { ...connected, event: name }),
        undefined,
      );
    }
    assert.equal(
      sampleOf(metrics, "fsagent_events_received_total", { ...connected, event: "CHANNEL_CREATE" }),
      rig.capture.eventsNamed("CHANNEL_CREATE").length,
    );
    // The channel events (and their QoS) still come.
    assert.equal(
      sampleOf(metrics, "fsagent_events_received_total", {
        ...connected,
        event: "CHANNEL_HANGUP_COMPLETE",
      }),
      rig.capture.eventsNamed("CHANNEL_HANGUP_COMPLETE").length,
    );
  });
});
