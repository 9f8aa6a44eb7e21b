import type { EventsConfig } from "../config/types.js";
import type { EslEvent } from "../esl/event.js";
import type { ServerHealth } from "../fs-health/server-health.js";
import type { LegEventHandler, LegTracker } from "../legs/leg-tracker.js";
import type { Logger } from "../log/logger.js";
import { emptyLeg, legAtHangup, legFromChannelEvent, legWithALeg } from "../quality/labels.js";
import { computeQos } from "../quality/qos.js";
import { hangupInfo } from "../quality/record.js";
import { computeRtcp } from "../quality/rtcp.js";
import { meanMosEstimate } from "../quality/summary.js";
import type { LegLabels, LegState } from "../quality/types.js";
import { isUnusable } from "../quality/unusable.js";
import { bump, type EventCounters } from "./counters.js";
import type { LiveSummary } from "./live-summary.js";
import type { QualitySinks } from "./quality-sinks.js";
import { AGENT_EVENTS } from "./subscriptions.js";

/** Event names that may become label values; anything else is counted as "other". */
const KNOWN_EVENTS = new Set(AGENT_EVENTS);

export interface RouterOptions {
  readonly instance: string;
  readonly counters: EventCounters;
  /** The instance's legs: their state, and the events that wait for it. */
  readonly legs: LegTracker;
  readonly sinks: QualitySinks;
  readonly summary: LiveSummary;
  readonly events: EventsConfig;
  readonly logger: Logger;
  /** FreeSWITCH's own figures, which HEARTBEAT refreshes. */
  readonly server?: ServerHealth;
}

/**
 * Dispatches one instance's events by Event-Name to the calculators in quality/ and their results
 * to the sinks: the only place that knows which event feeds which calculation. The leg tracker
 * supplies each event's leg state (and holds a leg's events while its state is fetched); every
 * state change goes back through it. Never throws on event content: an event it cannot use is
 * counted under a reason and skipped.
 */
export class Router {
  readonly counters: EventCounters;
  private readonly legs: LegTracker;
  private readonly logger: Logger;
  /** Checked once: the level is fixed for the process, and the check is on the hot path. */
  private readonly debug: boolean;
  private readonly process: LegEventHandler = (event, name, uuid, leg) =>
    this.processLeg(event, name, uuid, leg);

  constructor(private readonly options: RouterOptions) {
    this.counters = options.counters;
    this.legs = options.legs;
    this.logger = options.logger.child({ fs_instance: options.instance });
    this.debug = this.logger.isLevelEnabled("debug");
  }

  handle(event: EslEvent): void {
    const name = event.name;
    const counters = this.counters;
    if (name === "") {
      bump(counters.unusable, "missing_event_name");
      return;
    }
    this.options.summary.eventSeen();
    if (!KNOWN_EVENTS.has(name)) {
      // FreeSWITCH only sends what was subscribed; a stray name must not grow /metrics' label set.
      bump(counters.received, "other");
      bump(counters.unusable, "unexpected_event");
      return;
    }
    bump(counters.received, name);
    if (name === "HEARTBEAT") {
      if (this.debug) this.logger.debug({ event: name }, "event HEARTBEAT");
      this.options.server?.heartbeat(event);
      bump(counters.processed, name);
      return;
    }
    const uuid = event.get("Unique-ID");
    if (uuid === undefined || uuid === "") {
      bump(counters.unusable, "missing_unique_id");
      return;
    }
    if (this.debug) this.logger.debug({ event: name, unique_id: uuid }, `event ${name}`);
    this.legs.admit(event, name, uuid, this.process);
  }

  private processLeg(event: EslEvent, name: string, uuid: string, leg: LegState | undefined): void {
    switch (name) {
      case "CHANNEL_CREATE":
      case "CHANNEL_ANSWER":
      case "CHANNEL_BRIDGE": {
        const next = legFromChannelEvent(
          event,
          leg,
          this.legs.aLegOf(event, uuid),
          this.legs.intern,
        );
        if (isUnusable(next)) {
          bump(this.counters.unusable, next.unusable);
          return;
        }
        this.legs.save(next);
        if (name === "CHANNEL_BRIDGE") this.refreshBLeg(next, event.get("Other-Leg-Unique-ID"));
        break;
      }
      case "RECV_RTCP_MESSAGE":
      case "SEND_RTCP_MESSAGE":
        if (!this.rtcp(event, leg)) return;
        break;
      case "CHANNEL_HANGUP_COMPLETE":
        if (this.options.events.qos) this.qos(event, uuid, leg, true);
        break;
      case "CHANNEL_DESTROY": {
        // DESTROY carries the same QoS variables: it reports a leg whose HANGUP_COMPLETE was missed.
        // Nothing is saved: the leg is removed next (a save could evict a live leg from a full store).
        const atHangup = this.options.events.qos ? this.qos(event, uuid, leg, false) : undefined;
        this.completed(event, uuid, atHangup ?? leg?.labels);
        this.legs.end(uuid);
        break;
      }
    }
    bump(this.counters.processed, name);
  }

  private rtcp(event: EslEvent, leg: LegState | undefined): boolean {
    const result = computeRtcp(event, leg);
    if (isUnusable(result)) {
      bump(this.counters.unusable, result.unusable);
      return false;
    }
    this.legs.fold(result);
    if (result.video) {
      // The audio metrics are the leg's audio stream; a video report only taught the leg its
      // video SSRCs (so a SEND report on them, which has no RTP-Rate, is known as video too).
      bump(this.counters.unusable, "rtcp_video");
      return false;
    }
    this.counters.rtcpProcessed++;
    this.counters.extraReportBlocks += result.extraBlocks;
    this.options.sinks.rtcp({
      instance: this.options.instance,
      labels: result.leg.labels,
      direction: result.direction,
      jitterMs: result.jitterMs,
      fractionLost: result.fractionLost,
      packetsLost: result.packetsLost,
      rttMs: result.rttMs,
      mos: result.mos,
    });
    this.options.summary.rtcp(result.jitterMs, result.fractionLost);
    return true;
  }

  /**
   * The A-leg's BRIDGE names its B-leg, which FreeSWITCH created and answered before the
   * A-leg's own ANSWER: what the A-leg learnt since (a domain set by the dialplan) reaches the
   * B-leg's labels now, not only at its hangup.
   */
  private refreshBLeg(aLeg: LegState, bLegUuid: string | undefined): void {
    if (bLegUuid === undefined || bLegUuid === "") return;
    const bLeg = this.legs.peek(bLegUuid);
    if (bLeg === undefined) return;
    const refreshed = legWithALeg(bLeg, aLeg, this.legs.intern);
    if (refreshed !== bLeg) this.legs.save(refreshed);
  }

  /**
   * Reports a leg's end-of-call QoS once: HANGUP_COMPLETE and DESTROY both carry it. Returns the
   * labels its QoS went out with (undefined when none went out), for the leg's completion.
   */
  private qos(
    event: EslEvent,
    uuid: string,
    leg: LegState | undefined,
    keep: boolean,
  ): LegLabels | undefined {
    if (!this.legs.claimQos(uuid, leg)) return undefined;
    // The hangup event carries the leg's full channel data: it completes (or creates) the labels,
    // but never moves the leg to another call (an unbridged B-leg names itself there).
    const aLeg = this.legs.aLegOf(event, uuid, leg, true);
    const labelled = legAtHangup(event, leg, aLeg, this.legs.intern);
    if (isUnusable(labelled)) {
      bump(this.counters.unusable, labelled.unusable);
      return undefined;
    }
    const values = computeQos(event, labelled);
    if (keep) this.legs.save({ ...labelled, qosReported: true });
    if (isUnusable(values)) {
      bump(this.counters.unusable, values.unusable);
      return labelled.labels;
    }
    for (const variable of values.unreadable) bump(this.counters.qosUnreadable, variable);
    this.options.sinks.qos({
      instance: this.options.instance,
      labels: labelled.labels,
      values,
      mosEstimate: meanMosEstimate(labelled.rtcpIn, labelled.rtcpOut),
      rtcpIn: labelled.rtcpIn,
      rtcpOut: labelled.rtcpOut,
      hangup: hangupInfo(event),
    });
    this.counters.qosGenerated++;
    if (values.mosScore !== undefined) this.options.summary.mos(values.mosScore);
    return labelled.labels;
  }

  /**
   * Counts an ended leg with the labels its QoS went out with, else those it had, else those its
   * DESTROY carries.
   */
  private completed(event: EslEvent, uuid: string, known: LegLabels | undefined): void {
    let labels = known;
    if (labels === undefined) {
      const fromEvent = legAtHangup(
        event,
        undefined,
        this.legs.aLegOf(event, uuid),
        this.legs.intern,
      );
      labels = isUnusable(fromEvent) ? emptyLeg(uuid).labels : fromEvent.labels;
    }
    this.options.sinks.legCompleted(this.options.instance, labels);
  }
}
