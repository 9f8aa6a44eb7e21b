// Folding a computed RTCP report into its leg's state: the one place leg state changes in place.
//
// Why in place: a leg lives for minutes and reports every few seconds, so a new state object
// (plus new summaries and baselines) per report outlives the young generation and is promoted,
// and the old one becomes garbage in the old generation; measured, building the state anew per
// report cost a third of the whole agent's throughput in GC (bench/README.md). The calculators
// in quality/ stay pure: computeRtcp reads the state and returns values; only this module, used
// by the leg tracker, writes them. The store keeps the same object, so the Redis write-behind
// serialises whatever the state is when it flushes.

import { baselineOf, MAX_STREAMS, UNKNOWN_SSRC } from "../quality/loss.js";
import type { RtcpResult } from "../quality/rtcp.js";
import type { LegState, RtcpBaseline, RtcpSummary } from "../quality/types.js";

/** Video SSRCs remembered per leg: a video stream and a few re-INVITEs. */
const MAX_VIDEO_SSRCS = 8;

/**
 * Folds a computed audio report into its leg (result.leg): the stream's baseline, the direction's
 * summary, the jitter history, the RTP rate and, for RECV reports, the far end's loss. A video
 * report only adds its SSRCs to the leg's video SSRCs (they never feed the audio QoS).
 */
export function foldRtcp(result: RtcpResult): void {
  const leg = result.leg;
  if (result.video) {
    // A RECV report's sender SSRC is the far end's video stream, the one SEND reports are about.
    rememberVideo(leg, result.senderSsrc);
    if (result.direction === "outbound") rememberVideo(leg, result.ssrc);
    return;
  }
  const lost = result.cumulativeLost;
  if (result.reportedRate > 0) leg.rtpRate = result.reportedRate;
  leg.jitterSumMs += result.jitterMs;
  leg.jitterCount += 1;
  if (result.direction === "inbound") {
    leg.inbound = nextBaselines(leg.inbound, result.ssrc, lost);
    // The far end's own count of what it lost of our stream; a negative count (duplicates)
    // is no loss at all.
    leg.farEndLost = Math.max(lost, 0);
    leg.rtcpIn = addToSummary(leg.rtcpIn, result);
  } else {
    leg.outbound = nextBaselines(leg.outbound, result.ssrc, lost);
    leg.rtcpOut = addToSummary(leg.rtcpOut, result);
  }
}

function rememberVideo(leg: LegState, ssrc: string): void {
  if (ssrc === "" || ssrc === UNKNOWN_SSRC || leg.videoSsrcs.includes(ssrc)) return;
  leg.videoSsrcs.push(ssrc);
  if (leg.videoSsrcs.length > MAX_VIDEO_SSRCS) leg.videoSsrcs.shift();
}

/**
 * The baselines after a report, updated in place: the stream's entry (or the UNKNOWN_SSRC entry
 * it continues, renamed) takes the new cumulative and moves last; a new stream is added last,
 * and the least recently reported one leaves past MAX_STREAMS (quality/loss.ts).
 */
export function nextBaselines(
  baselines: RtcpBaseline[],
  ssrc: string,
  lost: number,
): RtcpBaseline[] {
  const entry = baselineOf(baselines, ssrc);
  if (entry === undefined) {
    baselines.push({ ssrc, lastLost: lost });
    if (baselines.length > MAX_STREAMS) baselines.shift();
    return baselines;
  }
  // The same SSRC string again is usually another string object: keep the one already held.
  if (entry.ssrc !== ssrc) entry.ssrc = ssrc;
  entry.lastLost = lost;
  if (baselines[baselines.length - 1] !== entry) {
    baselines.splice(baselines.indexOf(entry), 1);
    baselines.push(entry);
  }
  return baselines;
}

/** What one report adds to its direction's summary. */
export interface SummaryReport {
  readonly jitterMs: number;
  readonly fractionLost: number;
  /** Packets lost since the previous report (the increment), ≥ 0. */
  readonly packetsLost: number;
  readonly rttMs: number | undefined;
  readonly mos: number;
}

/** The direction's summary with one more report: a new object only for its first report. */
export function addToSummary(before: RtcpSummary | null, r: SummaryReport): RtcpSummary {
  const rttKnown = r.rttMs !== undefined && Number.isFinite(r.rttMs);
  const rttMs = rttKnown ? (r.rttMs as number) : 0;
  if (before === null) {
    return {
      reports: 1,
      jitterMinMs: r.jitterMs,
      jitterMaxMs: r.jitterMs,
      jitterSumMs: r.jitterMs,
      packetsLost: r.packetsLost,
      worstFractionLost: r.fractionLost,
      rttSumMs: rttMs,
      rttCount: rttKnown ? 1 : 0,
      mosMin: r.mos,
      mosSum: r.mos,
      lastJitterMs: r.jitterMs,
      lastFractionLost: r.fractionLost,
      lastRttMs: rttKnown ? rttMs : null,
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
    before.rttSumMs += rttMs;
    before.rttCount += 1;
  }
  before.mosMin = Math.min(before.mosMin, r.mos);
  before.mosSum += r.mos;
  before.lastJitterMs = r.jitterMs;
  before.lastFractionLost = r.fractionLost;
  before.lastRttMs = rttKnown ? rttMs : null;
  before.lastMos = r.mos;
  return before;
}
