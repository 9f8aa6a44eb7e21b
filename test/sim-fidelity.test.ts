// The simulator against real FreeSWITCH 1.11: for every event the agent uses (and the other
// channel events the simulator fires), the simulator's header names, in order, must be those of
// a real event of the same kind in the same situation, in plain and in json; and
// `show channels as json` and `uuid_dump <uuid> [json]` must have the real keys.
//
// What is compared: the full sequence of header names, variables included, standard block
// first, duplicates kept (CHANNEL_HANGUP_COMPLETE's two Hangup-Cause). The expected sequences
// are read from the captures in test/fixtures/freeswitch-1.11, never from the simulator: every
// sequence a real event of the situation had is accepted (FreeSWITCH's own order of variables
// varies with the timing of its threads, see the several CHANNEL_BRIDGE layouts).
//
// A situation is the event, the leg's role (bridged A-leg, B-leg, lone inbound leg), whether it
// was answered or cancelled, which side hung up, and whom a B-leg's report names; for an RTCP
// event, whether it is its leg's first of its kind. All are read from the event streams by the
// same code (support/fs-capture.ts) for the captures and the simulator.
//
// What is normalised, in the captures only, because it belongs to the lab, not to FreeSWITCH:
// - `variable_sip_h_X-Lab-*`: headers the lab's originate adds to its INVITEs;
// - `variable_sip_via_port`: sofia sets it only when the caller's Via port is not 5060; the
//   lab's callers are FreeSWITCH profiles on 5080 (L4) and, in the fresh captures, on 25060
//   (L2); the simulator's phones and carriers use 5060.
// And on both sides `variable_rtp_use_codec_fmtp`, which only opus legs have: the comparison
// runs without it and a separate test checks where it goes (right after rtp_use_codec_name).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { executeApi } from "../src/sim/api.js";
import {
  captureEvents,
  fixtureText,
  get,
  headerNames,
  jsonMembers,
  plainHeaders,
  situations,
  type WireEvent,
} from "./support/fs-capture.js";
import { SimWire, T0 } from "./support/sim-wire.js";

const CAPTURES = [
  "capture-plain.esl",
  "capture-json.esl",
  "capture-netem-plain.esl",
  "capture-long-plain.esl",
  "capture-rtcp5s-plain.esl",
  "capture-bhangup-plain.esl",
  "capture-cancel-plain.esl",
  "capture-opus-plain.esl",
  "capture-g722-plain.esl",
];

/** The events the agent uses (SPEC section 1, and the issue), then the others the sim fires. */
const AGENT_EVENTS = [
  "CHANNEL_CREATE",
  "CHANNEL_ANSWER",
  "CHANNEL_BRIDGE",
  "CHANNEL_HANGUP_COMPLETE",
  "CHANNEL_DESTROY",
  "RECV_RTCP_MESSAGE",
  "SEND_RTCP_MESSAGE",
  "HEARTBEAT",
  "CHANNEL_OUTGOING",
];
const COMPARED = new Set([...AGENT_EVENTS, "CHANNEL_HANGUP", "CHANNEL_UNBRIDGE"]);

const LAB_ONLY = (name: string) =>
  name.startsWith("variable_sip_h_X-Lab-") || name === "variable_sip_via_port";
const FMTP = "variable_rtp_use_codec_fmtp";

function sequence(e: WireEvent, isCapture: boolean): string {
  return headerNames(e)
    .filter((n) => n !== FMTP && !(isCapture && LAB_ONLY(n)))
    .join("\n");
}

interface Expected {
  /** Every real sequence of the situation, with where it was seen. */
  readonly sequences: Map<string, string>;
}

/** Situation → the sequences real FreeSWITCH produced in it. */
function realLayouts(): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const file of CAPTURES) {
    for (const [event, situation] of situations(captureEvents(file))) {
      if (!COMPARED.has(get(event, "Event-Name") ?? "")) continue;
      let expected = out.get(situation);
      if (expected === undefined) {
        expected = { sequences: new Map() };
        out.set(situation, expected);
      }
      const seq = sequence(event, true);
      if (!expected.sequences.has(seq)) {
        expected.sequences.set(seq, `${file} #${get(event, "Event-Sequence")} (${event.format})`);
      }
    }
  }
  return out;
}

const REAL = realLayouts();

/** The lines one sequence has and the other lacks, to make a failure readable. */
function difference(real: string, sim: string): string {
  const a = real.split("\n");
  const b = sim.split("\n");
  const missing = a.filter((n) => !b.includes(n));
  const extra = b.filter((n) => !a.includes(n));
  const firstOff = a.findIndex((n, i) => b[i] !== n);
  return `missing [${missing.join(" ")}], extra [${extra.join(" ")}], first difference at #${firstOff}: real ${a[firstOff]} / sim ${b[firstOff]}`;
}

/** Asserts every compared event of `events` has a real layout; returns the situations seen. */
function assertRealLayouts(events: readonly WireEvent[], what: string): Set<string> {
  const seen = new Set<string>();
  for (const [event, situation] of situations(events)) {
    if (!COMPARED.has(get(event, "Event-Name") ?? "")) continue;
    seen.add(situation);
    const real = REAL.get(situation);
    assert.ok(real !== undefined, `${what}: no real event in the situation "${situation}"`);
    const seq = sequence(event, false);
    if (real.sequences.has(seq)) continue;
    const [closest, source] = [...real.sequences].sort(
      ([x], [y]) => difference(x, seq).length - difference(y, seq).length,
    )[0]!;
    assert.fail(
      `${what}: "${situation}" (Event-Sequence ${get(event, "Event-Sequence")}) has no real layout; ` +
        `closest ${source}: ${difference(closest, seq)}`,
    );
  }
  return seen;
}

/** The lab's scenarios, scripted: 12-s PCMU calls, RTCP every second, SEND on. */
function scriptedScenarios(codec: "PCMU" | "G722" | "opus" = "PCMU"): SimWire {
  const w = new SimWire({ rtcpIntervalMs: 1000, sendRtcp: true });
  const g = w.gen;
  g.runUntil(T0);
  const rtcp = (uuid: string | undefined, at: number) => {
    if (uuid === undefined) return;
    g.sendSenderReport(uuid, at);
    g.sendRtcp(uuid, { atMs: at + 20 });
  };
  const answered = (hangup: Parameters<typeof g.hangupCall>[1]) => {
    const call = g.startCall({ bridged: true, codec, atMs: T0 });
    rtcp(call.uuid, T0 + 4000);
    rtcp(call.bLeg?.uuid, T0 + 4000);
    g.hangupCall(call.uuid, { atMs: T0 + 12_000, ...hangup });
  };
  answered({ by: "a", bLegReport: "before-unbridge" });
  answered({ by: "a", bLegReport: "after-unbridge" });
  answered({ by: "b" });
  const cancelled = g.startCall({ bridged: true, codec, answer: false, atMs: T0 });
  g.hangupCall(cancelled.uuid, { atMs: T0 + 4000, cause: "ORIGINATOR_CANCEL" });
  const lone = g.startCall({ codec, atMs: T0 });
  rtcp(lone.uuid, T0 + 4000);
  g.hangupCall(lone.uuid, { atMs: T0 + 12_000 });
  const loneCancelled = g.startCall({ codec, answer: false, atMs: T0 });
  g.hangupCall(loneCancelled.uuid, { atMs: T0 + 4000, cause: "ORIGINATOR_CANCEL" });
  return w;
}

/** Random calls of every kind for 2 simulated minutes, with HEARTBEATs. */
function randomCalls(): SimWire {
  const w = new SimWire({
    seed: 11,
    callsPerSecond: 2,
    bridgedShare: 0.6,
    unansweredShare: 0.2,
    meanDurationMs: 20_000,
    rtcpIntervalMs: 1000,
    sendRtcp: true,
    codecs: ["PCMU", "PCMA", "G722"],
    heartbeatIntervalMs: 20_000,
  });
  w.gen.runUntil(T0);
  w.gen.runUntil(T0 + 120_000, 100);
  return w;
}

describe("sim fidelity: header layouts against FreeSWITCH 1.11", () => {
  it("reads the captures: every compared event in each role and situation, plain and json", () => {
    const keys = [...REAL.keys()];
    for (const event of AGENT_EVENTS) {
      assert.ok(
        keys.some((k) => k.startsWith(event)),
        `the captures have ${event}`,
      );
    }
    // Both json and plain captures were read, and json's layouts are plain's.
    const json = captureEvents("capture-json.esl").filter(
      (e) => get(e, "Event-Name") === "CHANNEL_HANGUP_COMPLETE",
    );
    assert.ok(json.length > 0 && json.every((e) => e.format === "json"));
  });

  it("lays out the scripted lab scenarios as FreeSWITCH does, in plain and in json", () => {
    const w = scriptedScenarios();
    const plain = assertRealLayouts(w.wire("plain"), "plain");
    const json = assertRealLayouts(w.wire("json"), "json");
    assert.deepEqual([...json].sort(), [...plain].sort());
    // Every situation of the captures the simulator can be in, it was in.
    const simulated = [...REAL.keys()].filter(
      (k) => / (bridged-a|b|lone) /.test(k) && !/ originator /.test(k),
    );
    for (const situation of simulated) {
      assert.ok(plain.has(situation), `the scenarios cover "${situation}"`);
    }
  });

  it("lays out random calls (every kind, RTCP, HEARTBEAT) as FreeSWITCH does", () => {
    const w = randomCalls();
    const plain = assertRealLayouts(w.wire("plain"), "plain");
    assertRealLayouts(w.wire("json"), "json");
    for (const name of AGENT_EVENTS) {
      assert.ok(
        [...plain].some((s) => s.startsWith(name)),
        `random calls fired ${name}`,
      );
    }
  });

  it("lays out G722 calls as PCMU ones, as the G722 capture shows", () => {
    const real = captureEvents("capture-g722-plain.esl");
    assert.ok(real.some((e) => get(e, "variable_rtp_use_codec_name") === "G722"));
    const sim = scriptedScenarios("G722").wire("plain");
    assert.ok(sim.some((e) => get(e, "variable_rtp_use_codec_name") === "G722"));
    assertRealLayouts(sim, "G722");
  });

  it("puts opus's rtp_use_codec_fmtp right after rtp_use_codec_name, as the opus capture does", () => {
    const placed = (events: readonly WireEvent[]) => {
      let count = 0;
      for (const e of events) {
        const names = headerNames(e);
        const at = names.indexOf(FMTP);
        if (at === -1) continue;
        assert.equal(names[at - 1], "variable_rtp_use_codec_name");
        count++;
      }
      return count;
    };
    const real = captureEvents("capture-opus-plain.esl");
    assert.ok(placed(real) > 10);
    // In the capture, every event with an opus codec name has it.
    for (const e of real) {
      if (get(e, "variable_rtp_use_codec_name") === "opus") assert.ok(get(e, FMTP) !== undefined);
    }
    const w = scriptedScenarios("opus");
    const sim = w.wire("plain");
    assert.ok(placed(sim) > 10);
    for (const e of sim) {
      if (get(e, "variable_rtp_use_codec_name") !== undefined) {
        assert.equal(get(e, FMTP) !== undefined, get(e, "variable_rtp_use_codec_name") === "opus");
      }
    }
    assertRealLayouts(sim, "opus");
  });
});

describe("sim fidelity: show channels and uuid_dump against FreeSWITCH 1.11", () => {
  /** A bridged call and a lone call, answered and up, as when the lab took its dumps. */
  function liveCalls() {
    const w = new SimWire({ rtcpIntervalMs: 1000, sendRtcp: true });
    w.gen.runUntil(T0);
    const bridged = w.gen.startCall({ bridged: true, atMs: T0 });
    const lone = w.gen.startCall({ atMs: T0 });
    const api = (command: string, arg: string) => {
      const out = executeApi(command, arg, {
        channels: w.channels,
        factory: w.factory,
        now: () => T0 + 3000,
        startedAtMs: T0 - 10_000,
        maxSessions: 1000,
        sessionsPerSecond: 30,
      });
      assert.ok(out !== undefined);
      return out;
    };
    return { w, bridged, lone, api };
  }

  it("answers `show channels as json` with the real keys, in the real order", () => {
    const real = JSON.parse(fixtureText("show-channels.json")) as {
      rows: Array<Record<string, string>>;
    };
    const realKeys = Object.keys(real.rows[0]!);
    for (const row of real.rows) assert.deepEqual(Object.keys(row), realKeys);
    const { api } = liveCalls();
    const text = api("show", "channels as json");
    assert.deepEqual(
      jsonMembers(text).map(([n]) => n),
      ["row_count", "rows"],
      "top-level keys",
    );
    const sim = JSON.parse(text) as { row_count: number; rows: Array<Record<string, string>> };
    assert.equal(sim.row_count, 3);
    for (const row of sim.rows) assert.deepEqual(Object.keys(row), realKeys);
    // The plain table has the same columns.
    const realColumns = fixtureText("show-channels.txt").split("\n")[0];
    assert.equal(api("show", "channels").split("\n")[0], realColumns);
  });

  it("answers `uuid_dump <A-leg> json` and plain `uuid_dump` with the real keys", () => {
    const { bridged, api } = liveCalls();
    const realJson = jsonMembers(fixtureText("uuid_dump.json"))
      .map(([n]) => n)
      .filter((n) => !LAB_ONLY(n));
    const realPlain = plainHeaders(fixtureText("uuid_dump.txt"))
      .map(([n]) => n)
      .filter((n) => !LAB_ONLY(n));
    assert.deepEqual(realPlain, realJson, "the two real dumps agree");
    const simJson = jsonMembers(api("uuid_dump", `${bridged.uuid} json`)).map(([n]) => n);
    assert.deepEqual(simJson, realJson);
    const simPlain = plainHeaders(api("uuid_dump", bridged.uuid)).map(([n]) => n);
    assert.deepEqual(simPlain, realPlain);
  });
});
