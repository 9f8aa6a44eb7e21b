// The channel part of a channel event, in the order switch_channel_event_set_data() writes it:
// basic channel data, the codecs once set, the caller profile, the other leg's profile once the
// legs are linked, then the channel variables a layout names (layouts/), as `variable_*`.

import type { HeaderList } from "./events.js";
import type { VariableLayout } from "./layouts/variables.js";
import { type CallerProfile, type SimLeg, stateNumber } from "./leg.js";

/**
 * Variables whose presence depends on the simulator's options, as it would on a FreeSWITCH's
 * configuration: RTCP runs with `rtcp_audio_interval_msec`, SEND_RTCP_MESSAGE needs
 * `fire_rtcp_events`. A layout's other variables are always there.
 */
const SET_BY_CONFIGURATION = new Set(["rtcp_audio_interval_msec", "fire_rtcp_events"]);

/**
 * A codec's own variable that the captured PCMU layouts lack: opus sets `rtp_use_codec_fmtp`,
 * which FreeSWITCH prints right after `rtp_use_codec_name` (capture-opus-plain.esl).
 */
const CODEC_FOLLOWERS: Readonly<Record<string, string>> = {
  rtp_use_codec_name: "rtp_use_codec_fmtp",
};

interface ProfileTimes {
  readonly createdUs: number;
  readonly answeredUs: number;
  readonly progressUs: number;
  readonly progressMediaUs: number;
  readonly hangupUs: number;
  readonly bridgedUs: number;
}

function profileHeaders(
  out: HeaderList,
  prefix: string,
  who: { readonly uuid: string; readonly direction: string; readonly name: string },
  p: CallerProfile,
  times: ProfileTimes,
  withIndex: boolean,
): void {
  out.push([`${prefix}-Direction`, who.direction]);
  out.push([`${prefix}-Logical-Direction`, who.direction]);
  out.push([`${prefix}-Username`, p.username]);
  out.push([`${prefix}-Dialplan`, p.dialplan]);
  out.push([`${prefix}-Caller-ID-Name`, p.callerIdName]);
  out.push([`${prefix}-Caller-ID-Number`, p.callerIdNumber]);
  out.push([`${prefix}-Orig-Caller-ID-Name`, p.callerIdName]);
  out.push([`${prefix}-Orig-Caller-ID-Number`, p.callerIdNumber]);
  if (p.calleeIdNumber !== "") {
    out.push([`${prefix}-Callee-ID-Name`, p.calleeIdName]);
    out.push([`${prefix}-Callee-ID-Number`, p.calleeIdNumber]);
  }
  out.push([`${prefix}-Network-Addr`, p.networkAddr]);
  out.push([`${prefix}-ANI`, p.ani]);
  out.push([`${prefix}-Destination-Number`, p.destination]);
  out.push([`${prefix}-Unique-ID`, who.uuid]);
  out.push([`${prefix}-Source`, p.source]);
  out.push([`${prefix}-Context`, p.context]);
  out.push([`${prefix}-Channel-Name`, who.name]);
  if (withIndex) out.push([`${prefix}-Profile-Index`, "1"]);
  out.push([`${prefix}-Profile-Created-Time`, String(times.createdUs)]);
  out.push([`${prefix}-Channel-Created-Time`, String(times.createdUs)]);
  out.push([`${prefix}-Channel-Answered-Time`, String(times.answeredUs)]);
  out.push([`${prefix}-Channel-Progress-Time`, String(times.progressUs)]);
  out.push([`${prefix}-Channel-Progress-Media-Time`, String(times.progressMediaUs)]);
  out.push([`${prefix}-Channel-Hangup-Time`, String(times.hangupUs)]);
  out.push([`${prefix}-Channel-Transfer-Time`, "0"]);
  out.push([`${prefix}-Channel-Resurrect-Time`, "0"]);
  out.push([`${prefix}-Channel-Bridged-Time`, String(times.bridgedUs)]);
  out.push([`${prefix}-Channel-Last-Hold`, "0"]);
  out.push([`${prefix}-Channel-Hold-Accum`, "0"]);
  out.push([`${prefix}-Screen-Bit`, "true"]);
  out.push([`${prefix}-Privacy-Hide-Name`, "false"]);
  out.push([`${prefix}-Privacy-Hide-Number`, "false"]);
}

function variableHeaders(out: HeaderList, leg: SimLeg, layout: VariableLayout): void {
  for (const name of layout.names) {
    const value = leg.vars.get(name);
    if (value === undefined) {
      if (SET_BY_CONFIGURATION.has(name)) continue;
      // A layout names a variable the simulator never set: a bug in the simulator, not input.
      throw new Error(`sim: no value for variable_${name} of ${leg.role} leg (${layout.source})`);
    }
    out.push([`variable_${name}`, value]);
    const follower = CODEC_FOLLOWERS[name];
    const extra = follower === undefined ? undefined : leg.vars.get(follower);
    if (follower !== undefined && extra !== undefined) out.push([`variable_${follower}`, extra]);
  }
}

/** Channel-*, Caller-*, Other-Leg-* when linked, then the layout's `variable_*`. */
export function channelData(leg: SimLeg, layout: VariableLayout): HeaderList {
  const out: HeaderList = [
    ["Channel-State", leg.state],
    ["Channel-Call-State", leg.callState],
    ["Channel-State-Number", String(stateNumber(leg.state))],
    ["Channel-Name", leg.name],
    ["Unique-ID", leg.uuid],
    ["Call-Direction", leg.direction],
    ["Presence-Call-Direction", leg.direction],
    ["Channel-HIT-Dialplan", leg.hitDialplan ? "true" : "false"],
    ["Channel-Call-UUID", leg.callUuid],
    ["Answer-State", leg.answerState],
  ];
  if (leg.hangupCause !== undefined) out.push(["Hangup-Cause", leg.hangupCause]);
  if (leg.codecKnown) {
    const c = leg.codec;
    out.push(["Channel-Read-Codec-Name", c.name]);
    out.push(["Channel-Read-Codec-Rate", String(c.sampleRate)]);
    out.push(["Channel-Read-Codec-Bit-Rate", String(c.bitRate)]);
    out.push(["Channel-Write-Codec-Name", c.name]);
    out.push(["Channel-Write-Codec-Rate", String(c.sampleRate)]);
    out.push(["Channel-Write-Codec-Bit-Rate", String(c.bitRate)]);
  }
  profileHeaders(out, "Caller", leg, leg.profile, leg, true);
  const other = leg.other;
  if (other !== undefined) {
    out.push(["Other-Type", other.type]);
    // FreeSWITCH's copy of the other profile carries no times of the other leg's own events.
    profileHeaders(
      out,
      "Other-Leg",
      other,
      other.profile,
      {
        createdUs: other.createdUs,
        answeredUs: other.answeredUs,
        progressUs: 0,
        progressMediaUs: 0,
        hangupUs: 0,
        bridgedUs: 0,
      },
      false,
    );
  }
  variableHeaders(out, leg, layout);
  return out;
}
