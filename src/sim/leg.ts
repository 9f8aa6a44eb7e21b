// The state of one simulated channel (call leg): what FreeSWITCH would hold in its
// switch_channel_t and caller profile, and what its events and `show channels` print.

import type { Codec } from "./codecs.js";
import type { VariableLayout } from "./layouts/variables.js";
import type { LegMedia } from "./media.js";

export type CallDirection = "inbound" | "outbound";

/**
 * What the leg is in its call, which decides its event layouts: an inbound A-leg bridged to a
 * B-leg (the lab's L2), the outbound B-leg (L3), or an inbound leg the switch answers itself
 * (L4).
 */
export type LegRole = "bridged-a" | "b" | "lone";

/** switch_channel_state_t names; the index is Channel-State-Number. */
export const CHANNEL_STATES = [
  "CS_NEW",
  "CS_INIT",
  "CS_ROUTING",
  "CS_SOFT_EXECUTE",
  "CS_EXECUTE",
  "CS_EXCHANGE_MEDIA",
  "CS_PARK",
  "CS_CONSUME_MEDIA",
  "CS_HIBERNATE",
  "CS_RESET",
  "CS_HANGUP",
  "CS_REPORTING",
  "CS_DESTROY",
] as const;

export type ChannelState = (typeof CHANNEL_STATES)[number];
export type CallState = "DOWN" | "RINGING" | "EARLY" | "ACTIVE" | "HANGUP";
export type AnswerState = "ringing" | "early" | "answered" | "hangup";

export interface CallerProfile {
  readonly username: string;
  readonly dialplan: string;
  readonly callerIdName: string;
  readonly callerIdNumber: string;
  /** Empty until the far end is known (an A-leg learns it when its B-leg rings). */
  calleeIdName: string;
  calleeIdNumber: string;
  readonly networkAddr: string;
  readonly ani: string;
  readonly destination: string;
  readonly source: string;
  readonly context: string;
}

/** The other leg as an event's Other-Leg-* block shows it: a copy taken when the legs met. */
export interface OtherLeg {
  readonly type: "originator" | "originatee";
  readonly uuid: string;
  readonly direction: CallDirection;
  readonly name: string;
  readonly profile: CallerProfile;
  readonly createdUs: number;
  readonly answeredUs: number;
}

export interface SimLeg {
  readonly uuid: string;
  readonly role: LegRole;
  /**
   * Channel-Call-UUID: the A-leg's Unique-ID on every leg of a call, until FreeSWITCH unbridges a
   * B-leg, which from then on names itself.
   */
  callUuid: string;
  readonly direction: CallDirection;
  /** Channel-Name, e.g. `sofia/internal/1001@tenant.example`. */
  readonly name: string;
  readonly sessionId: number;
  readonly codec: Codec;
  readonly profile: CallerProfile;
  readonly media: LegMedia;
  /** Channel variables without the `variable_` prefix; the layouts decide what is printed. */
  readonly vars: Map<string, string>;
  /** The variable layout of the leg's last channel event (what `uuid_dump` prints by default). */
  lastLayout: VariableLayout | undefined;

  state: ChannelState;
  callState: CallState;
  answerState: AnswerState;
  hitDialplan: boolean;
  /** Codec headers appear once the codec is set: at CREATE on an inbound leg, at answer on a B-leg. */
  codecKnown: boolean;
  application: string;
  applicationData: string;
  hangupCause: string | undefined;
  other: OtherLeg | undefined;

  // Times in microseconds since the epoch; 0 until they happen (as the Caller-*-Time headers).
  createdUs: number;
  answeredUs: number;
  progressUs: number;
  progressMediaUs: number;
  bridgedUs: number;
  hangupUs: number;
}

export function stateNumber(state: ChannelState): number {
  return CHANNEL_STATES.indexOf(state);
}

/** The Other-Leg-* view of `leg` as FreeSWITCH copies it when two legs meet. */
export function otherLegOf(leg: SimLeg, type: OtherLeg["type"]): OtherLeg {
  return {
    type,
    uuid: leg.uuid,
    direction: leg.direction,
    name: leg.name,
    profile: { ...leg.profile },
    createdUs: leg.createdUs,
    answeredUs: leg.answeredUs,
  };
}
