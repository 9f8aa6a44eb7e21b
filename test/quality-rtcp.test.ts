// The RTCP calculator (SPEC §2 header layouts, §4 freeswitch.rtcp.*), on events built to the
// spec's layouts with the simulator's builders and serialized to the wire form the agent parses.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { EslEvent } from "../src/esl/event.js";
import { foldRtcp, nextBaselines } from "../src/legs/fold-rtcp.js";
import { emodelMos } from "../src/quality/emodel.js";
import { emptyLeg } from "../src/quality/labels.js";
import { lostSince, MAX_STREAMS, readCumulativeLost, UNKNOWN_SSRC } from "../src/quality/loss.js";
import { computeRtcp, type RtcpResult, VIDEO_RTP_RATE } from "../src/quality/rtcp.js";
import type { LegState, RtcpBaseline, Unusable } from "../src/quality/types.js";
import { isUnusable, UNUSABLE_REASONS } from "../src/quality/unusable.js";
import { CallGenerator } from "../src/sim/calls.js";
import {
  EventFactory,
  type HeaderList,
  type RecvReportBlock,
  recvRtcpEvent,
  type SenderInfo,
  type SimEvent,
  sendRtcpEvent,
} from "../src/sim/events.js";
import { ntpMiddle, toUnits65536 } from "../src/sim/ntp.js";
import { toEvent } from "./support/samples.js";

const T0 = Date.UTC(2024, 4, 1, 9, 30, 0);
const UUID = "0b7c6a52-3c1e-4f7e-9a43-7f1d2e3c4b5a";
const OUR_SSRC = 0x1a2b3c4d; // FreeSWITCH's stream: the SSRC RECV reports are about
const PEER_SSRC = 0x5e6f7081; // the far end's stream: the SSRC SEND reports are about

const factory = new EventFactory({ coreUuid: "6f0c1d1e-8a41-4b8e-9d55-0c2e3f4a5b6c" });

const SR: SenderInfo = {
  ssrc: PEER_SSRC,
  ntpMsw: 3923400000,
  ntpLsw: 2147483648,
  rtpTimestamp: 160000,
  packetCount: 1000,
  octetCount: 160000,
};
/** An RR-only packet before any SR: FreeSWITCH fills the sender fields with 0. */
const NO_SR: SenderInfo = {
  ssrc: 0,
  ntpMsw: 0,
  ntpLsw: 0,
  rtpTimestamp: 0,
  packetCount: 0,
  octetCount: 0,
};

interface BlockSpec {
  ssrc?: number;
  fraction?: number;
  /** Printed with `>>> 0` by the builder: -1 arrives as 4294967295. */
  lost?: number;
  jitter?: number;
}

function block(b: BlockSpec = {}): RecvReportBlock {
  return {
    ssrc: b.ssrc ?? OUR_SSRC,
    fraction: b.fraction ?? 0,
    lost: b.lost ?? 0,
    highestSeq: 70000,
    jitter: b.jitter ?? 0,
    lsr: 0,
    dlsr: 0,
    lossAvg: 0,
    rttAvg: 0,
  };
}

/** RECV_RTCP_MESSAGE headers in the SPEC §2 order. */
function recvHeaders(
  opts: { rate?: number; blocks?: BlockSpec[]; sender?: SenderInfo; uuid?: string } = {},
): HeaderList {
  return recvRtcpEvent(factory, T0, {
    uniqueId: opts.uuid ?? UUID,
    sender: opts.sender ?? SR,
    lastRtpTimestamp: 159840,
    rtpRate: opts.rate ?? 8000,
    captureTimeUs: T0 * 1000,
    blocks: (opts.blocks ?? [{}]).map(block),
  }).headers;
}

function recv(opts: Parameters<typeof recvHeaders>[0] = {}): EslEvent {
  return toEvent(recvHeaders(opts));
}

/**
 * SEND_RTCP_MESSAGE headers: unnumbered Source-*, no RTP-Rate. As on FreeSWITCH 1.11, the SSRC
 * header is the remote stream's (the one the block reports on), not the leg's own.
 */
function sendHeaders(b: BlockSpec = {}, uuid = UUID): HeaderList {
  return sendRtcpEvent(factory, T0, {
    uniqueId: uuid,
    sender: { ...SR, ssrc: PEER_SSRC },
    lastRtpTimestamp: 159840,
    captureTimeUs: T0 * 1000,
    block: block({ ssrc: PEER_SSRC, ...b }),
  }).headers;
}

function send(b: BlockSpec = {}, uuid = UUID): EslEvent {
  return toEvent(sendHeaders(b, uuid));
}

/** A SEND report whose SSRC header names `stream`, on block SSRC `reported`. */
function sendNaming(stream: number, reported: number, lost: number): EslEvent {
  const headers = sendHeaders({ ssrc: reported, lost });
  return toEvent(withHeader(headers, "SSRC", stream.toString(16).padStart(8, "0")));
}

function withHeader(headers: HeaderList, name: string, value: string | undefined): HeaderList {
  const out: HeaderList = [];
  let seen = false;
  for (const [n, v] of headers) {
    if (n !== name) out.push([n, v]);
    else if (value !== undefined) {
      out.push([n, value]);
      seen = true;
    } else seen = true;
  }
  assert.ok(seen, `header ${name} is in the layout`);
  return out;
}

/** A leg known from its channel events, with a codec clock rate. */
function knownLeg(rtpRate: number, extra: Partial<LegState> = {}): LegState {
  return {
    ...emptyLeg(UUID),
    callUuid: UUID,
    sipCallId: "call-1@example.com",
    labels: {
      channelId: UUID,
      correlationId: "call-1@example.com",
      domainName: "example.com",
      callDirection: "inbound",
      codecName: "PCMU",
      srcIp: "198.51.100.7",
      dstIp: "192.0.2.10",
    },
    rtpRate,
    labelSource: "event",
    ...extra,
  };
}

function ok(result: RtcpResult | Unusable): RtcpResult {
  if (isUnusable(result)) assert.fail(`unexpectedly unusable: ${result.unusable}`);
  return result;
}

function refused(result: RtcpResult | Unusable): string {
  assert.ok(isUnusable(result), "expected a refusal");
  return result.unusable;
}

/**
 * The leg's state as it is now: the leg tracker's foldRtcp updates the state, its baselines and summaries in
 * place, so a result kept for later assertions holds a copy (labels stay the same object).
 */
function snapshot(leg: LegState): LegState {
  return {
    ...leg,
    inbound: leg.inbound.map((b) => ({ ...b })),
    outbound: leg.outbound.map((b) => ({ ...b })),
    videoSsrcs: [...leg.videoSsrcs],
    rtcpIn: leg.rtcpIn && { ...leg.rtcpIn },
    rtcpOut: leg.rtcpOut && { ...leg.rtcpOut },
  };
}

/** What the router does with a report: computeRtcp, then foldRtcp; `leg` is a snapshot after it. */
function applied(event: EslEvent, leg: LegState | undefined): RtcpResult {
  const r = ok(computeRtcp(event, leg));
  foldRtcp(r);
  return { ...r, leg: snapshot(r.leg) };
}

/** Feeds events in order, threading the leg state; returns every result (legs as snapshots). */
function run(events: EslEvent[], leg: LegState | undefined): RtcpResult[] {
  const results: RtcpResult[] = [];
  let state = leg;
  for (const e of events) {
    const r = ok(computeRtcp(e, state));
    foldRtcp(r);
    results.push({ ...r, leg: snapshot(r.leg) });
    state = r.leg;
  }
  return results;
}

describe("RTCP jitter and fraction lost (SPEC §4)", () => {
  it("jitter in ms = Source0-Jitter × 1000 / RTP-Rate at 8000, 16000 and 48000 Hz", () => {
    const cases: Array<[rate: number, units: number, ms: number]> = [
      [8000, 160, 20], // 160 × 1000 / 8000
      [8000, 1, 0.125], // 1 × 1000 / 8000
      [8000, 0, 0],
      [16000, 160, 10], // 160 × 1000 / 16000
      [16000, 24, 1.5], // 24 × 1000 / 16000
      [48000, 480, 10], // 480 × 1000 / 48000
      [48000, 1440, 30], // 1440 × 1000 / 48000
      [48000, 4294967295, 89478485.3125], // the largest %u: 4294967295000 / 48000
    ];
    for (const [rate, units, ms] of cases) {
      const r = ok(computeRtcp(recv({ rate, blocks: [{ jitter: units }] }), knownLeg(8000)));
      assert.equal(r.jitterMs, ms, `${units} units at ${rate} Hz`);
      assert.equal(r.rtpRate, rate);
      assert.equal(r.direction, "inbound");
      assert.equal(r.video, false);
    }
  });

  it("fraction lost = Source0-Fraction / 256: 0, 1/256, 64/256, 128/256, 255/256", () => {
    for (const [raw, fraction] of [
      [0, 0],
      [1, 0.00390625],
      [64, 0.25],
      [128, 0.5],
      [255, 0.99609375],
    ] as const) {
      const r = ok(computeRtcp(recv({ blocks: [{ fraction: raw }] }), knownLeg(8000)));
      assert.equal(r.fractionLost, fraction);
    }
  });

  it("a fraction outside 0..255 or not a number is malformed", () => {
    for (const bad of ["256", "-1", "abc", "", "1.5", "0x10", " 1"]) {
      const e = toEvent(withHeader(recvHeaders(), "Source0-Fraction", bad));
      assert.equal(refused(computeRtcp(e, knownLeg(8000))), UNUSABLE_REASONS.rtcpMalformed, bad);
    }
  });
});

describe("cumulative loss read as signed (24- or 32-bit)", () => {
  it("reads both printed forms and refuses values neither form can produce", () => {
    const cases: Array<[string | undefined, number | undefined]> = [
      ["0", 0],
      ["5", 5],
      ["8388607", 8388607], // 0x7FFFFF: the largest positive 24-bit value
      ["8388608", -8388608], // 0x800000 in the 24-bit form: 0x800000 − 2^24
      ["16777215", -1], // 0xFFFFFF in the 24-bit form: 16777215 − 16777216
      ["16777216", undefined], // 2^24: not a 24-bit value, not a sign-extended one
      ["2147483648", undefined], // 2^31: would be −2^31, far below −2^23
      ["4286578687", undefined], // 2^32 − 2^23 − 1: below −2^23 once sign-extended
      ["4286578688", -8388608], // 2^32 − 2^23: the smallest sign-extended 24-bit value
      ["4294967294", -2], // 4294967294 − 2^32
      ["4294967295", -1], // 4294967295 − 2^32: how FreeSWITCH prints −1
      ["4294967296", undefined], // beyond 32 bits
      ["-1", -1], // a %d print, taken as is
      ["-8388608", -8388608],
      ["-8388609", undefined],
      ["", undefined],
      ["abc", undefined],
      ["1.5", undefined],
      ["1e3", undefined],
      [" 1", undefined],
      ["-", undefined],
      [undefined, undefined],
    ];
    for (const [text, value] of cases) assert.equal(readCumulativeLost(text), value, text);
  });

  it("4294967295 (−1) counts 0, then 5 counts 6, a drop to 3 counts 0, then 10 counts 7", () => {
    const results = run(
      [
        recv({ blocks: [{ lost: -1 }] }), // printed 4294967295
        recv({ blocks: [{ lost: 5 }] }),
        recv({ blocks: [{ lost: 3 }] }), // duplicates arrived: the count went down
        recv({ blocks: [{ lost: 10 }] }),
      ],
      knownLeg(8000),
    );
    assert.equal(
      recvHeaders({ blocks: [{ lost: -1 }] }).find(([n]) => n === "Source0-Lost")?.[1],
      "4294967295",
    );
    // −1: max(0, −1) = 0; 5 − (−1) = 6; max(0, 3 − 5) = 0; 10 − 3 = 7
    assert.deepEqual(
      results.map((r) => r.packetsLost),
      [0, 6, 0, 7],
    );
    assert.deepEqual(
      results.map((r) => r.leg.inbound),
      [
        [{ ssrc: "1a2b3c4d", lastLost: -1 }],
        [{ ssrc: "1a2b3c4d", lastLost: 5 }],
        [{ ssrc: "1a2b3c4d", lastLost: 3 }],
        [{ ssrc: "1a2b3c4d", lastLost: 10 }],
      ],
    );
    // farEndLost: the latest cumulative value, never below 0.
    assert.deepEqual(
      results.map((r) => r.leg.farEndLost),
      [0, 5, 3, 10],
    );
  });

  it("the 24-bit form 16777215 is −1 as well", () => {
    const [first, second] = run(
      [recv({ blocks: [{ lost: 0xffffff }] }), recv({ blocks: [{ lost: 2 }] })],
      knownLeg(8000),
    );
    assert.equal(first!.packetsLost, 0);
    assert.deepEqual(first!.leg.inbound, [{ ssrc: "1a2b3c4d", lastLost: -1 }]);
    assert.equal(second!.packetsLost, 3); // 2 − (−1)
  });

  it("a Source0-Lost no 24-bit field can produce is malformed, and changes nothing", () => {
    const leg = knownLeg(8000, { inbound: [{ ssrc: "1a2b3c4d", lastLost: 4 }] });
    for (const bad of ["16777216", "2147483648", "4294967296", "abc", ""]) {
      const e = toEvent(withHeader(recvHeaders(), "Source0-Lost", bad));
      assert.equal(refused(computeRtcp(e, leg)), UNUSABLE_REASONS.rtcpMalformed, bad);
    }
  });
});

describe("packets_lost per leg, direction and reported SSRC", () => {
  it("the first report counts its whole cumulative value, later ones the rise", () => {
    const results = run(
      [
        recv({ blocks: [{ lost: 7 }] }),
        recv({ blocks: [{ lost: 7 }] }),
        recv({ blocks: [{ lost: 12 }] }),
      ],
      knownLeg(8000),
    );
    assert.deepEqual(
      results.map((r) => r.packetsLost),
      [7, 0, 5],
    );
  });

  it("a stream's baseline and the direction's summary are updated in place", () => {
    const leg = knownLeg(8000);
    foldRtcp(ok(computeRtcp(recv({ blocks: [{ lost: 7 }] }), leg)));
    const baselines = leg.inbound;
    const baseline = leg.inbound[0];
    const summary = leg.rtcpIn;
    foldRtcp(ok(computeRtcp(recv({ blocks: [{ lost: 9 }] }), leg)));
    assert.equal(leg.inbound, baselines);
    assert.equal(leg.inbound[0], baseline);
    assert.equal(leg.rtcpIn, summary);
    assert.deepEqual(leg.inbound, [{ ssrc: "1a2b3c4d", lastLost: 9 }]);
    assert.equal(leg.rtcpIn?.reports, 2);
    assert.equal(leg.rtcpIn?.packetsLost, 9);
  });

  it("each SSRC keeps its own baseline: alternating streams never recount a cumulative", () => {
    const A = 0x0000aaaa;
    const B = 0x0000bbbb;
    const results = run(
      [
        recv({ blocks: [{ ssrc: A, lost: 10 }] }), // first report of A: 10
        recv({ blocks: [{ ssrc: A, lost: 12 }] }), // 12 − 10 = 2
        recv({ blocks: [{ ssrc: B, lost: 3 }] }), // new stream B: its whole 3
        recv({ blocks: [{ ssrc: B, lost: 4 }] }), // 4 − 3 = 1
        recv({ blocks: [{ ssrc: A, lost: 15 }] }), // A again, against A's own 12: 3
        recv({ blocks: [{ ssrc: B, lost: 4 }] }), // B again, unchanged: 0
      ],
      knownLeg(8000),
    );
    assert.deepEqual(
      results.map((r) => r.packetsLost),
      [10, 2, 3, 1, 3, 0],
    );
    assert.deepEqual(
      results.map((r) => r.ssrc),
      ["0000aaaa", "0000aaaa", "0000bbbb", "0000bbbb", "0000aaaa", "0000bbbb"],
    );
    // Least recently reported first.
    assert.deepEqual(results.at(-1)!.leg.inbound, [
      { ssrc: "0000aaaa", lastLost: 15 },
      { ssrc: "0000bbbb", lastLost: 4 },
    ]);
  });

  it(`at most ${MAX_STREAMS} streams per direction: the least recently reported is forgotten`, () => {
    const ssrcs = [1, 2, 3, 4, 5].map((n) => 0x100 + n);
    const results = run(
      [
        ...ssrcs.map((ssrc) => recv({ blocks: [{ ssrc, lost: 2 }] })),
        recv({ blocks: [{ ssrc: ssrcs[4], lost: 3 }] }), // kept: 1
        recv({ blocks: [{ ssrc: ssrcs[0], lost: 3 }] }), // forgotten: its whole 3 again
      ],
      knownLeg(8000),
    );
    assert.deepEqual(
      results.map((r) => r.packetsLost),
      [2, 2, 2, 2, 2, 1, 3],
    );
    assert.equal(results.at(-1)!.leg.inbound.length, MAX_STREAMS);
  });

  it("a SEND report on Source-SSRC 00000000 is the first report of the stream its SSRC header names", () => {
    const results = run(
      [
        send({ ssrc: 0, lost: 1, fraction: 1 }), // FreeSWITCH does not know the SSRC yet
        send({ lost: 1 }), // the same stream, under its real SSRC: nothing new
        send({ lost: 4 }), // 3 more
      ],
      knownLeg(8000),
    );
    assert.deepEqual(
      results.map((r) => [r.ssrc, r.packetsLost]),
      [
        ["5e6f7081", 1],
        ["5e6f7081", 0],
        ["5e6f7081", 3],
      ],
    );
    assert.deepEqual(results.at(-1)!.leg.outbound, [{ ssrc: "5e6f7081", lastLost: 4 }]);
    // A re-INVITE: the far end's new stream starts on 00000000 again, its header naming it; the
    // old stream's baseline stays its own.
    const next = run(
      [sendNaming(0x77, 0, 2), sendNaming(0x77, 0x77, 5), send({ lost: 6 })],
      results.at(-1)!.leg,
    );
    assert.deepEqual(
      next.map((r) => [r.ssrc, r.packetsLost]),
      [
        ["00000077", 2],
        ["00000077", 3],
        ["5e6f7081", 2],
      ],
    );
  });

  it("when nothing names the stream (SSRC header 0 too), the next new SSRC continues it", () => {
    const results = run(
      [sendNaming(0, 0, 3), sendNaming(0, 0, 4), send({ lost: 6 }), send({ lost: 6 })],
      knownLeg(8000),
    );
    assert.deepEqual(
      results.map((r) => [r.ssrc, r.packetsLost]),
      [
        [UNKNOWN_SSRC, 3],
        [UNKNOWN_SSRC, 1],
        ["5e6f7081", 2],
        ["5e6f7081", 0],
      ],
    );
    assert.deepEqual(results.at(-1)!.leg.outbound, [{ ssrc: "5e6f7081", lastLost: 6 }]);
  });

  it("inbound (RECV) and outbound (SEND) reports keep separate baselines", () => {
    const results = run(
      [
        recv({ blocks: [{ lost: 4 }] }),
        send({ lost: 9 }),
        recv({ blocks: [{ lost: 6 }] }),
        send({ lost: 10 }),
      ],
      knownLeg(8000),
    );
    assert.deepEqual(
      results.map((r) => [r.direction, r.packetsLost]),
      [
        ["inbound", 4],
        ["outbound", 9],
        ["inbound", 2],
        ["outbound", 1],
      ],
    );
    const last = results.at(-1)!.leg;
    assert.deepEqual(last.inbound, [{ ssrc: "1a2b3c4d", lastLost: 6 }]);
    assert.deepEqual(last.outbound, [{ ssrc: "5e6f7081", lastLost: 10 }]);
    // Only RECV reports are the far end's count: SEND reports leave farEndLost alone.
    assert.deepEqual(
      results.map((r) => r.leg.farEndLost),
      [4, 4, 6, 6],
    );
  });

  it("never negative, and the points sum to the total rise (fast-check, both printed forms)", () => {
    const lost = fc.integer({ min: -0x800000, max: 0x7fffff });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(lost, fc.boolean()), { minLength: 1, maxLength: 40 }),
        (steps) => {
          let leg: LegState | undefined = knownLeg(8000);
          let sum = 0;
          let rise = 0;
          let previous = 0;
          for (const [value, form24] of steps) {
            // The builder prints `>>> 0` (the 32-bit form); the 24-bit form is the raw field.
            const printed = form24 ? value & 0xffffff : value;
            const r = applied(recv({ blocks: [{ lost: printed }] }), leg);
            assert.ok(r.packetsLost >= 0);
            assert.ok(Number.isInteger(r.packetsLost));
            sum += r.packetsLost;
            rise += Math.max(0, value - previous);
            previous = value;
            leg = r.leg;
            assert.equal(leg.inbound[0]?.lastLost, value);
            assert.equal(leg.farEndLost, Math.max(0, value));
          }
          assert.equal(sum, rise);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("interleaved streams (and 00000000 first reports): each stream's points sum to its rise (fast-check)", () => {
    // A model of SPEC §4 kept by the test: per stream, the last cumulative value; a report on
    // 00000000 holds the value the next new real SSRC starts from.
    const ssrc = fc.constantFrom(UNKNOWN_SSRC, "0000000a", "0000000b", "0000000c");
    const lost = fc.integer({ min: -0x800000, max: 0x7fffff });
    fc.assert(
      fc.property(fc.array(fc.tuple(ssrc, lost), { maxLength: 60 }), (steps) => {
        const baselines: RtcpBaseline[] = [];
        const last = new Map<string, number>();
        for (const [s, value] of steps) {
          let start = last.get(s);
          if (start === undefined && s !== UNKNOWN_SSRC && last.has(UNKNOWN_SSRC)) {
            start = last.get(UNKNOWN_SSRC);
            last.delete(UNKNOWN_SSRC);
          }
          const counted = lostSince(baselines, s, value);
          assert.equal(counted, Math.max(0, value - (start ?? 0)));
          nextBaselines(baselines, s, value);
          last.set(s, value);
          // Three real SSRCs and 00000000 fit in MAX_STREAMS: nothing is forgotten here.
          assert.equal(baselines.length, last.size);
          assert.equal(baselines.at(-1)?.ssrc, s, "the stream reported last is last");
        }
      }),
    );
  });
});

describe("report blocks", () => {
  it("an RR-only report (sender fields 0) is computed from its block", () => {
    const r = ok(
      computeRtcp(
        recv({ sender: NO_SR, blocks: [{ fraction: 64, lost: 3, jitter: 80 }] }),
        knownLeg(8000),
      ),
    );
    const headers = recvHeaders({ sender: NO_SR });
    assert.equal(headers.find(([n]) => n === "SSRC")?.[1], "00000000");
    assert.equal(headers.find(([n]) => n === "Sender-Packet-Count")?.[1], "0");
    assert.equal(r.jitterMs, 10); // 80 × 1000 / 8000
    assert.equal(r.fractionLost, 0.25); // 64 / 256
    assert.equal(r.packetsLost, 3);
  });

  it("an RR-only report repeating the last SR's sender fields counts only the block's rise", () => {
    const results = run(
      [
        recv({ sender: SR, blocks: [{ lost: 2, jitter: 16 }] }),
        recv({ sender: SR, blocks: [{ lost: 5, jitter: 24 }] }), // same SR fields repeated
      ],
      knownLeg(8000),
    );
    assert.deepEqual(
      results.map((r) => [r.packetsLost, r.jitterMs]),
      [
        [2, 2], // 16 × 1000 / 8000
        [3, 3], // 5 − 2; 24 × 1000 / 8000
      ],
    );
  });

  it("further blocks (Source1..Source4) are counted; only block 0 is computed", () => {
    const blocks: BlockSpec[] = [
      { ssrc: OUR_SSRC, lost: 1, jitter: 8, fraction: 2 },
      { ssrc: 0x11111111, lost: 500, jitter: 8000, fraction: 200 },
      { ssrc: 0x22222222, lost: 600 },
    ];
    const r = ok(computeRtcp(recv({ blocks }), knownLeg(8000)));
    assert.equal(r.extraBlocks, 2);
    assert.equal(r.ssrc, "1a2b3c4d");
    assert.equal(r.packetsLost, 1);
    assert.equal(r.jitterMs, 1);
    assert.equal(r.fractionLost, 2 / 256);
    assert.equal(ok(computeRtcp(recv(), knownLeg(8000))).extraBlocks, 0);
    const five = [0, 1, 2, 3, 4].map((i) => ({ ssrc: i + 1 }));
    assert.equal(ok(computeRtcp(recv({ blocks: five }), knownLeg(8000))).extraBlocks, 4);
    assert.equal(ok(computeRtcp(send(), knownLeg(8000))).extraBlocks, 0);
  });

  it("no report block at all is rtcp_no_report_block (RECV and SEND)", () => {
    assert.equal(
      refused(computeRtcp(recv({ blocks: [] }), knownLeg(8000))),
      UNUSABLE_REASONS.rtcpNoReportBlock,
    );
    let bare = sendHeaders();
    for (const name of [
      "Source-SSRC",
      "Source-Fraction",
      "Source-Lost",
      "Source-Highest-Sequence-Number-Received",
      "Source-Jitter",
      "Source-LSR",
      "Source-DLSR",
    ]) {
      bare = withHeader(bare, name, undefined);
    }
    assert.equal(
      refused(computeRtcp(toEvent(bare), knownLeg(8000))),
      UNUSABLE_REASONS.rtcpNoReportBlock,
    );
  });

  it("a block with a missing or malformed field is rtcp_malformed", () => {
    const cases: Array<[string, string | undefined]> = [
      ["Source0-SSRC", ""], // _undef_ on the wire
      ["Source0-Fraction", undefined],
      ["Source0-Lost", undefined],
      ["Source0-Jitter", undefined],
      ["Source0-Jitter", "abc"],
      ["Source0-Jitter", "-5"],
      ["Source0-Jitter", "4294967296"],
      ["Source0-Jitter", "1.5"],
      ["RTP-Rate", "abc"],
      ["RTP-Rate", "-8000"],
    ];
    for (const [name, value] of cases) {
      const e = toEvent(withHeader(recvHeaders(), name, value));
      assert.equal(
        refused(computeRtcp(e, knownLeg(8000))),
        UNUSABLE_REASONS.rtcpMalformed,
        `${name}=${value}`,
      );
    }
  });

  it("an event that is not an RTCP report is unexpected_event", () => {
    const e = toEvent([
      ["Event-Name", "HEARTBEAT"],
      ["Source0-SSRC", "00000001"],
    ]);
    assert.equal(refused(computeRtcp(e, knownLeg(8000))), UNUSABLE_REASONS.unexpectedEvent);
  });
});

describe("RTP clock rate", () => {
  it("a RECV report's RTP-Rate becomes the leg's rate", () => {
    const r = applied(recv({ rate: 48000 }), knownLeg(0));
    assert.equal(r.leg.rtpRate, 48000);
  });

  it("missing RTP-Rate: a RECV report falls back to the leg's rate", () => {
    const e = toEvent(
      withHeader(recvHeaders({ blocks: [{ jitter: 320 }] }), "RTP-Rate", undefined),
    );
    const r = applied(e, knownLeg(16000));
    assert.equal(r.rtpRate, 16000);
    assert.equal(r.jitterMs, 20); // 320 × 1000 / 16000
    assert.equal(r.leg.rtpRate, 16000);
  });

  it("RTP-Rate 0 or empty is 'not said': the leg's rate again", () => {
    for (const value of ["0", ""]) {
      const e = toEvent(withHeader(recvHeaders({ blocks: [{ jitter: 80 }] }), "RTP-Rate", value));
      const r = applied(e, knownLeg(8000));
      assert.equal(r.jitterMs, 10, value); // 80 × 1000 / 8000
      assert.equal(r.leg.rtpRate, 8000);
    }
  });

  it("missing RTP-Rate and no rate known for the leg: rtcp_rate_unknown", () => {
    const e = toEvent(withHeader(recvHeaders(), "RTP-Rate", undefined));
    assert.equal(refused(computeRtcp(e, knownLeg(0))), UNUSABLE_REASONS.rtcpRateUnknown);
    assert.equal(refused(computeRtcp(e, undefined)), UNUSABLE_REASONS.rtcpRateUnknown);
  });

  it("a SEND report uses the leg's codec rate", () => {
    const r = applied(send({ jitter: 160, fraction: 32, lost: 4 }), knownLeg(16000));
    assert.equal(r.direction, "outbound");
    assert.equal(r.rtpRate, 16000);
    assert.equal(r.jitterMs, 10); // 160 × 1000 / 16000
    assert.equal(r.fractionLost, 0.125); // 32 / 256
    assert.equal(r.packetsLost, 4);
    assert.equal(r.ssrc, "5e6f7081");
    assert.deepEqual(r.leg.outbound, [{ ssrc: "5e6f7081", lastLost: 4 }]);
    assert.deepEqual(r.leg.inbound, []);
    assert.equal(r.leg.rtpRate, 16000);
  });

  it("a SEND report uses the rate an earlier RECV report taught the leg", () => {
    const [, sent] = run(
      [recv({ rate: 48000, blocks: [{ jitter: 480 }] }), send({ jitter: 960 })],
      emptyLeg(UUID),
    );
    assert.equal(sent!.rtpRate, 48000);
    assert.equal(sent!.jitterMs, 20); // 960 × 1000 / 48000
  });

  it("a SEND report on a leg with no known rate: rtcp_rate_unknown", () => {
    assert.equal(refused(computeRtcp(send(), knownLeg(0))), UNUSABLE_REASONS.rtcpRateUnknown);
    assert.equal(refused(computeRtcp(send(), undefined)), UNUSABLE_REASONS.rtcpRateUnknown);
  });
});

describe("leg state", () => {
  it("jitter history sums both directions; everything else in the leg is kept", () => {
    const leg = knownLeg(8000, { qosReported: false });
    const results = run(
      [
        recv({ blocks: [{ jitter: 80 }] }), // 10 ms
        send({ jitter: 160 }), // 20 ms at the leg's 8000
        recv({ blocks: [{ jitter: 40 }] }), // 5 ms
      ],
      leg,
    );
    const last = results.at(-1)!.leg;
    assert.equal(last.jitterSumMs, 35); // 10 + 20 + 5
    assert.equal(last.jitterCount, 3);
    assert.equal(last.labels, leg.labels, "labels untouched, same object");
    assert.equal(last.uuid, leg.uuid);
    assert.equal(last.callUuid, leg.callUuid);
    assert.equal(last.sipCallId, leg.sipCallId);
    assert.equal(last.labelSource, "event");
    assert.equal(last.qosReported, false);
    assert.equal(results[0]!.leg.jitterCount, 1);
    // computeRtcp alone changes nothing: only foldRtcp does.
    const untouched = knownLeg(8000, { qosReported: false });
    ok(computeRtcp(recv({ blocks: [{ jitter: 80, lost: 3 }] }), untouched));
    assert.deepEqual(untouched, knownLeg(8000, { qosReported: false }));
  });

  it("a leg known nowhere gets a partial state from the report's Unique-ID", () => {
    const r = applied(recv({ rate: 16000, blocks: [{ lost: 2, jitter: 32 }] }), undefined);
    assert.deepEqual(r.leg, {
      ...emptyLeg(UUID),
      rtpRate: 16000,
      inbound: [{ ssrc: "1a2b3c4d", lastLost: 2 }],
      jitterSumMs: 2, // 32 × 1000 / 16000
      jitterCount: 1,
      farEndLost: 2,
      // No fraction, no RTT: the estimate of 2 ms jitter (Le = 14 ms, R = 92.85).
      rtcpIn: {
        reports: 1,
        jitterMinMs: 2,
        jitterMaxMs: 2,
        jitterSumMs: 2,
        packetsLost: 2,
        worstFractionLost: 0,
        rttSumMs: 0,
        rttCount: 0,
        mosMin: 1 + 0.035 * 92.85 + 0.000007 * 92.85 * 32.85 * 7.15,
        mosSum: 1 + 0.035 * 92.85 + 0.000007 * 92.85 * 32.85 * 7.15,
        lastJitterMs: 2,
        lastFractionLost: 0,
        lastRttMs: null,
        lastMos: 1 + 0.035 * 92.85 + 0.000007 * 92.85 * 32.85 * 7.15,
      },
    });
    assert.equal(r.leg.labelSource, "partial");
    assert.equal(r.leg.labels.correlationId, UUID);
  });

  it("a leg known nowhere and no Unique-ID: missing_unique_id", () => {
    const e = toEvent(withHeader(recvHeaders(), "Unique-ID", undefined));
    assert.equal(refused(computeRtcp(e, undefined)), UNUSABLE_REASONS.missingUniqueId);
    const empty = toEvent(withHeader(recvHeaders(), "Unique-ID", ""));
    assert.equal(refused(computeRtcp(empty, undefined)), UNUSABLE_REASONS.missingUniqueId);
  });

  it("video (RTP-Rate 90000) is computed the same way but leaves the leg's audio state alone", () => {
    const leg = knownLeg(8000, { inbound: [{ ssrc: "1a2b3c4d", lastLost: 3 }], farEndLost: 3 });
    const r = ok(
      computeRtcp(
        recv({
          rate: VIDEO_RTP_RATE,
          blocks: [{ ssrc: 0x0000beef, lost: 40, jitter: 900, fraction: 16 }],
        }),
        leg,
      ),
    );
    assert.equal(r.video, true);
    assert.equal(r.rtpRate, 90000);
    assert.equal(r.jitterMs, 10); // 900 × 1000 / 90000
    assert.equal(r.fractionLost, 0.0625); // 16 / 256
    assert.equal(r.packetsLost, 40); // another SSRC than the audio baseline: its whole count
    assert.equal(r.leg, leg);
    foldRtcp(r);
    assert.deepEqual(
      leg,
      knownLeg(8000, {
        inbound: [{ ssrc: "1a2b3c4d", lastLost: 3 }],
        farEndLost: 3,
        videoSsrcs: ["5e6f7081"], // the RECV report's sender: the far end's video stream
      }),
      "audio baseline, rate, jitter history untouched; the video stream remembered",
    );
    // The audio stream's next report still counts against its own baseline.
    const audio = ok(computeRtcp(recv({ blocks: [{ lost: 5 }] }), r.leg));
    assert.equal(audio.packetsLost, 2);
  });

  it("a SEND report on an SSRC a video RECV report named is video too (SEND has no RTP-Rate)", () => {
    const VIDEO = 0x0000cafe; // the far end's video stream
    const leg = knownLeg(8000);
    foldRtcp(
      ok(
        computeRtcp(
          recv({ rate: VIDEO_RTP_RATE, sender: { ...SR, ssrc: VIDEO }, blocks: [{ ssrc: 0x77 }] }),
          leg,
        ),
      ),
    );
    assert.deepEqual(leg.videoSsrcs, ["0000cafe"]);
    // FreeSWITCH's SEND names the stream it received in its SSRC header, and in Source-SSRC
    // once it knows it (00000000 before).
    const onVideo = (source: number) =>
      toEvent(withHeader(sendHeaders({ ssrc: source, lost: 9 }), "SSRC", "0000cafe"));
    for (const source of [VIDEO, 0]) {
      const r = ok(computeRtcp(onVideo(source), leg));
      assert.equal(r.video, true, `Source-SSRC ${source}`);
      foldRtcp(r);
    }
    assert.deepEqual(leg.outbound, [], "no audio baseline from video");
    assert.equal(leg.jitterCount, 0);
    // The audio SEND stream is still audio.
    assert.equal(ok(computeRtcp(send({ lost: 1 }), leg)).video, false);
  });

  it("never throws on arbitrary header values (fast-check)", () => {
    const value = fc.oneof(
      fc.string(),
      fc.constantFrom("", "0", "255", "256", "4294967295", "-1", "nan", "1e9", "90000"),
    );
    const maybe = fc.option(value, { nil: undefined });
    fc.assert(
      fc.property(
        fc.constantFrom("RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE"),
        fc.record({ ssrc: maybe, fraction: maybe, lost: maybe, jitter: maybe, rate: maybe }),
        fc.option(fc.constantFrom(0, 8000, 48000), { nil: undefined }),
        (name, f, legRate) => {
          const prefix = name === "RECV_RTCP_MESSAGE" ? "Source0-" : "Source-";
          const headers: HeaderList = [
            ["Event-Name", name],
            ["Unique-ID", UUID],
          ];
          if (f.rate !== undefined) headers.push(["RTP-Rate", f.rate]);
          if (f.ssrc !== undefined) headers.push([`${prefix}SSRC`, f.ssrc]);
          if (f.fraction !== undefined) headers.push([`${prefix}Fraction`, f.fraction]);
          if (f.lost !== undefined) headers.push([`${prefix}Lost`, f.lost]);
          if (f.jitter !== undefined) headers.push([`${prefix}Jitter`, f.jitter]);
          const leg = legRate === undefined ? undefined : knownLeg(legRate);
          const r = computeRtcp(toEvent(headers), leg);
          if (isUnusable(r)) {
            assert.ok(Object.values(UNUSABLE_REASONS).includes(r.unusable as never), r.unusable);
          } else {
            for (const n of [r.jitterMs, r.fractionLost, r.packetsLost, r.rtpRate]) {
              assert.ok(Number.isFinite(n) && n >= 0);
            }
            assert.ok(r.fractionLost < 1);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("computeRtcp: RTT and E-model MOS per report (SPEC §7)", () => {
  function rtcpOf(event: EslEvent, leg?: LegState): RtcpResult {
    const result = computeRtcp(event, leg);
    assert.ok(!isUnusable(result), JSON.stringify(result));
    foldRtcp(result);
    return result;
  }

  function recvWith(b: Partial<RecvReportBlock>, captureMs = T0): EslEvent {
    return toEvent(
      recvRtcpEvent(factory, captureMs, {
        uniqueId: UUID,
        sender: SR,
        lastRtpTimestamp: 159840,
        rtpRate: 8000,
        captureTimeUs: captureMs * 1000,
        blocks: [{ ...block({ jitter: 160, fraction: 25 }), ...b }],
      }).headers,
    );
  }

  it("takes RTT from LSR/DLSR against Capture-Time, and the MOS from jitter, loss and RTT", () => {
    // The far end got our SR 80 ms of round trip + 250 ms of holding before this report.
    const captureMs = T0 + 777;
    const r = rtcpOf(
      recvWith({ lsr: ntpMiddle(captureMs - 80 - 250), dlsr: toUnits65536(250) }, captureMs),
    );
    assert.ok(r.rttMs !== undefined && Math.abs(r.rttMs - 80) < 0.05, `rtt ${r.rttMs}`);
    assert.equal(r.jitterMs, 20); // 160 units at 8 kHz
    assert.equal(r.fractionLost, 25 / 256);
    assert.equal(r.mos, emodelMos(20, 25 / 256, r.rttMs));
    assert.ok(Math.abs(r.mos - 3.4306) < 0.0005, `mos ${r.mos}`);
  });

  it("falls back to Rtt-Avg when LSR is 0, and to unknown when that is 0 too", () => {
    const avg = rtcpOf(recvWith({ lsr: 0, dlsr: 0, rttAvg: 0.0425 }));
    assert.equal(avg.rttMs, 42.5);
    const none = rtcpOf(recvWith({ lsr: 0, dlsr: 0, rttAvg: 0 }));
    assert.equal(none.rttMs, undefined);
    assert.equal(none.mos, emodelMos(20, 25 / 256, undefined));
  });

  it("keeps a report whose RTT headers are malformed, with RTT from what is usable", () => {
    const headers = recvRtcpEvent(factory, T0, {
      uniqueId: UUID,
      sender: SR,
      lastRtpTimestamp: 159840,
      rtpRate: 8000,
      captureTimeUs: T0 * 1000,
      blocks: [{ ...block({ jitter: 80 }), lsr: 12345, dlsr: 10, rttAvg: 0.03 }],
    }).headers;
    const r = rtcpOf(toEvent(withHeader(headers, "Source0-LSR", "not-a-number")));
    assert.equal(r.rttMs, 30, "Rtt-Avg used");
    const bad = rtcpOf(
      toEvent(withHeader(withHeader(headers, "Source0-LSR", "x"), "Rtt0-Avg", "nan")),
    );
    assert.equal(bad.rttMs, undefined);
    assert.equal(bad.jitterMs, 10, "jitter and loss still computed");
  });

  it("gives SEND reports no RTT but still a MOS estimate", () => {
    const r = rtcpOf(send({ jitter: 80, fraction: 12 }), knownLeg(8000));
    assert.equal(r.direction, "outbound");
    assert.equal(r.rttMs, undefined);
    assert.equal(r.mos, emodelMos(10, 12 / 256, undefined));
  });

  it("computes RTT on the simulator's own reports to within the 1/65536 s resolution", () => {
    // The simulator answers SRs with LSR/DLSR for its path's round trip (src/sim/media.ts).
    // Only the "good" network profile: its round trip is 15..60 ms.
    const events: SimEvent[] = [];
    const generator = new CallGenerator({
      factory,
      sink: (e) => events.push(e),
      seed: 7,
      profileWeights: { good: 1 },
    });
    const call = generator.startCall({ bridged: false });
    const rtts: number[] = [];
    let leg: LegState | undefined;
    for (let i = 0; i < 20; i++) {
      const r = rtcpOf(toEvent(generator.sendRtcp(call.aLeg.uuid).headers), leg);
      leg = r.leg;
      if (r.rttMs !== undefined) rtts.push(r.rttMs);
      assert.equal(r.mos, emodelMos(r.jitterMs, r.fractionLost, r.rttMs));
    }
    assert.ok(rtts.length >= 10, `${rtts.length} of 20 reports had an RTT`);
    for (const rtt of rtts) assert.ok(rtt >= 14.9 && rtt <= 60.1, `rtt ${rtt}`);
  });
});
