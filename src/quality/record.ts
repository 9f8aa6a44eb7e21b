// The per-leg quality record (the CDR operators search): one OpenTelemetry log record per leg at
// its end, event name freeswitch.call.quality. Pure: the leg's labels, QoS values, RTCP summaries
// and the hangup event's call figures in, a flat attribute map out. Attribute names are
// snake_case so they keep their names in Loki, Elasticsearch and ClickHouse alike.

import type { EslEvent } from "../esl/event.js";
import { readUint } from "./numbers.js";
import { meanMosEstimate } from "./summary.js";
import type { HangupInfo, LegLabels, QosObservation, QosValues, RtcpSummary } from "./types.js";

export const QUALITY_RECORD_EVENT = "freeswitch.call.quality";

export function hangupInfo(event: EslEvent): HangupInfo {
  return {
    cause: event.get("Hangup-Cause") ?? event.get("variable_hangup_cause") ?? "",
    durationS: readUint(event, "variable_duration"),
    billsec: readUint(event, "variable_billsec"),
  };
}

export type RecordAttributes = Record<string, string | number>;

/** The record of an end-of-call observation. */
export function recordOf(o: QosObservation): RecordAttributes {
  return qualityRecordAttributes({
    instance: o.instance,
    labels: o.labels,
    qos: o.values,
    inbound: o.rtcpIn,
    outbound: o.rtcpOut,
    hangup: o.hangup,
  });
}

export interface QualityRecordInput {
  readonly instance: string;
  readonly labels: LegLabels;
  readonly qos: QosValues;
  readonly inbound: RtcpSummary | null;
  readonly outbound: RtcpSummary | null;
  readonly hangup: HangupInfo;
}

/**
 * The record's attributes. Unknown values are left out rather than written as 0 or "": a
 * missing `mos_score` (the leg received nothing) must not read as the worst possible call.
 */
export function qualityRecordAttributes(input: QualityRecordInput): RecordAttributes {
  const { qos, hangup } = input;
  const out: RecordAttributes = legLabelAttributes(input.instance, input.labels);
  if (qos.mosScore !== undefined) out.mos_score = qos.mosScore;
  if (qos.jitterMinMs !== undefined) out.jitter_min_ms = qos.jitterMinMs;
  if (qos.jitterMaxMs !== undefined) out.jitter_max_ms = qos.jitterMaxMs;
  if (qos.jitterAvgMs !== undefined) out.jitter_avg_ms = qos.jitterAvgMs;
  if (qos.totalPackets !== undefined) out.total_packets = qos.totalPackets;
  if (qos.packetLoss !== undefined) out.packet_loss = qos.packetLoss;
  if (qos.totalBytes !== undefined) out.total_bytes = qos.totalBytes;
  // Which variables FreeSWITCH sent unreadable, so a missing value is not read as "none".
  if (qos.unreadable.length > 0) out.qos_unreadable = qos.unreadable.join(",");
  const estimate = meanMosEstimate(input.inbound, input.outbound);
  if (estimate !== undefined) out.mos_estimate_avg = estimate;
  summarize(out, "inbound", input.inbound);
  summarize(out, "outbound", input.outbound);
  if (hangup.cause !== "") out.hangup_cause = hangup.cause;
  if (hangup.durationS !== undefined) out.duration_s = hangup.durationS;
  if (hangup.billsec !== undefined) out.billsec = hangup.billsec;
  return out;
}

/** `<direction>_reports`, `_jitter_min_ms` … `_mos_avg`; only `_reports: 0` without reports. */
function summarize(out: RecordAttributes, direction: string, s: RtcpSummary | null): void {
  out[`${direction}_reports`] = s?.reports ?? 0;
  if (s === null || s.reports === 0) return;
  out[`${direction}_jitter_min_ms`] = s.jitterMinMs;
  out[`${direction}_jitter_avg_ms`] = s.jitterSumMs / s.reports;
  out[`${direction}_jitter_max_ms`] = s.jitterMaxMs;
  out[`${direction}_packets_lost`] = s.packetsLost;
  out[`${direction}_worst_fraction_lost`] = s.worstFractionLost;
  if (s.rttCount > 0) out[`${direction}_rtt_avg_ms`] = s.rttSumMs / s.rttCount;
  out[`${direction}_mos_min`] = s.mosMin;
  out[`${direction}_mos_avg`] = s.mosSum / s.reports;
}

/** Every label of a leg under its SPEC §3 name: the QoS metrics' attributes and the record's. */
export function legLabelAttributes(instance: string, labels: LegLabels): Record<string, string> {
  return {
    fs_instance: instance,
    channel_id: labels.channelId,
    correlation_id: labels.correlationId,
    domain_name: labels.domainName,
    call_direction: labels.callDirection,
    codec_name: labels.codecName,
    src_ip: labels.srcIp,
    dst_ip: labels.dstIp,
  };
}

/** A one-line body for viewers that show only the body. */
export function qualityRecordBody(attributes: RecordAttributes): string {
  const unreadable = String(attributes.qos_unreadable ?? "").split(",");
  const mos =
    attributes.mos_score !== undefined
      ? `MOS ${attributes.mos_score}`
      : unreadable.includes("in_mos") || unreadable.includes("in_packet_count")
        ? "MOS unreadable"
        : "no audio received";
  const cause = attributes.hangup_cause ?? "unknown cause";
  return `leg ${attributes.channel_id} (${attributes.domain_name || "no domain"}) ended: ${mos}, ${cause}`;
}
