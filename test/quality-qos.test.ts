// The end-of-call QoS calculator (SPEC §2 "End-of-call variables", §4 freeswitch.qos.*), on the
// real samples (expected values worked out by hand from each sample's variables) and on events
// built from them with one variable changed.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type EslEvent, PlainEvent } from "../src/esl/event.js";
import { foldRtcp } from "../src/legs/fold-rtcp.js";
import { emptyLeg } from "../src/quality/labels.js";
import { computeQos } from "../src/quality/qos.js";
import { computeRtcp } from "../src/quality/rtcp.js";
import type { LegState, QosValues, Unusable } from "../src/quality/types.js";
import { isUnusable, UNUSABLE_REASONS } from "../src/quality/unusable.js";
import { emptyQos, qosVariables } from "../src/sim/qos.js";
import { plainEvents } from "./support/raw-esl.js";
import {
  cgratesFrame,
  eventFrom,
  libresbcFrame,
  libresbcHeaders,
  readSample,
  SAMPLES,
  toEvent,
  webitelFrame,
  webitelHeaders,
} from "./support/samples.js";

/** The webitel CHANNEL_DESTROY's headers with some variables replaced (undefined: removed). */
function webitelWith(changes: Record<string, string | undefined>): EslEvent {
  const out: Array<[string, string]> = [];
  for (const [name, value] of webitelHeaders()) {
    if (!(name in changes)) out.push([name, value]);
    else if (changes[name] !== undefined) out.push([name, changes[name]]);
  }
  return toEvent(out);
}

function ok(result: QosValues | Unusable): QosValues {
  if (isUnusable(result)) assert.fail(`unexpectedly unusable: ${result.unusable}`);
  return result;
}

function refused(result: QosValues | Unusable): string {
  assert.ok(isUnusable(result), "expected a refusal");
  return result.unusable;
}

const V = "variable_rtp_audio_";

describe("QoS of the real samples (no RTCP seen)", () => {
  it("cgrates SPEEX: MOS 4.50 with 192 packets received is a legitimate perfect score", () => {
    const q = ok(computeQos(eventFrom(cgratesFrame(SAMPLES.cgratesSpeex)), undefined));
    assert.deepEqual(q, {
      mosScore: 4.5, // in_mos 4.50, in_packet_count 192 > 0
      jitterMinMs: Math.sqrt(26.73), // in_jitter_min_variance 26.73
      jitterMaxMs: Math.sqrt(6716.71), // in_jitter_max_variance 6716.71
      jitterAvgMs: Math.sqrt((26.73 + 6716.71) / 2), // no RTCP: √((min + max) / 2)
      totalPackets: 300, // 192 in + 108 out
      packetLoss: 0, // in_flaw_total 0, no RTCP
      totalBytes: 11456, // 6770 in_raw_bytes + 4686 out_raw_bytes
      unreadable: [],
    });
  });

  it("cgrates G722: one flaw, MOS 4.49", () => {
    const q = ok(computeQos(eventFrom(cgratesFrame(SAMPLES.cgratesG722)), undefined));
    assert.deepEqual(q, {
      mosScore: 4.49,
      jitterMinMs: Math.sqrt(0.5), // 0.50
      jitterMaxMs: Math.sqrt(31.77),
      jitterAvgMs: Math.sqrt((0.5 + 31.77) / 2),
      totalPackets: 1285, // 1033 + 252
      packetLoss: 1, // in_flaw_total 1
      totalBytes: 217500, // 174156 + 43344
      unreadable: [],
    });
  });

  it("libresbc opus A-leg: degraded, MOS 3.86", () => {
    const q = ok(computeQos(eventFrom(libresbcFrame(SAMPLES.libresbcALeg)), undefined));
    assert.deepEqual(q, {
      mosScore: 3.86,
      jitterMinMs: Math.sqrt(6.42),
      jitterMaxMs: Math.sqrt(201.51),
      jitterAvgMs: Math.sqrt((6.42 + 201.51) / 2),
      totalPackets: 301, // 134 + 167
      packetLoss: 12, // in_flaw_total 12 (in_skip_packet_count 62 is no loss count)
      totalBytes: 35614, // 12627 + 22987
      unreadable: [],
    });
  });

  it("libresbc PCMA B-leg", () => {
    const q = ok(computeQos(eventFrom(libresbcFrame(SAMPLES.libresbcBLeg)), undefined));
    assert.deepEqual(q, {
      mosScore: 4.5,
      jitterMinMs: Math.sqrt(6.15),
      jitterMaxMs: Math.sqrt(132.71),
      jitterAvgMs: Math.sqrt((6.15 + 132.71) / 2),
      totalPackets: 305, // 171 + 134
      packetLoss: 0,
      totalBytes: 52460, // 29412 + 23048
      unreadable: [],
    });
  });

  it("webitel CHANNEL_DESTROY PCMU", () => {
    const q = ok(computeQos(eventFrom(webitelFrame()), undefined));
    assert.deepEqual(q, {
      mosScore: 4.5,
      jitterMinMs: Math.sqrt(12.12),
      jitterMaxMs: 20, // √400.00
      jitterAvgMs: Math.sqrt((12.12 + 400) / 2),
      totalPackets: 2490, // 1248 + 1242
      packetLoss: 0,
      totalBytes: 428280, // 214656 + 213624
      unreadable: [],
    });
  });
});

/**
 * FreeSWITCH's MOS of its R (SPEC §2 "End-of-call variables"; do_mos in switch_rtp.c), unrounded:
 * 1 + 0.035·R + 0.000007·R·(R − 60)·(100 − R). FreeSWITCH prints it with 2 decimals as in_mos.
 */
function mosOfR(r: number): number {
  return 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r);
}

/**
 * SPEC §2's R from packets received and flaws: (received − flaws) / received × 100, 100 outside
 * 0..100, and an integer: do_mos keeps it in an `int` (the G722 call's JSON CDR says
 * quality_percentage 99 for 1033 received and 1 flaw: 99.90 truncated).
 */
function rOf(received: number, flaws: number): number {
  const r = Math.trunc(((received - flaws) / received) * 100);
  return r < 0 || r > 100 ? 100 : r;
}

describe("FreeSWITCH's MOS (in_mos): exported as printed, never recomputed", () => {
  it("the G722 call: in_mos 4.49 is the MOS of its R 99, and mos_score is 4.49", () => {
    const cdr = JSON.parse(readSample(SAMPLES.cgratesJsonCdr).toString("utf8")) as {
      callStats: { audio: { inbound: { mos: number; quality_percentage: number } } };
    };
    const inbound = cdr.callStats.audio.inbound;
    assert.equal(inbound.mos, 4.492027);
    assert.equal(inbound.quality_percentage, 99);
    // received 1033, flaws 1: (1033 − 1) / 1033 × 100 = 99.903…, kept as R = 99
    assert.equal(rOf(1033, 1), 99);
    // 1 + 0.035 × 99 + 0.000007 × 99 × (99 − 60) × (100 − 99) = 1 + 3.465 + 0.027027
    assert.ok(Math.abs(mosOfR(99) - 4.492027) < 1e-12);
    assert.ok(Math.abs(mosOfR(99) - inbound.mos) < 1e-12);
    const event = eventFrom(cgratesFrame(SAMPLES.cgratesG722));
    assert.equal(event.get(`${V}in_quality_percentage`), "99.00");
    assert.equal(event.get(`${V}in_mos`), mosOfR(99).toFixed(2));
    assert.equal(ok(computeQos(event, undefined)).mosScore, 4.49);
    // Without the truncation R = 99.903… would give 4.4993…, printed 4.50: the wrong figure.
    assert.equal(mosOfR((1032 / 1033) * 100).toFixed(2), "4.50");
  });

  it("the libresbc A-leg: 3.86 is the MOS of its printed R 76, which its final counts do not give", () => {
    const event = eventFrom(libresbcFrame(SAMPLES.libresbcALeg));
    assert.equal(event.get(`${V}in_quality_percentage`), "76.00");
    // 1 + 0.035 × 76 + 0.000007 × 76 × 16 × 24 = 1 + 2.66 + 0.204288 = 3.864288
    assert.ok(Math.abs(mosOfR(76) - 3.864288) < 1e-12);
    assert.equal(mosOfR(76).toFixed(2), "3.86");
    // do_mos computes R when a flaw happens, with the counts of that moment (12 flaws when ~50
    // packets had been checked), so 134 received / 12 flaws at hangup give R 91, not 76:
    assert.equal(rOf(134, 12), 91);
    assert.equal(rOf(50, 12), 76);
    // 1 + 0.035 × 91 + 0.000007 × 91 × 31 × 9 = 4.362723: "4.36", not what FreeSWITCH printed.
    assert.equal(mosOfR(91).toFixed(2), "4.36");
    const q = ok(computeQos(event, undefined));
    assert.equal(q.mosScore, 3.86);
    assert.equal(q.packetLoss, 12);
  });

  it("FreeSWITCH 1.11 with 5 % loss: each leg's mos_score is the MOS of the R it printed", () => {
    const capture = readFileSync(
      new URL("./fixtures/freeswitch-1.11/capture-netem-plain.esl", import.meta.url),
    );
    const hangups = plainEvents(capture).filter((e) => e.name === "CHANNEL_HANGUP_COMPLETE");
    assert.equal(hangups.length, 8, "2 calls of 4 legs");
    let otherR = 0;
    for (const raw of hangups) {
      const uuid = raw.get("Unique-ID");
      const variable = (name: string) => Number(raw.get(`${V}${name}`));
      const r = variable("in_quality_percentage");
      const flaws = variable("in_flaw_total");
      assert.ok(flaws > 0 && r < 100, `${uuid}: the loss shows (${flaws} flaws, R ${r})`);
      const expected = Number(mosOfR(r).toFixed(2));
      assert.equal(variable("in_mos"), expected, `${uuid}: FreeSWITCH's in_mos is MOS(R ${r})`);
      const q = ok(computeQos(new PlainEvent(raw.raw), undefined));
      assert.equal(q.mosScore, expected, `${uuid}: mos_score`);
      assert.equal(q.packetLoss, flaws, `${uuid}: packet_loss (no RTCP history given)`);
      if (rOf(variable("in_packet_count"), flaws) !== r) otherR++;
    }
    // e.g. 615 received, 76 flaws: 87.6…, R 87, where FreeSWITCH printed 86 (and 4.23, not 4.26).
    assert.ok(otherR >= 1, "some legs' final counts give another R than the one printed");
  });

  it("no flaw is R 100 and MOS 4.50; R outside 0..100 is 100; R 0 is MOS 1", () => {
    assert.equal(mosOfR(100), 4.5); // 1 + 3.5 + 0
    const webitel = eventFrom(webitelFrame()); // 1248 received, in_flaw_total 0
    assert.equal(webitel.get(`${V}in_quality_percentage`), "100.00");
    assert.equal(ok(computeQos(webitel, undefined)).mosScore, 4.5);
    // More flaws than packets: (1248 − 2000) / 1248 < 0, so R 100 and 4.50 as printed.
    assert.equal(rOf(1248, 2000), 100);
    const clamped = ok(
      computeQos(
        webitelWith({
          [`${V}in_flaw_total`]: "2000",
          [`${V}in_quality_percentage`]: "100.00",
          [`${V}in_mos`]: "4.50",
        }),
        undefined,
      ),
    );
    assert.equal(clamped.mosScore, 4.5);
    assert.equal(clamped.packetLoss, 2000);
    // Every packet a flaw: R 0, MOS 1 (the formula's 1 + 0 + 0), printed "1.00".
    assert.equal(rOf(100, 100), 0);
    assert.equal(mosOfR(0), 1);
    const worst = ok(
      computeQos(
        webitelWith({
          [`${V}in_packet_count`]: "100",
          [`${V}in_flaw_total`]: "100",
          [`${V}in_quality_percentage`]: "0.00",
          [`${V}in_mos`]: mosOfR(0).toFixed(2),
        }),
        undefined,
      ),
    );
    assert.equal(worst.mosScore, 1);
    assert.equal(worst.packetLoss, 100);
    assert.equal(worst.totalPackets, 1342); // 100 + 1242 out
    assert.deepEqual(worst.unreadable, []);
  });
});

describe("QoS with the leg's RTCP history", () => {
  it("jitter_avg is the mean of the leg's RTCP jitter; packet_loss adds the far end's loss", () => {
    const leg: LegState = { ...emptyLeg("5a3a1d91-90d3-4db4-af5c-cc3ae15d93a4"), rtpRate: 8000 };
    const report = (name: string, lost: string, jitter: string): EslEvent => {
      const p = name === "RECV_RTCP_MESSAGE" ? "Source0-" : "Source-";
      return toEvent([
        ["Event-Name", name],
        ["Unique-ID", leg.uuid],
        [`${p}SSRC`, "0a0b0c0d"],
        [`${p}Fraction`, "0"],
        [`${p}Lost`, lost],
        [`${p}Jitter`, jitter],
      ]);
    };
    let state = leg;
    for (const e of [
      report("RECV_RTCP_MESSAGE", "3", "80"), // 80 × 1000 / 8000 = 10 ms
      report("RECV_RTCP_MESSAGE", "5", "160"), // 20 ms; far end's cumulative loss now 5
      report("SEND_RTCP_MESSAGE", "9", "40"), // 5 ms; a SEND report is not the far end's loss
    ]) {
      const r = computeRtcp(e, state);
      assert.ok(!isUnusable(r));
      foldRtcp(r);
      state = r.leg;
    }
    const q = ok(computeQos(eventFrom(cgratesFrame(SAMPLES.cgratesG722)), state));
    assert.equal(q.jitterAvgMs, 35 / 3); // (10 + 20 + 5) / 3
    assert.equal(q.packetLoss, 6); // in_flaw_total 1 + far end's 5
    assert.equal(q.jitterMinMs, Math.sqrt(0.5)); // the variances still give min and max
    assert.equal(q.jitterMaxMs, Math.sqrt(31.77));
    assert.equal(q.mosScore, 4.49);
  });

  it("a leg without RTCP reports falls back to the variances; farEndLost 0 adds nothing", () => {
    const q = ok(computeQos(eventFrom(webitelFrame()), emptyLeg("x")));
    assert.equal(q.jitterAvgMs, Math.sqrt((12.12 + 400) / 2));
    assert.equal(q.packetLoss, 0);
  });

  it("uses the leg's numbers as they are", () => {
    const leg: LegState = { ...emptyLeg("x"), jitterSumMs: 42, jitterCount: 4, farEndLost: 17 };
    const q = ok(computeQos(eventFrom(libresbcFrame(SAMPLES.libresbcALeg)), leg));
    assert.equal(q.jitterAvgMs, 10.5); // 42 / 4
    assert.equal(q.packetLoss, 29); // 12 + 17
  });
});

describe("legs without media", () => {
  it("no rtp_audio_* variables at all: no_media", () => {
    const headers = libresbcHeaders(SAMPLES.libresbcALeg).filter(([n]) => !n.startsWith(V));
    assert.equal(refused(computeQos(toEvent(headers), undefined)), UNUSABLE_REASONS.noMedia);
  });

  it("0 packets in and out (FreeSWITCH's 100.00 / 4.50): no_media, never a perfect call", () => {
    const headers: Array<[string, string]> = [["Event-Name", "CHANNEL_HANGUP_COMPLETE"]];
    for (const [name, value] of qosVariables(emptyQos())) headers.push([`variable_${name}`, value]);
    assert.equal(headers.find(([n]) => n === `${V}in_mos`)?.[1], "4.50");
    assert.equal(refused(computeQos(toEvent(headers), undefined)), UNUSABLE_REASONS.noMedia);
    const zero = webitelWith({ [`${V}in_packet_count`]: "0", [`${V}out_packet_count`]: "0" });
    assert.equal(refused(computeQos(zero, undefined)), UNUSABLE_REASONS.noMedia);
  });

  it("sent but received nothing: the other values, and no MOS (4.50 would be a lie)", () => {
    const e = webitelWith({
      [`${V}in_packet_count`]: "0",
      [`${V}in_raw_bytes`]: "0",
      [`${V}in_flaw_total`]: "0",
      [`${V}in_jitter_min_variance`]: "0.00",
      [`${V}in_jitter_max_variance`]: "0.00",
    });
    assert.deepEqual(ok(computeQos(e, undefined)), {
      mosScore: undefined,
      jitterMinMs: 0,
      jitterMaxMs: 0,
      jitterAvgMs: 0,
      totalPackets: 1242, // 0 + 1242 out
      packetLoss: 0,
      totalBytes: 213624, // 0 + 213624 out
      unreadable: [],
    });
  });

  it("received but sent nothing keeps its MOS", () => {
    const e = webitelWith({ [`${V}out_packet_count`]: "0", [`${V}out_raw_bytes`]: "0" });
    const q = ok(computeQos(e, undefined));
    assert.equal(q.mosScore, 4.5);
    assert.equal(q.totalPackets, 1248);
    assert.equal(q.totalBytes, 214656);
  });

  it("without in_mos a leg that received nothing is still fine (the MOS is not used)", () => {
    const e = webitelWith({ [`${V}in_packet_count`]: "0", [`${V}in_mos`]: undefined });
    assert.equal(ok(computeQos(e, undefined)).mosScore, undefined);
  });
});

describe("unreadable variables: the rest is still exported, never a throw", () => {
  // The webitel sample's values (see above), and which of them each variable feeds.
  const WEBITEL: Omit<QosValues, "unreadable"> = {
    mosScore: 4.5,
    jitterMinMs: Math.sqrt(12.12),
    jitterMaxMs: 20,
    jitterAvgMs: Math.sqrt((12.12 + 400) / 2),
    totalPackets: 2490,
    packetLoss: 0,
    totalBytes: 428280,
  };
  const FEEDS: Record<string, Array<keyof typeof WEBITEL>> = {
    // Without the received count nothing says the leg received audio: no MOS either.
    in_packet_count: ["totalPackets", "mosScore"],
    out_packet_count: ["totalPackets"],
    in_raw_bytes: ["totalBytes"],
    out_raw_bytes: ["totalBytes"],
    in_flaw_total: ["packetLoss"],
    // Without RTCP, jitter_avg comes from both variances.
    in_jitter_min_variance: ["jitterMinMs", "jitterAvgMs"],
    in_jitter_max_variance: ["jitterMaxMs", "jitterAvgMs"],
    in_mos: ["mosScore"],
  };
  const cases: Array<[string, string | undefined]> = [
    ["in_packet_count", "abc"],
    ["in_packet_count", "-5"],
    ["in_packet_count", ""], // _undef_
    ["in_packet_count", undefined], // out_packet_count alone
    ["out_packet_count", "1e3"],
    ["out_packet_count", "12.5"],
    ["in_raw_bytes", undefined],
    ["in_raw_bytes", "-1"],
    ["out_raw_bytes", "0x10"],
    ["in_flaw_total", undefined],
    ["in_flaw_total", "-2"],
    ["in_jitter_min_variance", "nan"],
    ["in_jitter_min_variance", "-nan"],
    ["in_jitter_max_variance", "inf"],
    ["in_jitter_max_variance", "-1.00"],
    ["in_jitter_max_variance", undefined],
    ["in_mos", undefined],
    ["in_mos", "abc"],
    ["in_mos", "0.00"],
    ["in_mos", "0.98"],
    ["in_mos", "5.01"],
    ["in_mos", "-4.50"],
  ];
  for (const [name, value] of cases) {
    it(`${name} = ${JSON.stringify(value)}: only ${FEEDS[name]?.join(", ")} left out`, () => {
      const e = webitelWith({ [`${V}${name}`]: value });
      const expected: Record<string, unknown> = { ...WEBITEL, unreadable: [name] };
      for (const key of FEEDS[name] ?? []) expected[key] = undefined;
      assert.deepEqual(ok(computeQos(e, undefined)), expected);
    });
  }

  it("with RTCP, jitter_avg does not need the variances", () => {
    const e = webitelWith({ [`${V}in_jitter_min_variance`]: "nan" });
    const leg = { ...emptyLeg("x"), jitterSumMs: 30, jitterCount: 3 };
    const q = ok(computeQos(e, leg));
    assert.equal(q.jitterAvgMs, 10);
    assert.equal(q.jitterMinMs, undefined);
    assert.deepEqual(q.unreadable, ["in_jitter_min_variance"]);
  });

  it("several unreadable variables are each listed; nothing readable at all is qos_malformed", () => {
    const some = webitelWith({ [`${V}in_mos`]: "x", [`${V}out_raw_bytes`]: "y" });
    assert.deepEqual(ok(computeQos(some, undefined)).unreadable, ["out_raw_bytes", "in_mos"]);
    const all: Record<string, string> = {};
    for (const name of Object.keys(FEEDS)) all[`${V}${name}`] = "garbage";
    assert.equal(refused(computeQos(webitelWith(all), undefined)), UNUSABLE_REASONS.qosMalformed);
  });

  it("in_mos 0.99 is FreeSWITCH's own value for R = 1..5, not malformed", () => {
    for (const r of [1, 2, 3, 4, 5]) assert.equal(mosOfR(r).toFixed(2), "0.99", `R = ${r}`);
    const worst = webitelWith({ [`${V}in_mos`]: "0.99", [`${V}in_quality_percentage`]: "3.00" });
    const q = ok(computeQos(worst, undefined));
    assert.equal(q.mosScore, 0.99);
    assert.deepEqual(q.unreadable, []);
  });

  it("arbitrary values never throw, and what is computed is finite and ≥ 0 (fast-check)", () => {
    const names = [
      "in_packet_count",
      "out_packet_count",
      "in_raw_bytes",
      "out_raw_bytes",
      "in_flaw_total",
      "in_jitter_min_variance",
      "in_jitter_max_variance",
      "in_mos",
    ];
    const value = fc.option(
      fc.oneof(fc.string(), fc.constantFrom("0", "1", "4.50", "0.00", "nan", "-1", "99999")),
      { nil: undefined },
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: names.length, maxLength: names.length }), (vs) => {
        const headers: Array<[string, string]> = [["Event-Name", "CHANNEL_HANGUP_COMPLETE"]];
        names.forEach((n, i) => {
          const v = vs[i];
          if (v !== undefined) headers.push([`${V}${n}`, v]);
        });
        const q = computeQos(toEvent(headers), undefined);
        if (isUnusable(q)) {
          assert.ok(
            [UNUSABLE_REASONS.noMedia, UNUSABLE_REASONS.qosMalformed].includes(q.unusable as never),
          );
          return;
        }
        const values = [
          q.jitterMinMs,
          q.jitterMaxMs,
          q.jitterAvgMs,
          q.totalPackets,
          q.packetLoss,
          q.totalBytes,
        ];
        for (const n of values) assert.ok(n === undefined || (Number.isFinite(n) && n >= 0));
        assert.ok(
          q.mosScore !== undefined || values.some((n) => n !== undefined),
          "something readable, or a refusal",
        );
        if (q.totalPackets !== undefined) assert.ok(q.totalPackets > 0);
        // FreeSWITCH's MOS: 4.5 at best; 0.99 at worst (R = 1..5, SPEC §4); 5 leaves room.
        if (q.mosScore !== undefined) assert.ok(q.mosScore >= 0.99 && q.mosScore <= 5);
      }),
      { numRuns: 500 },
    );
  });
});
