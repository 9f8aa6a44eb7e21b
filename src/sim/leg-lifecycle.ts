// State changes of a leg through its life (answer, bridge, hangup, reporting, destroy) with the
// channel variables FreeSWITCH adds at each step. Events are fired by the caller, after the change.

import type { EventFactory } from "./events.js";
import { localStamp, toMicros } from "./format.js";
import type { SimLeg } from "./leg.js";
import { offerSdp } from "./leg-builder.js";
import type { Prng } from "./prng.js";
import { type QosStats, qosVariables } from "./qos.js";

/** Q.850 codes of the hangup causes the simulator uses. */
const Q850: Record<string, number> = {
  NORMAL_CLEARING: 16,
  ORIGINATOR_CANCEL: 487,
  NO_ANSWER: 19,
  USER_BUSY: 17,
  NORMAL_TEMPORARY_FAILURE: 41,
};

/** Media negotiated and the leg answered: codec headers and media variables appear. */
export function answerLeg(leg: SimLeg, nowMs: number, prng: Prng, factory: EventFactory): void {
  const v = leg.vars;
  const c = leg.codec;
  leg.state = leg.direction === "inbound" ? "CS_EXECUTE" : "CS_CONSUME_MEDIA";
  leg.callState = "ACTIVE";
  leg.answerState = "answered";
  leg.codecKnown = true;
  leg.answeredUs = toMicros(nowMs);
  if (leg.direction === "inbound") leg.progressMediaUs = leg.answeredUs;
  if (leg.direction === "outbound") {
    const gw = leg.profile.networkAddr;
    const port = prng.int(5000, 15000) * 2;
    v.set("sip_to_tag", prng.hex(10));
    v.set("switch_r_sdp", offerSdp(prng, gw, port, c));
    v.set("remote_media_ip", gw);
    v.set("remote_media_port", String(port));
  }
  v.set("remote_audio_media_flow", "sendrecv");
  v.set("audio_media_flow", "sendrecv");
  v.set("rtp_audio_recv_pt", String(c.payloadType));
  v.set("rtp_use_codec_name", c.name);
  v.set("rtp_use_codec_rate", String(c.rtpRate));
  v.set("rtp_use_codec_ptime", String(c.ptimeMs));
  v.set("rtp_use_codec_channels", "1");
  v.set("rtp_last_audio_codec_string", `${c.name}@${c.rtpRate}h@${c.ptimeMs}i@1c`);
  v.set("read_codec", c.name);
  v.set("original_read_codec", c.name);
  v.set("read_rate", String(c.sampleRate));
  v.set("original_read_rate", String(c.sampleRate));
  v.set("write_codec", c.name);
  v.set("write_rate", String(c.sampleRate));
  v.set("dtmf_type", "rfc2833");
  v.set("local_media_ip", factory.ipv4);
  v.set("local_media_port", String(prng.int(8192, 16383) * 2));
  v.set("advertised_media_ip", factory.ipv4);
  v.set("rtp_use_timer_name", "soft");
  v.set("rtp_use_pt", String(c.payloadType));
  v.set("rtp_use_ssrc", String(leg.media.fsSsrc));
  v.set("endpoint_disposition", "ANSWER");
  leg.media.start(nowMs);
}

/** Links A (originator) and B (originatee) as a bridge does. */
export function bridgeLegs(a: SimLeg, b: SimLeg, nowMs: number): void {
  const us = toMicros(nowMs);
  for (const [leg, other] of [
    [a, b],
    [b, a],
  ] as const) {
    leg.other = other;
    leg.bridgedUs = us;
    leg.vars.set("last_bridge_to", other.uuid);
    leg.vars.set("bridge_channel", other.name);
    leg.vars.set("bridge_uuid", other.uuid);
    leg.vars.set("signal_bond", other.uuid);
  }
  a.otherType = "originatee";
  b.otherType = "originator";
  a.state = "CS_EXECUTE";
  b.state = "CS_EXCHANGE_MEDIA";
  b.application = "";
}

/** switch_channel_perform_hangup(): the cause is known, the media stops. */
export function hangupLeg(leg: SimLeg, nowMs: number, cause: string, byThisSide: boolean): void {
  leg.state = "CS_HANGUP";
  leg.callState = "HANGUP";
  leg.answerState = "hangup";
  leg.hangupCause = cause;
  leg.hangupUs = toMicros(nowMs);
  const v = leg.vars;
  const sipStatus = cause === "ORIGINATOR_CANCEL" ? "487" : "200";
  v.set("sip_hangup_disposition", byThisSide ? "recv_bye" : "send_bye");
  v.set("sip_term_status", sipStatus);
  v.set("proto_specific_hangup_cause", `sip:${sipStatus}`);
  v.set("hangup_cause", cause);
  v.set("hangup_cause_q850", String(Q850[cause] ?? 16));
}

/** The reporting state: CDR times and, when the leg had an RTP session, its media statistics. */
export function reportLeg(leg: SimLeg, nowMs: number, qos: QosStats | undefined): void {
  leg.state = "CS_REPORTING";
  const v = leg.vars;
  const startUs = leg.createdUs;
  const answerUs = leg.answeredUs;
  const endUs = leg.hangupUs || toMicros(nowMs);
  v.set("start_stamp", localStamp(startUs / 1000));
  if (answerUs > 0) v.set("answer_stamp", localStamp(answerUs / 1000));
  if (leg.bridgedUs > 0) v.set("bridge_stamp", localStamp(leg.bridgedUs / 1000));
  v.set("end_stamp", localStamp(endUs / 1000));
  v.set("start_epoch", String(Math.floor(startUs / 1e6)));
  v.set("start_uepoch", String(startUs));
  v.set("answer_epoch", String(Math.floor(answerUs / 1e6)));
  v.set("answer_uepoch", String(answerUs));
  v.set("bridge_epoch", String(Math.floor(leg.bridgedUs / 1e6)));
  v.set("bridge_uepoch", String(leg.bridgedUs));
  v.set("end_epoch", String(Math.floor(endUs / 1e6)));
  v.set("end_uepoch", String(endUs));
  v.set("caller_id", `"${leg.profile.callerIdName}" <${leg.profile.callerIdNumber}>`);
  const billUs = answerUs > 0 ? endUs - answerUs : 0;
  v.set("duration", String(Math.round((endUs - startUs) / 1e6)));
  v.set("billsec", String(Math.round(billUs / 1e6)));
  v.set("mduration", String(Math.round((endUs - startUs) / 1000)));
  v.set("billmsec", String(Math.round(billUs / 1000)));
  v.set("uduration", String(endUs - startUs));
  v.set("billusec", String(billUs));
  if (qos !== undefined) for (const [name, value] of qosVariables(qos)) v.set(name, value);
}

export function destroyLeg(leg: SimLeg): void {
  leg.state = "CS_DESTROY";
}
