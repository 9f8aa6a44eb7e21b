// The router on real FreeSWITCH 1.11 byte streams (test/fixtures/freeswitch-1.11, captured with
// the test bed: bridged calls of 4 channels, RTCP every second, fire_rtcp_events=true). Every
// expected value comes from the raw events and the SPEC formulas (support/spec-model.ts); the
// agent's parser, router and calculators are what is tested.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { PlainEvent } from "../src/esl/event.js";
import { AGENT_EVENTS } from "../src/pipeline/subscriptions.js";
import type { QosObservation, RtcpObservation } from "../src/quality/types.js";
import { MemoryStore } from "../src/state/memory-store.js";
import { pipeline } from "./support/pipeline.js";
import { plainEvents, type RawEvent } from "./support/raw-esl.js";
import { expectFromEvents } from "./support/spec-model.js";

const CAPTURES = new URL("./fixtures/freeswitch-1.11/", import.meta.url);

function capture(file: string): RawEvent[] {
  return plainEvents(readFileSync(new URL(file, CAPTURES)));
}

/** Feeds the events the agent subscribes to through a router; returns what the sinks got. */
async function route(events: readonly RawEvent[]) {
  const rtcp: RtcpObservation[] = [];
  const qos: QosObservation[] = [];
  const store = new MemoryStore({ maxLegs: 1000, legTtlMs: 3_600_000 });
  const { router, legs, counters } = pipeline({
    store,
    sinks: { rtcp: (o) => rtcp.push(o), qos: (o) => qos.push(o) },
  });
  for (const e of events) if (AGENT_EVENTS.includes(e.name)) router.handle(new PlainEvent(e.raw));
  await legs.settle();
  await store.close();
  return { rtcp, qos, counters };
}

const near = (actual: number | undefined, expected: number, what: string) => {
  assert.ok(actual !== undefined, `${what}: missing`);
  if (!(Math.abs(actual - expected) < 1e-9)) assert.fail(`${what}: ${actual} ≠ ${expected}`);
};

// Every plain capture: clean and impaired, either side hanging up, cancelled calls, opus, G722,
// RTCP every 5 s.
const PLAIN_CAPTURES = readdirSync(CAPTURES).filter((f) => f.endsWith("-plain.esl"));

for (const file of PLAIN_CAPTURES) {
  describe(`real FreeSWITCH 1.11: ${file}`, async () => {
    const events = capture(file);
    const expected = expectFromEvents(events);
    const { rtcp, qos, counters } = await route(events);

    it("every RTCP report is exported with SPEC §4/§7 values and its leg's §3 labels", () => {
      const reports = [...expected.values()].flatMap((l) => l.reports);
      assert.equal(rtcp.length, reports.length, "one observation per report");
      // Reports of different legs interleave: they are matched in order within each leg.
      for (const leg of expected.values()) {
        const got = rtcp.filter((o) => o.labels.channelId === leg.uuid);
        assert.equal(got.length, leg.reports.length, `reports of ${leg.uuid}`);
        got.forEach((o, i) => {
          const r = leg.reports[i]!;
          const what = `${leg.uuid} report ${i} (${r.direction})`;
          assert.equal(o.direction, r.direction, what);
          assert.equal(o.labels.correlationId, leg.labels.correlation_id, `${what} correlation_id`);
          assert.equal(o.labels.domainName, leg.labels.domain_name, `${what} domain_name`);
          near(o.jitterMs, r.jitterMs, `${what} jitter`);
          near(o.fractionLost, r.fractionLost, `${what} fraction`);
          assert.equal(o.packetsLost, r.packetsLost, `${what} packets_lost`);
          if (r.rttMs === undefined) assert.equal(o.rttMs, undefined, `${what} rtt`);
          else near(o.rttMs, r.rttMs, `${what} rtt`);
          near(o.mos, r.mos, `${what} mos`);
        });
      }
    });

    it("packets_lost per leg and direction adds up to FreeSWITCH's final cumulative loss", () => {
      for (const leg of expected.values()) {
        for (const direction of ["inbound", "outbound"] as const) {
          const final = leg.finalLost[direction];
          if (final === undefined) continue;
          const sum = rtcp
            .filter((o) => o.labels.channelId === leg.uuid && o.direction === direction)
            .reduce((s, o) => s + o.packetsLost, 0);
          assert.equal(sum, Math.max(0, final), `${leg.uuid} ${direction}`);
        }
      }
    });

    it("QoS once per leg, equal to its variable_rtp_audio_*, with the labels its RTCP carried", () => {
      const legsWithQos = [...expected.values()].filter((l) => l.qos !== undefined);
      const noMedia = [...expected.values()].filter((l) => l.noMedia);
      assert.equal(qos.length, legsWithQos.length, "one QoS observation per leg with media");
      for (const leg of legsWithQos) {
        const want = leg.qos!;
        const got = qos.filter((o) => o.labels.channelId === leg.uuid);
        assert.equal(got.length, 1, `QoS of ${leg.uuid}`);
        const o = got[0]!;
        assert.deepEqual(
          {
            channel_id: o.labels.channelId,
            correlation_id: o.labels.correlationId,
            domain_name: o.labels.domainName,
            call_direction: o.labels.callDirection,
            codec_name: o.labels.codecName,
            src_ip: o.labels.srcIp,
            dst_ip: o.labels.dstIp,
          },
          want.labels,
        );
        const v = o.values;
        const values: Record<string, number | undefined> = {
          "freeswitch.qos.mos_score": v.mosScore,
          "freeswitch.qos.jitter_min": v.jitterMinMs,
          "freeswitch.qos.jitter_max": v.jitterMaxMs,
          "freeswitch.qos.jitter_avg": v.jitterAvgMs,
          "freeswitch.qos.total_packets": v.totalPackets,
          "freeswitch.qos.packet_loss": v.packetLoss,
          "freeswitch.qos.total_bytes": v.totalBytes,
        };
        for (const [name, value] of Object.entries(want.values)) {
          near(values[name], value, `${leg.uuid} ${name}`);
        }
        assert.deepEqual(v.unreadable, []);
      }
      // A leg that never had media (a cancelled call) is counted, once, not reported.
      const unusable = Object.fromEntries(counters.unusable);
      assert.deepEqual(unusable, noMedia.length > 0 ? { no_media: noMedia.length } : {});
    });
  });
}

describe("real FreeSWITCH 1.11: what these captures pin", () => {
  it("capture-plain: a stream's first SEND is often on SSRC 00000000, and the next continues its Lost", () => {
    const sends = capture("capture-plain.esl").filter((e) => e.name === "SEND_RTCP_MESSAGE");
    const byLeg = new Map<string, RawEvent[]>();
    for (const e of sends)
      byLeg.set(e.get("Unique-ID")!, [...(byLeg.get(e.get("Unique-ID")!) ?? []), e]);
    let unknownFirst = 0;
    for (const [, [first, next]] of byLeg) {
      if (first?.get("Source-SSRC") !== "00000000" || next === undefined) continue;
      unknownFirst++;
      // The SSRC header already names the real stream, which the next report is on.
      assert.equal(next.get("Source-SSRC"), first.get("SSRC"));
      assert.ok(Number(next.get("Source-Lost")) >= Number(first.get("Source-Lost")));
    }
    assert.ok(unknownFirst >= 4, `${unknownFirst} of ${byLeg.size} legs`);
  });

  it("capture-netem-plain: an unbridged B-leg's HANGUP_COMPLETE names itself as its call", () => {
    const events = capture("capture-netem-plain.esl");
    const created = new Map<string, string>();
    let flips = 0;
    for (const e of events) {
      const uuid = e.get("Unique-ID")!;
      if (e.name === "CHANNEL_CREATE") created.set(uuid, e.get("Channel-Call-UUID")!);
      if (e.name === "CHANNEL_HANGUP_COMPLETE" && created.get(uuid) !== uuid) {
        if (e.get("Channel-Call-UUID") === uuid) flips++;
      }
    }
    assert.ok(flips >= 1, "the capture holds the case the correlation test above relies on");
  });
});
