// Issue 8 end to end: simulator → agent → real OTLP receiver (metrics and logs decoded with the
// official protobuf root). A scripted bridged call with known RTCP values, including LSR/DLSR
// for a known 80 ms round trip, must give the exact rtt and E-model MOS points (the issue's
// reference values), the histograms' counts and sums, calls.active and calls.completed, and one
// quality record per leg; with metrics.per_leg false no point carries a per-leg label.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { SERVER_METRICS } from "../../src/export/server-series.js";
import { headerValue, type SimEvent } from "../../src/sim/events.js";
import { ntpMiddle, toUnits65536 } from "../../src/sim/ntp.js";
import { E2eHarness, FS_INSTANCE } from "../support/e2e.js";

const harnesses: E2eHarness[] = [];
after(async () => {
  for (const h of harnesses) await h.close();
});

async function harness(perLeg: boolean): Promise<E2eHarness> {
  const h = await E2eHarness.start({ exportIntervalMs: 60_000, perLeg });
  harnesses.push(h);
  return h;
}

const DOMAIN = "tenant-a.example";
const SERVER_METRIC_NAMES = Object.values(SERVER_METRICS).map((d) => d.name);

/** Runs the scripted call; returns its legs and the hangup events the simulator sent. */
async function scriptedCall(h: E2eHarness) {
  const gen = h.generator;
  const t0 = Date.now();
  const call = gen.startCall({ bridged: true, domain: DOMAIN, codec: "PCMU", atMs: t0 });
  const a = call.aLeg.uuid;
  const b = call.bLeg!.uuid;
  await h.waitProcessed("CHANNEL_ANSWER", 2);
  // A-leg: jitter 160 units at 8 kHz = 20 ms, fraction 25/256, an SR answered 80 ms of round
  // trip + 250 ms of holding before the report was captured → RTT 80 ms, MOS 3.4306.
  const atA = t0 + 5000;
  gen.sendRtcp(a, {
    jitter: 160,
    fraction: 25,
    lost: 3,
    lsr: ntpMiddle(atA - 80 - 250),
    dlsr: toUnits65536(250),
    atMs: atA,
  });
  // B-leg: 10 ms, 12/256, no SR seen yet and no Rtt-Avg → RTT unknown, MOS 4.0513.
  gen.sendRtcp(b, {
    jitter: 80,
    fraction: 12,
    lost: 1,
    lsr: 0,
    dlsr: 0,
    rttAvg: 0,
    atMs: t0 + 5000,
  });
  await h.waitProcessed("RECV_RTCP_MESSAGE", 2);
  await h.flush();
  const beforeHangup = h.receiver.metricRequests.length;
  const hangup = gen.hangupCall(call.uuid, { atMs: t0 + 20_000 });
  await h.waitProcessed("CHANNEL_DESTROY", 2);
  await h.flush();
  return { a, b, hangup, beforeHangup, callUuid: call.uuid };
}

function header(events: readonly SimEvent[], name: string, uuid: string, key: string): string {
  const event = events.find((e) => e.name === name && headerValue(e, "Unique-ID") === uuid);
  const value = event === undefined ? undefined : headerValue(event, key);
  assert.ok(value !== undefined, `${name} of ${uuid} has ${key}`);
  return value;
}

function near(actual: number | undefined, expected: number, within: number, what: string): void {
  assert.ok(actual !== undefined, `${what}: missing`);
  assert.ok(Math.abs(actual - expected) <= within, `${what}: ${actual}, expected ${expected}`);
}

describe("e2e insight: RTT, E-model MOS, aggregates and quality records", () => {
  it("exports the exact per-report, aggregate and per-leg figures of a scripted call", async () => {
    const h = await harness(true);
    const { a, b, hangup, beforeHangup } = await scriptedCall(h);
    const r = h.receiver;

    // Per report, per leg.
    const rttA = h.pointsOf("freeswitch.rtcp.rtt", a);
    assert.equal(rttA.length, 1);
    near(rttA[0]?.value, 80, 0.05, "A-leg RTT (1/65536 s resolution)");
    assert.deepEqual(h.pointsOf("freeswitch.rtcp.rtt", b), [], "no RTT without an SR or Rtt-Avg");
    near(h.pointsOf("freeswitch.rtcp.mos", a)[0]?.value, 3.4306, 0.00005, "A-leg MOS");
    near(h.pointsOf("freeswitch.rtcp.mos", b)[0]?.value, 4.0513, 0.00005, "B-leg MOS");
    assert.equal(rttA[0]?.unit, "ms");
    assert.deepEqual(Object.keys(rttA[0]?.attributes ?? {}).sort(), [
      "channel_id",
      "correlation_id",
      "direction",
      "domain_name",
      "fs_instance",
    ]);

    // Report histograms: the last export holds the cumulative totals.
    const last = r.metricRequests.length - 1;
    const jitter = r
      .histogramPoints("freeswitch.rtcp.report.jitter")
      .filter((p) => p.request === last);
    const byCallDirection = new Map(jitter.map((p) => [p.attributes.call_direction, p]));
    assert.equal(jitter.length, 2);
    for (const p of jitter) {
      assert.equal(p.temporality, "cumulative");
      assert.equal(p.attributes.fs_instance, FS_INSTANCE);
      assert.equal(p.attributes.domain_name, DOMAIN);
      assert.equal(p.attributes.direction, "inbound");
      assert.equal(p.attributes.codec_name, "PCMU");
      assert.equal(p.attributes.channel_id, undefined);
    }
    assert.deepEqual(
      [byCallDirection.get("inbound")?.count, byCallDirection.get("inbound")?.sum],
      [1, 20],
    );
    assert.deepEqual(
      [byCallDirection.get("outbound")?.count, byCallDirection.get("outbound")?.sum],
      [1, 10],
    );
    const loss = r
      .histogramPoints("freeswitch.rtcp.report.fraction_lost")
      .filter((p) => p.request === last);
    assert.equal(
      loss.reduce((n, p) => n + p.count, 0),
      2,
    );
    near(
      loss.reduce((n, p) => n + p.sum, 0),
      25 / 256 + 12 / 256,
      1e-12,
      "fraction lost sum",
    );

    // Legs in progress before the hangup; 0 once both ended.
    const active = (from: number, to: number) =>
      r
        .points("freeswitch.calls.active")
        .filter((p) => p.request >= from && p.request < to)
        .map((p) => [p.attributes.domain_name, p.value]);
    assert.deepEqual(active(0, beforeHangup).at(-1), [DOMAIN, 2]);
    assert.deepEqual(active(beforeHangup, last + 1).at(-1), [DOMAIN, 0]);

    // Ended legs, cumulative, by call direction and codec.
    const completed = r
      .points("freeswitch.calls.completed")
      .filter((p) => p.request === last)
      .map((p) => [p.attributes.call_direction, p.attributes.codec_name, p.value, p.temporality]);
    assert.deepEqual(completed.sort(), [
      ["inbound", "PCMU", 1, "cumulative"],
      ["outbound", "PCMU", 1, "cumulative"],
    ]);

    // End-of-call MOS histograms: FreeSWITCH's figure and the estimate (one report per leg).
    const callMos = r.histogramPoints("freeswitch.call.mos").filter((p) => p.request === last);
    const mosA = Number(header(hangup, "CHANNEL_HANGUP_COMPLETE", a, "variable_rtp_audio_in_mos"));
    const mosB = Number(header(hangup, "CHANNEL_HANGUP_COMPLETE", b, "variable_rtp_audio_in_mos"));
    assert.equal(
      callMos.reduce((n, p) => n + p.count, 0),
      2,
    );
    near(
      callMos.reduce((n, p) => n + p.sum, 0),
      mosA + mosB,
      1e-9,
      "call.mos sum",
    );
    assert.deepEqual(callMos[0]?.bounds, [1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4]);
    const estimate = r
      .histogramPoints("freeswitch.call.mos_estimate")
      .filter((p) => p.request === last);
    near(
      estimate.reduce((n, p) => n + p.sum, 0),
      3.4306 + 4.0513,
      0.0001,
      "mos_estimate sum",
    );

    // One quality record per leg, with the exact attributes.
    const records = r.logRecords();
    assert.equal(records.length, 2, "exactly one record per leg");
    const recordA = records.find((x) => x.attributes.channel_id === a);
    assert.ok(recordA);
    assert.equal(recordA.eventName, "freeswitch.call.quality");
    const num = (key: string) =>
      Number(header(hangup, "CHANNEL_HANGUP_COMPLETE", a, `variable_rtp_audio_${key}`));
    const { inbound_rtt_avg_ms, inbound_mos_min, inbound_mos_avg, mos_estimate_avg, ...exact } =
      recordA.attributes;
    near(Number(inbound_rtt_avg_ms), 80, 0.05, "record RTT");
    for (const v of [inbound_mos_min, inbound_mos_avg, mos_estimate_avg]) {
      near(Number(v), 3.4306, 0.00005, "record MOS estimate");
    }
    const inPackets = num("in_packet_count");
    const outPackets = num("out_packet_count");
    assert.deepEqual(exact, {
      fs_instance: FS_INSTANCE,
      channel_id: a,
      correlation_id: header(hangup, "CHANNEL_HANGUP_COMPLETE", a, "variable_sip_call_id"),
      domain_name: DOMAIN,
      call_direction: "inbound",
      codec_name: "PCMU",
      src_ip: header(hangup, "CHANNEL_HANGUP_COMPLETE", a, "variable_remote_media_ip"),
      dst_ip: header(hangup, "CHANNEL_HANGUP_COMPLETE", a, "variable_local_media_ip"),
      mos_score: num("in_mos"),
      // SPEC §4: the square roots of FreeSWITCH's inter-arrival variances.
      jitter_min_ms: Math.sqrt(num("in_jitter_min_variance")),
      jitter_max_ms: Math.sqrt(num("in_jitter_max_variance")),
      jitter_avg_ms: 20,
      total_packets: inPackets + outPackets,
      // Flaws FreeSWITCH counted plus the far end's cumulative loss from the RTCP report (3).
      packet_loss: num("in_flaw_total") + 3,
      total_bytes: num("in_raw_bytes") + num("out_raw_bytes"),
      inbound_reports: 1,
      inbound_jitter_min_ms: 20,
      inbound_jitter_avg_ms: 20,
      inbound_jitter_max_ms: 20,
      inbound_packets_lost: 3,
      inbound_worst_fraction_lost: 25 / 256,
      outbound_reports: 0,
      hangup_cause: "NORMAL_CLEARING",
      duration_s: Number(header(hangup, "CHANNEL_HANGUP_COMPLETE", a, "variable_duration")),
      billsec: Number(header(hangup, "CHANNEL_HANGUP_COMPLETE", a, "variable_billsec")),
    });
  });

  it("with metrics.per_leg false, exports no point with channel_id or correlation_id", async () => {
    const h = await harness(false);
    await scriptedCall(h);
    const r = h.receiver;
    const perLeg = r
      .points()
      .filter((p) => "channel_id" in p.attributes || "correlation_id" in p.attributes);
    assert.deepEqual(perLeg, []);
    const histograms = r.histogramPoints();
    assert.ok(histograms.length > 0);
    for (const p of histograms) {
      assert.ok(!("channel_id" in p.attributes) && !("correlation_id" in p.attributes));
    }
    // The server's own figures (freeswitch.sessions.*, cpu, uptime, info, sofia.*, registrations:
    // docs/metrics.md "FreeSWITCH servers") have no per-leg label and are not the subject here.
    const server = new Set(SERVER_METRIC_NAMES);
    const names = new Set(
      [...r.points().map((p) => p.name), ...histograms.map((p) => p.name)].filter(
        (name) => !server.has(name),
      ),
    );
    assert.deepEqual([...names].sort(), [
      "freeswitch.call.mos",
      "freeswitch.call.mos_estimate",
      "freeswitch.calls.active",
      "freeswitch.calls.completed",
      "freeswitch.rtcp.report.fraction_lost",
      "freeswitch.rtcp.report.jitter",
    ]);
    assert.equal(r.logRecords().length, 2, "the quality records are still sent");
  });
});
