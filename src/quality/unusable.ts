// The fixed set of reasons a calculator refuses an event. Each becomes a label value of
// fsagent_events_unusable_total{reason}: keep the set small and closed (a free-form reason
// would let event content grow /metrics without bound).

import type { Unusable } from "./types.js";

export const UNUSABLE_REASONS = {
  /** The event has no Unique-ID (or an empty one), so it cannot be tied to a leg. */
  missingUniqueId: "missing_unique_id",
  /** A calculator was handed an event it does not compute (router bug or stray event). */
  unexpectedEvent: "unexpected_event",
  /** An RTCP event without report block 0 (an SR with no blocks): nothing to compute. */
  rtcpNoReportBlock: "rtcp_no_report_block",
  /** No RTP clock rate: no RTP-Rate in the report and none known for the leg. */
  rtcpRateUnknown: "rtcp_rate_unknown",
  /** A report-block field that is absent, not a number, or out of its wire range. */
  rtcpMalformed: "rtcp_malformed",
  /** The leg never had media: no rtp_audio_* statistics, or no packet either way. */
  noMedia: "no_media",
  /** A QoS variable that is absent, not a number, negative or out of range. */
  qosMalformed: "qos_malformed",
} as const;

export type UnusableReason = (typeof UNUSABLE_REASONS)[keyof typeof UNUSABLE_REASONS];

/** One frozen refusal per reason, so refusing an event allocates nothing. */
export const REFUSAL: { readonly [K in keyof typeof UNUSABLE_REASONS]: Unusable } = {
  missingUniqueId: Object.freeze({ unusable: UNUSABLE_REASONS.missingUniqueId }),
  unexpectedEvent: Object.freeze({ unusable: UNUSABLE_REASONS.unexpectedEvent }),
  rtcpNoReportBlock: Object.freeze({ unusable: UNUSABLE_REASONS.rtcpNoReportBlock }),
  rtcpRateUnknown: Object.freeze({ unusable: UNUSABLE_REASONS.rtcpRateUnknown }),
  rtcpMalformed: Object.freeze({ unusable: UNUSABLE_REASONS.rtcpMalformed }),
  noMedia: Object.freeze({ unusable: UNUSABLE_REASONS.noMedia }),
  qosMalformed: Object.freeze({ unusable: UNUSABLE_REASONS.qosMalformed }),
};

/** Whether a calculator's result is a refusal. */
export function isUnusable<T extends object>(result: T | Unusable): result is Unusable {
  return "unusable" in result;
}
