import type { EventsConfig } from "../config/types.js";
import type { EslEvent } from "../esl/event.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import {
  callOf,
  emptyLeg,
  legAtHangup,
  legFromChannelEvent,
  legFromLookup,
  legWithALeg,
} from "../quality/labels.js";
import { computeQos } from "../quality/qos.js";
import { hangupInfo } from "../quality/record.js";
import { applyRtcp, computeRtcp } from "../quality/rtcp.js";
import { meanMosEstimate } from "../quality/summary.js";
import type { LegLabels, LegState, QosObservation, RtcpObservation } from "../quality/types.js";
import { isUnusable } from "../quality/unusable.js";
import type { LegStore } from "../state/store.js";
import { StringPool } from "../util/string-pool.js";
import { EventCounters } from "./counters.js";
import type { LiveSummary } from "./live-summary.js";
import { PendingLegs } from "./pending.js";
import { parseChannelUuids, SHOW_CHANNELS } from "./reconcile.js";
import { AGENT_EVENTS } from "./subscriptions.js";

const bump = EventCounters.bump;

/** Event names that may become label values; anything else is counted as "other". */
const KNOWN_EVENTS = new Set(AGENT_EVENTS);

/** Bound of the set of legs between their QoS report and their DESTROY (normally milliseconds). */
const MAX_QOS_REMEMBERED = 10_000;

/** Look-ups of unknown legs allowed in flight at once; past it, the leg gets the labels it has. */
const MAX_LOOKUPS_IN_FLIGHT = 100;

/** `seen` is never swept below this size: a sweep walks the whole set. */
const MIN_SEEN_SWEEP = 1024;

/** Everything that consumes the pipeline's results. */
export interface QualitySinks {
  rtcp(observation: RtcpObservation): void;
  qos(observation: QosObservation): void;
  /** The leg is over: forget whatever was kept for it. */
  legEnded(uuid: string): void;
  /** A leg ended (its DESTROY came, or FreeSWITCH no longer had it after a reconnection). */
  legCompleted(instance: string, labels: LegLabels): void;
}

export interface RouterOptions {
  readonly instance: string;
  readonly counters: EventCounters;
  readonly store: LegStore;
  readonly sinks: QualitySinks;
  readonly summary: LiveSummary;
  readonly events: EventsConfig;
  /**
   * Fetches a leg's channel data from FreeSWITCH (`uuid_dump <uuid> json`); undefined when
   * FreeSWITCH does not know the leg. May reject (not connected, timeout).
   */
  readonly lookup: (uuid: string) => Promise<Record<string, unknown> | undefined>;
  readonly logger: Logger;
  /** Wall clock (ms since epoch) for when a leg was first seen; default Date.now. */
  readonly now?: () => number;
}

/** A leg in progress, as the status page lists it. */
export interface ActiveLeg {
  readonly leg: LegState;
  /** When this router first saw the leg (ms since epoch). */
  readonly since: number;
}

/** The call's A-leg (Channel-Call-UUID) when it is another leg than `uuid`: the leg a B-leg inherits from. */
function otherALeg(callUuid: unknown, uuid: string): string | undefined {
  return typeof callUuid === "string" && callUuid !== "" && callUuid !== uuid
    ? callUuid
    : undefined;
}

function isRtcp(name: string): boolean {
  return name === "RECV_RTCP_MESSAGE" || name === "SEND_RTCP_MESSAGE";
}

/**
 * Dispatches one instance's events by Event-Name, in arrival order per leg: the only place that
 * knows which event feeds which calculation. Hot state is read synchronously from the store; a
 * leg missing from memory is fetched (from Redis after a restart, or from FreeSWITCH for a leg
 * that began before the agent) while its later events wait, so no leg's events are reordered.
 * Never throws on event content: an event it cannot use is counted under a reason and skipped.
 */
export class Router {
  readonly counters: EventCounters;
  private readonly pending = new PendingLegs();
  private readonly log: RateLimitedLog;
  /** Checked once: the level is fixed for the process, and the check is on the hot path. */
  private readonly debug: boolean;
  private lookupsInFlight = 0;
  private readonly lookups = new Map<string, Promise<LegState>>();
  private readonly fetching = new Set<Promise<void>>();
  /**
   * Legs whose QoS was reported and whose DESTROY has not come yet. The leg state says so too,
   * but a full store may evict it in between; this small set keeps DESTROY from reporting again.
   */
  private readonly qosReported = new Set<string>();
  private readonly logger: Logger;
  /**
   * Uuids of the legs this router put in the store. The store is shared by every instance and
   * a leg's state does not say which instance it came from, so this is how a reconcile touches
   * only this instance's legs. Entries leave on DESTROY; legs the store evicted or expired are
   * swept lazily (see track), so the set stays within a small multiple of the store's size.
   * The value is when the leg was first seen (the status page's age).
   */
  private readonly seen = new Map<string, number>();
  private readonly now: () => number;
  /** Shared copies of the label values many legs carry (domain, codec, direction, local IP). */
  private readonly labelValues = new StringPool();
  private readonly intern = (value: string): string => this.labelValues.intern(value);
  /** Size of `seen` above which it is swept of legs the store no longer holds. */
  private sweepAt = MIN_SEEN_SWEEP;

  constructor(private readonly options: RouterOptions) {
    this.counters = options.counters;
    this.logger = options.logger.child({ fs_instance: options.instance });
    this.debug = this.logger.isLevelEnabled("debug");
    this.log = new RateLimitedLog(this.logger);
    this.now = options.now ?? Date.now;
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
      bump(counters.processed, name);
      return;
    }
    const uuid = event.get("Unique-ID");
    if (uuid === undefined || uuid === "") {
      bump(counters.unusable, "missing_unique_id");
      return;
    }
    if (this.debug) this.logger.debug({ event: name, unique_id: uuid }, `event ${name}`);

    if (this.pending.isWaiting(uuid)) {
      if (!this.pending.add(uuid, event)) bump(counters.dropped, "leg_queue_full");
      return;
    }
    const leg = this.options.store.peek(uuid);
    if (leg === undefined && this.needsFetch(name, event, uuid)) {
      this.fetch(uuid, event, name);
      return;
    }
    this.process(event, name, uuid, leg);
  }

  /**
   * Whether an event of a leg not in memory should wait for the leg's state. With Redis, any
   * event but CREATE may find the leg there (agent restarted mid-call), and a new B-leg (a
   * transfer, a forward) may need an A-leg that is only there. Without Redis, only RTCP needs a
   * FreeSWITCH look-up: channel events carry the leg's data themselves.
   */
  private needsFetch(name: string, event: EslEvent, uuid: string): boolean {
    if (this.options.store.kind !== "redis") return isRtcp(name);
    if (name !== "CHANNEL_CREATE") return true;
    const aLegUuid = otherALeg(event.get("Channel-Call-UUID"), uuid);
    return aLegUuid !== undefined && this.options.store.peek(aLegUuid) === undefined;
  }

  private fetch(uuid: string, first: EslEvent, name: string): void {
    if (!this.pending.open(uuid, first)) {
      bump(this.counters.dropped, "too_many_legs_waiting");
      return;
    }
    const aLegUuid = otherALeg(first.get("Channel-Call-UUID"), uuid);
    const fetching = this.fetchLeg(uuid, aLegUuid, isRtcp(name))
      .catch((error: unknown) => {
        // fetchLeg handles its own failures; this is the last guard of an async path.
        this.log.error("fetch", { err: String(error) }, "fetching a leg's state failed");
        return false;
      })
      .then((gone) => this.drain(uuid, gone));
    this.fetching.add(fetching);
    fetching.finally(() => this.fetching.delete(fetching));
  }

  /**
   * Resolves once every leg whose state was being fetched has had its waiting events processed.
   * Shutdown waits on it (after the connection stopped) so those events reach the store and the
   * exporter before they close.
   */
  async settle(): Promise<void> {
    while (this.fetching.size > 0) await Promise.all(this.fetching);
  }

  /** Handles a leg's waiting events in order, each guarded: one failure must not strand the rest. */
  private drain(uuid: string, gone: boolean): void {
    for (const event of this.pending.close(uuid)) {
      try {
        this.process(event, event.name, uuid, this.options.store.peek(uuid));
      } catch (error) {
        bump(this.counters.dropped, "processing_error");
        this.log.error(
          "drain",
          { err: error instanceof Error ? error.message : String(error) },
          "an event of a fetched leg could not be processed",
        );
      }
    }
    // A leg FreeSWITCH no longer knows sent a late report: export it, but do not keep a state
    // that nothing would remove before leg_ttl.
    if (gone && this.options.store.peek(uuid)?.labelSource === "partial") this.forget(uuid);
  }

  /** Loads or looks up a leg; resolves true when FreeSWITCH said the leg does not exist. */
  private async fetchLeg(
    uuid: string,
    aLegUuid: string | undefined,
    rtcp: boolean,
  ): Promise<boolean> {
    const { store } = this.options;
    // The A-leg's labels are inherited by a B-leg: fetch it too when it is not in memory.
    const aLegLoad =
      aLegUuid !== undefined && store.peek(aLegUuid) === undefined
        ? store.load(aLegUuid)
        : undefined;
    const [loaded] = await Promise.all([store.load(uuid), aLegLoad]);
    if (loaded !== undefined || !rtcp) return false;
    const looked = await this.lookupLeg(uuid);
    // A partial state is kept too, for the leg's waiting events; drain() drops it after them.
    if (store.peek(uuid) === undefined) this.save(looked);
    return looked.labelSource === "partial";
  }

  /**
   * One FreeSWITCH look-up per unknown leg; whatever happens, the leg gets the labels it has.
   * Concurrent requests for one leg share the look-up (a B-leg's look-up may fetch its A-leg
   * while the A-leg's own reports wait for the same answer).
   */
  private lookupLeg(uuid: string): Promise<LegState> {
    const running = this.lookups.get(uuid);
    if (running !== undefined) return running;
    const known = this.options.store.peek(uuid);
    if (known !== undefined && known.labelSource !== "partial") return Promise.resolve(known);
    // The state is kept before the look-up stops being shared: a caller that comes after it
    // (FreeSWITCH answered the A-leg and its B-leg in one read) finds the leg, never dumps it again.
    const lookup = this.runLookup(uuid)
      .then((looked) => this.keepLooked(looked))
      .finally(() => this.lookups.delete(uuid));
    this.lookups.set(uuid, lookup);
    return lookup;
  }

  /** A leg's own events may have created its state during the look-up: theirs wins. */
  private keepLooked(looked: LegState): LegState {
    const current = this.options.store.peek(looked.uuid);
    if (current !== undefined) return current;
    if (looked.labelSource !== "partial") this.save(looked);
    return looked;
  }

  private async runLookup(uuid: string): Promise<LegState> {
    if (this.lookupsInFlight >= MAX_LOOKUPS_IN_FLIGHT) {
      bump(this.counters.lookups, "skipped");
      return emptyLeg(uuid);
    }
    this.lookupsInFlight++;
    try {
      const fields = await this.options.lookup(uuid);
      if (fields === undefined) {
        bump(this.counters.lookups, "not_found");
        return emptyLeg(uuid);
      }
      const aLegUuid = otherALeg(fields["Channel-Call-UUID"], uuid);
      const aLeg = aLegUuid === undefined ? undefined : await this.aLegForLookup(aLegUuid);
      const leg = legFromLookup(fields, undefined, aLeg, this.intern);
      if (isUnusable(leg)) {
        bump(this.counters.lookups, "unusable");
        return emptyLeg(uuid);
      }
      bump(this.counters.lookups, "found");
      return leg;
    } catch (error) {
      bump(this.counters.lookups, "failed");
      this.log.warn(
        "lookup",
        { err: error instanceof Error ? error.message : String(error) },
        "cannot look up a leg the agent never saw on FreeSWITCH; exporting it with the labels it has",
      );
      return emptyLeg(uuid);
    } finally {
      this.lookupsInFlight--;
    }
  }

  /**
   * The A-leg of a B-leg being looked up: a B-leg inherits the call's correlation_id and domain
   * from it (SPEC §3), so when it is in neither memory nor Redis it is looked up too, and kept.
   */
  private async aLegForLookup(callUuid: string): Promise<LegState | undefined> {
    const { store } = this.options;
    const known = store.peek(callUuid) ?? (await store.load(callUuid));
    if (known !== undefined) return known;
    const looked = await this.lookupLeg(callUuid);
    return looked.labelSource === "partial" ? undefined : looked;
  }

  private process(event: EslEvent, name: string, uuid: string, leg: LegState | undefined): void {
    switch (name) {
      case "CHANNEL_CREATE":
      case "CHANNEL_ANSWER":
      case "CHANNEL_BRIDGE": {
        const next = legFromChannelEvent(event, leg, this.aLegOf(event, uuid), this.intern);
        if (isUnusable(next)) {
          this.unusable(next.unusable);
          return;
        }
        this.save(next);
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
        const atHangup =
          this.options.events.qos && leg?.qosReported !== true
            ? this.qos(event, uuid, leg, false)
            : undefined;
        this.qosReported.delete(uuid);
        this.completed(event, uuid, atHangup ?? leg?.labels);
        this.forget(uuid);
        break;
      }
    }
    bump(this.counters.processed, name);
  }

  private rtcp(event: EslEvent, leg: LegState | undefined): boolean {
    const result = computeRtcp(event, leg);
    if (isUnusable(result)) {
      this.unusable(result.unusable);
      return false;
    }
    applyRtcp(result);
    this.save(result.leg);
    if (result.video) {
      // The audio metrics are the leg's audio stream; a video report only taught the leg its
      // video SSRCs (so a SEND report on them, which has no RTP-Rate, is known as video too).
      this.unusable("rtcp_video");
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
    const bLeg = this.options.store.peek(bLegUuid);
    if (bLeg === undefined) return;
    const refreshed = legWithALeg(bLeg, aLeg, this.intern);
    if (refreshed !== bLeg) this.save(refreshed);
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
    if (leg?.qosReported === true || this.qosReported.has(uuid)) return undefined;
    this.rememberQos(uuid);
    // The hangup event carries the leg's full channel data: it completes (or creates) the labels,
    // but never moves the leg to another call (an unbridged B-leg names itself there).
    const labelled = legAtHangup(event, leg, this.aLegOf(event, uuid, leg, true), this.intern);
    if (isUnusable(labelled)) {
      this.unusable(labelled.unusable);
      return undefined;
    }
    const values = computeQos(event, labelled);
    if (keep) this.save({ ...labelled, qosReported: true });
    if (isUnusable(values)) {
      this.unusable(values.unusable);
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
      const fromEvent = legAtHangup(event, undefined, this.aLegOf(event, uuid), this.intern);
      labels = isUnusable(fromEvent) ? emptyLeg(uuid).labels : fromEvent.labels;
    }
    this.options.sinks.legCompleted(this.options.instance, labels);
  }

  /** Legs in progress on this instance, per domain (freeswitch.calls.active). */
  activeByDomain(): Map<string, number> {
    // Not through activeLegs(): these run every collection and status sample, over every leg,
    // and a generator's objects per leg (20,000 of them) were a sixth of what the agent allocated.
    const counts = new Map<string, number>();
    const { store } = this.options;
    for (const uuid of this.seen.keys()) {
      const domain = store.peek(uuid)?.labels.domainName;
      if (domain !== undefined) counts.set(domain, (counts.get(domain) ?? 0) + 1);
    }
    return counts;
  }

  /** How many legs activeLegs() would yield. */
  activeLegCount(): number {
    const { store } = this.options;
    let count = 0;
    for (const uuid of this.seen.keys()) if (store.peek(uuid) !== undefined) count++;
    return count;
  }

  /** Legs in progress on this instance with when they were first seen (the status page). */
  *activeLegs(): Iterable<ActiveLeg> {
    const { store } = this.options;
    for (const [uuid, since] of this.seen) {
      const leg = store.peek(uuid);
      if (leg !== undefined) yield { leg, since };
    }
  }

  /** Every leg state this router writes goes through here, so `seen` knows the leg. */
  private save(state: LegState): void {
    this.options.store.save(state);
    this.track(state.uuid);
  }

  private track(uuid: string): void {
    if (this.seen.has(uuid)) return;
    this.seen.set(uuid, this.now());
    if (this.seen.size < this.sweepAt) return;
    // Legs the store dropped on its own (max_legs, leg_ttl) never pass through forget(). After a
    // sweep only legs still in the store remain, and the next sweep waits for as many again:
    // the cost per tracked leg stays constant.
    const { store } = this.options;
    for (const known of this.seen.keys()) {
      if (store.peek(known) === undefined) this.seen.delete(known);
    }
    this.sweepAt = Math.max(MIN_SEEN_SWEEP, this.seen.size * 2);
  }

  /** The leg is over: out of the store and the sinks. */
  private forget(uuid: string): void {
    this.options.store.remove(uuid);
    this.seen.delete(uuid);
    this.options.sinks.legEnded(uuid);
  }

  /**
   * Another HA replica consumes this instance from now on: its legs leave this replica's memory
   * (their Redis copies stay for the new owner) and the sinks forget them. Call it once the
   * connection is stopped and settle() resolved.
   */
  handOver(): void {
    const { store, sinks } = this.options;
    for (const uuid of this.seen.keys()) {
      store.unload(uuid);
      sinks.legEnded(uuid);
    }
    this.seen.clear();
    this.sweepAt = MIN_SEEN_SWEEP;
  }

  /**
   * After a (re)connection: removes this instance's legs that FreeSWITCH no longer lists. They
   * ended while the agent was disconnected, so their DESTROY never came and nothing else would
   * remove them before leg_ttl; their end-of-call QoS is lost (FreeSWITCH no longer has it).
   * Only legs seen before the request was sent are candidates: a leg whose CREATE arrives
   * while the listing is on its way may be missing from it and still be live. Resolves the
   * number removed, or undefined when the listing could not be had or read. Never rejects.
   */
  async reconcile(list: (command: string) => Promise<string>): Promise<number | undefined> {
    const snapshot = [...this.seen.keys()];
    let output: string;
    try {
      output = await list(SHOW_CHANNELS);
    } catch (error) {
      this.log.warn(
        "reconcile",
        { err: error instanceof Error ? error.message : String(error) },
        "cannot list FreeSWITCH's channels after reconnecting; legs that ended meanwhile stay until leg_ttl",
      );
      return undefined;
    }
    const live = parseChannelUuids(output);
    if (live === undefined) {
      this.log.warn(
        "reconcile",
        { reply: output.slice(0, 120) },
        `unreadable '${SHOW_CHANNELS}' reply; legs that ended while disconnected stay until leg_ttl`,
      );
      return undefined;
    }
    this.log.clear("reconcile");
    let removed = 0;
    const { store } = this.options;
    for (const uuid of snapshot) {
      // Already gone (its DESTROY arrived meanwhile, or the store dropped it), or its events wait
      // on a fetch that will decide for itself: not ours to remove.
      if (store.peek(uuid) === undefined) {
        this.seen.delete(uuid);
        continue;
      }
      if (live.has(uuid) || this.pending.isWaiting(uuid)) continue;
      const ended = store.peek(uuid);
      if (ended !== undefined) this.options.sinks.legCompleted(this.options.instance, ended.labels);
      this.forget(uuid);
      removed++;
    }
    this.counters.legsReconciled += removed;
    if (snapshot.length > 0) {
      this.logger.info(
        { legs_reconciled: removed, legs_checked: snapshot.length },
        `reconciled with FreeSWITCH after reconnecting: ${removed} leg(s) ended while disconnected were removed (their end-of-call QoS is lost)`,
      );
    }
    return removed;
  }

  private rememberQos(uuid: string): void {
    if (this.qosReported.size >= MAX_QOS_REMEMBERED) {
      const oldest = this.qosReported.values().next();
      if (oldest.done !== true) this.qosReported.delete(oldest.value);
    }
    this.qosReported.add(uuid);
  }

  /** The state of the leg's call's A-leg; at hangup, of the call the leg is known to be in. */
  private aLegOf(
    event: EslEvent,
    uuid: string,
    known?: LegState,
    atHangup = false,
  ): LegState | undefined {
    const callUuid = callOf(known, event.get("Channel-Call-UUID"), atHangup);
    const aLegUuid = otherALeg(callUuid, uuid);
    return aLegUuid === undefined ? undefined : this.options.store.peek(aLegUuid);
  }

  private unusable(reason: string): void {
    bump(this.counters.unusable, reason);
  }
}
