// A leg's RTCP history folded into a few numbers per direction, for its end-of-call quality
// record, its mean E-model MOS (SPEC §7) and the status page (the latest report's values).
// Pure: a summary and a report in, a new summary out.

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
  return {
    reports: before.reports + 1,
    jitterMinMs: Math.min(before.jitterMinMs, r.jitterMs),
    jitterMaxMs: Math.max(before.jitterMaxMs, r.jitterMs),
    jitterSumMs: before.jitterSumMs + r.jitterMs,
    packetsLost: before.packetsLost + r.packetsLost,
    worstFractionLost: Math.max(before.worstFractionLost, r.fractionLost),
    rttSumMs: before.rttSumMs + (rttKnown ? r.rttMs! : 0),
    rttCount: before.rttCount + (rttKnown ? 1 : 0),
    mosMin: Math.min(before.mosMin, r.mos),
    mosSum: before.mosSum + r.mos,
    lastJitterMs: r.jitterMs,
    lastFractionLost: r.fractionLost,
    lastRttMs: rttKnown ? r.rttMs! : null,
    lastMos: r.mos,
  };
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
