// What a leg's durable copy in Redis must be: exactly a LegState (quality/types.ts). The key space
// may be shared (or written by another program): anything else is treated as absent, never
// trusted.

import { z } from "zod";
import type { LegLabels, LegState, RtcpBaseline, RtcpSummary } from "../quality/types.js";

// The keys of every shape below are in alphabetical order, NOT in the order of LegState and the
// code that builds it (emptyLeg, addToSummary...): V8 gives object literals with the same keys in
// the same order one hidden class, so a shape in that order, holding schemas, would turn the
// number fields of every leg and summary the agent builds into boxed values, and each in-place
// update of them (applyRtcp, addToSummary: every RTCP report) into a new heap number (the whole
// agent then did 5-10 % fewer events per CPU-second). test/state-leg-schema.test.ts checks this.
//
// z.number() refuses NaN and ±Infinity (JSON cannot carry them anyway).
const labels = z.object({
  callDirection: z.string(),
  channelId: z.string(),
  codecName: z.string(),
  correlationId: z.string(),
  domainName: z.string(),
  dstIp: z.string(),
  srcIp: z.string(),
}) satisfies z.ZodType<LegLabels>;

const baseline = z.object({
  lastLost: z.number(),
  ssrc: z.string(),
}) satisfies z.ZodType<RtcpBaseline>;

const summary = z.object({
  jitterMaxMs: z.number(),
  jitterMinMs: z.number(),
  jitterSumMs: z.number(),
  lastFractionLost: z.number(),
  lastJitterMs: z.number(),
  lastMos: z.number(),
  lastRttMs: z.number().nullable(),
  mosMin: z.number(),
  mosSum: z.number(),
  packetsLost: z.number(),
  reports: z.number(),
  rttCount: z.number(),
  rttSumMs: z.number(),
  worstFractionLost: z.number(),
}) satisfies z.ZodType<RtcpSummary>;

/** Keys not in the schema are dropped, so what is loaded holds LegState's fields only. */
const legState = z.object({
  callUuid: z.string(),
  farEndLost: z.number(),
  inbound: z.array(baseline),
  jitterCount: z.number(),
  jitterSumMs: z.number(),
  labelSource: z.enum(["event", "lookup", "partial"]),
  labels,
  outbound: z.array(baseline),
  ownDomain: z.string(),
  qosReported: z.boolean(),
  rtcpIn: summary.nullable(),
  rtcpOut: summary.nullable(),
  rtpRate: z.number(),
  sipCallId: z.string(),
  uuid: z.string(),
  videoSsrcs: z.array(z.string()),
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
