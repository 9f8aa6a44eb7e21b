// What a leg's durable copy in Redis must be: exactly a LegState (quality/types.ts). The key space
// may be shared (or written by another program): anything else is treated as absent, never
// trusted.

import { z } from "zod";
import type { LegLabels, LegState, RtcpBaseline, RtcpSummary } from "../quality/types.js";

// z.number() refuses NaN and ±Infinity (JSON cannot carry them anyway).
const labels = z.object({
  channelId: z.string(),
  correlationId: z.string(),
  domainName: z.string(),
  callDirection: z.string(),
  codecName: z.string(),
  srcIp: z.string(),
  dstIp: z.string(),
}) satisfies z.ZodType<LegLabels>;

const baseline = z.object({
  ssrc: z.string(),
  lastLost: z.number(),
}) satisfies z.ZodType<RtcpBaseline>;

const summary = z.object({
  reports: z.number(),
  jitterMinMs: z.number(),
  jitterMaxMs: z.number(),
  jitterSumMs: z.number(),
  packetsLost: z.number(),
  worstFractionLost: z.number(),
  rttSumMs: z.number(),
  rttCount: z.number(),
  mosMin: z.number(),
  mosSum: z.number(),
  lastJitterMs: z.number(),
  lastFractionLost: z.number(),
  lastRttMs: z.number().nullable(),
  lastMos: z.number(),
}) satisfies z.ZodType<RtcpSummary>;

/** Keys not in the schema are dropped, so what is loaded holds LegState's fields only. */
const legState = z.object({
  uuid: z.string(),
  callUuid: z.string(),
  sipCallId: z.string(),
  ownDomain: z.string(),
  labels,
  rtpRate: z.number(),
  inbound: z.array(baseline),
  outbound: z.array(baseline),
  videoSsrcs: z.array(z.string()),
  jitterSumMs: z.number(),
  jitterCount: z.number(),
  farEndLost: z.number(),
  rtcpIn: summary.nullable(),
  rtcpOut: summary.nullable(),
  qosReported: z.boolean(),
  labelSource: z.enum(["event", "lookup", "partial"]),
}) satisfies z.ZodType<LegState>;

// `satisfies` checks one way only (every field the schema gives fits LegState). This checks that
// the schema's output IS LegState, at every depth and optional fields included, so the two cannot
// drift: a field added to either one alone fails the build. Readonly modifiers aside.
type Mutable<T> = T extends readonly (infer U)[]
  ? Mutable<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: Mutable<T[K]> }
    : T;
type Same<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const exact: Same<Mutable<z.output<typeof legState>>, Mutable<LegState>> = true;
void exact;

/** Parses and checks a stored value; undefined for anything that is not a LegState of `uuid`. */
export function decodeLegState(text: string, uuid: string): LegState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = legState.safeParse(value);
  return parsed.success && parsed.data.uuid === uuid ? parsed.data : undefined;
}
