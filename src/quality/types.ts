// Plain data shared by the calculators, the leg state and the sinks. No behaviour here.

/** RTCP report direction (SPEC §2): `inbound` = RECV_RTCP_MESSAGE, `outbound` = SEND_RTCP_MESSAGE. */
export type ReportDirection = "inbound" | "outbound";

/** The label values of one leg (SPEC §3). Unknown values are empty strings, never undefined. */
export interface LegLabels {
  /** The leg's Unique-ID. */
  readonly channelId: string;
  /** The A-leg's SIP Call-ID, shared by every leg of the call; else the call UUID. */
  readonly correlationId: string;
  readonly domainName: string;
  /** The leg's Call-Direction: inbound | outbound. */
  readonly callDirection: string;
  readonly codecName: string;
  /** variable_remote_media_ip: where the received audio came from. */
  readonly srcIp: string;
  /** variable_local_media_ip. */
  readonly dstIp: string;
}

/** Loss baseline of one reported stream of one leg and direction (SPEC §4). */
export interface RtcpBaseline {
  /** Source0-SSRC / Source-SSRC of the stream's reports, as sent (lowercase hex). */
  ssrc: string;
  /** The stream's last cumulative loss, already read as signed. */
  lastLost: number;
}

/**
 * Everything the agent remembers about a live leg. Serializable as JSON (it is what Redis
 * stores), so: plain fields only, no Maps, no class instances. The RTCP fields (not readonly)
 * are updated in place by the leg tracker's fold (legs/fold-rtcp.ts); everything else is replaced by a new state.
 */
export interface LegState {
  readonly uuid: string;
  /** Channel-Call-UUID: the A-leg's Unique-ID, the same on every leg of the call. */
  readonly callUuid: string;
  /** Own variable_sip_call_id ("" when none); the call's correlation_id comes from the A-leg's. */
  readonly sipCallId: string;
  /**
   * Own variable_domain_name ("" when none): a leg with one keeps it; a leg without inherits
   * its A-leg's domain, which may come later (legWithALeg in labels.ts).
   */
  readonly ownDomain: string;
  readonly labels: LegLabels;
  /** RTP clock rate known for the leg (RTP-Rate of a RECV report, else the codec's rate); 0 = unknown. */
  rtpRate: number;
  /**
   * Loss baselines per reported SSRC (loss.ts), one small list per direction, least recently
   * reported first: streams may alternate, and each keeps its own cumulative.
   */
  inbound: RtcpBaseline[];
  outbound: RtcpBaseline[];
  /**
   * SSRCs seen on the leg's video stream (a RECV report with RTP-Rate 90000): a SEND report on
   * one of them is video too, although SEND reports carry no RTP-Rate. Video never feeds the
   * audio metrics.
   */
  videoSsrcs: string[];
  /** Sum and count of every RTCP jitter value (ms) seen on the leg, both directions: jitter_avg. */
  jitterSumMs: number;
  jitterCount: number;
  /** The far end's last cumulative Source-Lost (RECV reports), for qos.packet_loss; 0 without RTCP. */
  farEndLost: number;
  /** The leg's RTCP reports so far, per direction (summary.ts); null before the first. */
  rtcpIn: RtcpSummary | null;
  rtcpOut: RtcpSummary | null;
  /** End-of-call QoS already exported (HANGUP_COMPLETE and DESTROY both carry it). */
  readonly qosReported: boolean;
  /** Where the labels came from: the leg's own channel events, a FreeSWITCH lookup, or neither. */
  readonly labelSource: "event" | "lookup" | "partial";
}

/** A leg's RTCP reports of one direction, folded in place (summary.ts): for its quality record. */
export interface RtcpSummary {
  reports: number;
  jitterMinMs: number;
  jitterMaxMs: number;
  jitterSumMs: number;
  /** Sum of the reports' increments: packets lost over the call as the reports saw it. */
  packetsLost: number;
  worstFractionLost: number;
  /** Sum and count of the reports whose RTT was known. */
  rttSumMs: number;
  rttCount: number;
  mosMin: number;
  mosSum: number;
  /** The latest report's values (the status page's live figures). */
  lastJitterMs: number;
  lastFractionLost: number;
  /** null when the latest report had no RTT (outbound reports never have one). */
  lastRttMs: number | null;
  /** The latest report's E-model MOS estimate. */
  lastMos: number;
}

/** How a call ended, from CHANNEL_HANGUP_COMPLETE / CHANNEL_DESTROY; absent fields unknown. */
export interface HangupInfo {
  /** Hangup-Cause (Q.850 name, e.g. NORMAL_CLEARING); "" when absent. */
  readonly cause: string;
  /** variable_duration: seconds from creation to hangup. */
  readonly durationS: number | undefined;
  /** variable_billsec: seconds from answer to hangup. */
  readonly billsec: number | undefined;
}

/** One RTCP report turned into numbers, with the leg's labels. */
export interface RtcpObservation {
  readonly instance: string;
  readonly labels: LegLabels;
  readonly direction: ReportDirection;
  readonly jitterMs: number;
  readonly fractionLost: number;
  /** Packets lost since the previous report of the same leg, direction and reported SSRC; ≥ 0. */
  readonly packetsLost: number;
  /** Round-trip time in ms (SPEC §7); undefined when unknown (always for outbound reports). */
  readonly rttMs: number | undefined;
  /** E-model MOS estimate of the report (SPEC §7). */
  readonly mos: number;
}

/**
 * The seven freeswitch.qos.* values of one leg (SPEC §4). A value is undefined when a variable it
 * needs was unreadable (listed in `unreadable`); the others are still exported.
 */
export interface QosValues {
  /**
   * in_mos; undefined when the leg received no packets (a MOS of 4.50 would be a lie), or when
   * in_mos or in_packet_count could not be read.
   */
  readonly mosScore: number | undefined;
  readonly jitterMinMs: number | undefined;
  readonly jitterMaxMs: number | undefined;
  readonly jitterAvgMs: number | undefined;
  readonly totalPackets: number | undefined;
  readonly packetLoss: number | undefined;
  readonly totalBytes: number | undefined;
  /** The QoS variables (`rtp_audio_` names without the prefix) absent or unreadable. */
  readonly unreadable: readonly QosVariable[];
}

/** The `variable_rtp_audio_*` variables the QoS values come from, without the prefix. */
export type QosVariable =
  | "in_packet_count"
  | "out_packet_count"
  | "in_raw_bytes"
  | "out_raw_bytes"
  | "in_flaw_total"
  | "in_jitter_min_variance"
  | "in_jitter_max_variance"
  | "in_mos";

export interface QosObservation {
  readonly instance: string;
  readonly labels: LegLabels;
  readonly values: QosValues;
  /** The mean E-model MOS over the leg's RTCP reports (SPEC §7); undefined without reports. */
  readonly mosEstimate: number | undefined;
  /** The leg's RTCP summaries, for its quality record. */
  readonly rtcpIn: RtcpSummary | null;
  readonly rtcpOut: RtcpSummary | null;
  /** How the call ended (hangup cause, duration, billsec), for its quality record. */
  readonly hangup: HangupInfo;
}

/** A calculator's refusal: the event is counted as unusable under `reason` and skipped. */
export interface Unusable {
  readonly unusable: string;
}
