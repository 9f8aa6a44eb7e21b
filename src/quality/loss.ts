// RTCP cumulative loss (SPEC §4 freeswitch.rtcp.packets_lost): reading the signed field and
// turning successive cumulative values into "lost since the previous report".

import type { EslEvent } from "../esl/event.js";
import { NO_HEADER } from "../esl/headers.js";
import type { RtcpBaseline } from "./types.js";

const TWO_24 = 0x1000000;
const TWO_32 = 0x100000000;
/** Smallest and largest values of RTCP's 24-bit signed cumulative-lost field. */
const MIN_LOST = -0x800000;
const MAX_LOST = 0x7fffff;

/** Optional minus sign, then at most 10 digits (anything longer is out of range anyway). */
const SIGNED_INT = /^-?\d{1,10}$/;

/**
 * Reads the cumulative number of packets lost (RFC 3550 §6.4.1: a signed 24-bit field; it goes
 * negative when duplicates arrive) from the text FreeSWITCH printed.
 *
 * FreeSWITCH prints the field with `%u` from a 32-bit integer. Whether the 24 bits were
 * sign-extended first depends on how the report block was decoded, so both forms occur in
 * the wild and both are accepted:
 * - 32-bit form: the value sign-extended to 32 bits, so -1 arrives as 4294967295
 *   (values 2^32 - 2^23 .. 2^32 - 1 mean v - 2^32);
 * - 24-bit form: the raw field, so -1 arrives as 16777215 (values 0x800000 .. 0xFFFFFF mean
 *   v - 2^24). A genuine positive loss never reaches 0x800000: the field cannot hold it.
 * A printed negative number (`%d`) is taken as is.
 *
 * Anything else (0x1000000 .. 2^32 - 2^23 - 1, beyond 32 bits, not an integer) cannot be a
 * 24-bit signed value in either form: undefined, so the report is counted as malformed. Reading
 * such a value as a huge loss, or as a huge negative baseline, would put a spike of millions of
 * packets into packets_lost at this report or the next.
 */
export function readCumulativeLost(text: string | undefined): number | undefined {
  if (text === undefined || !SIGNED_INT.test(text)) return undefined;
  return signedLost(Number(text));
}

/** readCumulativeLost of the event's header (its digits read in place, see numbers.ts). */
export function readLost(event: EslEvent, header: string): number | undefined {
  const value = event.decimal(header, 10, false);
  if (value >= 0) return signedLost(value);
  return value === NO_HEADER ? undefined : readCumulativeLost(event.get(header));
}

function signedLost(v: number): number | undefined {
  if (v <= MAX_LOST) return v >= MIN_LOST ? v : undefined;
  if (v < TWO_24) return v - TWO_24;
  if (v >= TWO_32 + MIN_LOST && v < TWO_32) return v - TWO_32;
  return undefined;
}

/**
 * Packets lost since the previous report of the same stream, from the stream's baseline and the
 * new cumulative value (both already signed):
 * - no baseline, or a baseline for another SSRC (a new stream: re-INVITE, new sender): the
 *   stream's whole cumulative loss so far, never below 0;
 * - otherwise the rise since the previous report, never below 0.
 *
 * The cumulative count is expected − received, so it goes DOWN when duplicates or late packets
 * arrive (this is how -1 happens). A drop is not "negative loss" to subtract from the next
 * rise: the caller moves the baseline to the new, lower value anyway, and only the rise above it
 * counts later. So the points of a stream always sum to the total rise of its cumulative value
 * (starting from 0), and no point is negative.
 */
export function lostSince(baseline: RtcpBaseline | null, ssrc: string, lost: number): number {
  const previous = baseline !== null && baseline.ssrc === ssrc ? baseline.lastLost : 0;
  return Math.max(lost - previous, 0);
}

/**
 * The baseline after a report: the same object updated in place (see applyRtcp in rtcp.ts), a
 * new one only for a direction's first report.
 */
export function nextBaseline(
  baseline: RtcpBaseline | null,
  ssrc: string,
  lost: number,
): RtcpBaseline {
  if (baseline === null) return { ssrc, lastLost: lost };
  // The same SSRC string again is usually another string object: keep the one already held.
  if (baseline.ssrc !== ssrc) baseline.ssrc = ssrc;
  baseline.lastLost = lost;
  return baseline;
}
