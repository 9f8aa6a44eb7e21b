// The state of one simulated channel (call leg): what FreeSWITCH would hold in its
// switch_channel_t and caller profile, and what its events and `show channels` print.

import type { Codec } from "./codecs.js";
import type { LegMedia } from "./media.js";

export type CallDirection = "inbound" | "outbound";

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
  readonly calleeIdName: string;
  readonly calleeIdNumber: string;
  readonly networkAddr: string;
  readonly ani: string;
  readonly destination: string;
  readonly source: string;
  readonly context: string;
}

export interface SimLeg {
  readonly uuid: string;
  /** Channel-Call-UUID: the A-leg's Unique-ID, the same on every leg of the call. */
  readonly callUuid: string;
  readonly direction: CallDirection;
  /** Channel-Name, e.g. `sofia/internal/1001@tenant.example`. */
  readonly name: string;
  readonly sessionId: number;
  readonly codec: Codec;
  /** `variable_domain_name`; B-legs have none, as in the libresbc sample. */
  readonly domain: string | undefined;
  readonly presenceId: string | undefined;
  readonly profile: CallerProfile;
  readonly media: LegMedia;
  /** Channel variables in insertion order, without the `variable_` prefix. */
  readonly vars: Map<string, string>;

  state: ChannelState;
  callState: CallState;
  answerState: AnswerState;
  hitDialplan: boolean;
  /** Codec headers appear once media is negotiated (answer). */
  codecKnown: boolean;
  application: string;
  applicationData: string;
  hangupCause: string | undefined;
  other: SimLeg | undefined;
  /** Other-Type: the other leg's role (originatee on the A-leg, originator on the B-leg). */
  otherType: "originator" | "originatee" | undefined;

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
