// State changes of a leg through its life (dialplan, ringing, answer, bridge, unbridge, hangup,
// reporting, destroy) with the channel variables FreeSWITCH sets at each step. Events are fired
// by the caller, after the change; each event's layout (layouts/) decides which of the variables
// set so far it prints.

import type { EventFactory } from "./events.js";
import { localStamp, toMicros } from "./format.js";
import { otherLegOf, type SimLeg } from "./leg.js";
import { codecString, setCodecVariables, sofiaTag } from "./leg-builder.js";
import type { Prng } from "./prng.js";
import { type QosStats, qosVariables } from "./qos.js";
import { freeswitchSdp, remoteSdp } from "./sdp.js";

/** Q.850 codes of the hangup causes the simulator uses. */
const Q850: Record<string, number> = {
  NORMAL_CLEARING: 16,
  ORIGINATOR_CANCEL: 487,
  NO_ANSWER: 19,
  USER_BUSY: 17,
  NORMAL_TEMPORARY_FAILURE: 41,
};

/** What the dialplan of the simulated switch does with an inbound leg. */
export interface DialplanOptions {
  /** `rtcp_audio_interval_msec` it sets; 0 sets none (then there is no RTCP). */
  rtcpIntervalMs: number;
  /** `fire_rtcp_events=true`, without which FreeSWITCH fires no SEND_RTCP_MESSAGE. */
  fireRtcpEvents: boolean;
  /** The bridge's dial string (bridged A-legs). */
  dialString: string;
}

/** The dialplan picks the leg's extension: variables, then `bridge` or (ringing) `sleep`. */
export function runDialplan(leg: SimLeg, o: DialplanOptions, prng: Prng): void {
  const v = leg.vars;
  const dest = leg.profile.destination;
  v.set("DP_MATCH", `ARRAY::${dest}|:${dest}`);
  v.set("sip_cseq", String(prng.int(1, 999)));
  // FreeSWITCH's provisional answer (180 Ringing) carries its To tag.
  v.set("sip_to_tag", sofiaTag(prng));
  if (o.rtcpIntervalMs > 0) v.set("rtcp_audio_interval_msec", String(o.rtcpIntervalMs));
  if (o.fireRtcpEvents) v.set("fire_rtcp_events", "true");
  if (leg.role === "bridged-a") {
    v.set("hangup_after_bridge", "true");
    v.set("inherit_codec", "true");
    setApplication(leg, "bridge", o.dialString);
  } else {
    // A lone leg rings (ring_ready) for a while before the dialplan answers it.
    setApplication(leg, "sleep", "2000");
    leg.progressUs = leg.createdUs;
  }
  leg.state = "CS_EXECUTE";
  leg.callState = "RINGING";
}

function setApplication(leg: SimLeg, app: string, data: string): void {
  leg.application = app;
  leg.applicationData = data;
  leg.vars.set("current_application", app);
  leg.vars.set("current_application_data", data);
}

/**
 * The bridge originated B: the A-leg learns its callee and the originate's bookkeeping; the
 * B-leg gets its carrier's 180 Ringing (the SIP dialog variables).
 */
export function originate(a: SimLeg, b: SimLeg, nowMs: number, prng: Prng): void {
  const dest = b.profile.destination;
  a.profile.calleeIdName = dest;
  a.profile.calleeIdNumber = dest;
  a.vars.set("originate_signal_bond", b.uuid);
  a.vars.set("originated_legs", `${b.uuid};Outbound Call;${dest}`);

  const gw = b.profile.networkAddr;
  const v = b.vars;
  const toTag = sofiaTag(prng);
  const fromTag = v.get("sip_from_tag") ?? sofiaTag(prng);
  const caller = a.profile.callerIdNumber;
  const fsIp = b.vars.get("sip_local_network_addr") ?? "";
  const contact = `${dest}@${gw}:5060`;
  v.set("sip_reply_host", gw);
  v.set("sip_reply_port", "5060");
  v.set("sip_network_ip", gw);
  v.set("sip_network_port", "5060");
  v.set("sip_recover_contact", `<sip:${contact};transport=udp>`);
  const via = `SIP/2.0/UDP ${fsIp}:5080;rport=5080;branch=z9hG4bK${sofiaTag(prng)}`;
  v.set("sip_full_via", via);
  v.set("sip_recover_via", via);
  v.set("sip_from_display", a.profile.callerIdName);
  v.set("sip_full_from", `"${a.profile.callerIdName}" <sip:${caller}@${fsIp}>;tag=${fromTag}`);
  v.set("sip_full_to", `<sip:${dest}@${gw}:5060>;tag=${toTag}`);
  v.set("sip_from_user", caller);
  v.set("sip_from_uri", `${caller}@${fsIp}`);
  v.set("sip_to_user", dest);
  v.set("sip_to_port", "5060");
  v.set("sip_to_uri", contact);
  v.set("sip_to_host", gw);
  v.set("sip_contact_params", "transport=udp");
  v.set("sip_contact_user", dest);
  v.set("sip_contact_port", "5060");
  v.set("sip_contact_uri", contact);
  v.set("sip_contact_host", gw);
  v.set("sip_to_tag", toTag);
  v.set("sip_cseq", String(prng.int(1000000, 199999999)));
  b.progressUs = toMicros(nowMs);
  a.progressUs = b.progressUs;
  b.callState = "RINGING";
}

/** Media negotiated and the leg answered: FreeSWITCH's own SDP and RTP variables appear. */
export function answerLeg(leg: SimLeg, nowMs: number, prng: Prng, factory: EventFactory): void {
  const v = leg.vars;
  const c = leg.codec;
  leg.callState = "ACTIVE";
  leg.answerState = "answered";
  leg.answeredUs = toMicros(nowMs);
  if (leg.direction === "outbound") {
    // The carrier's 200 OK carries its SDP: the codec is set from it.
    const gw = leg.profile.networkAddr;
    const port = prng.int(5000, 15000) * 2;
    v.set("switch_r_sdp", remoteSdp(prng, gw, port, c));
    v.set("ep_codec_string", `${c.module}.${codecString(c)}`);
    setCodecVariables(v, c);
    v.set("remote_media_ip", gw);
    v.set("remote_media_port", String(port));
    leg.codecKnown = true;
    leg.state = "CS_CONSUME_MEDIA";
  } else {
    const port = prng.int(8192, 16383) * 2;
    v.set("video_media_flow", "inactive");
    v.set("text_media_flow", "inactive");
    v.set("rtp_local_sdp_str", freeswitchSdp(prng, factory.ipv4, port, c));
    v.set("local_media_ip", factory.ipv4);
    v.set("local_media_port", String(port));
    v.set("advertised_media_ip", factory.ipv4);
  }
  v.set("rtp_use_timer_name", "soft");
  v.set("rtp_use_pt", String(c.payloadType));
  v.set("rtp_use_ssrc", String(leg.media.fsSsrc));
  v.set("rtp_2833_send_payload", "101");
  v.set("rtp_2833_recv_payload", "101");
  v.set("endpoint_disposition", "ANSWER");
  leg.media.start(nowMs);
}

/** A lone leg, once answered, plays `file` until its caller hangs up. */
export function startPlayback(leg: SimLeg, file: string): void {
  setApplication(leg, "playback", file);
}

/** The B-leg answered: the A-leg's originate succeeded (before the A-leg's own answer). */
export function originateSucceeded(a: SimLeg, b: SimLeg): void {
  const v = a.vars;
  v.set("originate_disposition", "SUCCESS");
  v.set("DIALSTATUS", "SUCCESS");
  v.set("switch_m_sdp", b.vars.get("switch_r_sdp") ?? "");
  v.set("absolute_codec_string", codecString(b.codec));
}

/** Links A (originator) and B (originatee) as switch_ivr_multi_threaded_bridge does. */
export function bridgeLegs(a: SimLeg, b: SimLeg, nowMs: number): void {
  const us = toMicros(nowMs);
  a.other = otherLegOf(b, "originatee");
  for (const [leg, other] of [
    [a, b],
    [b, a],
  ] as const) {
    leg.bridgedUs = us;
    leg.vars.set("bridge_to", other.uuid);
    leg.vars.set("last_bridge_to", other.uuid);
    leg.vars.set("bridge_channel", other.name);
    leg.vars.set("bridge_uuid", other.uuid);
    leg.vars.set("signal_bond", other.uuid);
    leg.vars.set("last_sent_callee_id_name", other.profile.callerIdName);
    leg.vars.set("last_sent_callee_id_number", other.profile.callerIdNumber);
  }
  a.vars.set("last_sent_callee_id_name", b.profile.calleeIdName);
  a.vars.set("last_sent_callee_id_number", b.profile.calleeIdNumber);
  a.vars.set("originate_causes", `${b.uuid};NONE`);
  a.state = "CS_EXECUTE";
  b.state = "CS_EXCHANGE_MEDIA";
  b.application = "";
  b.applicationData = "";
}

/**
 * The bridge is torn down (CHANNEL_UNBRIDGE): both legs note why, and the B-leg's call_uuid is
 * reset to its own Unique-ID, so that its later events name itself as Channel-Call-UUID.
 */
export function unbridgeLegs(a: SimLeg, b: SimLeg, cause: string): void {
  if (a.hangupCause === undefined) {
    // B ended the call: A learns why from the bridge before it is hung up itself.
    const v = a.vars;
    v.set("sip_reason", `Q.850;cause=${Q850[cause] ?? 16};text="${cause}"`);
    v.set("sip_hangup_phrase", "OK");
    v.set("last_bridge_hangup_cause", cause);
    v.set("last_bridge_proto_specific_hangup_cause", "sip:200");
  }
  a.vars.set("bridge_hangup_cause", cause);
  b.vars.set("bridge_hangup_cause", cause);
  b.callUuid = b.uuid;
  b.vars.set("call_uuid", b.uuid);
}

/** How the SIP dialog of a leg ended. */
export type Disposition = "recv_bye" | "send_bye" | "recv_cancel" | "send_cancel";

/** switch_channel_perform_hangup(): the cause is known, the media stops. */
export function hangupLeg(leg: SimLeg, nowMs: number, cause: string, how: Disposition): void {
  leg.state = "CS_HANGUP";
  leg.callState = "HANGUP";
  leg.answerState = "hangup";
  leg.hangupCause = cause;
  leg.hangupUs = toMicros(nowMs);
  const q850 = Q850[cause] ?? 16;
  const cancelled = how.endsWith("cancel");
  const status = cancelled ? "487" : "200";
  const v = leg.vars;
  v.set("sip_hangup_disposition", how);
  v.set("sip_reason", `Q.850;cause=${q850};text="${cause}"`);
  v.set("sip_term_status", status);
  v.set("proto_specific_hangup_cause", `sip:${status}`);
  v.set("sip_term_cause", cancelled ? status : String(q850));
  v.set("sip_hangup_phrase", cancelled ? "Request Terminated" : "OK");
  v.set("hangup_cause", cause);
  v.set("hangup_cause_q850", String(q850));
  v.set("last_bridge_hangup_cause", cause);
  v.set("last_bridge_proto_specific_hangup_cause", `sip:${status}`);
  if (leg.role !== "lone")
    v.set("last_bridge_role", leg.role === "b" ? "originatee" : "originator");
  if (cancelled) {
    v.set("sip_invite_failure_status", "487");
    v.set("sip_invite_failure_phrase", "CANCEL");
  }
}

/** The A-leg's originate gave up because the A side cancelled. */
export function originateCancelled(a: SimLeg, b: SimLeg | undefined, cause: string): void {
  const v = a.vars;
  v.set("originate_disposition", cause);
  v.set("DIALSTATUS", "CANCEL");
  v.set("originate_failed_cause", cause);
  if (b !== undefined) v.set("originate_causes", `${b.uuid};${cause}`);
}

/** What a lone leg's playback reports when the caller hangs up. */
export function playbackStopped(leg: SimLeg, talkMs: number): void {
  const v = leg.vars;
  const seconds = Math.ceil(talkMs / 1000);
  const samples = Math.round((talkMs * leg.codec.sampleRate) / 1000);
  v.set("playback_last_offset_pos", String(samples));
  v.set("playback_seconds", String(seconds));
  v.set("playback_ms", String(seconds * 1000));
  v.set("playback_samples", String(seconds * leg.codec.sampleRate));
  v.set("current_application_response", "FILE PLAYED");
}

/** Seconds, milliseconds and microseconds between two times, as FreeSWITCH's CDR prints them. */
function spans(v: Map<string, string>, name: string, fromUs: number, toUs: number): void {
  const ok = fromUs > 0 && toUs > 0;
  v.set(`${name}sec`, String(ok ? Math.floor(toUs / 1e6) - Math.floor(fromUs / 1e6) : 0));
  v.set(`${name}msec`, String(ok ? Math.floor(toUs / 1000) - Math.floor(fromUs / 1000) : 0));
  v.set(`${name}usec`, String(ok ? toUs - fromUs : 0));
}

function epochs(v: Map<string, string>, name: string, us: number): void {
  v.set(`${name}_epoch`, String(Math.floor(us / 1e6)));
  v.set(`${name}_uepoch`, String(us));
}

/** The reporting state: CDR times and, when the leg had an RTP session, its media statistics. */
export function reportLeg(leg: SimLeg, nowMs: number, qos: QosStats | undefined): void {
  leg.state = "CS_REPORTING";
  const v = leg.vars;
  const startUs = leg.createdUs;
  const answerUs = leg.answeredUs;
  const endUs = leg.hangupUs || toMicros(nowMs);
  v.set("digits_dialed", "none");
  v.set("start_stamp", localStamp(startUs / 1000));
  v.set("profile_start_stamp", localStamp(startUs / 1000));
  if (answerUs > 0) v.set("answer_stamp", localStamp(answerUs / 1000));
  if (leg.bridgedUs > 0) v.set("bridge_stamp", localStamp(leg.bridgedUs / 1000));
  if (leg.progressUs > 0) v.set("progress_stamp", localStamp(leg.progressUs / 1000));
  v.set("end_stamp", localStamp(endUs / 1000));
  epochs(v, "start", startUs);
  epochs(v, "profile_start", startUs);
  epochs(v, "answer", answerUs);
  epochs(v, "bridge", leg.bridgedUs);
  epochs(v, "last_hold", 0);
  v.set("hold_accum_seconds", "0");
  v.set("hold_accum_usec", "0");
  v.set("hold_accum_ms", "0");
  epochs(v, "resurrect", 0);
  epochs(v, "progress", leg.progressUs);
  epochs(v, "progress_media", leg.progressMediaUs);
  epochs(v, "end", endUs);
  if (leg.application !== "") {
    v.set("last_app", leg.application);
    v.set("last_arg", leg.applicationData);
  }
  v.set("caller_id", `"${leg.profile.callerIdName}" <${leg.profile.callerIdNumber}>`);
  v.set("duration", String(Math.floor(endUs / 1e6) - Math.floor(startUs / 1e6)));
  spans(v, "bill", answerUs, endUs);
  spans(v, "progress", startUs, leg.progressUs);
  spans(v, "answer", startUs, answerUs);
  spans(v, "wait", startUs, answerUs);
  spans(v, "progress_media", startUs, leg.progressMediaUs);
  spans(v, "flow_bill", answerUs > 0 ? startUs : 0, endUs);
  v.set("mduration", String(Math.floor(endUs / 1000) - Math.floor(startUs / 1000)));
  v.set("uduration", String(endUs - startUs));
  if (qos !== undefined) for (const [name, value] of qosVariables(qos)) v.set(name, value);
}

export function destroyLeg(leg: SimLeg): void {
  leg.state = "CS_DESTROY";
}
