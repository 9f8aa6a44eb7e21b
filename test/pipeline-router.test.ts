import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PlainEvent } from "../src/esl/event.js";
import { plainEventBody } from "../src/esl/wire.js";
import type { LegTracker } from "../src/legs/leg-tracker.js";
import type { EventCounters } from "../src/pipeline/counters.js";
import type { Router } from "../src/pipeline/router.js";
import { emodelMos } from "../src/quality/emodel.js";
import type { QosObservation, RtcpObservation } from "../src/quality/types.js";
import { emptyQos, qosVariables } from "../src/sim/qos.js";
import { MemoryStore } from "../src/state/memory-store.js";
import type { LegStore } from "../src/state/store.js";
import type { Clock } from "../src/util/clock.js";
import { ManualClock } from "./support/manual-clock.js";
import { pipeline, uuidDumps } from "./support/pipeline.js";
import { minimalRecv } from "./support/samples.js";

// The router driven directly with events in FreeSWITCH's plain format, real stores and a sink
// that records what it is given.

function event(name: string, headers: Array<[string, string]>): PlainEvent {
  return new PlainEvent(plainEventBody([["Event-Name", name], ...headers]));
}

function channel(
  name: string,
  uuid: string,
  callUuid: string,
  vars: Array<[string, string]> = [],
): PlainEvent {
  return event(name, [
    ["Unique-ID", uuid],
    ["Call-Direction", uuid === callUuid ? "inbound" : "outbound"],
    ["Channel-Call-UUID", callUuid],
    ...vars,
  ]);
}

interface Rig {
  router: Router;
  legs: LegTracker;
  counters: EventCounters;
  rtcp: RtcpObservation[];
  qos: QosObservation[];
  lookups: string[];
  /** Legs counted as completed: [instance, channel id, domain]. */
  completed: Array<[string, string, string]>;
}

function rig(
  store: LegStore,
  lookup: (
    uuid: string,
  ) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined> = () =>
    undefined,
  clock?: Clock,
): Rig {
  const rtcp: RtcpObservation[] = [];
  const qos: QosObservation[] = [];
  const lookups: string[] = [];
  const completed: Array<[string, string, string]> = [];
  const { router, legs, counters } = pipeline({
    store,
    sinks: {
      rtcp: (o) => rtcp.push(o),
      qos: (o) => qos.push(o),
      legCompleted: (instance, labels) =>
        completed.push([instance, labels.channelId, labels.domainName]),
    },
    api: uuidDumps(lookup, lookups),
    ...(clock === undefined ? {} : { clock }),
  });
  return { router, legs, counters, rtcp, qos, lookups, completed };
}

/** One turn of the event loop: the promises a handled event started have run up to their I/O. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const stores: LegStore[] = [];
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
});

function memory(maxLegs = 1000): MemoryStore {
  const store = new MemoryStore({ maxLegs, legTtlMs: 3_600_000 });
  stores.push(store);
  return store;
}

describe("Router", () => {
  it("a late report of a leg FreeSWITCH no longer knows is exported but not kept", async () => {
    const store = memory();
    const { router, legs, rtcp, lookups } = rig(store);
    router.handle(channel("CHANNEL_CREATE", "L1", "L1", [["variable_sip_call_id", "cid-1"]]));
    router.handle(channel("CHANNEL_DESTROY", "L1", "L1"));
    assert.equal(store.size, 0);
    router.handle(minimalRecv("L1", 5));
    await legs.settle();
    assert.equal(rtcp.length, 1, "the late report");
    assert.deepEqual(lookups, ["L1"]);
    assert.equal(rtcp[0]?.labels.channelId, "L1");
    assert.equal(store.size, 0, "the leg must not be resurrected until leg_ttl");
  });

  it("hands the leg's RTCP summary, mean MOS estimate and hangup to the QoS sink; counts ended legs; knows the live legs per domain", () => {
    const store = memory();
    const { router, legs, qos, completed } = rig(store);
    router.handle(channel("CHANNEL_CREATE", "A1", "A1", [["variable_domain_name", "a.example"]]));
    router.handle(channel("CHANNEL_CREATE", "B1", "B1", [["variable_domain_name", "b.example"]]));
    router.handle(channel("CHANNEL_CREATE", "B2", "B2", [["variable_domain_name", "b.example"]]));
    router.handle(minimalRecv("A1", 0));
    router.handle(minimalRecv("A1", 4));
    assert.deepEqual([...legs.activeByDomain()].sort(), [
      ["a.example", 1],
      ["b.example", 2],
    ]);
    assert.equal(legs.activeLegCount(), 3);
    const qosVars = qosVariables({ ...emptyQos(), inPacketCount: 1500, inMos: 4.2 }).map(
      ([k, v]): [string, string] => [`variable_${k}`, v],
    );
    router.handle(
      channel("CHANNEL_HANGUP_COMPLETE", "A1", "A1", [
        ["Hangup-Cause", "NORMAL_CLEARING"],
        ["variable_duration", "30"],
        ["variable_billsec", "21"],
        ["variable_domain_name", "a.example"],
        ...qosVars,
      ]),
    );
    assert.equal(qos.length, 1);
    const o = qos[0]!;
    // Two reports of 80 units at 8 kHz (10 ms), no loss fraction, no RTT: each MOS is the same.
    assert.equal(o.rtcpIn?.reports, 2);
    assert.equal(o.rtcpIn?.packetsLost, 4);
    assert.equal(o.rtcpIn?.jitterMaxMs, 10);
    assert.equal(o.rtcpOut, null);
    assert.equal(o.mosEstimate, emodelMos(10, 0, undefined));
    assert.deepEqual(o.hangup, { cause: "NORMAL_CLEARING", durationS: 30, billsec: 21 });
    router.handle(channel("CHANNEL_DESTROY", "A1", "A1"));
    assert.deepEqual(completed, [["fs1", "A1", "a.example"]]);
    // A DESTROY of a leg never seen still counts, with the labels the event carries.
    router.handle(channel("CHANNEL_DESTROY", "X9", "X9", [["variable_domain_name", "c.example"]]));
    assert.deepEqual(completed.at(-1), ["fs1", "X9", "c.example"]);
    assert.deepEqual([...legs.activeByDomain()], [["b.example", 2]]);
    assert.equal(legs.activeLegCount(), 2, "the DESTROY of a leg never seen adds nothing");
  });

  it("lists the live legs with when it first saw them and their latest reports (status page)", () => {
    const store = memory();
    const clock = new ManualClock(1_000);
    const { router, legs } = rig(store, undefined, clock);
    router.handle(channel("CHANNEL_CREATE", "A1", "A1", [["variable_domain_name", "a.example"]]));
    clock.advance(4_000);
    router.handle(channel("CHANNEL_CREATE", "B1", "A1"));
    clock.advance(4_000);
    router.handle(channel("CHANNEL_ANSWER", "A1", "A1", [["variable_domain_name", "a.example"]]));
    router.handle(minimalRecv("A1", 0));
    router.handle(minimalRecv("A1", 4));
    const live = new Map([...legs.activeLegs()].map((l) => [l.leg.uuid, l]));
    assert.deepEqual([...live.keys()].sort(), ["A1", "B1"]);
    assert.equal(live.get("A1")?.since, 1_000, "first seen, not last updated");
    assert.equal(live.get("B1")?.since, 5_000);
    assert.equal(live.get("A1")?.leg.rtcpIn?.reports, 2);
    assert.equal(live.get("A1")?.leg.rtcpIn?.lastJitterMs, 10);
    assert.equal(live.get("B1")?.leg.rtcpIn, null);
    router.handle(channel("CHANNEL_DESTROY", "A1", "A1"));
    assert.deepEqual(
      [...legs.activeLegs()].map((l) => l.leg.uuid),
      ["B1"],
    );
  });

  it("settle() resolves once the events waiting for a leg's look-up are processed", async () => {
    const store = memory();
    let answer: (fields: Record<string, unknown>) => void = () => undefined;
    const { router, legs, rtcp, lookups } = rig(
      store,
      () => new Promise((resolve) => (answer = resolve)),
    );
    router.handle(minimalRecv("S1", 2));
    router.handle(minimalRecv("S1", 4));
    assert.equal(rtcp.length, 0, "waiting for the look-up");
    await nextTurn();
    assert.equal(lookups.length, 1, "the look-up sent");
    const settled = legs.settle();
    answer({ "Unique-ID": "S1", "Channel-Call-UUID": "S1" });
    await settled;
    assert.deepEqual(
      rtcp.map((o) => o.packetsLost),
      [2, 2],
    );
  });

  it("one look-up per leg when the A-leg's and its B-leg's answers arrive in the same read", async () => {
    // FreeSWITCH often answers two uuid_dumps in one TCP read: the B-leg's answer then asks for
    // its A-leg while the A-leg's own look-up is finishing; that must not dump the A-leg again.
    const answers = new Map<string, (fields: Record<string, unknown>) => void>();
    const store = memory();
    const { router, legs, rtcp, lookups } = rig(
      store,
      (uuid) => new Promise((resolve) => answers.set(uuid, resolve)),
    );
    router.handle(minimalRecv("A9", 1));
    router.handle(minimalRecv("B9", 1));
    await nextTurn();
    assert.equal(answers.size, 2, "both look-ups sent");
    answers.get("A9")?.({
      "Unique-ID": "A9",
      "Channel-Call-UUID": "A9",
      variable_domain_name: "t.example",
    });
    answers.get("B9")?.({ "Unique-ID": "B9", "Channel-Call-UUID": "A9" });
    await legs.settle();
    assert.deepEqual(lookups.sort(), ["A9", "B9"]);
    assert.deepEqual(
      rtcp.map((o) => [o.labels.channelId, o.labels.correlationId, o.labels.domainName]),
      [
        ["A9", "A9", "t.example"],
        ["B9", "A9", "t.example"],
      ],
    );
  });

  it("a CHANNEL_DESTROY of a leg never seen does not evict a live leg from a full store", () => {
    const store = memory(100);
    const { router } = rig(store);
    for (let i = 0; i < 100; i++)
      router.handle(channel("CHANNEL_CREATE", `live-${i}`, `live-${i}`));
    assert.equal(store.size, 100);
    router.handle(
      channel("CHANNEL_DESTROY", "ghost", "ghost", [
        ["variable_rtp_audio_in_packet_count", "0"],
        ["variable_rtp_audio_out_packet_count", "0"],
      ]),
    );
    assert.equal(store.evicted, 0);
    assert.equal(store.size, 100);
    assert.ok(store.peek("live-0") !== undefined);
  });

  it("reports QoS once when both CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY carry it", () => {
    const store = memory();
    const { router, qos } = rig(store);
    const vars: Array<[string, string]> = [
      ["variable_sip_call_id", "cid-q"],
      ["variable_rtp_audio_in_packet_count", "100"],
      ["variable_rtp_audio_out_packet_count", "100"],
      ["variable_rtp_audio_in_raw_bytes", "17200"],
      ["variable_rtp_audio_out_raw_bytes", "17200"],
      ["variable_rtp_audio_in_jitter_min_variance", "1.00"],
      ["variable_rtp_audio_in_jitter_max_variance", "4.00"],
      ["variable_rtp_audio_in_flaw_total", "0"],
      ["variable_rtp_audio_in_mos", "4.50"],
    ];
    router.handle(channel("CHANNEL_CREATE", "Q1", "Q1", vars.slice(0, 1)));
    router.handle(channel("CHANNEL_HANGUP_COMPLETE", "Q1", "Q1", vars));
    router.handle(channel("CHANNEL_DESTROY", "Q1", "Q1", vars));
    assert.equal(qos.length, 1);
    assert.equal(qos[0]?.values.totalPackets, 200);
    assert.equal(store.size, 0);
  });

  it("reports QoS once even when a full store evicts the leg between HANGUP_COMPLETE and DESTROY", () => {
    const store = memory(100);
    const { router, qos } = rig(store);
    const vars: Array<[string, string]> = [
      ["variable_rtp_audio_in_packet_count", "50"],
      ["variable_rtp_audio_out_packet_count", "50"],
      ["variable_rtp_audio_in_raw_bytes", "8600"],
      ["variable_rtp_audio_out_raw_bytes", "8600"],
      ["variable_rtp_audio_in_jitter_min_variance", "1.00"],
      ["variable_rtp_audio_in_jitter_max_variance", "1.00"],
      ["variable_rtp_audio_in_flaw_total", "0"],
      ["variable_rtp_audio_in_mos", "4.50"],
    ];
    router.handle(channel("CHANNEL_CREATE", "E1", "E1"));
    router.handle(channel("CHANNEL_HANGUP_COMPLETE", "E1", "E1", vars));
    for (let i = 0; i < 100; i++) router.handle(channel("CHANNEL_CREATE", `new-${i}`, `new-${i}`));
    assert.equal(store.peek("E1"), undefined, "evicted");
    router.handle(channel("CHANNEL_DESTROY", "E1", "E1", vars));
    assert.equal(qos.length, 1);
  });
});
