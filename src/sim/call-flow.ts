// The channel events of one call, in the order real FreeSWITCH fires them (the captures in
// test/fixtures/freeswitch-1.11), each with its layout from layouts/: creation, ringing, answer
// and bridge, and the four ways a call ends (cancelled; A side hangs up, with the B-leg reporting
// before or after the unbridge; B side hangs up; a lone leg's caller hangs up).

import { channelData } from "./channel-data.js";
import type { ChannelRegistry } from "./channels.js";
import type { EventFactory, HeaderList, SimEvent } from "./events.js";
import { B_LEG } from "./layouts/b-leg.js";
import { BRIDGED_A_LEG } from "./layouts/bridged-a-leg.js";
import { LONE_LEG } from "./layouts/lone-leg.js";
import type { VariableLayout } from "./layouts/variables.js";
import type { SimLeg } from "./leg.js";
import {
  answerLeg,
  bridgeLegs,
  destroyLeg,
  hangupLeg,
  originate,
  originateCancelled,
  originateSucceeded,
  playbackStopped,
  reportLeg,
  startPlayback,
  unbridgeLegs,
} from "./leg-lifecycle.js";
import type { QosOverrides } from "./media.js";
import type { Prng } from "./prng.js";
import type { QosStats } from "./qos.js";

export interface SimCall {
  readonly uuid: string;
  readonly a: SimLeg;
  b: SimLeg | undefined;
  /** What a lone leg plays once answered. */
  readonly playback: string;
  answered: boolean;
  ended: boolean;
}

/**
 * Whether a B-leg's CHANNEL_HANGUP_COMPLETE comes before FreeSWITCH unbridges it (naming the
 * A-leg) or after (naming itself), when the A side hangs up; both happen in the captures.
 */
export type BLegReport = "before-unbridge" | "after-unbridge";

export interface EndOptions {
  readonly cause: string;
  readonly by: "a" | "b";
  readonly bLegReport: BLegReport;
  readonly qos?: QosOverrides;
  readonly bQos?: QosOverrides;
}

/** What the call flow needs from the generator. */
export interface FlowContext {
  readonly factory: EventFactory;
  readonly prng: Prng;
  readonly channels: ChannelRegistry;
  fire(event: SimEvent): SimEvent;
}

export class CallFlow {
  constructor(private readonly ctx: FlowContext) {}

  /** CHANNEL_CREATE of the A-leg (the dialplan has run by the time anything else happens). */
  created(call: SimCall, at: number): void {
    this.ctx.channels.add(call.a, at);
    const layout = call.a.role === "bridged-a" ? BRIDGED_A_LEG.create : LONE_LEG.create;
    this.channel("CHANNEL_CREATE", call.a, layout, at);
  }

  /** The bridge originates the B-leg: CHANNEL_OUTGOING, then CHANNEL_CREATE, then it rings. */
  originated(call: SimCall, b: SimLeg, at: number): void {
    call.b = b;
    this.ctx.channels.add(b, at);
    // Until the originate sets its call_uuid, the new leg stands for itself.
    b.callUuid = b.uuid;
    this.channel("CHANNEL_OUTGOING", b, B_LEG.outgoing, at);
    b.callUuid = call.a.uuid;
    this.channel("CHANNEL_CREATE", b, B_LEG.create, at);
    originate(call.a, b, at, this.ctx.prng);
  }

  /** B answers first, then A; a bridged A-leg then bridges. A lone leg starts its playback. */
  answered(call: SimCall, at: number): void {
    call.answered = true;
    const { a, b } = call;
    const { prng, factory } = this.ctx;
    if (b !== undefined) {
      answerLeg(b, at, prng, factory);
      this.channel("CHANNEL_ANSWER", b, B_LEG.answer, at);
      originateSucceeded(a, b);
    }
    answerLeg(a, at, prng, factory);
    if (a.role === "lone") {
      this.channel("CHANNEL_ANSWER", a, LONE_LEG.answer, at);
      startPlayback(a, call.playback);
      return;
    }
    this.channel("CHANNEL_ANSWER", a, BRIDGED_A_LEG.answer, at);
    if (b !== undefined) {
      bridgeLegs(a, b, at);
      this.channel("CHANNEL_BRIDGE", a, BRIDGED_A_LEG.bridge, at, bridgeIds(a, b));
    }
  }

  /** Every remaining event of the call; returns them. */
  ended(call: SimCall, at: number, o: EndOptions): SimEvent[] {
    const fired: SimEvent[] = [];
    const fire = (name: string, leg: SimLeg, layout: VariableLayout, before: HeaderList = []) =>
      fired.push(this.channel(name, leg, layout, at, before));
    const report = (leg: SimLeg, layout: VariableLayout, destroy = layout) => {
      reportLeg(leg, at, this.stats(leg, at, leg === call.a ? o.qos : o.bQos));
      fire("CHANNEL_HANGUP_COMPLETE", leg, layout, [["Hangup-Cause", leg.hangupCause ?? ""]]);
      this.destroyed(leg, destroy, at, fired);
    };
    const { a, b } = call;
    call.ended = true;

    if (a.role === "lone" || b === undefined) {
      const talkMs = a.answeredUs > 0 ? at - a.answeredUs / 1000 : 0;
      if (call.answered) {
        hangupLeg(a, at, o.cause, "recv_bye");
        fire("CHANNEL_HANGUP", a, LONE_LEG.hangup);
        playbackStopped(a, talkMs);
        report(a, LONE_LEG.report);
      } else {
        hangupLeg(a, at, o.cause, "recv_cancel");
        fire("CHANNEL_HANGUP", a, LONE_LEG.cancelled.hangup);
        report(a, LONE_LEG.cancelled.report);
      }
      return fired;
    }

    if (!call.answered) {
      // The caller cancelled while the B-leg rang (capture-cancel-plain.esl): no bridge, so
      // nothing is unbridged and both of the B-leg's reports still name the A-leg.
      hangupLeg(a, at, o.cause, "recv_cancel");
      originateCancelled(a, b, o.cause);
      fire("CHANNEL_HANGUP", a, BRIDGED_A_LEG.cancelled.hangup);
      hangupLeg(b, at, o.cause, "send_cancel");
      fire("CHANNEL_HANGUP", b, B_LEG.cancelled.hangup);
      report(a, BRIDGED_A_LEG.cancelled.report);
      report(b, B_LEG.cancelled.report);
      return fired;
    }

    const unbridge = (layout: VariableLayout) => {
      unbridgeLegs(a, b, o.cause);
      fire("CHANNEL_UNBRIDGE", a, layout, bridgeIds(a, b));
    };
    if (o.by === "b") {
      // capture-bhangup-plain.esl: the carrier's BYE ends B, whose report still names A; the
      // unbridge follows, then A is hung up and B destroyed (naming itself), then A reports.
      const layouts = BRIDGED_A_LEG.hungUpByB;
      hangupLeg(b, at, o.cause, "recv_bye");
      fire("CHANNEL_HANGUP", b, B_LEG.hungUpByB.hangup);
      reportLeg(b, at, this.stats(b, at, o.bQos));
      fire("CHANNEL_HANGUP_COMPLETE", b, B_LEG.hungUpByB.reportBeforeUnbridge, [
        ["Hangup-Cause", o.cause],
      ]);
      unbridge(layouts.unbridgeAndHangup);
      hangupLeg(a, at, o.cause, "send_bye");
      fire("CHANNEL_HANGUP", a, layouts.unbridgeAndHangup);
      this.destroyed(b, B_LEG.hungUpByB.destroyAfterUnbridge, at, fired);
      report(a, layouts.report);
      return fired;
    }

    // capture-plain.esl and capture-long-plain.esl: the phone's BYE ends A, FreeSWITCH hangs B
    // up; B reports before the unbridge (naming A, destroyed naming itself) or after it.
    const layouts = BRIDGED_A_LEG.hungUpByA;
    hangupLeg(a, at, o.cause, "recv_bye");
    fire("CHANNEL_HANGUP", a, layouts.hangup);
    hangupLeg(b, at, o.cause, "send_bye");
    fire("CHANNEL_HANGUP", b, B_LEG.hungUpByA.hangup);
    if (o.bLegReport === "before-unbridge") {
      reportLeg(b, at, this.stats(b, at, o.bQos));
      fire("CHANNEL_HANGUP_COMPLETE", b, B_LEG.hungUpByA.reportBeforeUnbridge, [
        ["Hangup-Cause", o.cause],
      ]);
      unbridge(layouts.unbridge);
      report(a, layouts.report);
      this.destroyed(b, B_LEG.hungUpByA.destroyAfterUnbridge, at, fired);
    } else {
      unbridge(layouts.unbridge);
      report(a, layouts.report);
      report(b, B_LEG.hungUpByA.reportAfterUnbridge);
    }
    return fired;
  }

  /** A leg's end-of-call statistics, once: its media stops at the first call. */
  private stats(leg: SimLeg, at: number, o: QosOverrides | undefined): QosStats | undefined {
    return leg.media.finish(at, this.ctx.prng, o ?? {});
  }

  private destroyed(leg: SimLeg, layout: VariableLayout, at: number, fired: SimEvent[]): void {
    destroyLeg(leg);
    fired.push(this.channel("CHANNEL_DESTROY", leg, layout, at));
    this.ctx.channels.remove(leg.uuid);
  }

  private channel(
    name: string,
    leg: SimLeg,
    layout: VariableLayout,
    at: number,
    before: HeaderList = [],
  ): SimEvent {
    leg.lastLayout = layout;
    const event = this.ctx.factory.create(name, at, [...before, ...channelData(leg, layout)]);
    return this.ctx.fire(event);
  }
}

function bridgeIds(a: SimLeg, b: SimLeg): HeaderList {
  return [
    ["Bridge-A-Unique-ID", a.uuid],
    ["Bridge-B-Unique-ID", b.uuid],
  ];
}
