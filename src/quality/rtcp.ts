// Pure RTCP conversions (SPEC §4). No I/O, no clock: callers pass numbers read from events.

/** Interarrival jitter in ms from RTP timestamp units and the stream's clock rate. */
export function jitterMs(jitterTimestampUnits: number, rtpRate: number): number {
  return (jitterTimestampUnits * 1000) / rtpRate;
}

/** Fraction lost since the previous report, from the 8-bit fixed-point value (0..255). */
export function fractionLost(raw: number): number {
  return raw / 256;
}

/** Parses a decimal header value; undefined for absent, empty or non-numeric input. */
export function parseDecimal(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
