// SPEC §7: round-trip time from LSR/DLSR and Capture-Time, and the E-model MOS estimate. The
// expected figures are worked out by hand from the spec's formulas (see each case).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { emodelMos, ntpMiddle32, reportRtt, rttFromLsr } from "../src/quality/emodel.js";
import { ntpMiddle, toUnits65536 } from "../src/sim/ntp.js";

const TWO_32 = 4294967296;

function close(actual: number | undefined, expected: number, within: number, what: string): void {
  assert.ok(actual !== undefined, `${what}: undefined`);
  assert.ok(
    Math.abs(actual - expected) <= within,
    `${what}: ${actual} is not ${expected} ± ${within}`,
  );
}

describe("E-model MOS estimate (SPEC §7)", () => {
  it("gives the issue's reference values", () => {
    // Le = 80/2 + 2·20 + 10 = 90 → R = 93.2 − 90/40 = 90.95; loss 9.765625 % → R = 66.5359375
    close(emodelMos(20, 25 / 256, 80), 3.4306, 0.00005, "jitter 20, fraction 25/256, RTT 80");
    // Le = 0 + 20 + 10 = 30 → R = 92.45; loss 4.6875 % → R = 80.73125
    close(emodelMos(10, 12 / 256, undefined), 4.0513, 0.00005, "jitter 10, 12/256, RTT unknown");
  });

  it("treats an unknown RTT as 0 (the estimate is then an upper bound)", () => {
    assert.equal(emodelMos(10, 0.01, undefined), emodelMos(10, 0.01, 0));
    assert.ok(emodelMos(10, 0.01, 200) < emodelMos(10, 0.01, undefined));
  });

  it("switches to the steep delay branch at an effective latency of 160 ms", () => {
    // RTT 300, jitter 0: Le = 160 → R = 93.2 − (160 − 120)/10 = 89.2
    const r = 89.2;
    close(
      emodelMos(0, 0, 300),
      1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r),
      1e-12,
      "Le 160",
    );
    // Just below: Le = 159.98 → R = 93.2 − 159.98/40 = 89.2005
    const below = 93.2 - 159.98 / 40;
    close(
      emodelMos(0, 0, 299.96),
      1 + 0.035 * below + 0.000007 * below * (below - 60) * (100 - below),
      1e-9,
      "Le just under 160",
    );
  });

  it("clamps R: total loss is MOS 1, a perfect path stays under 4.5", () => {
    assert.equal(emodelMos(0, 1, undefined), 1);
    assert.equal(emodelMos(500, 0.5, 5000), 1);
    const best = emodelMos(0, 0, 0); // R = 93.2 − 10/40 = 92.95
    close(best, 1 + 0.035 * 92.95 + 0.000007 * 92.95 * 32.95 * 7.05, 1e-12, "best case");
    assert.ok(best < 4.5);
  });

  it("stays within 1..4.5 and never rises with more jitter, loss or delay", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1000, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        (jitter, fraction, rtt, more) => {
          const mos = emodelMos(jitter, fraction, rtt);
          assert.ok(mos >= 1 && mos <= 4.5, `${mos}`);
          assert.ok(emodelMos(jitter + more, fraction, rtt) <= mos + 1e-12);
          assert.ok(emodelMos(jitter, Math.min(1, fraction + more / 50), rtt) <= mos + 1e-12);
          assert.ok(emodelMos(jitter, fraction, rtt + more) <= mos + 1e-12);
        },
      ),
    );
  });
});

describe("NTP middle 32 bits of Capture-Time", () => {
  it("takes the low 16 bits of the NTP seconds and the high 16 bits of the fraction", () => {
    // Unix 0 is NTP 2208988800 = 0x83AA7E80 seconds, fraction 0.
    assert.equal(ntpMiddle32(0), 0x7e800000);
    // 1.5 s: seconds 0x83AA7E81, fraction 0x80000000.
    assert.equal(ntpMiddle32(1_500_000), 0x7e818000);
    // 2024-05-01T09:30:00.250Z: Unix 1714555800 s, NTP 3923544600 = 0xE9DC8A18 s, fraction 0x40000000.
    assert.equal(ntpMiddle32(Date.UTC(2024, 4, 1, 9, 30, 0) * 1000 + 250_000), 0x8a184000);
  });

  it("agrees with the simulator's own NTP conversion (written separately, from milliseconds)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), (unixMs) => {
        const ours = ntpMiddle32(unixMs * 1000);
        const sim = ntpMiddle(unixMs);
        // Both floor the fraction; rounding may differ in its 32nd bit, never by more than 1.
        const diff = Math.abs(ours - sim);
        assert.ok(diff <= 1 || diff === TWO_32 - 1, `${unixMs}: ${ours} vs ${sim}`);
      }),
    );
  });
});

describe("RTT from LSR/DLSR (RFC 3550 §6.4.1)", () => {
  const captureMs = Date.UTC(2024, 4, 1, 9, 30, 0) + 123;

  it("recovers the round trip the far end saw", () => {
    // The SR left 80 ms RTT + 300 ms DLSR before the report was captured.
    const lsr = ntpMiddle(captureMs - 80 - 300);
    const dlsr = toUnits65536(300);
    close(rttFromLsr(captureMs * 1000, lsr, dlsr), 80, 0.05, "80 ms");
  });

  it("computes modulo 2^32 when the middle 32 bits wrap between the SR and the report", () => {
    // A just after a wrap of the low 16 bits of the seconds (every 65,536 s): LSR is near 2^32.
    const a = 5;
    const lsr = TWO_32 - 65536; // one second before A's zero
    assert.equal(rttFromLsr(microsWithMiddle(a), lsr, 0), ((a + 65536) * 1000) / 65536);
    assert.equal(rttFromLsr(microsWithMiddle(a), lsr, 65536 - 100), (105 * 1000) / 65536);
  });

  it("treats LSR 0 and anything outside 0..10 s as unknown", () => {
    assert.equal(rttFromLsr(captureMs * 1000, 0, 0), undefined);
    const a = ntpMiddle32(captureMs * 1000);
    // A − LSR − DLSR negative: mod 2^32 makes it ~18 hours.
    assert.equal(rttFromLsr(captureMs * 1000, a, 10), undefined);
    // Exactly 10 s is still valid; one unit more is not.
    assert.equal(rttFromLsr(captureMs * 1000, (a - 655360) >>> 0, 0), 10_000);
    assert.equal(rttFromLsr(captureMs * 1000, (a - 655361) >>> 0, 0), undefined);
  });

  it("falls back to Rtt-Avg, and says unknown when neither is there", () => {
    const micros = captureMs * 1000;
    const noLsr = { captureMicros: micros, lsr: 0, dlsr: 0 };
    assert.equal(reportRtt({ ...noLsr, rttAvgSeconds: 0.0425 }), 42.5);
    assert.equal(reportRtt({ ...noLsr, rttAvgSeconds: 0 }), undefined);
    assert.equal(
      reportRtt({ lsr: 77, dlsr: 1, rttAvgSeconds: 0.01 }),
      10,
      "no Capture-Time: LSR cannot be used",
    );
    const lsr = ntpMiddle(captureMs - 50);
    close(
      reportRtt({ captureMicros: micros, lsr, dlsr: 0, rttAvgSeconds: 0.5 }),
      50,
      0.05,
      "LSR wins over Rtt-Avg",
    );
    assert.equal(reportRtt({}), undefined);
  });
});

/** A Capture-Time whose NTP middle 32 bits are exactly `middle` (with fraction bits below 0). */
function microsWithMiddle(middle: number): number {
  // NTP seconds ≡ middle >>> 16 (mod 65536), fraction high bits = middle & 0xffff.
  const base = Math.floor(Date.UTC(2024, 0, 1) / 1000) + 2208988800;
  const seconds = base - (base % 65536) + (middle >>> 16) - 2208988800;
  const fraction = (middle & 0xffff) / 65536;
  return Math.round((seconds + fraction) * 1e6) + 1;
}
