// A leg's RTCP history folded into a few numbers per direction, for its end-of-call quality
// record, its mean E-model MOS (SPEC §7) and the status page (the latest report's values).
// The leg tracker folds each report into it (legs/fold-rtcp.ts); this module only reads it.

import type { RtcpSummary } from "./types.js";

/** The mean E-model MOS over every report of the leg (both directions); undefined without any. */
export function meanMosEstimate(
  inbound: RtcpSummary | null,
  outbound: RtcpSummary | null,
): number | undefined {
  const reports = (inbound?.reports ?? 0) + (outbound?.reports ?? 0);
  if (reports === 0) return undefined;
  return ((inbound?.mosSum ?? 0) + (outbound?.mosSum ?? 0)) / reports;
}
