// A leg's labels (SPEC §3) from its channel events or a FreeSWITCH lookup. Pure: the fields and
// the states already known in, the leg's next state out.

import type { EslEvent } from "../esl/event.js";
import { parseUint } from "./numbers.js";
import type { LegLabels, LegState, Unusable } from "./types.js";
import { isUnusable, REFUSAL } from "./unusable.js";

/**
 * Returns the one shared copy of a low-cardinality label value (see util/string-pool.ts); the
 * identity by default. Injected so this module stays free of state.
 */
export type Intern = (value: string) => string;

const asIs: Intern = (value) => value;

/** Read access to a leg's fields: an EslEvent, or a lookup result behind an adapter. */
interface Fields {
  get(name: string): string | undefined;
}

const UNIQUE_ID = "Unique-ID";
const CALL_UUID = "Channel-Call-UUID";
const CALL_DIRECTION = "Call-Direction";
const READ_CODEC_NAME = "Channel-Read-Codec-Name";
const READ_CODEC_RATE = "Channel-Read-Codec-Rate";
const SIP_CALL_ID = "variable_sip_call_id";
const DOMAIN_NAME = "variable_domain_name";
const SIP_FROM_HOST = "variable_sip_from_host";
const SIP_TO_HOST = "variable_sip_to_host";
const CODEC_NAME = "variable_rtp_use_codec_name";
const CODEC_RATE = "variable_rtp_use_codec_rate";
const REMOTE_MEDIA_IP = "variable_remote_media_ip";
const LOCAL_MEDIA_IP = "variable_local_media_ip";

/**
 * The leg's state after one of its channel events: CHANNEL_CREATE, CHANNEL_ANSWER,
 * CHANNEL_BRIDGE, or CHANNEL_HANGUP_COMPLETE / CHANNEL_DESTROY of a leg never seen before.
 *
 * @param event the channel event (every channel event carries the channel's data and variables)
 * @param known the leg's state so far, if any: later events refine it (ANSWER and BRIDGE bring
 *              the codec and media IPs CREATE lacked). A value the event lacks or has empty
 *              never replaces a known one; RTCP baselines, jitter history, far-end loss and the
 *              QoS-reported flag are kept as they are.
 * @param aLeg  the state of the call's A-leg (the leg whose Unique-ID is this leg's
 *              Channel-Call-UUID), if known; ignored when it is another leg or this leg itself.
 * @param intern shares the copies of domain, direction, codec and local media IP between legs.
 * @returns the next state (labelSource "event"), or `missing_unique_id`.
 *
 * correlation_id: an A-leg (Unique-ID = Channel-Call-UUID, or no Channel-Call-UUID known) uses
 * its own SIP Call-ID; a B-leg takes the A-leg's correlation_id, else keeps the one it had,
 * else the call UUID. Without any SIP Call-ID: the call UUID, else the leg's own Unique-ID.
 *
 * domain_name, highest first: own variable_domain_name; for a B-leg, the A-leg's domain when it
 * has one (a B-leg's from/to hosts are typically FreeSWITCH's own address or the carrier's,
 * not the tenant); the domain already known for the leg (so a weaker source never replaces a
 * stronger one seen earlier); variable_sip_from_host; variable_sip_to_host.
 */
export function legFromChannelEvent(
  event: EslEvent,
  known: LegState | undefined,
  aLeg: LegState | undefined,
  intern: Intern = asIs,
): LegState | Unusable {
  return buildLeg(event, known, aLeg, "event", intern, false);
}

/**
 * The leg's state from its CHANNEL_HANGUP_COMPLETE or CHANNEL_DESTROY: as legFromChannelEvent,
 * except that these events never move the leg to another call (SPEC §3). A B-leg FreeSWITCH
 * unbridged before its hangup names ITSELF as Channel-Call-UUID there, although CREATE and
 * ANSWER named the A-leg: once the leg's call is known (from its channel events or a look-up),
 * it is kept, and so are the correlation_id and domain its RTCP points carried. Only a leg
 * known nowhere, or only from a report, takes its call from the hangup event.
 *
 * @param aLeg the state of the leg's KNOWN call's A-leg (callOf(known, event)), if any.
 */
export function legAtHangup(
  event: EslEvent,
  known: LegState | undefined,
  aLeg: LegState | undefined,
  intern: Intern = asIs,
): LegState | Unusable {
  return buildLeg(event, known, aLeg, "event", intern, hasFixedCall(known));
}

/**
 * A B-leg's labels again, from its A-leg's current state: the A-leg may learn its domain after
 * its B-leg was created (a dialplan that sets domain_name, then bridges: FreeSWITCH creates and
 * answers the B-leg before the A-leg's own ANSWER and BRIDGE carry the domain), and the B-leg
 * fires no channel event of its own until its hangup. The router calls this at the A-leg's
 * CHANNEL_BRIDGE, which names the B-leg. Returns `bLeg` itself when nothing changes, or when
 * `aLeg` is not its call's A-leg.
 */
export function legWithALeg(bLeg: LegState, aLeg: LegState, intern: Intern = asIs): LegState {
  if (!hasFixedCall(bLeg) || bLeg.callUuid !== aLeg.uuid || bLeg.uuid === aLeg.uuid) return bLeg;
  const source = bLeg.labelSource === "lookup" ? "lookup" : "event";
  const next = buildLeg(new NoFields(bLeg.uuid), bLeg, aLeg, source, intern, true);
  return isUnusable(next) || next.labels === bLeg.labels ? bLeg : next;
}

/**
 * The call UUID (the A-leg's Unique-ID) an event of the leg belongs to: the event's
 * Channel-Call-UUID, except at hangup (`atHangup`), where a leg whose call is known keeps it.
 */
export function callOf(
  known: LegState | undefined,
  eventCallUuid: string | undefined,
  atHangup: boolean,
): string {
  if (atHangup && hasFixedCall(known)) return known.callUuid;
  return eventCallUuid ?? "";
}

/**
 * The call's A-leg (Channel-Call-UUID) when it is another leg than `uuid`: the leg a B-leg
 * inherits from.
 */
export function otherALeg(callUuid: unknown, uuid: string): string | undefined {
  return typeof callUuid === "string" && callUuid !== "" && callUuid !== uuid
    ? callUuid
    : undefined;
}

function hasFixedCall(known: LegState | undefined): known is LegState {
  return known !== undefined && known.labelSource !== "partial" && known.callUuid !== "";
}

/**
 * The leg's state from a FreeSWITCH lookup of a leg the agent never saw (it began before the
 * agent started): the flat object of `uuid_dump <uuid> json` (the same names as a channel
 * event's headers), or a row of `show channels as json` (`uuid`, `direction`, `call_uuid`,
 * `read_codec`, `read_rate`; such a row has no SIP Call-ID, domain or media IPs). The same
 * rules as legFromChannelEvent; labelSource "lookup" (a leg already labelled from its own
 * events stays "event").
 */
export function legFromLookup(
  fields: Readonly<Record<string, unknown>>,
  known: LegState | undefined,
  aLeg: LegState | undefined,
  intern: Intern = asIs,
): LegState | Unusable {
  return buildLeg(new LookupFields(fields), known, aLeg, "lookup", intern, false);
}

/**
 * The state of a leg known nowhere (an RTCP report for a leg with no state and no lookup
 * result): channel_id and correlation_id are its Unique-ID, every other label is empty.
 */
export function emptyLeg(uuid: string): LegState {
  const labels = {
    channelId: uuid,
    correlationId: uuid,
    domainName: "",
    callDirection: "",
    codecName: "",
    srcIp: "",
    dstIp: "",
  };
  return freshLeg(uuid, "", "", "", labels, 0, "partial");
}

/** A leg with labels and no media history yet. */
function freshLeg(
  uuid: string,
  callUuid: string,
  sipCallId: string,
  ownDomain: string,
  labels: LegLabels,
  rtpRate: number,
  labelSource: LegState["labelSource"],
): LegState {
  return {
    uuid,
    callUuid,
    sipCallId,
    ownDomain,
    labels,
    rtpRate,
    inbound: [],
    outbound: [],
    videoSsrcs: [],
    jitterSumMs: 0,
    jitterCount: 0,
    farEndLost: 0,
    rtcpIn: null,
    rtcpOut: null,
    qosReported: false,
    labelSource,
  };
}

/** `show channels as json` column names for the channel-event header names they stand for. */
const SHOW_CHANNELS_COLUMNS: Readonly<Record<string, string>> = {
  [UNIQUE_ID]: "uuid",
  [CALL_UUID]: "call_uuid",
  [CALL_DIRECTION]: "direction",
  [READ_CODEC_NAME]: "read_codec",
  [READ_CODEC_RATE]: "read_rate",
};

/** A leg's fields when only its Unique-ID is at hand (legWithALeg). */
class NoFields implements Fields {
  constructor(private readonly uuid: string) {}

  get(name: string): string | undefined {
    return name === UNIQUE_ID ? this.uuid : undefined;
  }
}

class LookupFields implements Fields {
  constructor(private readonly fields: Readonly<Record<string, unknown>>) {}

  get(name: string): string | undefined {
    const own = this.value(name);
    if (own !== undefined) return own;
    const column = SHOW_CHANNELS_COLUMNS[name];
    return column === undefined ? undefined : this.value(column);
  }

  private value(key: string): string | undefined {
    // Own keys only (a parsed JSON object inherits "constructor", "toString"...); numbers are
    // accepted as their text, anything else (null, objects) is absent.
    if (!Object.hasOwn(this.fields, key)) return undefined;
    const v = this.fields[key];
    if (typeof v === "string") return v;
    return typeof v === "number" && Number.isFinite(v) ? String(v) : undefined;
  }
}

/**
 * `next`, or the string already held when it is the same text: every event's header values are
 * new strings, and a leg keeps its state for the whole call.
 */
function kept(held: string | undefined, next: string): string {
  return held === next ? held : next;
}

function buildLeg(
  src: Fields,
  known: LegState | undefined,
  aLeg: LegState | undefined,
  source: "event" | "lookup",
  intern: Intern,
  callFixed: boolean,
): LegState | Unusable {
  const read = src.get(UNIQUE_ID);
  if (read === undefined || read === "") return REFUSAL.missingUniqueId;
  const uuid = kept(known?.uuid, read);
  const k = known?.labels;

  const readCallUuid =
    (callFixed ? known?.callUuid : undefined) || src.get(CALL_UUID) || known?.callUuid || "";
  // An A-leg's call UUID is its own Unique-ID, a B-leg's the A-leg's: one string for all of them.
  const callUuid =
    readCallUuid === uuid
      ? uuid
      : aLeg !== undefined && aLeg.uuid === readCallUuid
        ? aLeg.uuid
        : kept(known?.callUuid, readCallUuid);
  const sipCallId = kept(known?.sipCallId, src.get(SIP_CALL_ID) || known?.sipCallId || "");
  // Without Channel-Call-UUID nothing says the leg is a B-leg: it stands for its own call.
  const isALeg = callUuid === "" || callUuid === uuid;
  const a = !isALeg && aLeg !== undefined && aLeg.uuid === callUuid ? aLeg.labels : undefined;
  // A partial leg's correlation_id is only its own Unique-ID standing in for anything better.
  const keptCorrelation = known !== undefined && known.labelSource !== "partial" ? k : undefined;

  const correlationId = isALeg
    ? sipCallId || callUuid || uuid
    : a?.correlationId || keptCorrelation?.correlationId || callUuid;
  const ownDomain = intern(src.get(DOMAIN_NAME) || known?.ownDomain || "");
  const domainName = intern(
    ownDomain ||
      a?.domainName ||
      k?.domainName ||
      src.get(SIP_FROM_HOST) ||
      src.get(SIP_TO_HOST) ||
      "",
  );
  const callDirection = intern(src.get(CALL_DIRECTION) || k?.callDirection || "");
  const codecName = intern(src.get(CODEC_NAME) || src.get(READ_CODEC_NAME) || k?.codecName || "");
  // The far end's address has as many values as there are peers: not pooled.
  const srcIp = kept(k?.srcIp, src.get(REMOTE_MEDIA_IP) || k?.srcIp || "");
  const dstIp = intern(src.get(LOCAL_MEDIA_IP) || k?.dstIp || "");

  // The RTP clock, which RTCP jitter is counted in. variable_rtp_use_codec_rate is the SDP
  // rtpmap rate, i.e. the RTP clock; Channel-Read-Codec-Rate is the codec's sampling rate, which
  // differs for G722 (16000 vs an 8000 clock, the cgrates sample) and can differ for opus. A
  // rate already known (an earlier event, or a RECV report's RTP-Rate) beats that fallback.
  const rtpRate =
    positive(src.get(CODEC_RATE)) ||
    known?.rtpRate ||
    rtpClockFromSamplingRate(codecName, positive(src.get(READ_CODEC_RATE)));

  const labels =
    k !== undefined &&
    k.channelId === uuid &&
    k.correlationId === correlationId &&
    k.domainName === domainName &&
    k.callDirection === callDirection &&
    k.codecName === codecName &&
    k.srcIp === srcIp &&
    k.dstIp === dstIp
      ? k // unchanged: keep the object, so sinks that cache attributes per label set reuse it
      : { channelId: uuid, correlationId, domainName, callDirection, codecName, srcIp, dstIp };
  const labelSource = known?.labelSource === "event" ? "event" : source;

  if (known === undefined) {
    return freshLeg(uuid, callUuid, sipCallId, ownDomain, labels, rtpRate, labelSource);
  }
  return { ...known, uuid, callUuid, sipCallId, ownDomain, labels, rtpRate, labelSource };
}

/** A positive integer, else 0 (unknown). */
function positive(text: string | undefined): number {
  return parseUint(text) ?? 0;
}

/**
 * The RTP clock for a codec when only its sampling rate is known (Channel-Read-Codec-Rate,
 * `read_rate`): G722 is clocked at 8000 although it samples at 16000 (RFC 3551 §4.5.2), opus
 * always at 48000 whatever rate it runs at (RFC 7587 §4.1). Other codecs: the same number.
 */
function rtpClockFromSamplingRate(codecName: string, samplingRate: number): number {
  const upper = codecName.toUpperCase();
  if (upper === "G722") return 8000;
  if (upper === "OPUS") return 48000;
  return samplingRate;
}
