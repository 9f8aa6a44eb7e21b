// Impaired media on a real FreeSWITCH: it runs in a network namespace whose RTP and RTCP are
// delayed 20 ± 10 ms and lose 5 % (support/impair.ts, as ../shared/freeswitch/testbed/impair.sh
// does it). Jitter, loss and RTT are then non-zero, and must still be exported exactly as
// FreeSWITCH reported them; the loss increments must add up to FreeSWITCH's cumulative loss.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { skipWithoutFreeswitch } from "../support/freeswitch.js";
import {
  assertQosPoints,
  assertQualityRecords,
  assertRtcpPoints,
  legPoints,
} from "../support/fs-assert.js";
import { Rig, sleep } from "../support/fs-rig.js";
import { skipWithoutImpairment } from "../support/impair.js";
import type { ExpectedLeg } from "../support/spec-model.js";

const skip = skipWithoutFreeswitch() || skipWithoutImpairment();

describe("real FreeSWITCH with impaired RTP (20 ± 10 ms, 5 % loss)", { skip }, () => {
  let rig: Rig;
  let legs: ExpectedLeg[] = [];

  before(async () => {
    rig = await Rig.start({ name: "impaired", impair: { delayMs: 20, jitterMs: 10, lossPct: 5 } });
    await rig.startAgent();
    const calls = await rig.fs.originate(2, { codec: "PCMA" });
    await sleep(16_000);
    legs = await rig.endCalls(calls);
  });

  after(() => rig?.dispose());

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
    assertRtcpPoints(rig.receiver, legs);
    const exportedLoss = legs.reduce(
      (sum, l) =>
        sum +
        legPoints(rig.receiver, "freeswitch.rtcp.packets_lost", l.uuid).reduce(
          (s, p) => s + p.value,
          0,
        ),
      0,
    );
    assert.ok(exportedLoss > 0, `${exportedLoss} packets lost in all`);
  });

  it("end of call: QoS MOS equals in_mos, and every QoS value FreeSWITCH's variables", () => {
    assertQosPoints(rig.receiver, legs);
    assertQualityRecords(rig.receiver, legs);
  });
});
