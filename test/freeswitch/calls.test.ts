// Real calls on a real FreeSWITCH: one bridged call per codec (PCMU, PCMA, G722, OPUS; 4 channels
// each, RTCP every second, fire_rtcp_events=true), each call for another tenant (its A-leg's
// dialplan sets domain_name after the B-leg started, as multi-tenant PBXs do). What the agent
// exports is compared with what FreeSWITCH sent, as the test's own connection captured it, and
// the SPEC formulas (support/spec-model.ts).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Call, type Codec, skipWithoutFreeswitch } from "../support/freeswitch.js";
import {
  assertNoPerLegSeriesLeft,
  assertQosPoints,
  assertQualityRecords,
  assertRtcpPoints,
} from "../support/fs-assert.js";
import { type AgentProcess, Rig, sleep } from "../support/fs-rig.js";
import type { ExpectedLeg } from "../support/spec-model.js";

const CODECS: readonly Codec[] = ["PCMU", "PCMA", "G722", "OPUS"];
/** The codec names FreeSWITCH reports (variable_rtp_use_codec_name). */
const CODEC_NAME: Record<Codec, string> = {
  PCMU: "PCMU",
  PCMA: "PCMA",
  G722: "G722",
  OPUS: "opus",
};
/** RTP clock per codec (RFC 3551, RFC 7587): G722 is clocked at 8000 although it samples 16000. */
const RTP_CLOCK: Record<Codec, number> = { PCMU: 8000, PCMA: 8000, G722: 8000, OPUS: 48000 };
/** Long enough for the 4-s warm-up and a few reports at the 1-s interval. */
const CALL_SECONDS = 14;

describe("real FreeSWITCH: bridged calls on every codec", { skip: skipWithoutFreeswitch() }, () => {
  let rig: Rig;
  let agent: AgentProcess;
  const calls: Call[] = [];
  let legs: ExpectedLeg[] = [];

  before(async () => {
    rig = await Rig.start({ name: "calls" });
    agent = await rig.startAgent();
    for (const [i, codec] of CODECS.entries()) {
      calls.push(...(await rig.fs.originate(1, { codec, domain: `tenant-${i + 1}.example` })));
    }
    await sleep(CALL_SECONDS * 1000);
    legs = await rig.endCalls(calls);
  });

  after(() => rig?.dispose());

  it("FreeSWITCH made 4 channels per call, with RTCP both ways on each, on the codec asked for", () => {
    assert.equal(legs.length, 4 * CODECS.length, `${legs.length} legs ended`);
    for (const leg of legs) {
      assert.ok(
        leg.reports.some((r) => r.direction === "inbound"),
        `${leg.uuid}: RECV reports`,
      );
      assert.ok(
        leg.reports.some((r) => r.direction === "outbound"),
        `${leg.uuid}: SEND reports`,
      );
    }
    const codecs = legs.map((l) => l.qos?.labels.codec_name).sort();
    assert.deepEqual(codecs, CODECS.flatMap((c) => Array(4).fill(CODEC_NAME[c])).sort());
    // The RTP-Rate FreeSWITCH reports is the codec's RTP clock (jitter is divided by it).
    for (const e of rig.capture.eventsNamed("RECV_RTCP_MESSAGE")) {
      const leg = legs.find((l) => l.uuid === e.get("Unique-ID"));
      if (leg === undefined) continue;
      const codec = CODECS.find((c) => CODEC_NAME[c] === leg.qos?.labels.codec_name);
      assert.ok(codec !== undefined);
      assert.equal(Number(e.get("RTP-Rate")), RTP_CLOCK[codec], `${codec} RTP-Rate`);
    }
  });

  it("every leg and direction: jitter, fraction lost, packets lost, RTT and MOS estimate equal FreeSWITCH's reports", () => {
    assertRtcpPoints(rig.receiver, legs);
  });

  it("labels per SPEC §3 on all 4 channels: one correlation per SIP dialog, each tenant's domain", () => {
    // L1/L2 share a SIP Call-ID and L3 (the B-leg) inherits L2's; L4 answers L3's own dialog.
    for (const [i] of CODECS.entries()) {
      const domain = `tenant-${i + 1}.example`;
      // While the call is up: L2 sets it, L3 inherits it at L2's BRIDGE, L4 sets it too (its
      // dialplan sees the copied X- header). L1 runs its own dialplan after its answer: it has
      // its own only at hangup, so its QoS carries it and its RTCP the host it had.
      const live = legs.filter((l) => l.labels.domain_name === domain);
      assert.equal(live.length, 3, `${domain}: ${live.map((l) => l.uuid)}`);
      const ended = legs.filter((l) => l.qos?.labels.domain_name === domain);
      assert.equal(ended.length, 4, `${domain} at hangup`);
    }
    const correlations = new Map<string, number>();
    for (const l of legs)
      correlations.set(
        l.labels.correlation_id,
        (correlations.get(l.labels.correlation_id) ?? 0) + 1,
      );
    assert.deepEqual(
      [...correlations.values()].sort(),
      [...Array(4).fill(1), ...Array(4).fill(3)].sort(),
    );
    // assertRtcpPoints (above) and assertQosPoints (below) check every point against these.
  });

  it("end of call: the 7 QoS metrics once per leg, equal to FreeSWITCH's variable_rtp_audio_*", () => {
    assertQosPoints(rig.receiver, legs);
  });

  it("one quality record per leg, with the same labels and values", () => {
    assertQualityRecords(rig.receiver, legs);
  });

  it("no per-leg series after the legs ended; nothing counted unusable or dropped", async () => {
    await assertNoPerLegSeriesLeft(rig.receiver, agent);
    const metrics = await agent.metrics();
    assert.doesNotMatch(metrics, /^fsagent_events_unusable_total\{.*\} [1-9]/m);
    assert.doesNotMatch(metrics, /^fsagent_events_dropped_total\{.*\} [1-9]/m);
    assert.doesNotMatch(metrics, /^fsagent_qos_variables_unreadable_total\{.*\} [1-9]/m);
    assert.equal(rig.receiver.decodeErrors.length, 0);
  });
});
