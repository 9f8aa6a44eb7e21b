// What real FreeSWITCH 1.11 does that the agent must cope with, each shown twice: first in the
// captures of test/fixtures/freeswitch-1.11 (the expectation), then in the simulator, stepped on
// its own simulated clock (no sockets, no sleeps). The expectations come from the captures and
// ../shared/freeswitch/README.md ("What real FreeSWITCH does"), never from the simulator's code.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SIMULATE_HELP } from "../src/sim/args.js";
import type { CallGeneratorOptions } from "../src/sim/calls.js";
import { captureEvents, get, headerNames, type WireEvent } from "./support/fs-capture.js";
import { SimWire, T0 } from "./support/sim-wire.js";

type GenOptions = Omit<CallGeneratorOptions, "factory" | "sink" | "channels">;

const name = (e: WireEvent) => get(e, "Event-Name") ?? "";
const uuid = (e: WireEvent) => get(e, "Unique-ID") ?? "";
const seq = (e: WireEvent) => Number(get(e, "Event-Sequence"));
const timeMs = (e: WireEvent) => Number(get(e, "Event-Date-Timestamp")) / 1000;

/** Random calls for `ms` of simulated time, as the listener of `format` reads them. */
function simulated(options: GenOptions, ms: number, format: "plain" | "json" = "plain") {
  const w = new SimWire({ callsPerSecond: 1, ...options });
  w.gen.runUntil(T0);
  w.gen.runUntil(T0 + ms, 50);
  return w.wire(format);
}

function byLeg(events: readonly WireEvent[], names: readonly string[]): Map<string, WireEvent[]> {
  const out = new Map<string, WireEvent[]>();
  for (const e of events) {
    if (!names.includes(name(e))) continue;
    const list = out.get(uuid(e)) ?? [];
    list.push(e);
    out.set(uuid(e), list);
  }
  return out;
}

/** Per leg, the time of its CHANNEL_ANSWER. */
function answers(events: readonly WireEvent[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) if (name(e) === "CHANNEL_ANSWER") out.set(uuid(e), timeMs(e));
  return out;
}

/**
 * The report times of each leg's stream (`event`), in seconds after its answer, rounded to a
 * tenth (a real stream drifts by 20 ms per report).
 */
function reportTimes(events: readonly WireEvent[], event: string): number[][] {
  const answered = answers(events);
  const out: number[][] = [];
  for (const [leg, list] of byLeg(events, [event])) {
    const at = answered.get(leg);
    if (at === undefined) continue;
    out.push(list.map((e) => Math.round((timeMs(e) - at) / 100) / 10));
  }
  return out;
}

/** Seconds between consecutive reports, rounded to the second. */
function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => Math.round(t - times[i]!));
}

describe("sim behaviours: the RTCP warm-up", () => {
  for (const [file, intervalMs] of [
    ["capture-long-plain.esl", 1000],
    ["capture-rtcp5s-plain.esl", 5000],
  ] as const) {
    it(`sends a stream's first 4 reports 4 s apart, then every ${intervalMs / 1000} s (${file})`, () => {
      const real = reportTimes(captureEvents(file), "SEND_RTCP_MESSAGE");
      assert.ok(real.length >= 4, "a stream per leg");
      const expected = [4, 4, 4, ...Array<number>(3).fill(intervalMs / 1000)];
      for (const times of real) {
        assert.ok(Math.abs(times[0]! - 4) <= 0.1, `first report 4 s after the answer: ${times}`);
        assert.deepEqual(gaps(times).slice(0, 6), expected);
      }
      const sim = simulated(
        { rtcpIntervalMs: intervalMs, sendRtcp: true, meanDurationMs: 40_000, durationSpread: 0 },
        60_000,
      );
      for (const event of ["SEND_RTCP_MESSAGE", "RECV_RTCP_MESSAGE"]) {
        const streams = reportTimes(sim, event).filter((t) => t.length >= 7);
        assert.ok(streams.length >= 4, `${event}: long enough streams`);
        for (const times of streams) {
          // The far end's reports (RECV) keep FreeSWITCH's schedule, a few ms off it.
          assert.ok(Math.abs(times[0]! - 4) <= 0.1, `${event} first report: ${times}`);
          assert.deepEqual(gaps(times).slice(0, 6), expected, event);
        }
      }
    });
  }
});

describe("sim behaviours: SEND_RTCP_MESSAGE", () => {
  it("fires SEND_RTCP_MESSAGE only with fire_rtcp_events, as the option says", () => {
    // Every leg of the captures that fired SEND had fire_rtcp_events=true.
    const real = captureEvents("capture-plain.esl");
    const sending = new Set(real.filter((e) => name(e) === "SEND_RTCP_MESSAGE").map(uuid));
    assert.ok(sending.size >= 8);
    for (const e of real) {
      if (name(e) === "CHANNEL_HANGUP_COMPLETE" && sending.has(uuid(e))) {
        assert.equal(get(e, "variable_fire_rtcp_events"), "true");
      }
    }
    assert.match(SIMULATE_HELP, /--send-rtcp .*fire_rtcp_events=true/);

    const base = { rtcpIntervalMs: 1000, meanDurationMs: 10_000, unansweredShare: 0 };
    const off = simulated({ ...base, sendRtcp: false }, 40_000);
    assert.equal(off.filter((e) => name(e) === "SEND_RTCP_MESSAGE").length, 0);
    assert.ok(off.filter((e) => name(e) === "RECV_RTCP_MESSAGE").length > 20);
    assert.ok(off.every((e) => get(e, "variable_fire_rtcp_events") === undefined));

    const on = simulated({ ...base, sendRtcp: true }, 40_000);
    const simSending = new Set(on.filter((e) => name(e) === "SEND_RTCP_MESSAGE").map(uuid));
    const reports = on.filter((e) => name(e) === "CHANNEL_HANGUP_COMPLETE");
    assert.ok(reports.length > 10);
    for (const e of reports) {
      assert.equal(get(e, "variable_fire_rtcp_events"), "true");
      assert.ok(simSending.has(uuid(e)), "every answered leg sends");
    }
  });

  /**
   * The relations of the capture: SSRC is the remote stream's (the sender of the leg's RECV
   * reports, not the leg's own rtp_use_ssrc); Source-SSRC is that SSRC, except on a stream's
   * first SEND before any RECV of the leg, which says 00000000; Source-Lost never goes down.
   */
  function checkSendSsrc(events: readonly WireEvent[], what: string) {
    const own = new Map<string, string>();
    for (const e of events) {
      const ssrc = get(e, "variable_rtp_use_ssrc");
      if (ssrc !== undefined) own.set(uuid(e), Number(ssrc).toString(16).padStart(8, "0"));
    }
    let zero = 0;
    let lostAcrossZero = 0;
    let streams = 0;
    for (const [leg, list] of byLeg(events, ["SEND_RTCP_MESSAGE", "RECV_RTCP_MESSAGE"])) {
      const sends = list.filter((e) => name(e) === "SEND_RTCP_MESSAGE");
      const firstRecv = list.find((e) => name(e) === "RECV_RTCP_MESSAGE");
      if (sends.length === 0) continue;
      streams++;
      const remote = get(sends[0]!, "SSRC");
      for (const send of sends) {
        assert.equal(get(send, "SSRC"), remote, `${what}: one remote SSRC per leg`);
        assert.notEqual(get(send, "SSRC"), own.get(leg), `${what}: SSRC is not the leg's own`);
      }
      if (firstRecv !== undefined) assert.equal(get(firstRecv, "SSRC"), remote, what);
      sends.forEach((send, i) => {
        const before = firstRecv !== undefined && seq(firstRecv) < seq(send);
        assert.equal(get(send, "Source-SSRC"), before ? remote : "00000000", `${what} #${i}`);
        if (i > 0) {
          const lost = Number(get(send, "Source-Lost"));
          const previous = Number(get(sends[i - 1]!, "Source-Lost"));
          assert.ok(lost >= previous, `${what}: cumulative Lost ${previous} then ${lost}`);
        }
      });
      if (get(sends[0]!, "Source-SSRC") === "00000000") {
        zero++;
        if (Number(get(sends[0]!, "Source-Lost")) > 1) lostAcrossZero++;
      }
    }
    return { streams, zero, lostAcrossZero };
  }

  it("names the remote stream in SSRC; a stream's first SEND says Source-SSRC 00000000, its Lost continued", () => {
    const plain = checkSendSsrc(captureEvents("capture-plain.esl"), "capture-plain");
    assert.deepEqual(plain, { streams: 8, zero: 7, lostAcrossZero: 0 });
    const netem = checkSendSsrc(captureEvents("capture-netem-plain.esl"), "capture-netem");
    assert.ok(netem.zero >= 6 && netem.lostAcrossZero >= 6, JSON.stringify(netem));

    const sim = checkSendSsrc(
      simulated(
        {
          rtcpIntervalMs: 1000,
          sendRtcp: true,
          unansweredShare: 0,
          meanDurationMs: 12_000,
          profileWeights: { good: 0, average: 0, bad: 1 },
        },
        60_000,
      ),
      "sim",
    );
    assert.ok(sim.streams > 40, JSON.stringify(sim));
    assert.ok(sim.zero > sim.streams / 2 && sim.zero < sim.streams, JSON.stringify(sim));
    assert.ok(sim.lostAcrossZero > 0, JSON.stringify(sim));

    // Scripted: FreeSWITCH's own report before and after the far end's first one.
    const w = new SimWire();
    w.gen.runUntil(T0);
    const call = w.gen.startCall({ atMs: T0 });
    w.gen.sendSenderReport(call.uuid, T0 + 4000);
    w.gen.sendRtcp(call.uuid, { atMs: T0 + 4020 });
    w.gen.sendSenderReport(call.uuid, T0 + 8000);
    const [first, recv, second] = w.wire("plain").filter((e) => name(e).endsWith("RTCP_MESSAGE"));
    assert.equal(get(first!, "Source-SSRC"), "00000000");
    assert.equal(get(first!, "SSRC"), get(recv!, "SSRC"));
    assert.equal(get(second!, "Source-SSRC"), get(recv!, "SSRC"));
  });
});

describe("sim behaviours: loss on a loss-free stream", () => {
  /** (Fraction, Lost) of each report of each leg's `event` stream. */
  function lossSeries(events: readonly WireEvent[], event: string, prefix: string): string[][] {
    return [...byLeg(events, [event]).values()].map((list) =>
      list.map((e) => `${get(e, `${prefix}-Fraction`)}/${get(e, `${prefix}-Lost`)}`),
    );
  }
  const oneThenZero = (s: readonly string[]) =>
    s[0] === "1/1" && s.slice(1).every((x) => x === "0/1");

  it("reads Fraction 1 Lost 1 in a stream's first report, Fraction 0 Lost 1 after", () => {
    let real = 0;
    let zeros = 0;
    for (const file of [
      "capture-plain.esl",
      "capture-long-plain.esl",
      "capture-rtcp5s-plain.esl",
    ]) {
      const events = captureEvents(file);
      for (const series of [
        ...lossSeries(events, "RECV_RTCP_MESSAGE", "Source0"),
        ...lossSeries(events, "SEND_RTCP_MESSAGE", "Source"),
      ]) {
        if (oneThenZero(series)) real++;
        else if (series.every((x) => x === "0/0")) zeros++;
        else assert.fail(`${file}: ${series}`);
      }
    }
    // "often": 1/1 then 0/1 on all streams but the two (one leg's both ways) that read 0/0.
    assert.equal(zeros, 2);
    assert.ok(real >= 20, `${real} streams`);

    // The simulator's scripted legs lose nothing.
    const w = new SimWire();
    w.gen.runUntil(T0);
    const call = w.gen.startCall({ bridged: true, atMs: T0 });
    for (const leg of [call.uuid, call.bLeg!.uuid]) {
      for (const s of [4, 8, 12, 16, 17]) {
        w.gen.sendSenderReport(leg, T0 + s * 1000);
        w.gen.sendRtcp(leg, { atMs: T0 + s * 1000 + 20 });
      }
    }
    const sim = w.wire("plain");
    const series = [
      ...lossSeries(sim, "RECV_RTCP_MESSAGE", "Source0"),
      ...lossSeries(sim, "SEND_RTCP_MESSAGE", "Source"),
    ];
    assert.equal(series.length, 4);
    for (const s of series) assert.ok(oneThenZero(s), `${s}`);
    // The end-of-call statistics do not count that packet (capture-plain: in_flaw_total 0).
    w.gen.hangupCall(call.uuid, { atMs: T0 + 18_000 });
    for (const e of w.wire("plain").filter((x) => name(x) === "CHANNEL_HANGUP_COMPLETE")) {
      assert.equal(get(e, "variable_rtp_audio_in_flaw_total"), "0");
    }
  });
});

describe("sim behaviours: channel events", () => {
  /** CHANNEL_HANGUP_COMPLETE: Hangup-Cause first after the standard block, and again in the channel data. */
  function checkHangupCause(events: readonly WireEvent[], what: string): number {
    let n = 0;
    for (const e of events) {
      if (name(e) !== "CHANNEL_HANGUP_COMPLETE") continue;
      const names = headerNames(e);
      const at = names.flatMap((h, i) => (h === "Hangup-Cause" ? [i] : []));
      assert.equal(at.length, 2, `${what}: Hangup-Cause twice`);
      assert.equal(at[0], 13, `${what}: first right after the standard block`);
      assert.equal(names[at[1]! - 1], "Answer-State", `${what}: then after Answer-State`);
      const values = e.headers.filter(([h]) => h === "Hangup-Cause").map(([, v]) => v);
      assert.equal(values[0], values[1]);
      n++;
    }
    return n;
  }

  it("carries Hangup-Cause twice in CHANNEL_HANGUP_COMPLETE, in plain and in json", () => {
    assert.ok(checkHangupCause(captureEvents("capture-plain.esl"), "capture-plain") === 8);
    assert.ok(checkHangupCause(captureEvents("capture-json.esl"), "capture-json") === 8);
    for (const format of ["plain", "json"] as const) {
      const sim = simulated({ meanDurationMs: 5000, unansweredShare: 0.2 }, 30_000, format);
      assert.ok(checkHangupCause(sim, `sim ${format}`) > 20);
    }
  });

  /** Outbound legs: OUTGOING first, naming the leg itself, then CREATE. */
  function checkOutgoing(events: readonly WireEvent[], what: string): number {
    let n = 0;
    for (const [leg, list] of byLeg(events, ["CHANNEL_OUTGOING", "CHANNEL_CREATE"])) {
      const names = list.map(name);
      const outbound = get(list.at(-1)!, "Call-Direction") === "outbound";
      if (!outbound) {
        assert.deepEqual(names, ["CHANNEL_CREATE"], `${what}: an inbound leg has no OUTGOING`);
        continue;
      }
      assert.deepEqual(names, ["CHANNEL_OUTGOING", "CHANNEL_CREATE"], what);
      assert.equal(get(list[0]!, "Channel-Call-UUID"), leg, `${what}: OUTGOING names the leg`);
      n++;
    }
    return n;
  }

  it("fires CHANNEL_OUTGOING before CHANNEL_CREATE on outbound legs", () => {
    // L1 and L3 of 2 calls: L3's CREATE names its A-leg, its OUTGOING names itself.
    assert.equal(checkOutgoing(captureEvents("capture-plain.esl"), "capture-plain"), 4);
    const sim = simulated({ bridgedShare: 0.5, meanDurationMs: 5000 }, 30_000);
    assert.ok(checkOutgoing(sim, "sim") > 5);
  });

  /**
   * A B-leg names its A-leg until FreeSWITCH unbridges it, and itself after that: its report
   * (CHANNEL_HANGUP_COMPLETE) names itself iff it comes after the A-leg's CHANNEL_UNBRIDGE, its
   * CHANNEL_DESTROY always does; a B-leg never bridged (cancelled) names its A-leg throughout.
   */
  function checkBLegNaming(events: readonly WireEvent[], what: string) {
    const count = { before: 0, after: 0, cancelled: 0 };
    const unbridged = new Map<string, number>();
    for (const e of events) if (name(e) === "CHANNEL_UNBRIDGE") unbridged.set(uuid(e), seq(e));
    const legs = byLeg(events, [
      "CHANNEL_CREATE",
      "CHANNEL_ANSWER",
      "CHANNEL_HANGUP",
      "CHANNEL_HANGUP_COMPLETE",
      "CHANNEL_DESTROY",
    ]);
    for (const [leg, list] of legs) {
      const a = get(list[0]!, "Channel-Call-UUID")!;
      if (get(list[0]!, "Call-Direction") !== "outbound" || a === leg) continue;
      const unbridge = unbridged.get(a);
      for (const e of list) {
        const after = unbridge !== undefined && seq(e) > unbridge;
        assert.equal(get(e, "Channel-Call-UUID"), after ? leg : a, `${what}: ${name(e)}`);
        if (name(e) === "CHANNEL_DESTROY") {
          assert.equal(after, unbridge !== undefined, `${what}: DESTROY after the unbridge`);
        }
        if (name(e) === "CHANNEL_HANGUP_COMPLETE" && unbridge !== undefined) {
          count[after ? "after" : "before"]++;
        }
      }
      if (unbridge === undefined) count.cancelled++;
    }
    return count;
  }

  it("has an unbridged B-leg name itself in CHANNEL_DESTROY, and in CHANNEL_HANGUP_COMPLETE when it comes after the unbridge", () => {
    const real = { before: 0, after: 0, cancelled: 0 };
    for (const file of [
      "capture-plain.esl",
      "capture-netem-plain.esl",
      "capture-long-plain.esl",
      "capture-bhangup-plain.esl",
      "capture-cancel-plain.esl",
    ]) {
      const c = checkBLegNaming(captureEvents(file), file);
      real.before += c.before;
      real.after += c.after;
      real.cancelled += c.cancelled;
    }
    // Sometimes before, sometimes after (B side hanging up: always before).
    assert.deepEqual(real, { before: 4, after: 3, cancelled: 1 });

    const sim = checkBLegNaming(
      simulated({ bridgedShare: 1, unansweredShare: 0.2, meanDurationMs: 5000 }, 90_000),
      "sim",
    );
    assert.ok(sim.before > 5 && sim.after > 5 && sim.cancelled > 0, JSON.stringify(sim));
  });
});
