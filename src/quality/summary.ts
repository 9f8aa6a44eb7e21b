// A leg's RTCP history folded into a few numbers per direction, for its end-of-call quality
// record, its mean E-model MOS (SPEC §7) and the status page (the latest report's values).
// Updated in place per report (see applyRtcp in rtcp.ts): a new object only for a direction's
// first report.

import type { RtcpSummary } from "./types.js";

/** What one report adds to its direction's summary. */
export interface SummaryReport {
  readonly jitterMs: number;
  readonly fractionLost: number;
  /** Packets lost since the previous report (the increment), ≥ 0. */
  readonly packetsLost: number;
  readonly rttMs: number | undefined;
  readonly mos: number;
}

export function addToSummary(before: RtcpSummary | null, r: SummaryReport): RtcpSummary {
  const rttKnown = r.rttMs !== undefined && Number.isFinite(r.rttMs);
  if (before === null) {
    return {
      reports: 1,
      jitterMinMs: r.jitterMs,
      jitterMaxMs: r.jitterMs,
      jitterSumMs: r.jitterMs,
      packetsLost: r.packetsLost,
      worstFractionLost: r.fractionLost,
      rttSumMs: rttKnown ? r.rttMs! : 0,
      rttCount: rttKnown ? 1 : 0,
      mosMin: r.mos,
      mosSum: r.mos,
      lastJitterMs: r.jitterMs,
      lastFractionLost: r.fractionLost,
      lastRttMs: rttKnown ? r.rttMs! : null,
      lastMos: r.mos,
    };
  }
  before.reports += 1;
  before.jitterMinMs = Math.min(before.jitterMinMs, r.jitterMs);
  before.jitterMaxMs = Math.max(before.jitterMaxMs, r.jitterMs);
  before.jitterSumMs += r.jitterMs;
  before.packetsLost += r.packetsLost;
  before.worstFractionLost = Math.max(before.worstFractionLost, r.fractionLost);
  if (rttKnown) {
    before.rttSumMs += r.rttMs!;
    before.rttCount += 1;
  }
  before.mosMin = Math.min(before.mosMin, r.mos);
  before.mosSum += r.mos;
  before.lastJitterMs = r.jitterMs;
  before.lastFractionLost = r.fractionLost;
  before.lastRttMs = rttKnown ? r.rttMs! : null;
  before.lastMos = r.mos;
  return before;
}

/** The mean E-model MOS over every report of the leg (both directions); undefined without any. */
export function meanMosEstimate(
  inbound: RtcpSummary | null,
  outbound: RtcpSummary | null,
): number | undefined {
  const reports = (inbound?.reports ?? 0) + (outbound?.reports ?? 0);
  if (reports === 0) return undefined;
  return ((inbound?.mosSum ?? 0) + (outbound?.mosSum ?? 0)) / reports;
}
