// The call generator, read over real TCP with the agent's parser: determinism, the layout of the
// events against the real FreeSWITCH samples, the RTCP layouts of SPEC section 2, consistency of
// the end-of-call statistics, and the `fsagent simulate` entry points.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, describe, it } from "node:test";
import type { EslEvent } from "../../src/esl/event.js";
import { DEFAULT_SIMULATE_OPTIONS, parseSimulateArgs } from "../../src/sim/args.js";
import { CallGenerator, type CallGeneratorOptions } from "../../src/sim/calls.js";
import { headerValue, type SimEvent } from "../../src/sim/events.js";
import { EslProbe } from "../../src/sim/probe.js";
import { fsMos, fsQuality } from "../../src/sim/qos.js";
import { runSimulator } from "../../src/sim/run.js";
import { SimServer } from "../../src/sim/server.js";
import { UsageError } from "../../src/usage-error.js";

const T0 = Date.UTC(2024, 4, 1, 9, 30, 0);
const CORE_UUID = "6f0c1d1e-8a41-4b8e-9d55-0c2e3f4a5b6c";
const STANDARD_BLOCK = [
  "Event-Name",
  "Core-UUID",
  "FreeSWITCH-Hostname",
  "FreeSWITCH-Switchname",
  "FreeSWITCH-IPv4",
  "FreeSWITCH-IPv6",
  "Event-Date-Local",
  "Event-Date-GMT",
  "Event-Date-Timestamp",
  "Event-Calling-File",
  "Event-Calling-Function",
  "Event-Calling-Line-Number",
  "Event-Sequence",
];
const QOS_NAMES = [
  "in_raw_bytes",
  "in_media_bytes",
  "in_packet_count",
  "in_media_packet_count",
  "in_skip_packet_count",
  "in_jitter_packet_count",
  "in_dtmf_packet_count",
  "in_cng_packet_count",
  "in_flush_packet_count",
  "in_largest_jb_size",
  "in_jitter_min_variance",
  "in_jitter_max_variance",
  "in_jitter_loss_rate",
  "in_jitter_burst_rate",
  "in_mean_interval",
  "in_flaw_total",
  "in_quality_percentage",
  "in_mos",
  "out_raw_bytes",
  "out_media_bytes",
  "out_packet_count",
  "out_media_packet_count",
  "out_skip_packet_count",
  "out_dtmf_packet_count",
  "out_cng_packet_count",
  "rtcp_packet_count",
  "rtcp_octet_count",
].map((n) => `variable_rtp_audio_${n}`);
const QOS_SET = new Set(QOS_NAMES);
const TWO_DECIMALS = new Set(
  [
    "in_jitter_min_variance",
    "in_jitter_max_variance",
    "in_jitter_loss_rate",
    "in_jitter_burst_rate",
    "in_mean_interval",
    "in_quality_percentage",
    "in_mos",
  ].map((n) => `variable_rtp_audio_${n}`),
);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Run {
  server: SimServer;
  gen: CallGenerator;
  probe: EslProbe;
  /** Names of every event the generator emitted, in order. */
  emitted: string[];
}

type GenOptions = Omit<CallGeneratorOptions, "factory" | "sink" | "channels">;

async function setup(options: GenOptions, subscribe = "plain ALL"): Promise<Run> {
  const server = new SimServer({
    heartbeatIntervalMs: 0,
    coreUuid: CORE_UUID,
    hostname: "fs-test",
  });
  const port = await server.listen();
  cleanups.push(() => server.stop());
  const probe = await EslProbe.authenticated(port);
  cleanups.push(() => probe.destroy());
  await probe.command(`event ${subscribe}`);
  const emitted: string[] = [];
  const gen = new CallGenerator({
    factory: server.factory,
    channels: server.channels,
    sink: (e) => {
      emitted.push(e.name);
      server.publish(e);
    },
    ...options,
  });
  return { server, gen, probe, emitted };
}

/** Runs random calls for `simMs` of simulated time, at full speed, and reads every event. */
async function simulate(
  options: GenOptions,
  simMs: number,
  subscribe = "plain ALL",
): Promise<EslEvent[]> {
  const { gen, probe, emitted } = await setup(options, subscribe);
  gen.runUntil(T0);
  gen.runUntil(T0 + simMs, 100);
  const wanted = new Set(subscribe.split(" ").slice(1));
  const expected = wanted.has("ALL") ? emitted.length : emitted.filter((x) => wanted.has(x)).length;
  await probe.eventCount(expected, 10_000);
  return probe.events;
}

const n = (e: EslEvent, h: string): number => Number(e.get(h));
const names = (e: EslEvent): string[] => e.entries().map(([k]) => k);

function signed32(text: string | undefined): number {
  const v = Number(text);
  return v > 0x7fffffff ? v - 0x100000000 : v;
}

/** Header names of a decoded sample (one `Name: value` per line; SDP continuation lines skipped). */
function sampleNames(file: string): string[] {
  const text = readFileSync(new URL(`../fixtures/samples/${file}`, import.meta.url), "utf8");
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z][A-Za-z0-9_-]*): /.exec(line);
    if (m !== null && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

/** The names common to both lists, in each list's order: equal when the relative order agrees. */
function commonOrder(a: string[], b: string[]): [string[], string[]] {
  const inB = new Set(b);
  const inA = new Set(a);
  return [a.filter((x) => inB.has(x)), b.filter((x) => inA.has(x))];
}

function byLeg(events: EslEvent[]): Map<string, EslEvent[]> {
  const out = new Map<string, EslEvent[]>();
  for (const e of events) {
    const id = e.get("Unique-ID");
    if (id === undefined) continue;
    let list = out.get(id);
    if (list === undefined) {
      list = [];
      out.set(id, list);
    }
    list.push(e);
  }
  return out;
}

describe("sim calls: determinism and stepping", () => {
  it("produces the same events for the same seed, and different ones for another", async () => {
    const options: GenOptions = {
      seed: 42,
      callsPerSecond: 3,
      meanDurationMs: 8000,
      sendRtcp: true,
    };
    const first = await simulate(options, 30_000);
    const second = await simulate(options, 30_000);
    const other = await simulate({ ...options, seed: 43 }, 30_000);
    assert.ok(first.length > 100);
    assert.deepEqual(
      first.map((e) => e.entries()),
      second.map((e) => e.entries()),
    );
    assert.notDeepEqual(
      first.map((e) => e.get("Unique-ID")),
      other.map((e) => e.get("Unique-ID")),
    );
  });

  it("runs at full speed and bounds concurrency", () => {
    let events = 0;
    const gen = new CallGenerator({
      factory: new SimServer().factory,
      sink: () => events++,
      seed: 9,
      callsPerSecond: 20,
      maxConcurrentCalls: 50,
      meanDurationMs: 30_000,
      sendRtcp: true,
    });
    const started = performance.now();
    gen.runUntil(T0);
    let peak = 0;
    for (let t = T0; t <= T0 + 30 * 60_000; t += 1000) {
      gen.step(t);
      peak = Math.max(peak, gen.stats.activeCalls);
    }
    const elapsed = performance.now() - started;
    assert.ok(peak <= 50, `peak ${peak}`);
    assert.ok(gen.stats.callsRejected > 0);
    assert.ok(events > 50_000, `${events} events`);
    assert.ok(elapsed < 20_000, `30 simulated minutes took ${elapsed} ms`);
    const calls = gen.stats.activeCalls;
    assert.ok(gen.channels.size >= calls && gen.channels.size <= 2 * calls);
  });

  it("fires HEARTBEAT on the simulated timeline when asked to", () => {
    const beats: SimEvent[] = [];
    const gen = new CallGenerator({
      factory: new SimServer().factory,
      sink: (e) => {
        if (e.name === "HEARTBEAT") beats.push(e);
      },
      callsPerSecond: 1,
      heartbeatIntervalMs: 20_000,
    });
    gen.runUntil(T0);
    gen.runUntil(T0 + 65_000, 500);
    assert.equal(beats.length, 3);
    assert.deepEqual(
      beats.map((b) => headerValue(b, "Uptime-msec")),
      ["20000", "40000", "60000"],
    );
    assert.ok(Number(headerValue(beats[2]!, "Session-Count")) > 0);
  });

  it("fires nothing for a leg after its CHANNEL_DESTROY, and RTCP only while answered", async () => {
    const events = await simulate(
      {
        seed: 5,
        callsPerSecond: 4,
        meanDurationMs: 6000,
        sendRtcp: true,
        rtcpIntervalMs: 1000,
        unansweredShare: 0.2,
      },
      40_000,
    );
    const answered = new Set<string>();
    const hungUp = new Set<string>();
    const destroyed = new Set<string>();
    let destroys = 0;
    for (const e of events) {
      const id = e.get("Unique-ID");
      if (id === undefined) continue;
      assert.ok(!destroyed.has(id), `${e.name} after CHANNEL_DESTROY of ${id}`);
      if (e.name.endsWith("RTCP_MESSAGE")) {
        assert.ok(answered.has(id) && !hungUp.has(id), `${e.name} outside the answered time`);
      }
      if (e.name === "CHANNEL_ANSWER") answered.add(id);
      if (e.name === "CHANNEL_HANGUP") hungUp.add(id);
      if (e.name === "CHANNEL_DESTROY") {
        destroyed.add(id);
        destroys++;
      }
    }
    assert.ok(destroys > 20);
  });
});

describe("sim calls: layout against the real samples", () => {
  it("starts every event with the standard block, Event-Sequence increasing", async () => {
    const events = await simulate(
      { seed: 3, callsPerSecond: 2, sendRtcp: true, meanDurationMs: 5000 },
      20_000,
    );
    let last = 0;
    for (const e of events) {
      assert.deepEqual(names(e).slice(0, 13), STANDARD_BLOCK, e.name);
      assert.equal(e.get("Core-UUID"), CORE_UUID);
      assert.match(e.get("Event-Date-Timestamp") ?? "", /^\d{16}$/);
      assert.match(e.get("Event-Date-Local") ?? "", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.match(e.get("Event-Date-GMT") ?? "", /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
      const seq = n(e, "Event-Sequence");
      assert.ok(seq > last);
      last = seq;
    }
    const envelope = new Set(["Content-Length", "Content-Type"]);
    const fsock = sampleNames("wire-capture-plain-fsock-2012-call-lifecycle.txt").filter(
      (h) => !envelope.has(h),
    );
    assert.deepEqual(fsock.slice(0, 13), STANDARD_BLOCK);
  });

  it("orders channel headers as the libresbc A- and B-leg CHANNEL_HANGUP_COMPLETE samples do", async () => {
    const events = await simulate(
      { seed: 11, callsPerSecond: 1, bridgedShare: 1, unansweredShare: 0, meanDurationMs: 5000 },
      30_000,
    );
    const chc = events.filter((e) => e.name === "CHANNEL_HANGUP_COMPLETE");
    const aLeg = chc.find((e) => e.get("Call-Direction") === "inbound")!;
    const bLeg = chc.find((e) => e.get("Call-Direction") === "outbound")!;
    for (const [ours, file] of [
      [aLeg, "chc-qos-esl-debug-libresbc-2021-opus-aleg-mos3.86.txt"],
      [bLeg, "chc-qos-esl-debug-libresbc-2021-pcma-bleg.txt"],
    ] as const) {
      const sample = sampleNames(file);
      const mine = names(ours).filter((x, i, all) => all.indexOf(x) === i);
      const [s, m] = commonOrder(
        sample.filter((x) => !x.startsWith("variable_")),
        mine.filter((x) => !x.startsWith("variable_")),
      );
      assert.ok(s.length > 60, `${s.length} shared channel headers`);
      assert.deepEqual(m, s, file);
      const [sq, mq] = commonOrder(
        sample.filter((x) => QOS_SET.has(x)),
        mine.filter((x) => QOS_SET.has(x)),
      );
      assert.deepEqual(mq, sq);
      assert.deepEqual(mq, QOS_NAMES);
      const firstVar = mine.findIndex((x) => x.startsWith("variable_"));
      assert.ok(
        mine.slice(firstVar).every((x) => x.startsWith("variable_")),
        "variables come last",
      );
    }
  });

  it("orders CHANNEL_CREATE headers as the fsock capture does, and HEARTBEAT as the spec lists", async () => {
    const { server, gen, probe } = await setup({ callsPerSecond: 0 });
    gen.startCall({ answer: false, atMs: T0 });
    server.heartbeat();
    await probe.eventCount(2);
    const create = probe.events[0]!;
    const text = readFileSync(
      new URL(
        "../fixtures/samples/wire-capture-plain-fsock-2012-call-lifecycle.txt",
        import.meta.url,
      ),
      "utf8",
    );
    const block = text.slice(text.indexOf("Event-Name: CHANNEL_CREATE"));
    const sample = block
      .slice(0, block.indexOf("\n\n"))
      .split("\n")
      .map((l) => l.slice(0, l.indexOf(":")))
      .filter((x) => !x.startsWith("variable_"));
    const [s, m] = commonOrder(
      sample,
      names(create).filter((x) => !x.startsWith("variable_")),
    );
    assert.ok(s.length > 30);
    assert.deepEqual(m, s);
    // An inbound leg's codec is negotiated from the offer before CHANNEL_CREATE (FreeSWITCH
    // 1.11, capture-plain.esl; the 2012 fsock capture's leg had none yet).
    assert.equal(create.get("Channel-Read-Codec-Name"), "PCMU");

    const hb = probe.events[1]!;
    const fsockHeartbeat = [
      "Event-Info",
      "Up-Time",
      "Session-Count",
      "Max-Sessions",
      "Session-Per-Sec",
      "Session-Since-Startup",
      "Idle-CPU",
    ];
    const [hs, hm] = commonOrder(fsockHeartbeat, names(hb));
    assert.deepEqual(hm, hs);
    for (const h of ["FreeSWITCH-Version", "Uptime-msec", "Session-Peak-Max"])
      assert.ok(hb.get(h) !== undefined, h);
  });
});

describe("sim calls: bridged legs and variables", () => {
  it("links A- and B-legs as the libresbc samples show", async () => {
    const events = await simulate(
      { seed: 21, callsPerSecond: 2, bridgedShare: 1, unansweredShare: 0, meanDurationMs: 4000 },
      20_000,
    );
    const legs = byLeg(events);
    const bridges = events.filter((e) => e.name === "CHANNEL_BRIDGE");
    assert.ok(bridges.length > 10);
    for (const bridge of bridges) {
      const a = bridge.get("Unique-ID")!;
      const b = bridge.get("Other-Leg-Unique-ID")!;
      assert.equal(bridge.get("Bridge-A-Unique-ID"), a);
      assert.equal(bridge.get("Bridge-B-Unique-ID"), b);
      assert.equal(bridge.get("Other-Type"), "originatee");
      const aCreate = legs.get(a)!.find((e) => e.name === "CHANNEL_CREATE")!;
      const bCreate = legs.get(b)!.find((e) => e.name === "CHANNEL_CREATE")!;
      assert.equal(aCreate.get("Call-Direction"), "inbound");
      assert.equal(aCreate.get("Channel-Call-UUID"), a);
      assert.equal(bCreate.get("Call-Direction"), "outbound");
      assert.equal(bCreate.get("Channel-Call-UUID"), a);
      assert.equal(bCreate.get("Channel-HIT-Dialplan"), "false");
      assert.notEqual(bCreate.get("variable_sip_call_id"), aCreate.get("variable_sip_call_id"));
      // Unauthenticated calls, as in the captures: no domain_name; the tenant domain is the
      // host the phone calls from and to.
      assert.match(aCreate.get("variable_sip_from_host") ?? "", /^tenant-[ab]\.example$/);
      assert.equal(aCreate.get("variable_sip_to_host"), aCreate.get("variable_sip_from_host"));
      assert.equal(aCreate.get("variable_domain_name"), undefined);
      assert.equal(bCreate.get("variable_domain_name"), undefined);
      assert.equal(bCreate.get("variable_sip_from_host"), "192.0.2.10");
      const bAnswer = legs.get(b)!.find((e) => e.name === "CHANNEL_ANSWER")!;
      assert.equal(bAnswer.get("Other-Leg-Unique-ID"), a);
      assert.equal(bAnswer.get("Other-Type"), "originator");
      for (const leg of [a, b]) {
        const answer = legs.get(leg)!.find((e) => e.name === "CHANNEL_ANSWER")!;
        for (const h of [
          "Channel-Read-Codec-Name",
          "Channel-Read-Codec-Rate",
          "variable_rtp_use_codec_name",
          "variable_rtp_use_codec_rate",
          "variable_remote_media_ip",
          "variable_local_media_ip",
        ]) {
          assert.ok(answer.get(h) !== undefined, `${h} on ANSWER`);
        }
      }
      // Once unbridged, the B-leg names itself (FreeSWITCH resets its call_uuid); Other-Leg stays.
      const bChc = legs.get(b)!.find((e) => e.name === "CHANNEL_HANGUP_COMPLETE");
      if (bChc !== undefined) {
        assert.equal(bChc.get("Other-Leg-Unique-ID"), a);
        assert.ok([a, b].includes(bChc.get("Channel-Call-UUID")!));
      }
    }
  });

  it("reports G722 with RTP clock 8000 and sample rate 16000, as the cgrates sample does", async () => {
    const events = await simulate(
      {
        seed: 2,
        callsPerSecond: 1,
        codecs: ["G722"],
        unansweredShare: 0,
        rtcpIntervalMs: 1000,
        meanDurationMs: 4000,
      },
      10_000,
    );
    const answer = events.find((e) => e.name === "CHANNEL_ANSWER")!;
    assert.equal(answer.get("Channel-Read-Codec-Rate"), "16000");
    assert.equal(answer.get("variable_rtp_use_codec_rate"), "8000");
    assert.equal(answer.get("variable_read_rate"), "16000");
    const rtcp = events.find((e) => e.name === "RECV_RTCP_MESSAGE")!;
    assert.equal(rtcp.get("RTP-Rate"), "8000");
  });
});

describe("sim calls: RTCP layout (SPEC section 2)", () => {
  const RECV_LAYOUT = [
    "Unique-ID",
    "SSRC",
    "NTP-Most-Significant-Word",
    "NTP-Least-Significant-Word",
    "RTP-Timestamp",
    "Sender-Packet-Count",
    "Octect-Packet-Count",
    "Last-RTP-Timestamp",
    "RTP-Rate",
    "Capture-Time",
    "Source0-SSRC",
    "Source0-Fraction",
    "Source0-Lost",
    "Source0-Loss-Avg",
    "Source0-Highest-Sequence-Number-Received",
    "Source0-Jitter",
    "Source0-LSR",
    "Source0-DLSR",
    "Rtt0-Avg",
  ];
  const SEND_LAYOUT = [
    "Unique-ID",
    "SSRC",
    "NTP-Most-Significant-Word",
    "NTP-Least-Significant-Word",
    "RTP-Timestamp",
    "Sender-Packet-Count",
    "Octect-Packet-Count",
    "Last-RTP-Timestamp",
    "Capture-Time",
    "Source-SSRC",
    "Source-Fraction",
    "Source-Lost",
    "Source-Highest-Sequence-Number-Received",
    "Source-Jitter",
    "Source-LSR",
    "Source-DLSR",
  ];

  it("lays out generated RECV and SEND reports exactly, with no channel variables", async () => {
    const events = await simulate(
      {
        seed: 8,
        callsPerSecond: 1,
        sendRtcp: true,
        rtcpIntervalMs: 1000,
        unansweredShare: 0,
        meanDurationMs: 6000,
        rrOnlyShare: 0.3,
      },
      20_000,
      "plain RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE",
    );
    const recv = events.filter((e) => e.name === "RECV_RTCP_MESSAGE");
    const send = events.filter((e) => e.name === "SEND_RTCP_MESSAGE");
    assert.ok(recv.length > 20 && send.length > 20);
    for (const e of recv) {
      assert.deepEqual(names(e).slice(13), RECV_LAYOUT);
      assert.match(e.get("SSRC")!, /^[0-9a-f]{8}$/);
      assert.match(e.get("Source0-SSRC")!, /^[0-9a-f]{8}$/);
      assert.match(e.get("Rtt0-Avg")!, /^\d+\.\d{6}$/);
      assert.ok(n(e, "Source0-Fraction") >= 0 && n(e, "Source0-Fraction") <= 255);
      assert.match(e.get("Source0-Loss-Avg")!, /^\d+$/);
    }
    for (const e of send) {
      assert.deepEqual(names(e).slice(13), SEND_LAYOUT);
      assert.match(e.get("SSRC")!, /^[0-9a-f]{8}$/);
    }
    // RTT from Capture-Time, LSR and DLSR (SPEC section 7) is plausible for every report with LSR.
    for (const e of recv.filter((r) => n(r, "Source0-LSR") !== 0)) {
      const rtt = rttMs(e);
      assert.ok(rtt > 10 && rtt < 500, `rtt ${rtt}`);
    }
  });

  it("prints scripted values exactly: %.8x SSRC, unsigned Lost, RR-only repeating the last SR", async () => {
    const { gen, probe } = await setup(
      { callsPerSecond: 0 },
      "plain RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE",
    );
    const call = gen.startCall({ codec: "PCMU", atMs: T0 });
    const leg = call.uuid;
    gen.sendRtcp(leg, { rrOnly: true, atMs: T0 + 1000 });
    gen.sendRtcp(leg, {
      atMs: T0 + 5000,
      jitter: 160,
      lost: -1,
      fraction: 7,
      ssrc: 0xabc,
      rate: 8000,
    });
    gen.sendRtcp(leg, { rrOnly: true, atMs: T0 + 10_000, lost: 4 });
    gen.sendSenderReport(leg, T0 + 11_000);
    await probe.eventCount(4);
    const [rr0, sr, rr1, send] = probe.events as [EslEvent, EslEvent, EslEvent, EslEvent];

    assert.equal(rr0.get("SSRC"), "00000000");
    for (const h of [
      "NTP-Most-Significant-Word",
      "NTP-Least-Significant-Word",
      "RTP-Timestamp",
      "Sender-Packet-Count",
      "Octect-Packet-Count",
    ]) {
      assert.equal(rr0.get(h), "0", h);
    }
    assert.equal(rr0.get("Source0-LSR"), "0");
    assert.equal(rr0.get("Rtt0-Avg"), "0.000000");

    assert.equal(sr.get("Source0-SSRC"), "00000abc");
    assert.equal(sr.get("Source0-Lost"), "4294967295");
    assert.equal(sr.get("Source0-Fraction"), "7");
    assert.equal(sr.get("Source0-Jitter"), "160");
    assert.equal(sr.get("RTP-Rate"), "8000");
    assert.equal(sr.get("Sender-Packet-Count"), String(Math.floor((5000 - 20) / 20)));
    assert.equal(n(sr, "Octect-Packet-Count"), n(sr, "Sender-Packet-Count") * 160);
    assert.notEqual(sr.get("Source0-LSR"), "0");
    assert.ok(Math.abs(rttMs(sr) - 40) < 1, `rtt ${rttMs(sr)}`);
    assert.ok(Math.abs(Number(sr.get("Rtt0-Avg")) - 0.04) < 0.001);

    for (const h of [
      "SSRC",
      "NTP-Most-Significant-Word",
      "NTP-Least-Significant-Word",
      "RTP-Timestamp",
      "Sender-Packet-Count",
      "Octect-Packet-Count",
    ]) {
      assert.equal(rr1.get(h), sr.get(h), `RR-only repeats ${h}`);
    }
    assert.equal(rr1.get("Source0-Lost"), "4");

    // FreeSWITCH's SEND names the remote stream in SSRC too (capture-plain.esl).
    assert.equal(send.get("SSRC"), sr.get("SSRC"));
    assert.notEqual(send.get("SSRC"), hex8(call.aLeg.media.fsSsrc));
    assert.equal(send.get("Source-SSRC"), sr.get("SSRC"));
    assert.equal(send.get("Sender-Packet-Count"), String(Math.floor(11_000 / 20)));
    const srMiddle =
      ((n(sr, "NTP-Most-Significant-Word") & 0xffff) * 65536 +
        (n(sr, "NTP-Least-Significant-Word") >>> 16)) >>>
      0;
    assert.equal(n(send, "Source-LSR"), srMiddle);
    assert.equal(n(send, "Source-DLSR"), Math.round(6 * 65536));
  });
});

function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, "0");
}

/** SPEC section 7: RTT from Capture-Time, LSR and DLSR, in ms. */
function rttMs(e: EslEvent): number {
  const captureUs = n(e, "Capture-Time");
  const seconds = Math.floor(captureUs / 1e6) + 2208988800;
  const fraction = Math.floor(((captureUs % 1e6) / 1e6) * 2 ** 32);
  const a = (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
  const units = (a - n(e, "Source0-LSR") - n(e, "Source0-DLSR") + 2 ** 32) % 2 ** 32;
  return (units / 65536) * 1000;
}

describe("sim calls: end-of-call statistics", () => {
  it("puts the QoS variables on HANGUP_COMPLETE and DESTROY only, consistent with the RTCP seen", async () => {
    const events = await simulate(
      {
        seed: 17,
        callsPerSecond: 2,
        sendRtcp: true,
        rtcpIntervalMs: 2000,
        meanDurationMs: 20_000,
        unansweredShare: 0.15,
        profileWeights: { good: 1, average: 1, bad: 2 },
      },
      90_000,
    );
    const legs = byLeg(events);
    let checked = 0;
    let lossy = 0;
    let unanswered = 0;
    for (const [, list] of legs) {
      const hangup = list.find((e) => e.name === "CHANNEL_HANGUP");
      const chc = list.find((e) => e.name === "CHANNEL_HANGUP_COMPLETE");
      const destroy = list.find((e) => e.name === "CHANNEL_DESTROY");
      if (hangup === undefined || chc === undefined || destroy === undefined) continue;
      assert.ok(!names(hangup).some((h) => QOS_SET.has(h)), "none on CHANNEL_HANGUP");
      if (list.every((e) => e.name !== "CHANNEL_ANSWER")) {
        assert.ok(!names(chc).some((h) => QOS_SET.has(h)), "no RTP session, no stats");
        unanswered++;
        continue;
      }
      for (const name of QOS_NAMES) {
        const value = chc.get(name);
        assert.equal(destroy.get(name), value, `${name} on DESTROY`);
        assert.match(value ?? "", TWO_DECIMALS.has(name) ? /^\d+\.\d\d$/ : /^\d+$/, name);
      }
      const q = (k: string) => Number(chc.get(`variable_rtp_audio_${k}`));

      // FreeSWITCH's MOS from the packets received and the flaws.
      const r = fsQuality(q("in_packet_count"), q("in_flaw_total"));
      const expectedR = Math.trunc(
        ((q("in_packet_count") - q("in_flaw_total")) / q("in_packet_count")) * 100,
      );
      assert.equal(r, q("in_flaw_total") === 0 ? 100 : expectedR);
      assert.equal(chc.get("variable_rtp_audio_in_quality_percentage"), r.toFixed(2));
      assert.equal(
        chc.get("variable_rtp_audio_in_mos"),
        (1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r)).toFixed(2),
      );

      // The peer's last SR is rtcp_packet_count / rtcp_octet_count.
      const recv = list.filter((e) => e.name === "RECV_RTCP_MESSAGE");
      const send = list.filter((e) => e.name === "SEND_RTCP_MESSAGE");
      const lastRecv = recv.at(-1);
      assert.equal(
        q("rtcp_packet_count"),
        lastRecv === undefined ? 0 : n(lastRecv, "Sender-Packet-Count"),
      );
      assert.equal(
        q("rtcp_octet_count"),
        lastRecv === undefined ? 0 : n(lastRecv, "Octect-Packet-Count"),
      );
      assert.ok(q("in_packet_count") + q("in_flaw_total") >= q("rtcp_packet_count"));

      // Jitter variances agree with the jitter of the leg's reports (SPEC jitter_avg fallback).
      const rate = Number(chc.get("variable_rtp_use_codec_rate"));
      const jitters = [
        ...recv.map((e) => (n(e, "Source0-Jitter") * 1000) / n(e, "RTP-Rate")),
        ...send.map((e) => (n(e, "Source-Jitter") * 1000) / rate),
      ];
      if (jitters.length > 0) {
        const mean = jitters.reduce((s, x) => s + x, 0) / jitters.length;
        const fromVariances = Math.sqrt(
          (q("in_jitter_min_variance") + q("in_jitter_max_variance")) / 2,
        );
        assert.ok(
          Math.abs(fromVariances - mean) <= 0.02 + mean * 0.01,
          `${fromVariances} vs ${mean}`,
        );
        assert.ok(q("in_jitter_min_variance") <= q("in_jitter_max_variance"));
      }

      // Inbound loss: flaws cover what FreeSWITCH reported lost, but for the one packet its RTCP
      // counts lost on every stream (capture-plain.esl: Source-Lost 1, in_flaw_total 0);
      // skipped frames are not the loss count.
      const lastSend = send.at(-1);
      if (lastSend !== undefined) {
        const lost = signed32(lastSend.get("Source-Lost")) - 1;
        assert.ok(q("in_flaw_total") >= lost, `flaws ${q("in_flaw_total")} < lost ${lost}`);
        assert.ok(q("in_skip_packet_count") >= lost);
      }
      if (q("in_flaw_total") > 0) lossy++;
      else assert.equal(chc.get("variable_rtp_audio_in_mos"), "4.50");
      checked++;
    }
    assert.ok(checked > 50, `${checked} legs checked`);
    assert.ok(lossy > 5, `${lossy} legs with flaws`);
    assert.ok(unanswered > 0);
  });

  it("reproduces FreeSWITCH's MOS of the cgrates G722 and libresbc opus samples", () => {
    const cdr = JSON.parse(
      readFileSync(
        new URL(
          "../fixtures/samples/json-cdr-callstats-cgrates-2018-g722-same-call.json",
          import.meta.url,
        ),
        "utf8",
      ),
    ) as { callStats: { audio: { inbound: { mos: number; quality_percentage: number } } } };
    const inbound = cdr.callStats.audio.inbound;
    assert.ok(Math.abs(fsMos(inbound.quality_percentage) - inbound.mos) < 1e-6);
    assert.equal(fsMos(99).toFixed(2), "4.49");
    assert.equal(fsMos(76).toFixed(2), "3.86");
    assert.equal(fsQuality(1033, 0), 100);
    assert.equal(fsQuality(50, 12), 76);
  });

  it("gives scripted calls exactly the values sent, and 100.00/4.50 without media", async () => {
    const { gen, probe } = await setup(
      { callsPerSecond: 0 },
      "plain CHANNEL_HANGUP_COMPLETE RECV_RTCP_MESSAGE",
    );
    const call = gen.startCall({
      bridged: true,
      codec: "G722",
      bCodec: "PCMA",
      domain: "exact.example",
      atMs: T0,
    });
    gen.sendRtcp(call.uuid, { atMs: T0 + 5000, jitter: 400, lost: 3, fraction: 12, rate: 8000 });
    gen.sendRtcp(call.uuid, { atMs: T0 + 10_000, jitter: 400, lost: 5, fraction: 0, rate: 8000 });
    gen.hangupCall(call.uuid, { atMs: T0 + 12_000, qos: { inLost: 6 } });
    const silent = gen.startCall({ media: false, atMs: T0 });
    gen.hangupCall(silent.uuid, { atMs: T0 + 3000 });
    await probe.eventCount(5);

    const [, second] = probe.events as [EslEvent, EslEvent];
    assert.equal(second.get("Source0-Jitter"), "400");
    assert.equal(second.get("Source0-Lost"), "5");
    const chc = probe.events.filter((e) => e.name === "CHANNEL_HANGUP_COMPLETE");
    const a = chc.find((e) => e.get("Unique-ID") === call.uuid)!;
    const b = chc.find((e) => e.get("Unique-ID") === call.bLeg!.uuid)!;
    const v = (e: EslEvent, k: string) => e.get(`variable_rtp_audio_${k}`);
    // 12 s of 20 ms packets each way; 400 units at 8000 Hz = 50 ms of jitter.
    assert.equal(v(a, "out_packet_count"), "600");
    assert.equal(v(a, "in_packet_count"), "594");
    assert.equal(v(a, "in_flaw_total"), "6");
    assert.equal(v(a, "in_quality_percentage"), "98.00");
    assert.equal(v(a, "in_mos"), fsMos(98).toFixed(2));
    assert.equal(v(a, "in_jitter_min_variance"), "625.00");
    assert.equal(v(a, "in_jitter_max_variance"), "4375.00");
    assert.equal(v(a, "rtcp_packet_count"), second.get("Sender-Packet-Count"));
    assert.equal(v(a, "rtcp_octet_count"), second.get("Octect-Packet-Count"));
    assert.equal(a.get("variable_rtp_use_codec_rate"), "8000");
    assert.equal(a.get("Channel-Read-Codec-Rate"), "16000");
    assert.equal(v(b, "in_flaw_total"), "0");
    assert.equal(v(b, "in_mos"), "4.50");
    assert.equal(v(b, "rtcp_packet_count"), "0");
    assert.equal(b.get("Channel-Read-Codec-Name"), "PCMA");

    const none = chc.find((e) => e.get("Unique-ID") === silent.uuid)!;
    assert.equal(v(none, "in_packet_count"), "0");
    assert.equal(v(none, "in_quality_percentage"), "100.00");
    assert.equal(v(none, "in_mos"), "4.50");
  });
});

describe("sim calls: fsagent simulate", () => {
  it("parses the documented options, in both --opt value and --opt=value forms", () => {
    assert.deepEqual(parseSimulateArgs([]), DEFAULT_SIMULATE_OPTIONS);
    const o = parseSimulateArgs([
      "--port",
      "9021",
      "--host=0.0.0.0",
      "--password",
      "pw",
      "--calls",
      "10",
      "--rate",
      "2.5",
      "--duration",
      "12",
      "--bridged",
      "0.25",
      "--rtcp-interval",
      "1",
      "--send-rtcp",
      "--heartbeat",
      "5",
      "--rude",
      "--seed",
      "7",
      "--domains",
      "a.example, b.example",
      "--codecs",
      "pcmu,OPUS",
      "--profiles",
      "good=1,bad=3",
    ]);
    assert.equal(o.port, 9021);
    assert.equal(o.host, "0.0.0.0");
    assert.equal(o.password, "pw");
    assert.equal(o.calls, 10);
    assert.equal(o.rate, 2.5);
    assert.equal(o.durationS, 12);
    assert.equal(o.bridged, 0.25);
    assert.equal(o.rtcpIntervalS, 1);
    assert.equal(o.sendRtcp, true);
    assert.equal(o.heartbeatS, 5);
    assert.equal(o.rude, true);
    assert.equal(o.seed, 7);
    assert.deepEqual(o.domains, ["a.example", "b.example"]);
    assert.deepEqual(o.codecs, ["PCMU", "opus"]);
    assert.deepEqual(o.profiles, { good: 1, bad: 3 });
  });

  it("rejects bad input with a one-line UsageError", () => {
    for (const [argv, message] of [
      [["--port", "70000"], /--port must be an integer from 0 to 65535/],
      [["--rate", "fast"], /--rate must be a number/],
      [["--bridged", "2"], /--bridged must be a number from 0 to 1/],
      [["--codecs", "G729"], /unknown codec "G729"/],
      [["--frobnicate"], /unknown option "--frobnicate"/],
      [["--port"], /--port needs a value/],
      [["extra"], /unexpected argument "extra"/],
      [["--rude=yes"], /--rude takes no value/],
    ] as const) {
      assert.throws(
        () => parseSimulateArgs(argv),
        (err: unknown) =>
          err instanceof UsageError && message.test(err.message) && !err.message.includes("\n"),
        argv.join(" "),
      );
    }
  });

  it("runs server and generator in real time until stopped", async () => {
    const sim = await runSimulator(
      parseSimulateArgs([
        "--port",
        "0",
        "--rate",
        "40",
        "--duration",
        "6",
        "--rtcp-interval",
        "0.2",
        "--heartbeat",
        "0.1",
        "--seed",
        "5",
      ]),
    );
    cleanups.push(() => sim.stop());
    const probe = await EslProbe.authenticated(sim.port);
    cleanups.push(() => probe.destroy());
    await probe.command("event plain CHANNEL_CREATE RECV_RTCP_MESSAGE HEARTBEAT");
    await probe.event((e) => e.name === "CHANNEL_CREATE", 3000);
    await probe.event((e) => e.name === "HEARTBEAT", 3000);
    // A stream's first report comes 4 s after the answer (rtcp-schedule.ts).
    await probe.event((e) => e.name === "RECV_RTCP_MESSAGE", 7000);
    await sim.stop();
    await probe.closedByPeer();
    assert.equal(sim.seed, 5);
  });
});
