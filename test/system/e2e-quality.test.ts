// The quality pipeline end to end: the FreeSWITCH simulator on a real ESL socket → the Agent
// (its own EslConnection, Router, store and OTLP sink) → a real OTLP/gRPC receiver decoding with
// the official protobuf root. Expected values are what the test sent, through SPEC §4's formulas
// written out in test/support/e2e.ts (specJitterMs, specFraction, specQos): never the calculators.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { headerValue, type SimEvent } from "../../src/sim/index.js";
import {
  assertQos,
  assertRtcpSeries,
  E2eHarness,
  eventOf,
  FS_INSTANCE,
  type HarnessOptions,
  header,
  numberHeader,
  QOS_METRIC_NAMES,
  RTCP_METRIC_NAMES,
  RTCP_METRICS,
  specFraction,
  specJitterMs,
  specQos,
  specQosLabels,
  specRtcpLabels,
} from "../support/e2e.js";

const harnesses: E2eHarness[] = [];

async function harness(options: HarnessOptions = {}): Promise<E2eHarness> {
  const h = await E2eHarness.start(options);
  harnesses.push(h);
  return h;
}

after(async () => {
  for (const h of harnesses) await h.close();
});

const RTCP_EVENTS = ["RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE"];

/** RTP clocks of the codecs used here (RFC 3551 / RFC 7587). */
const PCMU_RATE = 8000;
const OPUS_RATE = 48000;

/**
 * A SEND_RTCP_MESSAGE written out with the layout of SPEC §2 (unnumbered Source-* fields, no
 * RTP-Rate): FreeSWITCH's own SR with its report on the stream it receives.
 */
function sendReport(
  h: E2eHarness,
  uuid: string,
  block: { jitter: number; fraction: number; lost: number },
): SimEvent {
  return h.server.emitEvent("SEND_RTCP_MESSAGE", [
    ["Unique-ID", uuid],
    ["SSRC", "1a2b3c4d"],
    ["NTP-Most-Significant-Word", "3913056000"],
    ["NTP-Least-Significant-Word", "0"],
    ["RTP-Timestamp", "160000"],
    ["Sender-Packet-Count", "250"],
    ["Octect-Packet-Count", "20500"],
    ["Last-RTP-Timestamp", "159040"],
    ["Capture-Time", String(Date.now() * 1000)],
    ["Source-SSRC", "5e6f7a8b"],
    ["Source-Fraction", String(block.fraction)],
    ["Source-Lost", String(block.lost)],
    ["Source-Highest-Sequence-Number-Received", "1250"],
    ["Source-Jitter", String(block.jitter)],
    ["Source-LSR", "0"],
    ["Source-DLSR", "0"],
  ]);
}

describe("e2e quality: simulator → agent → OTLP receiver", () => {
  it("exports every RTCP report and each leg's QoS with exact values and full label sets", async () => {
    const h = await harness();
    const gen = h.generator;
    const t0 = Date.now();
    const A_CALL_ID = "a7c1e2f0-e2e-bridged@tenant-a.example";
    const B_CALL_ID = "b-leg-own-call-id-0001";
    const LONE_CALL_ID = "lone-e2e-opus@tenant-b.example";
    const bridged = gen.startCall({
      bridged: true,
      domain: "tenant-a.example",
      codec: "PCMU",
      sipCallId: A_CALL_ID,
      bSipCallId: B_CALL_ID,
      atMs: t0,
    });
    const lone = gen.startCall({
      domain: "tenant-b.example",
      codec: "opus",
      sipCallId: LONE_CALL_ID,
      atMs: t0,
    });
    const a = bridged.uuid;
    const b = bridged.bLeg?.uuid ?? "";
    const l = lone.uuid;
    assert.notEqual(b, "");
    // The simulator's B-leg is the libresbc kind: outbound, its own SIP Call-ID, no domain.
    assert.equal(bridged.bLeg?.direction, "outbound");
    assert.equal(bridged.bLeg?.vars.get("sip_call_id"), B_CALL_ID);
    assert.equal(bridged.bLeg?.vars.has("domain_name"), false);
    await h.waitProcessed("CHANNEL_ANSWER", 3);
    await h.waitProcessed("CHANNEL_BRIDGE", 1);

    // Round 1: one RECV report per leg, FreeSWITCH's own SR on A (generator) and on the opus leg
    // before any RECV report there (so its rate can only come from the leg's codec).
    const a1 = gen.sendRtcp(a, { jitter: 160, lost: 3, fraction: 64, atMs: t0 + 5000 });
    const b1 = gen.sendRtcp(b, { jitter: 40, lost: 0, fraction: 0, atMs: t0 + 5000 });
    const lSend = sendReport(h, l, { jitter: 480, fraction: 8, lost: 2 });
    const l1 = gen.sendRtcp(l, { jitter: 960, lost: 5, fraction: 128, atMs: t0 + 5000 });
    const aSend = gen.sendSenderReport(a, t0 + 5500);
    assert.equal(header(a1, "RTP-Rate"), String(PCMU_RATE));
    assert.equal(header(b1, "RTP-Rate"), String(PCMU_RATE));
    assert.equal(headerValue(lSend, "RTP-Rate"), undefined);
    assert.equal(header(l1, "RTP-Rate"), String(OPUS_RATE));
    assert.equal(headerValue(aSend, "RTP-Rate"), undefined, "SEND reports carry no RTP-Rate");
    await h.waitProcessed("RECV_RTCP_MESSAGE", 3);
    await h.waitProcessed("SEND_RTCP_MESSAGE", 2);
    await h.flush();

    // Round 2: higher cumulative loss; packets_lost must be the increment.
    gen.sendRtcp(a, { jitter: 80, lost: 10, fraction: 32, atMs: t0 + 10_000 });
    gen.sendRtcp(b, { jitter: 120, lost: 4, fraction: 16, atMs: t0 + 10_000 });
    gen.sendRtcp(l, { jitter: 2400, lost: 5, fraction: 0, atMs: t0 + 10_000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 6);
    await h.flush();

    const aSendJitter = specJitterMs(numberHeader(aSend, "Source-Jitter"), PCMU_RATE);
    const aCorr = A_CALL_ID;
    assertRtcpSeries(h, specRtcpLabels(a, aCorr, "tenant-a.example", "inbound"), {
      jitterMs: [specJitterMs(160, PCMU_RATE), specJitterMs(80, PCMU_RATE)], // 20 ms, 10 ms
      fractionLost: [specFraction(64), specFraction(32)], // 0.25, 0.125
      packetsLost: [3, 10 - 3],
    });
    assertRtcpSeries(h, specRtcpLabels(a, aCorr, "tenant-a.example", "outbound"), {
      jitterMs: [aSendJitter],
      fractionLost: [specFraction(numberHeader(aSend, "Source-Fraction"))],
      // The first report of a stream counts its whole cumulative value.
      packetsLost: [numberHeader(aSend, "Source-Lost")],
    });
    // The B-leg: correlation_id is the A-leg's SIP Call-ID, domain_name the A-leg's domain.
    assertRtcpSeries(h, specRtcpLabels(b, aCorr, "tenant-a.example", "inbound"), {
      jitterMs: [specJitterMs(40, PCMU_RATE), specJitterMs(120, PCMU_RATE)], // 5 ms, 15 ms
      fractionLost: [0, specFraction(16)],
      packetsLost: [0, 4],
    });
    assertRtcpSeries(h, specRtcpLabels(l, LONE_CALL_ID, "tenant-b.example", "inbound"), {
      jitterMs: [specJitterMs(960, OPUS_RATE), specJitterMs(2400, OPUS_RATE)], // 20 ms, 50 ms
      fractionLost: [specFraction(128), 0], // 0.5, 0
      packetsLost: [5, 0],
    });
    assertRtcpSeries(h, specRtcpLabels(l, LONE_CALL_ID, "tenant-b.example", "outbound"), {
      jitterMs: [specJitterMs(480, OPUS_RATE)], // 10 ms at 48 kHz (it would be 60 ms at 8 kHz)
      fractionLost: [specFraction(8)],
      packetsLost: [2],
    });

    // Hangup: HANGUP_COMPLETE and DESTROY both carry the QoS variables of each leg.
    const ended = [
      ...gen.hangupCall(bridged.uuid, {
        atMs: t0 + 60_000,
        qos: { inPacketCount: 2900, inFlaws: 12, jitterMs: 4 },
        bQos: { inPacketCount: 2950, inFlaws: 3, jitterMs: 2 },
      }),
      ...gen.hangupCall(lone.uuid, {
        atMs: t0 + 60_000,
        qos: { inPacketCount: 2990, inFlaws: 0, jitterMs: 8 },
      }),
    ];
    await h.waitProcessed("CHANNEL_DESTROY", 3);
    await h.flush();
    // Two more exports: a second QoS point for a leg would show up here.
    await h.flush();
    await h.flush();

    for (const uuid of [a, b, l]) {
      const complete = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", uuid);
      const destroy = eventOf(ended, "CHANNEL_DESTROY", uuid);
      assert.equal(
        header(destroy, "variable_rtp_audio_in_mos"),
        header(complete, "variable_rtp_audio_in_mos"),
        "DESTROY carries the QoS variables too",
      );
    }
    const hcA = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", a);
    const hcB = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", b);
    const hcL = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", l);
    assertQos(
      h,
      specQosLabels(hcA, aCorr, "tenant-a.example"),
      specQos(hcA, [specJitterMs(160, PCMU_RATE), aSendJitter, specJitterMs(80, PCMU_RATE)], 10),
    );
    assertQos(
      h,
      specQosLabels(hcB, aCorr, "tenant-a.example"),
      specQos(hcB, [specJitterMs(40, PCMU_RATE), specJitterMs(120, PCMU_RATE)], 4),
    );
    assertQos(
      h,
      specQosLabels(hcL, LONE_CALL_ID, "tenant-b.example"),
      specQos(
        hcL,
        [specJitterMs(480, OPUS_RATE), specJitterMs(960, OPUS_RATE), specJitterMs(2400, OPUS_RATE)],
        5,
      ),
    );
    // The values the spec formulas give, spelled out once as a cross-check of the test itself.
    assert.equal(header(hcA, "variable_rtp_audio_in_jitter_min_variance"), "4.00");
    assert.equal(header(hcA, "variable_rtp_audio_in_jitter_max_variance"), "28.00");
    assert.equal(h.pointsOf("freeswitch.qos.jitter_min", a)[0]?.value, 2);
    assert.equal(h.pointsOf("freeswitch.qos.packet_loss", a)[0]?.value, 12 + 10);
    assert.equal(h.pointsOf("freeswitch.qos.total_packets", a)[0]?.value, 2900 + 3000);
    assert.equal(h.counters().qosGenerated, 3);
    assert.equal(h.current.legStore().legs, 0, "every leg forgotten after DESTROY");
    assert.deepEqual(h.receiver.decodeErrors, []);
  });

  it("reports QoS once per leg, and from CHANNEL_DESTROY when CHANNEL_HANGUP_COMPLETE was missed", async () => {
    const h = await harness();
    const gen = h.generator;
    const t0 = Date.now();
    const A_CALL_ID = "missed-hc-a@tenant-a.example";
    const call = gen.startCall({
      bridged: true,
      domain: "tenant-a.example",
      codec: "PCMU",
      sipCallId: A_CALL_ID,
      atMs: t0,
    });
    const a = call.uuid;
    const b = call.bLeg?.uuid ?? "";
    // FreeSWITCH never delivered the B-leg's HANGUP_COMPLETE (lost, or the agent was reconnecting).
    h.drop = (e) => e.name === "CHANNEL_HANGUP_COMPLETE" && headerValue(e, "Unique-ID") === b;
    await h.waitProcessed("CHANNEL_BRIDGE", 1);
    gen.sendRtcp(b, { jitter: 96, lost: 6, fraction: 8, atMs: t0 + 5000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 1);

    const ended = gen.hangupCall(a, {
      atMs: t0 + 30_000,
      qos: { inPacketCount: 1490, inFlaws: 7, jitterMs: 3 },
      bQos: { inPacketCount: 1480, inFlaws: 2, jitterMs: 5 },
    });
    await h.waitProcessed("CHANNEL_DESTROY", 2);
    await h.flush();
    await h.flush();

    assert.equal(h.received("CHANNEL_HANGUP_COMPLETE"), 1, "only the A-leg's HANGUP_COMPLETE");
    assert.equal(h.received("CHANNEL_DESTROY"), 2);
    // A: both HANGUP_COMPLETE and DESTROY arrived, one point per metric (assertQos checks 1).
    const hcA = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", a);
    assertQos(h, specQosLabels(hcA, A_CALL_ID, "tenant-a.example"), specQos(hcA, [], 0));
    // B: reported from its DESTROY, with the far end's loss from its RTCP report.
    const destroyB = eventOf(ended, "CHANNEL_DESTROY", b);
    assertQos(
      h,
      specQosLabels(destroyB, A_CALL_ID, "tenant-a.example"),
      specQos(destroyB, [specJitterMs(96, PCMU_RATE)], 6),
    );
    assert.equal(h.counters().qosGenerated, 2);
  });

  it("does not report a leg without media as MOS 4.5: no QoS points, counted as no_media", async () => {
    const h = await harness();
    const gen = h.generator;
    const t0 = Date.now();
    const silent = gen.startCall({ domain: "tenant-a.example", media: false, atMs: t0 });
    const silentBridge = gen.startCall({ bridged: true, media: false, atMs: t0 });
    const withMedia = gen.startCall({ domain: "tenant-a.example", atMs: t0 });
    await h.waitProcessed("CHANNEL_ANSWER", 4);
    const before = h.unusable("no_media");

    const ended = [
      ...gen.hangupCall(silent.uuid, { atMs: t0 + 20_000 }),
      ...gen.hangupCall(silentBridge.uuid, { atMs: t0 + 20_000 }),
      ...gen.hangupCall(withMedia.uuid, { atMs: t0 + 20_000 }),
    ];
    await h.waitProcessed("CHANNEL_DESTROY", 4);
    await h.flush();

    const noMedia = [silent.uuid, silentBridge.uuid, silentBridge.bLeg?.uuid ?? ""];
    for (const uuid of noMedia) {
      // What FreeSWITCH says about such a leg: 0 packets, a perfect 4.50.
      const hc = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", uuid);
      assert.equal(header(hc, "variable_rtp_audio_in_packet_count"), "0");
      assert.equal(header(hc, "variable_rtp_audio_out_packet_count"), "0");
      assert.equal(header(hc, "variable_rtp_audio_in_mos"), "4.50");
      assert.deepEqual(h.legPoints(uuid), [], `no point at all for ${uuid}`);
    }
    // One count per leg (HANGUP_COMPLETE; its DESTROY is not counted again).
    assert.equal(h.unusable("no_media") - before, 3);
    // The call with media next to them is reported normally.
    assert.equal(h.pointsOf("freeswitch.qos.mos_score", withMedia.uuid).length, 1);
    assert.equal(h.counters().qosGenerated, 1);
  });

  it("exports RTCP of a leg the agent never saw with labels from one uuid_dump per leg", async () => {
    // The call begins while the agent is not connected: it never sees CREATE, ANSWER or BRIDGE.
    // No periodic export: the first two reports must fall in one collection (see below).
    const h = await harness({ connect: false, exportIntervalMs: 60_000 });
    const gen = h.generator;
    const t0 = Date.now();
    const A_CALL_ID = "before-agent@tenant-c.example";
    const call = gen.startCall({
      bridged: true,
      domain: "tenant-c.example",
      codec: "PCMU",
      sipCallId: A_CALL_ID,
      atMs: t0,
    });
    const a = call.uuid;
    const b = call.bLeg?.uuid ?? "";
    await h.startAgent();
    assert.equal(h.received("CHANNEL_CREATE"), 0);

    // Two reports back to back (the second arrives while the look-up may still be in flight),
    // then a third once the leg is known.
    gen.sendRtcp(a, { jitter: 160, lost: 2, fraction: 16, atMs: t0 + 5000 });
    gen.sendRtcp(a, { jitter: 80, lost: 5, fraction: 32, atMs: t0 + 10_000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 2);
    await h.flush();
    gen.sendRtcp(a, { jitter: 40, lost: 9, fraction: 0, atMs: t0 + 15_000 });
    gen.sendRtcp(b, { jitter: 24, lost: 1, fraction: 4, atMs: t0 + 15_000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 4);
    await h.flush();
    gen.sendRtcp(a, { jitter: 40, lost: 9, fraction: 0, atMs: t0 + 20_000 });
    gen.sendRtcp(b, { jitter: 48, lost: 4, fraction: 8, atMs: t0 + 20_000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 6);
    await h.flush();

    // The labels the simulator's uuid_dump gives: the A-leg's SIP Call-ID and domain, on both legs.
    // Reports 1 and 2 share one export: the gauges hold report 2, the DELTA sum both increments.
    assertRtcpSeries(h, specRtcpLabels(a, A_CALL_ID, "tenant-c.example", "inbound"), {
      jitterMs: [80, 40, 40].map((units) => specJitterMs(units, PCMU_RATE)),
      fractionLost: [32, 0, 0].map(specFraction),
      packetsLost: [2 + (5 - 2), 9 - 5, 0],
    });
    assertRtcpSeries(h, specRtcpLabels(b, A_CALL_ID, "tenant-c.example", "inbound"), {
      jitterMs: [specJitterMs(24, PCMU_RATE), specJitterMs(48, PCMU_RATE)],
      fractionLost: [specFraction(4), specFraction(8)],
      packetsLost: [1, 3],
    });
    assert.equal(h.uuidDumps(a), 1, "one uuid_dump for the A-leg, not one per report");
    assert.equal(h.uuidDumps(b), 1, "one uuid_dump for the B-leg");
    assert.equal(h.counters().lookups.get("found"), 2);

    // Its end of call: QoS from HANGUP_COMPLETE with the RTCP history gathered since the look-up.
    const ended = gen.hangupCall(a, {
      atMs: t0 + 40_000,
      qos: { inPacketCount: 1990, inFlaws: 4, jitterMs: 6 },
      bQos: { inPacketCount: 1995, inFlaws: 1, jitterMs: 2 },
    });
    await h.waitProcessed("CHANNEL_DESTROY", 2);
    await h.flush();
    const hcA = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", a);
    const hcB = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", b);
    assertQos(
      h,
      specQosLabels(hcA, A_CALL_ID, "tenant-c.example"),
      specQos(
        hcA,
        [160, 80, 40, 40].map((u) => specJitterMs(u, PCMU_RATE)),
        9,
      ),
    );
    assertQos(
      h,
      specQosLabels(hcB, A_CALL_ID, "tenant-c.example"),
      specQos(
        hcB,
        [24, 48].map((u) => specJitterMs(u, PCMU_RATE)),
        4,
      ),
    );
    assert.equal(h.uuidDumps(a) + h.uuidDumps(b), 2, "no further look-up at hangup");
  });

  it("gives a never-seen B-leg whose RTCP comes before its A-leg's the A-leg's correlation_id and domain", async () => {
    const h = await harness({ connect: false });
    const gen = h.generator;
    const t0 = Date.now();
    const A_CALL_ID = "b-first@tenant-d.example";
    const call = gen.startCall({
      bridged: true,
      domain: "tenant-d.example",
      codec: "PCMU",
      sipCallId: A_CALL_ID,
      atMs: t0,
    });
    const a = call.uuid;
    const b = call.bLeg?.uuid ?? "";
    await h.startAgent();
    gen.sendRtcp(b, { jitter: 24, lost: 1, fraction: 4, atMs: t0 + 5000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 1);
    gen.sendRtcp(a, { jitter: 160, lost: 2, fraction: 16, atMs: t0 + 5000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 2);
    await h.flush();
    const bLabels = h.pointsOf("freeswitch.rtcp.jitter", b)[0]?.attributes;
    const aLabels = h.pointsOf("freeswitch.rtcp.jitter", a)[0]?.attributes;
    assert.equal(aLabels?.correlation_id, A_CALL_ID);
    assert.deepEqual(bLabels, specRtcpLabels(b, A_CALL_ID, "tenant-d.example", "inbound"));
  });

  it("events.rtcp: false subscribes no RTCP event and exports no RTCP point", async () => {
    const h = await harness({ events: { rtcp: false } });
    const subscribed = h.server.clientInfo()[0]?.subscription.events ?? [];
    for (const name of RTCP_EVENTS) assert.ok(!subscribed.includes(name), `${name} subscribed`);
    assert.ok(subscribed.includes("CHANNEL_HANGUP_COMPLETE"));
    assert.ok(!subscribed.includes("ALL"));

    const gen = h.generator;
    const t0 = Date.now();
    const call = gen.startCall({ domain: "tenant-a.example", sipCallId: "no-rtcp@x", atMs: t0 });
    gen.sendRtcp(call.uuid, { jitter: 160, lost: 3, fraction: 64, atMs: t0 + 5000 });
    gen.sendSenderReport(call.uuid, t0 + 5000);
    const ended = gen.hangupCall(call.uuid, {
      atMs: t0 + 20_000,
      qos: { inPacketCount: 990, inFlaws: 1, jitterMs: 4 },
    });
    await h.waitProcessed("CHANNEL_DESTROY", 1);
    await h.flush();

    for (const name of RTCP_EVENTS) assert.equal(h.received(name), 0, `${name} delivered`);
    for (const name of RTCP_METRIC_NAMES) assert.deepEqual(h.receiver.points(name), []);
    // The pipeline works: QoS is there, jitter_avg from the variances (no RTCP seen):
    // √((4.00 + 28.00) / 2) = 4.
    const hc = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", call.uuid);
    assertQos(h, specQosLabels(hc, "no-rtcp@x", "tenant-a.example"), specQos(hc, [], 0));
    assert.equal(h.pointsOf("freeswitch.qos.jitter_avg", call.uuid)[0]?.value, 4);
  });

  it("events.qos: false exports no QoS point and does not subscribe CHANNEL_HANGUP_COMPLETE", async () => {
    const h = await harness({ events: { qos: false } });
    const subscribed = h.server.clientInfo()[0]?.subscription.events ?? [];
    assert.ok(!subscribed.includes("CHANNEL_HANGUP_COMPLETE"));
    for (const name of RTCP_EVENTS) assert.ok(subscribed.includes(name), `${name} subscribed`);
    assert.ok(subscribed.includes("CHANNEL_DESTROY"), "DESTROY still needed to forget legs");

    const gen = h.generator;
    const t0 = Date.now();
    const call = gen.startCall({ bridged: true, domain: "tenant-a.example", atMs: t0 });
    gen.sendRtcp(call.uuid, { jitter: 160, lost: 3, fraction: 64, atMs: t0 + 5000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 1);
    gen.hangupCall(call.uuid, { atMs: t0 + 20_000 });
    await h.waitProcessed("CHANNEL_DESTROY", 2);
    await h.flush();

    assert.equal(h.received("CHANNEL_HANGUP_COMPLETE"), 0);
    for (const name of QOS_METRIC_NAMES) assert.deepEqual(h.receiver.points(name), []);
    assert.equal(h.counters().qosGenerated, 0);
    assert.deepEqual(
      h.pointsOf("freeswitch.rtcp.jitter", call.uuid).map((p) => p.value),
      [specJitterMs(160, PCMU_RATE)],
    );
    assert.equal(h.current.legStore().legs, 0);
  });

  it("exports a leg's series after its events and in none of the exports after that", async () => {
    const h = await harness();
    const gen = h.generator;
    const t0 = Date.now();
    const ending = gen.startCall({ domain: "tenant-a.example", atMs: t0 });
    // Another call that stays up and keeps reporting, so that later exports do happen.
    const staying = gen.startCall({ domain: "tenant-b.example", codec: "opus", atMs: t0 });
    await h.waitProcessed("CHANNEL_ANSWER", 2);
    gen.sendRtcp(ending.uuid, { jitter: 160, lost: 3, fraction: 64, atMs: t0 + 5000 });
    gen.sendRtcp(staying.uuid, { jitter: 960, lost: 1, fraction: 2, atMs: t0 + 5000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 2);
    await h.flush();
    gen.hangupCall(ending.uuid, { atMs: t0 + 20_000 });
    await h.waitProcessed("CHANNEL_DESTROY", 1);
    await h.flush();

    const mark = h.receiver.metricRequests.length;
    const seen = new Set(h.legPoints(ending.uuid).map((p) => p.name));
    assert.deepEqual(
      [...seen].sort(),
      // The leg's only report came before any SR reached the far end: no RTT (LSR 0, Rtt-Avg 0).
      [...RTCP_METRIC_NAMES.filter((n) => n !== RTCP_METRICS.rtt.name), ...QOS_METRIC_NAMES].sort(),
      "every series of the leg was exported",
    );

    for (const [i, at] of [25_000, 30_000].entries()) {
      gen.sendRtcp(staying.uuid, { jitter: 960, lost: 2 + i, fraction: 2, atMs: t0 + at });
      await h.waitProcessed("RECV_RTCP_MESSAGE", 3 + i);
      await h.flush();
    }
    assert.ok(h.receiver.metricRequests.length >= mark + 2, "two more exports happened");
    assert.ok(h.legPoints(staying.uuid, mark).length > 0, "the live leg is in them");
    assert.deepEqual(h.legPoints(ending.uuid, mark), [], "the ended leg is in none of them");
    assert.equal(h.current.metrics.cachedLegs, 1, "only the live leg's attributes cached");
    for (const p of h.receiver.points()) assert.equal(p.attributes.fs_instance, FS_INSTANCE);
  });
});

describe("e2e quality: a short Collector outage", () => {
  it("keeps a leg's end-of-call QoS through a short Collector outage (SPEC §4)", async () => {
    const h = await harness({ exportIntervalMs: 60_000 });
    const gen = h.generator;
    const t0 = Date.now();
    const call = gen.startCall({ domain: "tenant-a.example", sipCallId: "outage@x", atMs: t0 });
    await h.waitProcessed("CHANNEL_ANSWER", 1);
    const ended = gen.hangupCall(call.uuid, {
      atMs: t0 + 20_000,
      qos: { inPacketCount: 990, inFlaws: 2, jitterMs: 4 },
    });
    await h.waitProcessed("CHANNEL_DESTROY", 1);
    h.receiver.behave("fail");
    await h.flush();
    assert.ok(h.receiver.rejected.metrics > 0, "the export was refused");
    assert.ok(h.current.exporter().exportErrors > 0, "and counted");
    h.receiver.behave("ok");
    await h.flush();
    await h.flush();
    const hc = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", call.uuid);
    assertQos(h, specQosLabels(hc, "outage@x", "tenant-a.example"), specQos(hc, [], 0));
  });
});
