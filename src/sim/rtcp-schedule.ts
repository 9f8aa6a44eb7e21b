// When FreeSWITCH sends the RTCP reports of a stream: the first 4 come 4 s apart whatever
// `rtcp_audio_interval_msec` says, then the interval applies (capture-long-plain.esl, 1 s
// interval: reports at 4, 8, 12, 16, 17, 18 s; capture-rtcp5s-plain.esl, 5 s: 4, 8, 12, 16, 21,
// 26 s after the RTP session started).

export const WARMUP_REPORTS = 4;
export const WARMUP_SPACING_MS = 4000;

/** The delay before report number `sent + 1` of a stream, `sent` reports having gone out. */
export function nextReportDelayMs(sent: number, intervalMs: number): number {
  return sent < WARMUP_REPORTS ? WARMUP_SPACING_MS : intervalMs;
}
