// The per-leg RTCP summary and the end-of-call quality record (issue 8), on the real cgrates
// CHANNEL_HANGUP_COMPLETE sample; expected figures are the sample's own variables.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addToSummary } from "../src/legs/fold-rtcp.js";
import { emptyLeg, legFromChannelEvent } from "../src/quality/labels.js";
import { computeQos } from "../src/quality/qos.js";
import {
  hangupInfo,
  QUALITY_RECORD_EVENT,
  qualityRecordAttributes,
  qualityRecordBody,
} from "../src/quality/record.js";
import { meanMosEstimate } from "../src/quality/summary.js";
import type { QosValues, RtcpSummary } from "../src/quality/types.js";
import { isUnusable } from "../src/quality/unusable.js";
import { cgratesFrame, eventFrom, SAMPLES, toEvent } from "./support/samples.js";

describe("RTCP summary per direction", () => {
  it("folds reports: min/max/sum of jitter, lost increments, worst fraction, RTT when known", () => {
    let s: RtcpSummary | null = null;
    s = addToSummary(s, { jitterMs: 4, fractionLost: 0, packetsLost: 0, rttMs: 40, mos: 4.3 });
    s = addToSummary(s, {
      jitterMs: 12,
      fractionLost: 0.1,
      packetsLost: 5,
      rttMs: undefined,
      mos: 3.9,
    });
    s = addToSummary(s, { jitterMs: 2, fractionLost: 0.02, packetsLost: 1, rttMs: 60, mos: 4.2 });
    assert.deepEqual(s, {
      reports: 3,
      jitterMinMs: 2,
      jitterMaxMs: 12,
      jitterSumMs: 18,
      packetsLost: 6,
      worstFractionLost: 0.1,
      rttSumMs: 100,
      rttCount: 2,
      mosMin: 3.9,
      mosSum: 4.3 + 3.9 + 4.2,
      // The latest report, as it came: the status page shows these.
      lastJitterMs: 2,
      lastFractionLost: 0.02,
      lastRttMs: 60,
      lastMos: 4.2,
    });
    const noRtt = addToSummary(s, {
      jitterMs: 7,
      fractionLost: 0,
      packetsLost: 0,
      rttMs: undefined,
      mos: 4.1,
    });
    assert.equal(noRtt.lastRttMs, null, "a report without RTT: the latest RTT is unknown");
    assert.equal(noRtt.rttSumMs, 100, "the RTT mean keeps the reports that had one");
    assert.equal(noRtt.lastJitterMs, 7);
  });

  it("averages the MOS estimate over both directions' reports, undefined without any", () => {
    const a = addToSummary(null, {
      jitterMs: 1,
      fractionLost: 0,
      packetsLost: 0,
      rttMs: 1,
      mos: 4,
    });
    const b = addToSummary(
      addToSummary(null, { jitterMs: 1, fractionLost: 0, packetsLost: 0, rttMs: 1, mos: 3 }),
      { jitterMs: 1, fractionLost: 0, packetsLost: 0, rttMs: 1, mos: 2 },
    );
    assert.equal(meanMosEstimate(a, b), 3);
    assert.equal(meanMosEstimate(a, null), 4);
    assert.equal(meanMosEstimate(null, null), undefined);
  });
});

describe("quality record of a leg", () => {
  const event = eventFrom(cgratesFrame(SAMPLES.cgratesG722));

  it("reads the hangup cause, duration and billsec of the real sample", () => {
    assert.deepEqual(hangupInfo(event), { cause: "NORMAL_CLEARING", durationS: 30, billsec: 21 });
    assert.deepEqual(hangupInfo(toEvent([["Event-Name", "CHANNEL_DESTROY"]])), {
      cause: "",
      durationS: undefined,
      billsec: undefined,
    });
  });

  it("carries every label, every QoS value, both RTCP summaries and the call figures", () => {
    const leg = legFromChannelEvent(event, undefined, undefined);
    assert.ok(!isUnusable(leg));
    const qos = computeQos(event, leg);
    assert.ok(!isUnusable(qos));
    const inbound = addToSummary(
      addToSummary(null, { jitterMs: 10, fractionLost: 0, packetsLost: 0, rttMs: 30, mos: 4.3 }),
      { jitterMs: 20, fractionLost: 0.05, packetsLost: 3, rttMs: 50, mos: 3.7 },
    );
    const attributes = qualityRecordAttributes({
      instance: "fs1",
      labels: leg.labels,
      qos,
      inbound,
      outbound: null,
      hangup: hangupInfo(event),
    });
    assert.deepEqual(attributes, {
      fs_instance: "fs1",
      channel_id: "5a3a1d91-90d3-4db4-af5c-cc3ae15d93a4",
      correlation_id: leg.labels.correlationId,
      domain_name: "192.168.56.202",
      call_direction: leg.labels.callDirection,
      codec_name: leg.labels.codecName,
      src_ip: leg.labels.srcIp,
      dst_ip: leg.labels.dstIp,
      mos_score: qos.mosScore,
      jitter_min_ms: qos.jitterMinMs,
      jitter_max_ms: qos.jitterMaxMs,
      jitter_avg_ms: qos.jitterAvgMs,
      total_packets: qos.totalPackets,
      packet_loss: qos.packetLoss,
      total_bytes: qos.totalBytes,
      mos_estimate_avg: 4,
      inbound_reports: 2,
      inbound_jitter_min_ms: 10,
      inbound_jitter_avg_ms: 15,
      inbound_jitter_max_ms: 20,
      inbound_packets_lost: 3,
      inbound_worst_fraction_lost: 0.05,
      inbound_rtt_avg_ms: 40,
      inbound_mos_min: 3.7,
      inbound_mos_avg: 4,
      outbound_reports: 0,
      hangup_cause: "NORMAL_CLEARING",
      duration_s: 30,
      billsec: 21,
    });
    assert.equal(leg.labels.codecName, "G722");
    assert.equal(QUALITY_RECORD_EVENT, "freeswitch.call.quality");
    assert.match(
      qualityRecordBody(attributes),
      /^leg 5a3a1d91-.* \(192\.168\.56\.202\) ended: MOS \d/,
    );
  });

  it("leaves unknown values out instead of writing zeros", () => {
    const qos: QosValues = {
      mosScore: undefined,
      jitterMinMs: 0,
      jitterMaxMs: 0,
      jitterAvgMs: 0,
      totalPackets: 0,
      packetLoss: 0,
      totalBytes: 0,
      unreadable: [],
    };
    const attributes = qualityRecordAttributes({
      instance: "fs1",
      labels: emptyLeg("leg-x").labels,
      qos,
      inbound: null,
      outbound: null,
      hangup: { cause: "", durationS: undefined, billsec: undefined },
    });
    for (const key of ["mos_score", "mos_estimate_avg", "hangup_cause", "duration_s", "billsec"]) {
      assert.ok(!(key in attributes), key);
    }
    assert.equal(attributes.inbound_reports, 0);
    assert.ok(!("inbound_mos_avg" in attributes));
    assert.match(qualityRecordBody(attributes), /no audio received, unknown cause/);
    assert.ok(!("qos_unreadable" in attributes));
  });

  it("names the QoS variables FreeSWITCH sent unreadable", () => {
    const attributes = qualityRecordAttributes({
      instance: "fs1",
      labels: emptyLeg("leg-y").labels,
      qos: {
        mosScore: undefined,
        jitterMinMs: 1,
        jitterMaxMs: 2,
        jitterAvgMs: 1.5,
        totalPackets: 100,
        packetLoss: undefined,
        totalBytes: 16000,
        unreadable: ["in_flaw_total", "in_mos"],
      },
      inbound: null,
      outbound: null,
      hangup: { cause: "NORMAL_CLEARING", durationS: 3, billsec: 2 },
    });
    assert.equal(attributes.qos_unreadable, "in_flaw_total,in_mos");
    assert.ok(!("packet_loss" in attributes) && !("mos_score" in attributes));
    assert.match(qualityRecordBody(attributes), /MOS unreadable, NORMAL_CLEARING/);
  });
});
