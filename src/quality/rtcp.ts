// RTCP reports to numbers (SPEC §2 RECV/SEND_RTCP_MESSAGE, §4 freeswitch.rtcp.*).
//
// computeRtcp is pure: the event and the leg's state in, the report's values out. The leg tracker
// folds the result into the leg's state (legs/fold-rtcp.ts), the one place that state changes.

import type { EslEvent } from "../esl/event.js";
import { NO_HEADER } from "../esl/headers.js";
import { emodelMos, reportRtt } from "./emodel.js";
import { emptyLeg } from "./labels.js";
import { lostSince, readLost, UNKNOWN_SSRC } from "./loss.js";
import { parseUint, readTimestamp, readUfixed, readUint } from "./numbers.js";
import type { LegState, ReportDirection, Unusable } from "./types.js";
import { REFUSAL } from "./unusable.js";

/** Interarrival jitter in ms from RTP timestamp units and the stream's clock rate. */
function jitterMs(jitterTimestampUnits: number, rtpRate: number): number {
  return (jitterTimestampUnits * 1000) / rtpRate;
}

/** Fraction lost since the previous report, from the 8-bit fixed-point value (0..255). */
function fractionLost(raw: number): number {
  return raw / 256;
}

/** The clock rate of video RTP (RFC 3551); RECV reports on video carry it as RTP-Rate. */
export const VIDEO_RTP_RATE = 90000;

const U32_MAX = 0xffffffff;

/**
 * One RTCP report turned into numbers, with what the leg tracker needs to fold it into the leg
 * (legs/fold-rtcp.ts).
 */
export interface RtcpResult {
  /** `inbound` for RECV_RTCP_MESSAGE, `outbound` for SEND_RTCP_MESSAGE (SPEC §2). */
  readonly direction: ReportDirection;
  /** Source-Jitter × 1000 / rate. */
  readonly jitterMs: number;
  /** Source-Fraction / 256, 0..255/256. */
  readonly fractionLost: number;
  /** Packets lost since the previous report of the same leg, direction and SSRC; ≥ 0. */
  readonly packetsLost: number;
  /**
   * Round-trip time in ms (SPEC §7): RECV reports only, from LSR/DLSR and Capture-Time, else
   * FreeSWITCH's Rtt-Avg; undefined when unknown (always for SEND reports).
   */
  readonly rttMs: number | undefined;
  /** E-model MOS estimate of this report (SPEC §7), 1..4.5; RTT taken as 0 when unknown. */
  readonly mos: number;
  /**
   * The stream reported on: block 0's SSRC as sent, except for a SEND report on 00000000,
   * whose stream is named by its SSRC header (see streamOf).
   */
  readonly ssrc: string;
  /** The RTP clock rate used: the report's RTP-Rate, else the leg's known rate. */
  readonly rtpRate: number;
  /**
   * A report on the leg's video stream: RTP-Rate 90000, or a SEND report on an SSRC a video
   * RECV report named. Its values are computed the same way, but it never feeds the audio state
   * (see computeRtcp); the pipeline does not export it.
   */
  readonly video: boolean;
  /**
   * The report's `SSRC` header, read only on a leg that may carry video: for RECV the far end's
   * sending stream (the one SEND reports are about), for SEND that same remote stream.
   */
  readonly senderSsrc: string;
  /** Report blocks after block 0 (Source1..Source4): counted internally, never exported. */
  readonly extraBlocks: number;
  /**
   * The leg the report is about: the state given to computeRtcp, or a new partial state for a
   * leg known nowhere. Never changed here.
   */
  readonly leg: LegState;
  /** The report's cumulative lost, already read as signed: the direction's next baseline. */
  readonly cumulativeLost: number;
  /** The report's RTP-Rate (RECV only); 0 when it had none. */
  readonly reportedRate: number;
}

interface BlockHeaders {
  readonly ssrc: string;
  readonly fraction: string;
  readonly lost: string;
  readonly jitter: string;
}

/** The headers RTT comes from (SPEC §7): RECV reports only, block 0. */
const RECV_RTT = {
  lsr: "Source0-LSR",
  dlsr: "Source0-DLSR",
  rttAvg: "Rtt0-Avg",
  captureTime: "Capture-Time",
} as const;

/** RECV_RTCP_MESSAGE numbers its blocks; block 0 is the one exported. */
const RECV_BLOCK: BlockHeaders = {
  ssrc: "Source0-SSRC",
  fraction: "Source0-Fraction",
  lost: "Source0-Lost",
  jitter: "Source0-Jitter",
};

/** SEND_RTCP_MESSAGE has exactly one block, unnumbered. */
const SEND_BLOCK: BlockHeaders = {
  ssrc: "Source-SSRC",
  fraction: "Source-Fraction",
  lost: "Source-Lost",
  jitter: "Source-Jitter",
};

/** FreeSWITCH writes blocks 0..count-1 in order, at most 5 (the RTCP count field allows 31). */
const EXTRA_BLOCK_SSRC = ["Source1-SSRC", "Source2-SSRC", "Source3-SSRC", "Source4-SSRC"];

/**
 * Computes one RTCP report.
 *
 * @param event a RECV_RTCP_MESSAGE or SEND_RTCP_MESSAGE (anything else: `unexpected_event`)
 * @param leg   the leg's state before the report (read, never changed), or undefined when the
 *              leg is known nowhere: then the report is computed against emptyLeg(Unique-ID)
 *              (no baselines, no rate), and the returned `leg` is that partial state.
 * @returns the report's values and the leg they are about, or a refusal (see unusable.ts):
 *   `rtcp_no_report_block` (no block 0), `rtcp_malformed` (a block field absent, not a number or
 *   out of its wire range; RTP-Rate present but not a number), `rtcp_rate_unknown` (no RTP-Rate
 *   and no rate known for the leg: always the case for a SEND report on a leg with no codec
 *   rate and no earlier RECV report), `missing_unique_id` (leg undefined and no Unique-ID).
 *
 * What the leg tracker's fold (legs/fold-rtcp.ts) then changes, for audio reports:
 * - the reported stream's loss baseline takes the new cumulative lost (loss.ts: one baseline per
 *   SSRC, and a SEND report on SSRC 00000000 is the first report of the real SSRC that follows);
 * - the report's jitter is added to the leg's jitter sum/count (qos.jitter_avg);
 * - RECV: `rtpRate` becomes the report's RTP-Rate when it has one, and `farEndLost` the new
 *   cumulative lost clamped at 0 (qos.packet_loss).
 *
 * Video reports (RTP-Rate 90000 on a RECV report; a SEND report, which has no RTP-Rate, when its
 * SSRC is one a video RECV report named) are computed the same way, but the fold only
 * remembers their SSRCs: the rate, jitter history, baselines and far-end loss all feed the leg's
 * audio QoS (`rtp_audio_*`). Their packetsLost is not baselined, so the pipeline skips them.
 */
export function computeRtcp(event: EslEvent, leg: LegState | undefined): RtcpResult | Unusable {
  const name = event.name;
  let direction: ReportDirection;
  let block: BlockHeaders;
  if (name === "RECV_RTCP_MESSAGE") {
    direction = "inbound";
    block = RECV_BLOCK;
  } else if (name === "SEND_RTCP_MESSAGE") {
    direction = "outbound";
    block = SEND_BLOCK;
  } else {
    return REFUSAL.unexpectedEvent;
  }

  // An RR-only packet still carries its report block (the sender fields just repeat or are 0),
  // so nothing here looks at SSRC/NTP/packet counts: only the block matters.
  const reported = event.get(block.ssrc);
  if (reported === undefined) return REFUSAL.rtcpNoReportBlock;
  if (reported === "") return REFUSAL.rtcpMalformed;
  const ssrc = direction === "outbound" ? streamOf(event, reported) : reported;
  const fraction = readUint(event, block.fraction);
  if (fraction === undefined || fraction > 255) return REFUSAL.rtcpMalformed;
  const lost = readLost(event, block.lost);
  if (lost === undefined) return REFUSAL.rtcpMalformed;
  const jitter = readUint(event, block.jitter);
  if (jitter === undefined || jitter > U32_MAX) return REFUSAL.rtcpMalformed;

  // RTP-Rate: only RECV reports have it. 0 or absent means "not said": fall back to the leg's.
  const reportedRate = direction === "inbound" ? readRate(event) : 0;
  if (reportedRate === undefined) return REFUSAL.rtcpMalformed;

  let before = leg;
  if (before === undefined) {
    const uuid = event.get("Unique-ID");
    if (uuid === undefined || uuid === "") return REFUSAL.missingUniqueId;
    before = emptyLeg(uuid);
  }
  const rate = reportedRate > 0 ? reportedRate : before.rtpRate;
  if (rate <= 0) return REFUSAL.rtcpRateUnknown;

  const baselines = direction === "inbound" ? before.inbound : before.outbound;
  const jitterValue = jitterMs(jitter, rate);
  const fractionValue = fractionLost(fraction);
  const rttMs = direction === "inbound" ? recvRtt(event) : undefined;
  // Most legs never carry video: the SSRC header is read only when video is possible.
  const mayBeVideo = reportedRate === VIDEO_RTP_RATE || before.videoSsrcs.length > 0;
  const senderSsrc = mayBeVideo ? (event.get("SSRC") ?? "") : "";
  const video =
    reportedRate === VIDEO_RTP_RATE ||
    (direction === "outbound" &&
      (before.videoSsrcs.includes(ssrc) || before.videoSsrcs.includes(senderSsrc)));
  return {
    direction,
    jitterMs: jitterValue,
    fractionLost: fractionValue,
    rttMs,
    mos: emodelMos(jitterValue, fractionValue, rttMs),
    packetsLost: lostSince(baselines, ssrc, lost),
    ssrc,
    rtpRate: rate,
    video,
    senderSsrc,
    extraBlocks: direction === "inbound" ? countExtraBlocks(event) : 0,
    leg: before,
    cumulativeLost: lost,
    reportedRate,
  };
}

/**
 * The stream a SEND report is about. FreeSWITCH's first SEND of a stream says Source-SSRC
 * 00000000 (it does not know the sender's SSRC yet), with a cumulative loss that the next reports,
 * under the real SSRC, continue; its SSRC header already names that stream (the remote one, as on
 * every SEND: seen on FreeSWITCH 1.11, 38 of 38 such reports in the captures). Keyed by it, the
 * report is the stream's first, not a stream of its own, and a second stream's 00000000 report
 * (a re-INVITE) cannot be taken for the first's. Should the header be 0 too, loss.ts carries the
 * 00000000 baseline over to the next new SSRC instead.
 */
function streamOf(event: EslEvent, reported: string): string {
  if (reported !== UNKNOWN_SSRC) return reported;
  const header = event.get("SSRC");
  return header !== undefined && header !== "" && header !== UNKNOWN_SSRC ? header : reported;
}

/**
 * RTT of a RECV report. A malformed or absent RTT header makes the RTT unknown, not the report
 * unusable: jitter and loss are still right.
 */
function recvRtt(event: EslEvent): number | undefined {
  const lsr = u32(readUint(event, RECV_RTT.lsr));
  // LSR 0: the far end has had no SR yet, so Capture-Time and DLSR are not worth reading.
  const usable = lsr !== undefined && lsr !== 0;
  return reportRtt({
    captureMicros: usable ? readTimestamp(event, RECV_RTT.captureTime) : undefined,
    lsr,
    dlsr: usable ? u32(readUint(event, RECV_RTT.dlsr)) : undefined,
    rttAvgSeconds: readUfixed(event, RECV_RTT.rttAvg),
  });
}

/** A RECV report's RTP-Rate: 0 when absent or empty ("not said"), undefined when malformed. */
function readRate(event: EslEvent): number | undefined {
  const value = event.decimal("RTP-Rate", 15, false);
  if (value === NO_HEADER) return 0;
  if (value < 0) {
    const text = event.get("RTP-Rate");
    if (text === "") return 0;
    const rate = parseUint(text);
    return rate === undefined || rate > U32_MAX ? undefined : rate;
  }
  return value > U32_MAX ? undefined : value;
}

function u32(value: number | undefined): number | undefined {
  return value !== undefined && value <= U32_MAX ? value : undefined;
}

/** Blocks 1..4 present, stopping at the first gap (FreeSWITCH writes them consecutively). */
function countExtraBlocks(event: EslEvent): number {
  let n = 0;
  for (const header of EXTRA_BLOCK_SSRC) {
    if (!event.has(header)) break;
    n++;
  }
  return n;
}
