// Creates legs the way sofia would: an inbound A-leg from a phone in a tenant domain, and an
// outbound B-leg to a carrier gateway (own sip_call_id, no domain_name, as in the libresbc
// B-leg sample), each with the SIP and SDP variables FreeSWITCH sets at CHANNEL_CREATE.

import type { Codec } from "./codecs.js";
import type { EventFactory } from "./events.js";
import { toMicros } from "./format.js";
import type { SimLeg } from "./leg.js";
import { LegMedia, type NetProfile } from "./media.js";
import type { Prng } from "./prng.js";

export interface ALegSpec {
  uuid: string;
  sessionId: number;
  nowMs: number;
  codec: Codec;
  /** Tenant domain; undefined for a call without one (then sip hosts are IP addresses). */
  domain: string | undefined;
  profile: NetProfile;
  callerNumber: string;
  destination: string;
  sipCallId: string;
  /** `rtcp_audio_interval_msec` the dialplan set; 0 for none. */
  rtcpIntervalMs: number;
  application: string;
  applicationData: string;
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

function randomIp(prng: Prng, prefix: string): string {
  return `${prefix}.${prng.int(2, 254)}`;
}

/**
 * The address of the phone registered as `callerNumber`: the same on each of its calls, as a real
 * phone's is. It becomes the domain_name of a call without a domain, so a random address per
 * call would make every such call a new aggregate series.
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

/** The SDP a phone or carrier offers (`switch_r_sdp`), CRLF line ends as on the wire. */
export function offerSdp(prng: Prng, ip: string, port: number, codec: Codec): string {
  const session = prng.int(100000000, 999999999);
  const encoding =
    codec.name === "opus" ? `${codec.name}/${codec.rtpRate}/2` : `${codec.name}/${codec.rtpRate}`;
  return [
    "v=0",
    `o=- ${session} ${session} IN IP4 ${ip}`,
    "s=-",
    `c=IN IP4 ${ip}`,
    "t=0 0",
    `m=audio ${port} RTP/AVP ${codec.payloadType} 101`,
    `a=rtpmap:${codec.payloadType} ${encoding}`,
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=ptime:20",
    "a=sendrecv",
    "",
  ].join("\r\n");
}

function baseLeg(
  fields: Pick<
    SimLeg,
    | "uuid"
    | "callUuid"
    | "direction"
    | "name"
    | "sessionId"
    | "codec"
    | "domain"
    | "presenceId"
    | "profile"
    | "media"
  >,
  nowMs: number,
  hitDialplan: boolean,
  application: string,
  applicationData: string,
): SimLeg {
  return {
    ...fields,
    vars: new Map(),
    state: "CS_INIT",
    callState: "DOWN",
    answerState: "ringing",
    hitDialplan,
    codecKnown: false,
    application,
    applicationData,
    hangupCause: undefined,
    other: undefined,
    otherType: undefined,
    createdUs: toMicros(nowMs),
    answeredUs: 0,
    progressUs: 0,
    progressMediaUs: 0,
    bridgedUs: 0,
    hangupUs: 0,
  };
}

/** An inbound leg from a registered phone. */
export function buildALeg(prng: Prng, factory: EventFactory, spec: ALegSpec): SimLeg {
  const phoneIp = phoneAddress(spec.callerNumber);
  const fromHost = spec.domain ?? phoneIp;
  const toHost = spec.domain ?? factory.ipv4;
  const name = `sofia/internal/${spec.callerNumber}@${fromHost}`;
  const mediaPort = evenPort(prng);
  const leg = baseLeg(
    {
      uuid: spec.uuid,
      callUuid: spec.uuid,
      direction: "inbound",
      name,
      sessionId: spec.sessionId,
      codec: spec.codec,
      domain: spec.domain,
      presenceId: spec.domain === undefined ? undefined : `${spec.callerNumber}@${spec.domain}`,
      profile: {
        username: spec.callerNumber,
        dialplan: "XML",
        callerIdName: `Extension ${spec.callerNumber}`,
        callerIdNumber: spec.callerNumber,
        calleeIdName: "",
        calleeIdNumber: "",
        networkAddr: phoneIp,
        ani: spec.callerNumber,
        destination: spec.destination,
        source: "mod_sofia",
        context: "default",
      },
      media: newMedia(prng, spec.uuid, spec.codec, spec.profile),
    },
    spec.nowMs,
    true,
    spec.application,
    spec.applicationData,
  );
  const v = leg.vars;
  v.set("direction", "inbound");
  v.set("uuid", spec.uuid);
  v.set("session_id", String(spec.sessionId));
  v.set("sip_from_user", spec.callerNumber);
  v.set("sip_from_uri", `${spec.callerNumber}@${fromHost}`);
  v.set("sip_from_host", fromHost);
  v.set("channel_name", name);
  v.set("sip_local_network_addr", factory.ipv4);
  v.set("sip_network_ip", phoneIp);
  v.set("sip_network_port", "5060");
  v.set("sip_received_ip", phoneIp);
  v.set("sip_received_port", "5060");
  v.set("sip_via_protocol", "udp");
  if (spec.domain !== undefined) {
    v.set("sip_authorized", "true");
    v.set("user_name", spec.callerNumber);
    v.set("domain_name", spec.domain);
  }
  v.set("sip_from_user_stripped", spec.callerNumber);
  v.set("sofia_profile_name", "internal");
  v.set("recovery_profile_name", "internal");
  v.set("sip_req_user", spec.destination);
  v.set("sip_req_uri", `${spec.destination}@${toHost}`);
  v.set("sip_req_host", toHost);
  v.set("sip_to_user", spec.destination);
  v.set("sip_to_uri", `${spec.destination}@${toHost}`);
  v.set("sip_to_host", toHost);
  v.set("sip_contact_user", spec.callerNumber);
  v.set("sip_contact_port", "5060");
  v.set("sip_contact_uri", `${spec.callerNumber}@${phoneIp}:5060`);
  v.set("sip_contact_host", phoneIp);
  v.set("sip_via_host", phoneIp);
  v.set("sip_via_port", "5060");
  v.set("max_forwards", "70");
  v.set("sip_from_tag", prng.hex(10));
  v.set("sip_cseq", String(prng.int(1, 999)));
  v.set("sip_call_id", spec.sipCallId);
  v.set(
    "sip_full_from",
    `"Extension ${spec.callerNumber}" <sip:${spec.callerNumber}@${fromHost}>;tag=${v.get("sip_from_tag")}`,
  );
  v.set("sip_full_to", `<sip:${spec.destination}@${toHost}>`);
  v.set("switch_r_sdp", offerSdp(prng, phoneIp, mediaPort, spec.codec));
  v.set("remote_media_ip", phoneIp);
  v.set("remote_media_port", String(mediaPort));
  v.set("call_uuid", spec.uuid);
  if (spec.rtcpIntervalMs > 0) v.set("rtcp_audio_interval_msec", String(spec.rtcpIntervalMs));
  return leg;
}

/** An outbound leg the A-leg originated towards a gateway. */
export function buildBLeg(prng: Prng, factory: EventFactory, a: SimLeg, spec: BLegSpec): SimLeg {
  const destination = a.profile.destination;
  const name = `sofia/external/${destination}`;
  const leg = baseLeg(
    {
      uuid: spec.uuid,
      callUuid: a.uuid,
      direction: "outbound",
      name,
      sessionId: spec.sessionId,
      codec: spec.codec,
      domain: undefined,
      presenceId: undefined,
      profile: {
        username: a.profile.username,
        dialplan: "XML",
        callerIdName: a.profile.callerIdName,
        callerIdNumber: a.profile.callerIdNumber,
        calleeIdName: "Outbound Call",
        calleeIdNumber: destination,
        networkAddr: spec.gatewayIp,
        ani: a.profile.ani,
        destination,
        source: "mod_sofia",
        context: "default",
      },
      media: newMedia(prng, spec.uuid, spec.codec, spec.profile),
    },
    spec.nowMs,
    false,
    "",
    "",
  );
  leg.state = "CS_INIT";
  leg.other = a;
  leg.otherType = "originator";
  const v = leg.vars;
  v.set("direction", "outbound");
  v.set("is_outbound", "true");
  v.set("uuid", spec.uuid);
  v.set("session_id", String(spec.sessionId));
  v.set("sip_profile_name", "external");
  v.set("channel_name", name);
  v.set("sip_destination_url", `sip:${destination}@${spec.gatewayIp}:5060`);
  v.set("max_forwards", "69");
  v.set("originator", a.uuid);
  v.set("originating_leg_uuid", a.uuid);
  v.set("sofia_profile_name", "external");
  v.set("recovery_profile_name", "external");
  v.set("sip_local_network_addr", factory.ipv4);
  v.set("sip_req_uri", `${destination}@${spec.gatewayIp}:5060`);
  v.set("sip_network_ip", spec.gatewayIp);
  v.set("sip_network_port", "5060");
  v.set("sip_from_user", a.profile.callerIdNumber);
  v.set("sip_from_uri", `${a.profile.callerIdNumber}@${factory.ipv4}`);
  v.set("sip_from_host", factory.ipv4);
  v.set("sip_to_user", destination);
  v.set("sip_to_port", "5060");
  v.set("sip_to_uri", `${destination}@${spec.gatewayIp}:5060`);
  v.set("sip_to_host", spec.gatewayIp);
  v.set("sip_from_tag", prng.hex(13));
  v.set("sip_cseq", String(prng.int(1000000, 99999999)));
  v.set("sip_call_id", spec.sipCallId);
  v.set("call_uuid", a.uuid);
  return leg;
}

/** A carrier gateway address for B-legs. */
export function gatewayIp(prng: Prng): string {
  return randomIp(prng, "203.0.113");
}
