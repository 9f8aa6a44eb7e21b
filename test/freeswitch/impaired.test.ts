// Impaired media on a real FreeSWITCH: it runs in a network namespace whose RTP and RTCP are
// delayed 20 ± 10 ms and lose 5 % (support/impair.ts, as ../shared/freeswitch/testbed/impair.sh
// does it). Jitter, loss and RTT are then non-zero, and must still be exported exactly as
// FreeSWITCH reported them; the loss increments must add up to FreeSWITCH's cumulative loss.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { killAllChildren } from "../support/child.js";
import { FreeswitchInstance, skipWithoutFreeswitch } from "../support/freeswitch.js";
import {
  AgentProcess,
  assertQosPoints,
  assertQualityRecords,
  assertRtcpPoints,
  captureAll,
  endedLegs,
  FS_NAME,
  legPoints,
  sleep,
  waitForEndOfCalls,
} from "../support/fs-system.js";
import { ImpairedNetwork, impairmentUnavailable } from "../support/impair.js";
import { OtlpReceiver } from "../support/otlp-receiver.js";
import type { RawEslClient } from "../support/raw-esl.js";
import type { ExpectedLeg } from "../support/spec-model.js";

const skip =
  skipWithoutFreeswitch() || (process.env.CI === "true" ? false : impairmentUnavailable()) || false;

describe("real FreeSWITCH with impaired RTP (20 ± 10 ms, 5 % loss)", { skip }, () => {
  let net: ImpairedNetwork;
  let fs: FreeswitchInstance;
  let receiver: OtlpReceiver;
  let capture: RawEslClient;
  let agent: AgentProcess;
  let legs: ExpectedLeg[] = [];

  before(async () => {
    net = ImpairedNetwork.create();
    fs = await FreeswitchInstance.start({
      name: "impaired",
      netns: net.netns,
      ip: net.innerIp,
      eslAcl: "any_v4.auto", // the agent connects from the host's end of the veth pair
    });
    await net.impair({
      delayMs: 20,
      jitterMs: 10,
      lossPct: 5,
      portFrom: fs.ports.rtpStart,
      portTo: fs.ports.rtpEnd,
    });
    receiver = await OtlpReceiver.start();
    capture = await captureAll(fs);
    agent = await AgentProcess.start(fs, receiver);
    await agent.waitForSample(
      "fsagent_fs_connections",
      { fs_instance: FS_NAME },
      (v) => v === 1,
      "connected",
    );
    const calls = await fs.originate(2, { codec: "PCMA" });
    await sleep(16_000);
    await fs.hangup(calls);
    legs = endedLegs(capture);
    await waitForEndOfCalls(receiver, legs);
  });

  after(async () => {
    await agent?.stop();
    capture?.close();
    await receiver?.close();
    await fs?.dispose();
    net?.down();
    await killAllChildren();
  });

  it("FreeSWITCH reported non-zero jitter, loss and RTT", () => {
    assert.equal(legs.length, 8);
    const reports = legs.flatMap((l) => l.reports);
    assert.ok(
      reports.some((r) => r.jitterMs > 0),
      "jitter",
    );
    assert.ok(
      reports.some((r) => r.packetsLost > 0),
      "lost packets",
    );
    assert.ok(
      reports.some((r) => r.fractionLost > 0),
      "fraction lost",
    );
    assert.ok(
      reports.some((r) => (r.rttMs ?? 0) > 20),
      "an RTT above the added delay",
    );
    assert.ok(
      legs.some((l) => (l.qos?.values["freeswitch.qos.mos_score"] ?? 5) < 4.5),
      "a MOS below 4.5",
    );
  });

  it("jitter, fraction lost, RTT and the E-model estimate are exported exactly; packets_lost adds up to FreeSWITCH's final cumulative loss per leg and direction", () => {
    assertRtcpPoints(receiver, legs);
    const exportedLoss = legs.reduce(
      (sum, l) =>
        sum +
        legPoints(receiver, "freeswitch.rtcp.packets_lost", l.uuid).reduce(
          (s, p) => s + p.value,
          0,
        ),
      0,
    );
    assert.ok(exportedLoss > 0, `${exportedLoss} packets lost in all`);
  });

  it("end of call: QoS MOS equals in_mos, and every QoS value FreeSWITCH's variables", () => {
    assertQosPoints(receiver, legs);
    assertQualityRecords(receiver, legs);
  });
});
