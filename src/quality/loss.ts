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
 * The SSRC of a stream FreeSWITCH does not know yet: its first SEND report of a stream carries
 * `Source-SSRC: 00000000` with a cumulative loss that the next reports, under the real SSRC,
 * continue (seen on FreeSWITCH 1.11). It is the same stream, not one of its own. rtcp.ts keys
 * such a report by its SSRC header, which names the stream; only a report where nothing names
 * it reaches the baselines as 00000000, and the next new SSRC continues it.
 */
export const UNKNOWN_SSRC = "00000000";

/**
 * Streams remembered per leg and direction. A leg has one audio stream at a time; a re-INVITE or
 * a new sender adds one, and streams may alternate. Past this, the least recently reported is
 * forgotten (if it ever reports again, its whole cumulative counts again).
 */
export const MAX_STREAMS = 4;

/**
 * Packets lost since the previous report of the same stream (SPEC §4), from the direction's
 * baselines and the new cumulative value (both already signed):
 * - a stream with a baseline: the rise since its previous report, never below 0;
 * - a real SSRC without one, after a report on UNKNOWN_SSRC: the rise since that report (it was
 *   the same stream's first report);
 * - a new stream: its whole cumulative loss so far, never below 0.
 *
 * The cumulative count is expected − received, so it goes DOWN when duplicates or late packets
 * arrive (this is how -1 happens). A drop is not "negative loss" to subtract from the next
 * rise: the baseline moves to the new, lower value anyway, and only the rise above it counts
 * later. So the points of a stream always sum to the total rise of its cumulative value
 * (starting from 0), and no point is negative.
 */
export function lostSince(baselines: readonly RtcpBaseline[], ssrc: string, lost: number): number {
  const previous = baselineOf(baselines, ssrc)?.lastLost ?? 0;
  return Math.max(lost - previous, 0);
}

/** The stream's baseline, or the UNKNOWN_SSRC one a real SSRC continues. */
export function baselineOf(
  baselines: readonly RtcpBaseline[],
  ssrc: string,
): RtcpBaseline | undefined {
  let unknown: RtcpBaseline | undefined;
  for (const baseline of baselines) {
    if (baseline.ssrc === ssrc) return baseline;
    if (baseline.ssrc === UNKNOWN_SSRC) unknown = baseline;
  }
  return unknown;
}
