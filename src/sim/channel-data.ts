// The channel part of a channel event, in the order switch_channel_event_set_data() writes it
// (compare the libresbc and webitel samples): basic channel data, codecs, the caller profile,
// the other leg's profile when there is one, then every channel variable as `variable_*`.

import type { HeaderList } from "./events.js";
import { type CallerProfile, type SimLeg, stateNumber } from "./leg.js";

function profileHeaders(
  out: HeaderList,
  prefix: string,
  leg: SimLeg,
  p: CallerProfile,
  withIndex: boolean,
): void {
  out.push([`${prefix}-Direction`, leg.direction]);
  out.push([`${prefix}-Logical-Direction`, leg.direction]);
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
  out.push([`${prefix}-Unique-ID`, leg.uuid]);
  out.push([`${prefix}-Source`, p.source]);
  out.push([`${prefix}-Context`, p.context]);
  out.push([`${prefix}-Channel-Name`, leg.name]);
  if (withIndex) out.push([`${prefix}-Profile-Index`, "1"]);
  out.push([`${prefix}-Profile-Created-Time`, String(leg.createdUs)]);
  out.push([`${prefix}-Channel-Created-Time`, String(leg.createdUs)]);
  out.push([`${prefix}-Channel-Answered-Time`, String(leg.answeredUs)]);
  out.push([`${prefix}-Channel-Progress-Time`, String(leg.progressUs)]);
  out.push([`${prefix}-Channel-Progress-Media-Time`, String(leg.progressMediaUs)]);
  out.push([`${prefix}-Channel-Hangup-Time`, String(leg.hangupUs)]);
  out.push([`${prefix}-Channel-Transfer-Time`, "0"]);
  out.push([`${prefix}-Channel-Resurrect-Time`, "0"]);
  out.push([`${prefix}-Channel-Bridged-Time`, String(leg.bridgedUs)]);
  out.push([`${prefix}-Channel-Last-Hold`, "0"]);
  out.push([`${prefix}-Channel-Hold-Accum`, "0"]);
  out.push([`${prefix}-Screen-Bit`, "true"]);
  out.push([`${prefix}-Privacy-Hide-Name`, "false"]);
  out.push([`${prefix}-Privacy-Hide-Number`, "false"]);
}

/** Channel-* and Caller-* headers, Other-Leg-* when linked, then `variable_*`. */
export function channelData(leg: SimLeg): HeaderList {
  const out: HeaderList = [
    ["Channel-State", leg.state],
    ["Channel-Call-State", leg.callState],
    ["Channel-State-Number", String(stateNumber(leg.state))],
    ["Channel-Name", leg.name],
    ["Unique-ID", leg.uuid],
    ["Call-Direction", leg.direction],
    ["Presence-Call-Direction", leg.direction],
    ["Channel-HIT-Dialplan", leg.hitDialplan ? "true" : "false"],
  ];
  if (leg.presenceId !== undefined) out.push(["Channel-Presence-ID", leg.presenceId]);
  out.push(["Channel-Call-UUID", leg.callUuid]);
  out.push(["Answer-State", leg.answerState]);
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
  profileHeaders(out, "Caller", leg, leg.profile, true);
  const other = leg.other;
  if (other !== undefined && leg.otherType !== undefined) {
    out.push(["Other-Type", leg.otherType]);
    profileHeaders(out, "Other-Leg", other, other.profile, false);
  }
  for (const [name, value] of leg.vars) out.push([`variable_${name}`, value]);
  return out;
}
