// Creates legs the way sofia would: an inbound A-leg from a phone (on the `internal` profile), and
// an outbound B-leg a bridge sends to a carrier gateway (on `external`), each with the variables
// FreeSWITCH has set by its CHANNEL_CREATE. The values follow the captures in
// test/fixtures/freeswitch-1.11; the calls are unauthenticated, as there, so the tenant domain
// shows in the SIP hosts and there is no `domain_name`.

import type { Codec } from "./codecs.js";
import type { EventFactory } from "./events.js";
import { toMicros } from "./format.js";
import {
  type CallDirection,
  type CallerProfile,
  type LegRole,
  otherLegOf,
  type SimLeg,
} from "./leg.js";
import { LegMedia, type NetProfile } from "./media.js";
import type { Prng } from "./prng.js";
import { freeswitchSdp, OPUS_FMTP, remoteSdp } from "./sdp.js";

/** What FreeSWITCH's two sofia profiles are called and where they listen. */
export const PHONE_PROFILE = { name: "internal", port: 5060 } as const;
export const CARRIER_PROFILE = { name: "external", port: 5080 } as const;
/** The SIP port of the simulator's phones and carriers (so sofia sets no `sip_via_port`). */
const PEER_SIP_PORT = "5060";
const SIP_ALLOW =
  "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY";
const PHONE_AGENT = "Yealink SIP-T46S 66.86.0.15";
const CARRIER_AGENT = "Carrier SBC";
/** Every codec the simulated switch offers, in its preference order (vars.xml of the lab). */
export const CODEC_PREFS = "PCMU,PCMA,G722,OPUS";

export interface ALegSpec {
  uuid: string;
  role: Extract<LegRole, "bridged-a" | "lone">;
  sessionId: number;
  nowMs: number;
  codec: Codec;
  /** Tenant domain of the phone; undefined for a call without one (then hosts are addresses). */
  domain: string | undefined;
  profile: NetProfile;
  callerNumber: string;
  destination: string;
  sipCallId: string;
}

export interface BLegSpec {
  uuid: string;
  sessionId: number;
  nowMs: number;
  codec: Codec;
  profile: NetProfile;
  sipCallId: string;
  gatewayIp: string;
}

/**
 * The address of the phone registered as `callerNumber`: the same on each of its calls, as a real
 * phone's is. It becomes the domain of a call without a domain, so a random address per call
 * would make every such call a new aggregate series.
 */
function phoneAddress(callerNumber: string): string {
  let hash = 2166136261;
  for (let i = 0; i < callerNumber.length; i++) {
    hash = Math.imul(hash ^ callerNumber.charCodeAt(i), 16777619) >>> 0;
  }
  return `198.51.100.${2 + (hash % 253)}`;
}

function evenPort(prng: Prng): number {
  return prng.int(8192, 16383) * 2;
}

/** sofia's tags and branches: 13 characters of [A-Za-z0-9]. */
export function sofiaTag(prng: Prng): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  let out = "";
  for (let i = 0; i < 13; i++) out += chars[prng.int(0, chars.length - 1)]!;
  return out;
}

function newMedia(prng: Prng, uuid: string, codec: Codec, profile: NetProfile): LegMedia {
  return new LegMedia({
    uuid,
    codec,
    profile,
    fsSsrc: prng.uint32(),
    peerSsrc: prng.uint32(),
    fsSeqBase: prng.int(0, 65535),
    peerSeqBase: prng.int(0, 65535),
    fsTsBase: prng.uint32(),
    peerTsBase: prng.uint32(),
  });
}

/** `CORE_PCM_MODULE.PCMU@8000h@20i@64000b`: the codec string FreeSWITCH keeps per endpoint. */
function endpointCodec(c: Codec): string {
  return c.name === "opus"
    ? `${c.module}.${c.name}@${c.rtpRate}h@${c.ptimeMs}i@2c`
    : `${c.module}.${c.name}@${c.rtpRate}h@${c.ptimeMs}i@${c.bitRate}b`;
}

/** `PCMU@8000h@20i`. */
export function codecString(c: Codec): string {
  return `${c.name}@${c.rtpRate}h@${c.ptimeMs}i`;
}

/** The negotiated codec's variables, set on an inbound leg at CREATE and on a B-leg at answer. */
export function setCodecVariables(v: Map<string, string>, c: Codec): void {
  v.set("rtp_audio_recv_pt", String(c.payloadType));
  v.set("rtp_use_codec_name", c.name);
  if (c.name === "opus") v.set("rtp_use_codec_fmtp", OPUS_FMTP);
  v.set("rtp_use_codec_rate", String(c.rtpRate));
  v.set("rtp_use_codec_ptime", String(c.ptimeMs));
  v.set("rtp_use_codec_channels", "1");
  v.set("rtp_last_audio_codec_string", `${codecString(c)}@1c`);
  v.set("read_codec", c.name);
  v.set("original_read_codec", c.name);
  v.set("read_rate", String(c.sampleRate));
  v.set("original_read_rate", String(c.sampleRate));
  v.set("write_codec", c.name);
  v.set("write_rate", String(c.sampleRate));
  v.set("dtmf_type", "rfc2833");
  v.set("remote_video_media_flow", "inactive");
  v.set("remote_text_media_flow", "inactive");
  v.set("remote_audio_media_flow", "sendrecv");
  v.set("audio_media_flow", "sendrecv");
}

function newLeg(
  fields: Pick<
    SimLeg,
    "uuid" | "role" | "callUuid" | "name" | "sessionId" | "codec" | "profile"
  > & {
    direction: CallDirection;
  },
  media: LegMedia,
  nowMs: number,
): SimLeg {
  return {
    ...fields,
    media,
    vars: new Map(),
    lastLayout: undefined,
    state: "CS_INIT",
    callState: "DOWN",
    answerState: "ringing",
    hitDialplan: fields.direction === "inbound",
    // An inbound leg has negotiated its codec from the offer before CHANNEL_CREATE.
    codecKnown: fields.direction === "inbound",
    application: "",
    applicationData: "",
    hangupCause: undefined,
    other: undefined,
    createdUs: toMicros(nowMs),
    answeredUs: 0,
    progressUs: 0,
    progressMediaUs: 0,
    bridgedUs: 0,
    hangupUs: 0,
  };
}

/** An inbound leg from a phone, as CHANNEL_CREATE shows it. */
export function buildALeg(prng: Prng, factory: EventFactory, spec: ALegSpec): SimLeg {
  const phoneIp = phoneAddress(spec.callerNumber);
  const fromHost = spec.domain ?? phoneIp;
  const toHost = spec.domain ?? factory.ipv4;
  const caller = spec.callerNumber;
  const display = `Extension ${caller}`;
  const name = `sofia/${PHONE_PROFILE.name}/${caller}@${fromHost}`;
  const profile: CallerProfile = {
    username: caller,
    dialplan: "XML",
    callerIdName: display,
    callerIdNumber: caller,
    calleeIdName: "",
    calleeIdNumber: "",
    networkAddr: phoneIp,
    ani: caller,
    destination: spec.destination,
    source: "mod_sofia",
    context: "default",
  };
  const leg = newLeg(
    {
      uuid: spec.uuid,
      role: spec.role,
      callUuid: spec.uuid,
      direction: "inbound",
      name,
      sessionId: spec.sessionId,
      codec: spec.codec,
      profile,
    },
    newMedia(prng, spec.uuid, spec.codec, spec.profile),
    spec.nowMs,
  );
  const mediaPort = evenPort(prng);
  const fromTag = sofiaTag(prng);
  const v = leg.vars;
  const fsUrl = `sip:mod_sofia@${factory.ipv4}:${PHONE_PROFILE.port}`;
  v.set("direction", "inbound");
  v.set("uuid", spec.uuid);
  v.set("call_uuid", spec.uuid);
  v.set("session_id", String(spec.sessionId));
  v.set("sip_from_user", caller);
  v.set("sip_from_uri", `${caller}@${fromHost}`);
  v.set("sip_from_host", fromHost);
  v.set("video_media_flow", "disabled");
  v.set("text_media_flow", "disabled");
  v.set("channel_name", name);
  v.set("sip_call_id", spec.sipCallId);
  v.set("sip_local_network_addr", factory.ipv4);
  v.set("sip_network_ip", phoneIp);
  v.set("sip_network_port", PEER_SIP_PORT);
  v.set("sip_invite_stamp", String(leg.createdUs));
  v.set("sip_received_ip", phoneIp);
  v.set("sip_received_port", PEER_SIP_PORT);
  v.set("sip_via_protocol", "udp");
  v.set("sip_from_user_stripped", caller);
  v.set("sip_from_tag", fromTag);
  v.set("sofia_profile_name", PHONE_PROFILE.name);
  v.set("sofia_profile_url", fsUrl);
  v.set("recovery_profile_name", PHONE_PROFILE.name);
  v.set(
    "sip_Remote-Party-ID",
    `"${display}" <sip:${caller}@${fromHost}>;party=calling;screen=yes;privacy=off`,
  );
  v.set("sip_cid_type", "rpid");
  v.set("sip_full_via", `SIP/2.0/UDP ${phoneIp};rport=5060;branch=z9hG4bK${sofiaTag(prng)}`);
  v.set("sip_from_display", display);
  v.set("sip_full_from", `"${display}" <sip:${caller}@${fromHost}>;tag=${fromTag}`);
  v.set("sip_full_to", `<sip:${spec.destination}@${toHost}>`);
  v.set("sip_allow", SIP_ALLOW);
  v.set("sip_req_user", spec.destination);
  v.set("sip_req_port", String(PHONE_PROFILE.port));
  v.set("sip_req_uri", `${spec.destination}@${toHost}:${PHONE_PROFILE.port}`);
  v.set("sip_req_host", toHost);
  v.set("sip_to_user", spec.destination);
  v.set("sip_to_port", String(PHONE_PROFILE.port));
  v.set("sip_to_uri", `${spec.destination}@${toHost}:${PHONE_PROFILE.port}`);
  v.set("sip_to_host", toHost);
  v.set("sip_contact_user", caller);
  v.set("sip_contact_port", PEER_SIP_PORT);
  v.set("sip_contact_uri", `${caller}@${phoneIp}:${PEER_SIP_PORT}`);
  v.set("sip_contact_host", phoneIp);
  v.set("sip_user_agent", PHONE_AGENT);
  v.set("sip_via_host", phoneIp);
  v.set("sip_via_rport", PEER_SIP_PORT);
  v.set("max_forwards", "70");
  v.set("switch_r_sdp", remoteSdp(prng, phoneIp, mediaPort, spec.codec));
  v.set("ep_codec_string", endpointCodec(spec.codec));
  v.set("rtp_use_codec_string", CODEC_PREFS);
  v.set("remote_media_ip", phoneIp);
  v.set("remote_media_port", String(mediaPort));
  setCodecVariables(v, spec.codec);
  v.set("endpoint_disposition", "RECEIVED");
  return leg;
}

/** An outbound leg the A-leg's bridge originated towards a carrier gateway. */
export function buildBLeg(prng: Prng, factory: EventFactory, a: SimLeg, spec: BLegSpec): SimLeg {
  const destination = a.profile.destination;
  const gw = spec.gatewayIp;
  const name = `sofia/${CARRIER_PROFILE.name}/${destination}@${gw}:${PEER_SIP_PORT}`;
  const profile: CallerProfile = {
    username: a.profile.username,
    dialplan: "XML",
    callerIdName: a.profile.callerIdName,
    callerIdNumber: a.profile.callerIdNumber,
    calleeIdName: "Outbound Call",
    calleeIdNumber: destination,
    networkAddr: gw,
    ani: a.profile.ani,
    destination,
    source: "mod_sofia",
    context: a.profile.context,
  };
  const leg = newLeg(
    {
      uuid: spec.uuid,
      role: "b",
      callUuid: a.uuid,
      direction: "outbound",
      name,
      sessionId: spec.sessionId,
      codec: spec.codec,
      profile,
    },
    newMedia(prng, spec.uuid, spec.codec, spec.profile),
    spec.nowMs,
  );
  leg.other = otherLegOf(a, "originator");
  const v = leg.vars;
  const fsUrl = `sip:mod_sofia@${factory.ipv4}:${CARRIER_PROFILE.port}`;
  const localPort = evenPort(prng);
  v.set("direction", "outbound");
  v.set("is_outbound", "true");
  v.set("uuid", spec.uuid);
  v.set("session_id", String(spec.sessionId));
  v.set("sip_local_network_addr", factory.ipv4);
  v.set("sip_profile_name", CARRIER_PROFILE.name);
  v.set("text_media_flow", "disabled");
  v.set("channel_name", name);
  v.set("sip_destination_url", `sip:${destination}@${gw}:${PEER_SIP_PORT}`);
  v.set("sip_cid_type", "rpid");
  v.set("max_forwards", "69");
  v.set("originator_codec", codecString(a.codec));
  v.set("originator", a.uuid);
  v.set("signal_bond", a.uuid);
  v.set("switch_m_sdp", a.vars.get("switch_r_sdp") ?? "");
  v.set("call_uuid", a.uuid);
  const rtcp = a.vars.get("rtcp_audio_interval_msec");
  if (rtcp !== undefined) v.set("rtcp_audio_interval_msec", rtcp);
  const fire = a.vars.get("fire_rtcp_events");
  if (fire !== undefined) v.set("fire_rtcp_events", fire);
  v.set("originate_early_media", "true");
  v.set("originating_leg_uuid", a.uuid);
  v.set("originate_endpoint", "sofia");
  v.set("rtp_use_codec_string", codecString(spec.codec));
  v.set("local_media_ip", factory.ipv4);
  v.set("local_media_port", String(localPort));
  v.set("advertised_media_ip", factory.ipv4);
  v.set("audio_media_flow", "sendrecv");
  v.set("video_media_flow", "inactive");
  v.set("rtp_local_sdp_str", freeswitchSdp(prng, factory.ipv4, localPort, spec.codec));
  v.set("sip_outgoing_contact_uri", `<${fsUrl}>`);
  v.set("sip_req_uri", `${destination}@${gw}:${PEER_SIP_PORT}`);
  v.set("sip_to_host", `${gw}:${PEER_SIP_PORT}`);
  v.set("sip_from_host", factory.ipv4);
  v.set("sofia_profile_name", CARRIER_PROFILE.name);
  v.set("recovery_profile_name", CARRIER_PROFILE.name);
  v.set("sofia_profile_url", fsUrl);
  v.set("sip_from_tag", sofiaTag(prng));
  v.set("sip_call_id", spec.sipCallId);
  v.set("sip_user_agent", CARRIER_AGENT);
  v.set("sip_allow", SIP_ALLOW);
  return leg;
}

/** A carrier gateway address for B-legs. */
export function gatewayIp(prng: Prng): string {
  return `203.0.113.${prng.int(2, 254)}`;
}
