// NTP timestamps as RTCP carries them (RFC 3550 section 4), from Unix milliseconds.

const NTP_UNIX_OFFSET_S = 2208988800;
const TWO_32 = 4294967296;

export interface NtpWords {
  msw: number;
  lsw: number;
}

export function ntpWords(unixMs: number): NtpWords {
  const seconds = Math.floor(unixMs / 1000);
  const fraction = (unixMs - seconds * 1000) / 1000;
  return {
    msw: (seconds + NTP_UNIX_OFFSET_S) >>> 0,
    lsw: Math.min(TWO_32 - 1, Math.floor(fraction * TWO_32)) >>> 0,
  };
}

/** The middle 32 bits of the NTP timestamp (LSR, and `A` of the RTT computation). */
export function ntpMiddle(unixMs: number): number {
  const { msw, lsw } = ntpWords(unixMs);
  return (((msw & 0xffff) << 16) | (lsw >>> 16)) >>> 0;
}

/** A duration in 1/65536 s units, as DLSR carries it. */
export function toUnits65536(ms: number): number {
  return Math.max(0, Math.round((ms / 1000) * 65536)) >>> 0;
}
