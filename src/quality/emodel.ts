// Derived quality (SPEC §7): the round-trip time of an RTCP report and the E-model MOS estimate.
// Pure functions of a report's numbers; no clock: "now" is the report's own Capture-Time.

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2208988800;
const TWO_32 = 4294967296;
/** RTT above this is not a round trip but a stale or foreign LSR (SPEC §7). */
const MAX_RTT_MS = 10_000;

/**
 * The middle 32 bits of the NTP timestamp of `unixMicros` (RFC 3550 §4): the low 16 bits of the
 * NTP seconds, then the high 16 bits of the NTP fraction. `A` of the RTT computation.
 */
export function ntpMiddle32(unixMicros: number): number {
  const unixSeconds = Math.floor(unixMicros / 1e6);
  const micros = unixMicros - unixSeconds * 1e6;
  const ntpSeconds = unixSeconds + NTP_UNIX_OFFSET_S;
  const fraction = Math.floor((micros * TWO_32) / 1e6);
  return ((ntpSeconds % 65536) * 65536 + Math.floor(fraction / 65536)) >>> 0;
}

/**
 * RTT in ms from one report block (RFC 3550 §6.4.1): (A − LSR − DLSR) mod 2^32, in 1/65536 s,
 * with A the report's Capture-Time. undefined when LSR is 0 (the far end has seen no SR yet) or
 * the result is outside 0..10 s.
 */
export function rttFromLsr(captureMicros: number, lsr: number, dlsr: number): number | undefined {
  if (lsr === 0) return undefined;
  const a = ntpMiddle32(captureMicros);
  const units = (((a - lsr - dlsr) % TWO_32) + TWO_32) % TWO_32;
  const ms = (units * 1000) / 65536;
  return ms <= MAX_RTT_MS ? ms : undefined;
}

/**
 * What a report block says about its round trip. Each value is undefined where its header was
 * absent or unreadable.
 */
export interface RttInputs {
  /** The report's Capture-Time, µs since the Unix epoch. */
  readonly captureMicros?: number | undefined;
  /** Source<i>-LSR: the middle 32 bits of the NTP time of the last SR the far end received. */
  readonly lsr?: number | undefined;
  /** Source<i>-DLSR: the far end's delay since that SR, in 1/65536 s. */
  readonly dlsr?: number | undefined;
  /** Rtt<i>-Avg: FreeSWITCH's smoothed RTT in seconds; 0 when it has none. */
  readonly rttAvgSeconds?: number | undefined;
}

/** A report's RTT in ms (SPEC §7): from LSR/DLSR, else FreeSWITCH's Rtt-Avg, else undefined. */
export function reportRtt({
  captureMicros,
  lsr,
  dlsr,
  rttAvgSeconds,
}: RttInputs): number | undefined {
  if (captureMicros !== undefined && lsr !== undefined && dlsr !== undefined) {
    const fromLsr = rttFromLsr(captureMicros, lsr, dlsr);
    if (fromLsr !== undefined) return fromLsr;
  }
  if (rttAvgSeconds !== undefined && rttAvgSeconds > 0) return rttAvgSeconds * 1000;
  return undefined;
}

/**
 * The simplified ITU-T G.107 E-model (SPEC §7) from jitter (ms), fraction lost (0..1) and RTT
 * (ms; undefined = unknown, taken as 0, which makes the estimate an upper bound). 1..4.5.
 */
export function emodelMos(
  jitterMs: number,
  fractionLost: number,
  rttMs: number | undefined,
): number {
  const effectiveLatency = (rttMs ?? 0) / 2 + 2 * jitterMs + 10;
  let r =
    effectiveLatency < 160 ? 93.2 - effectiveLatency / 40 : 93.2 - (effectiveLatency - 120) / 10;
  r -= 2.5 * (fractionLost * 100);
  r = Math.min(100, Math.max(0, r));
  if (r === 0) return 1;
  return 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r);
}
