// End-of-call media statistics as switch_core_media.c sets them (`rtp_audio_*` variables), and
// FreeSWITCH's own quality figures from switch_rtp.c (do_mos).

import { cFixed2 } from "./format.js";

export interface QosStats {
  inRawBytes: number;
  inMediaBytes: number;
  inPacketCount: number;
  inMediaPacketCount: number;
  inSkipPacketCount: number;
  inJitterPacketCount: number;
  inDtmfPacketCount: number;
  inCngPacketCount: number;
  inFlushPacketCount: number;
  inLargestJbSize: number;
  inJitterMinVariance: number;
  inJitterMaxVariance: number;
  inJitterLossRate: number;
  inJitterBurstRate: number;
  inMeanInterval: number;
  inFlawTotal: number;
  inQualityPercentage: number;
  inMos: number;
  outRawBytes: number;
  outMediaBytes: number;
  outPacketCount: number;
  outMediaPacketCount: number;
  outSkipPacketCount: number;
  outDtmfPacketCount: number;
  outCngPacketCount: number;
  rtcpPacketCount: number;
  rtcpOctetCount: number;
}

/**
 * FreeSWITCH's R: an integer percentage of received packets that were not flaws, 100 when
 * there are no flaws or the result falls outside 0..100 (do_mos in switch_rtp.c).
 */
export function fsQuality(received: number, flaws: number): number {
  if (received <= 0 || flaws <= 0) return 100;
  const r = Math.trunc(((received - flaws) / received) * 100);
  return r < 0 || r > 100 ? 100 : r;
}

/** FreeSWITCH's MOS from R: 1 + 0.035·R + 0.000007·R·(R−60)·(100−R). */
export function fsMos(r: number): number {
  return 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r);
}

/** The `rtp_audio_*` names in the order FreeSWITCH sets them, with their print format. */
const QOS_LAYOUT: ReadonlyArray<readonly [string, keyof QosStats, "int" | "2f"]> = [
  ["in_raw_bytes", "inRawBytes", "int"],
  ["in_media_bytes", "inMediaBytes", "int"],
  ["in_packet_count", "inPacketCount", "int"],
  ["in_media_packet_count", "inMediaPacketCount", "int"],
  ["in_skip_packet_count", "inSkipPacketCount", "int"],
  ["in_jitter_packet_count", "inJitterPacketCount", "int"],
  ["in_dtmf_packet_count", "inDtmfPacketCount", "int"],
  ["in_cng_packet_count", "inCngPacketCount", "int"],
  ["in_flush_packet_count", "inFlushPacketCount", "int"],
  ["in_largest_jb_size", "inLargestJbSize", "int"],
  ["in_jitter_min_variance", "inJitterMinVariance", "2f"],
  ["in_jitter_max_variance", "inJitterMaxVariance", "2f"],
  ["in_jitter_loss_rate", "inJitterLossRate", "2f"],
  ["in_jitter_burst_rate", "inJitterBurstRate", "2f"],
  ["in_mean_interval", "inMeanInterval", "2f"],
  ["in_flaw_total", "inFlawTotal", "int"],
  ["in_quality_percentage", "inQualityPercentage", "2f"],
  ["in_mos", "inMos", "2f"],
  ["out_raw_bytes", "outRawBytes", "int"],
  ["out_media_bytes", "outMediaBytes", "int"],
  ["out_packet_count", "outPacketCount", "int"],
  ["out_media_packet_count", "outMediaPacketCount", "int"],
  ["out_skip_packet_count", "outSkipPacketCount", "int"],
  ["out_dtmf_packet_count", "outDtmfPacketCount", "int"],
  ["out_cng_packet_count", "outCngPacketCount", "int"],
  ["rtcp_packet_count", "rtcpPacketCount", "int"],
  ["rtcp_octet_count", "rtcpOctetCount", "int"],
];

/** Channel variables (without `variable_`) for the stats, e.g. `rtp_audio_in_mos` = "4.49". */
export function qosVariables(stats: QosStats): Array<[string, string]> {
  return QOS_LAYOUT.map(([name, key, format]) => {
    const value = stats[key];
    const text = format === "2f" ? cFixed2(value) : String(Math.trunc(value));
    return [`rtp_audio_${name}`, text];
  });
}

/** Statistics of a leg whose RTP session saw no packet: FreeSWITCH reports 100.00 / 4.50. */
export function emptyQos(): QosStats {
  return {
    inRawBytes: 0,
    inMediaBytes: 0,
    inPacketCount: 0,
    inMediaPacketCount: 0,
    inSkipPacketCount: 0,
    inJitterPacketCount: 0,
    inDtmfPacketCount: 0,
    inCngPacketCount: 0,
    inFlushPacketCount: 0,
    inLargestJbSize: 0,
    inJitterMinVariance: 0,
    inJitterMaxVariance: 0,
    inJitterLossRate: 0,
    inJitterBurstRate: 0,
    inMeanInterval: 0,
    inFlawTotal: 0,
    inQualityPercentage: 100,
    inMos: fsMos(100),
    outRawBytes: 0,
    outMediaBytes: 0,
    outPacketCount: 0,
    outMediaPacketCount: 0,
    outSkipPacketCount: 0,
    outDtmfPacketCount: 0,
    outCngPacketCount: 0,
    rtcpPacketCount: 0,
    rtcpOctetCount: 0,
  };
}
