import type { EslEvent } from "../esl/event.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { bump, type EventCounters } from "../pipeline/counters.js";
import { callOf, otherALeg } from "../quality/labels.js";
import type { RtcpResult } from "../quality/rtcp.js";
import type { LegLabels, LegState } from "../quality/types.js";
import type { Fence } from "../state/fence.js";
import type { LegStore } from "../state/store.js";
import { type Clock, systemClock } from "../util/clock.js";
import { StringPool } from "../util/string-pool.js";
import { TokenBucket } from "../util/token-bucket.js";
import { foldRtcp } from "./fold-rtcp.js";
import { LegLookups, type LookupResult } from "./leg-lookups.js";
import { NotFoundCache } from "./not-found-cache.js";
import { PartialRetries } from "./partial-retries.js";
import { PendingLegs } from "./pending.js";
import { parseChannelUuids, SHOW_CHANNELS } from "./show-channels.js";

/** Bound of the set of legs between their QoS report and their DESTROY (normally milliseconds). */
const MAX_QOS_REMEMBERED = 10_000;

/** The registry is never swept below this size: a sweep walks all of it. */
const MIN_SWEEP = 1024;

/** Legs whose "no such channel" is remembered at once, and legs owed a retry, per instance. */
const MAX_REMEMBERED_LOOKUPS = 10_000;

/**
 * How long a leg left with partial labels by a failed look-up waits for its one more: long enough
 * for a reconnection to pass, short next to a call.
 */
export const LOOKUP_RETRY_DELAY_MS = 10_000;

/**
 * How long a leg whose look-up was not sent (over lookups.rate, or too many in flight) waits to
 * try again: the rate refills within a second, and the try costs FreeSWITCH nothing until sent.
 */
export const LOOKUP_NOT_SENT_RETRY_MS = 1_000;

/** How the tracker bounds FreeSWITCH look-ups and the events waiting for a leg's state. */
export interface LookupLimits {
  /** Look-ups sent per second at most (lookups.rate); 0 = no limit. */
  readonly ratePerSecond: number;
  /** How long a "no such channel" answer holds (lookups.not_found_ttl). */
  readonly notFoundTtlMs: number;
  /** Bytes of events waiting for their leg's state (lookups.max_waiting_bytes). */
  readonly maxWaitingBytes: number;
}

/** The configuration's defaults (config/schema.ts): for trackers built without a configuration. */
export const DEFAULT_LOOKUP_LIMITS: LookupLimits = {
  ratePerSecond: 100,
  notFoundTtlMs: 60_000,
  maxWaitingBytes: 16 * 1024 * 1024,
};

/** Where a leg's end goes: the sinks forget it, and count it as completed. */
export interface LegEndSink {
  /** The leg is over: forget whatever was kept for it. */
  legEnded(uuid: string): void;
  /** A leg ended (its DESTROY came, or FreeSWITCH no longer had it after a reconnection). */
  legCompleted(instance: string, labels: LegLabels): void;
}

/** Handles one event of a leg, given the leg's state (undefined when it has none). */
export type LegEventHandler = (
  event: EslEvent,
  name: string,
  uuid: string,
  leg: LegState | undefined,
) => void;

export interface LegTrackerOptions {
  readonly instance: string;
  readonly store: LegStore;
  readonly counters: EventCounters;
  readonly sinks: LegEndSink;
  /**
   * A FreeSWITCH API command (`uuid_dump`, `show channels`) over the instance's current
   * connection; rejects when it cannot be sent or answered.
   */
  readonly api: (command: string) => Promise<string>;
  readonly logger: Logger;
  /**
   * Times the rate-limited log, when a leg was first seen (the status page's age), the look-up
   * rate, "no such channel" answers and retries.
   */
  readonly clock?: Clock;
  /** Default DEFAULT_LOOKUP_LIMITS. */
  readonly limits?: LookupLimits;
  /**
   * HA: the fence this replica's writes of the instance's legs carry now (state/fence.ts), so
   * that Redis refuses them once another replica owns the instance. Absent without HA.
   */
  readonly fence?: () => Fence;
}

/** A leg in progress, as the status page lists it. */
export interface ActiveLeg {
  readonly leg: LegState;
  /** When this tracker first saw the leg (ms since epoch). */
  readonly since: number;
}

function isRtcp(name: string): boolean {
  return name === "RECV_RTCP_MESSAGE" || name === "SEND_RTCP_MESSAGE";
}

/**
 * One FreeSWITCH instance's legs: which legs are its own (the store is shared by every instance
 * and a leg's state does not say where it came from), their state in the store, the events that
 * wait while a leg's state is fetched (from Redis after a restart, or looked up on FreeSWITCH for
 * a leg that began before the agent), reconcile after a reconnection, hand-over to another HA
 * replica, and the flag that reports a leg's end-of-call QoS once. Every write of leg state goes
 * through here.
 */
export class LegTracker {
  /** Shared copies of the label values many legs carry (domain, codec, direction, local IP). */
  readonly intern: (value: string) => string;
  private readonly pending: PendingLegs;
  private readonly lookups: LegLookups;
  private readonly notFound: NotFoundCache;
  private readonly retries: PartialRetries;
  private readonly fetching = new Set<Promise<void>>();
  /**
   * The legs this tracker put in the store, with when each was first seen. Entries leave when the
   * leg ends; legs the store evicted or expired on its own are swept lazily (see register), so
   * the registry stays within a small multiple of the store's size.
   */
  private readonly legs = new Map<string, number>();
  private sweepAt = MIN_SWEEP;
  /**
   * Legs whose QoS was reported and whose DESTROY has not come yet. The leg state says so too,
   * but a full store may evict it in between; this small set keeps DESTROY from reporting again.
   */
  private readonly qosReported = new Set<string>();
  private readonly store: LegStore;
  private readonly logger: Logger;
  private readonly log: RateLimitedLog;
  private readonly clock: Clock;

  constructor(private readonly options: LegTrackerOptions) {
    this.store = options.store;
    this.logger = options.logger.child({ fs_instance: options.instance });
    this.clock = options.clock ?? systemClock;
    this.log = new RateLimitedLog(this.logger, undefined, this.clock);
    const pool = new StringPool();
    this.intern = (value) => pool.intern(value);
    const limits = options.limits ?? DEFAULT_LOOKUP_LIMITS;
    this.pending = new PendingLegs({ maxBytes: limits.maxWaitingBytes });
    this.notFound = new NotFoundCache(limits.notFoundTtlMs, MAX_REMEMBERED_LOOKUPS, this.clock);
    this.retries = new PartialRetries(MAX_REMEMBERED_LOOKUPS, this.clock);
    // A second's worth of look-ups may go at once (an agent started among live calls).
    const rate =
      limits.ratePerSecond > 0
        ? new TokenBucket(limits.ratePerSecond, Math.max(1, limits.ratePerSecond), this.clock)
        : undefined;
    this.lookups = new LegLookups({
      notFound: this.notFound,
      rate,
      store: options.store,
      api: options.api,
      counters: options.counters,
      keep: (state) => this.save(state),
      intern: this.intern,
      failed: (error) =>
        this.log.warn(
          "lookup",
          { err: error instanceof Error ? error.message : String(error) },
          "cannot look up a leg the agent never saw on FreeSWITCH; exporting it with the labels it has",
        ),
    });
  }

  /**
   * Hands the event to `handle` with its leg's state: now, or, when the leg's state must be
   * fetched first, once it is (its later events wait meanwhile, so no leg's events are
   * reordered). An event that cannot wait (too many legs or events waiting) is counted as dropped.
   */
  admit(event: EslEvent, name: string, uuid: string, handle: LegEventHandler): void {
    if (this.pending.isWaiting(uuid)) {
      const refused = this.pending.add(uuid, event);
      if (refused !== undefined) bump(this.options.counters.dropped, refused);
      return;
    }
    const leg = this.store.peek(uuid);
    if (leg === undefined) {
      if (isRtcp(name)) {
        // FreeSWITCH said lately it has no such leg: its reports are dropped without asking
        // again (the look-up storm of issue 21), until the answer expires.
        if (this.notFound.size > 0 && this.notFound.has(uuid)) {
          bump(this.options.counters.dropped, "leg_not_found");
          return;
        }
      } else if (name !== "CHANNEL_DESTROY" && this.notFound.size > 0) {
        // A channel event carries the leg's identity: the leg exists after all.
        this.notFound.forget(uuid);
      }
      if (this.needsFetch(name, event, uuid)) {
        this.fetch(uuid, event, name, handle, false);
        return;
      }
    } else if (leg.labelSource === "partial" && isRtcp(name) && this.retries.take(uuid)) {
      // The one more look-up a leg left with partial labels is owed.
      this.fetch(uuid, event, name, handle, true);
      return;
    }
    handle(event, name, uuid, leg);
  }

  peek(uuid: string): LegState | undefined {
    return this.store.peek(uuid);
  }

  /** Every leg state written goes through here, so the registry knows the leg. */
  save(state: LegState): void {
    this.store.save(state, this.options.fence?.());
    this.register(state.uuid);
  }

  /** Folds a computed RTCP report into its leg and keeps the leg. */
  fold(result: RtcpResult): void {
    foldRtcp(result);
    this.save(result.leg);
  }

  /** The state of the leg's call's A-leg; at hangup, of the call the leg is known to be in. */
  aLegOf(event: EslEvent, uuid: string, known?: LegState, atHangup = false): LegState | undefined {
    const aLegUuid = otherALeg(callOf(known, event.get("Channel-Call-UUID"), atHangup), uuid);
    return aLegUuid === undefined ? undefined : this.store.peek(aLegUuid);
  }

  /**
   * True the first time a leg's end-of-call QoS is to be reported (HANGUP_COMPLETE and DESTROY
   * both carry it); false for every later time.
   */
  claimQos(uuid: string, leg: LegState | undefined): boolean {
    if (leg?.qosReported === true || this.qosReported.has(uuid)) return false;
    if (this.qosReported.size >= MAX_QOS_REMEMBERED) {
      const oldest = this.qosReported.values().next();
      if (oldest.done !== true) this.qosReported.delete(oldest.value);
    }
    this.qosReported.add(uuid);
    return true;
  }

  /** The leg is over (its DESTROY came): out of the store, the registry and the sinks. */
  end(uuid: string): void {
    this.qosReported.delete(uuid);
    this.forget(uuid);
  }

  /**
   * Resolves once every leg whose state was being fetched has had its waiting events handled.
   * Shutdown waits on it (after the connection stopped) so those events reach the store and the
   * exporter before they close.
   */
  async settle(): Promise<void> {
    while (this.fetching.size > 0) await Promise.all(this.fetching);
  }

  /**
   * After a (re)connection: removes this instance's legs that FreeSWITCH no longer lists. They
   * ended while the agent was disconnected, so their DESTROY never came and nothing else would
   * remove them before leg_ttl; their end-of-call QoS is lost (FreeSWITCH no longer has it).
   * Only legs seen before the request was sent are candidates: a leg whose CREATE arrives
   * while the listing is on its way may be missing from it and still be live. Resolves the
   * number removed, or undefined when the listing could not be had or read. Never rejects.
   */
  async reconcile(): Promise<number | undefined> {
    const snapshot = [...this.legs.keys()];
    let output: string;
    try {
      output = await this.options.api(SHOW_CHANNELS);
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
    for (const uuid of snapshot) {
      const ended = this.store.peek(uuid);
      // Already gone (its DESTROY arrived meanwhile, or the store dropped it), or its events wait
      // on a fetch that will decide for itself: not ours to remove.
      if (ended === undefined) {
        this.legs.delete(uuid);
        continue;
      }
      if (live.has(uuid) || this.pending.isWaiting(uuid)) continue;
      this.options.sinks.legCompleted(this.options.instance, ended.labels);
      this.forget(uuid);
      removed++;
    }
    this.options.counters.legsReconciled += removed;
    if (snapshot.length > 0) {
      this.logger.info(
        { legs_reconciled: removed, legs_checked: snapshot.length },
        `reconciled with FreeSWITCH after reconnecting: ${removed} leg(s) ended while disconnected were removed (their end-of-call QoS is lost)`,
      );
    }
    return removed;
  }

  /**
   * Another HA replica consumes this instance from now on: its legs leave this replica's memory
   * (their Redis copies stay for the new owner) and the sinks forget them. Call it once the
   * connection is stopped and settle() resolved.
   */
  handOver(): void {
    const { sinks } = this.options;
    for (const uuid of this.legs.keys()) {
      // Once its pending write is answered: with HA, that is when its last loss is exported.
      this.store.unload(uuid, () => sinks.legEnded(uuid));
    }
    this.legs.clear();
    this.sweepAt = MIN_SWEEP;
    // What FreeSWITCH answered is stale by the time the instance comes back.
    this.notFound.clear();
    this.retries.clear();
  }

  /** Legs in progress on this instance, per domain (freeswitch.calls.active). */
  activeByDomain(): Map<string, number> {
    // Not through activeLegs(): these run every collection and status sample, over every leg,
    // and a generator's objects per leg (20,000 of them) were a sixth of what the agent allocated.
    const counts = new Map<string, number>();
    for (const uuid of this.legs.keys()) {
      const domain = this.store.peek(uuid)?.labels.domainName;
      if (domain !== undefined) counts.set(domain, (counts.get(domain) ?? 0) + 1);
    }
    return counts;
  }

  /** How many legs activeLegs() would yield. */
  activeLegCount(): number {
    let count = 0;
    for (const uuid of this.legs.keys()) if (this.store.peek(uuid) !== undefined) count++;
    return count;
  }

  /** Legs in progress on this instance with when they were first seen (the status page). */
  *activeLegs(): Iterable<ActiveLeg> {
    for (const [uuid, since] of this.legs) {
      const leg = this.store.peek(uuid);
      if (leg !== undefined) yield { leg, since };
    }
  }

  /**
   * Whether an event of a leg not in memory should wait for the leg's state. With Redis, any
   * event but CREATE may find the leg there (agent restarted mid-call), and a new B-leg (a
   * transfer, a forward) may need an A-leg that is only there. Without Redis, only RTCP needs a
   * FreeSWITCH look-up: channel events carry the leg's data themselves.
   */
  private needsFetch(name: string, event: EslEvent, uuid: string): boolean {
    if (this.store.kind !== "redis") return isRtcp(name);
    if (name !== "CHANNEL_CREATE") return true;
    const aLegUuid = otherALeg(event.get("Channel-Call-UUID"), uuid);
    return aLegUuid !== undefined && this.store.peek(aLegUuid) === undefined;
  }

  private fetch(
    uuid: string,
    first: EslEvent,
    name: string,
    handle: LegEventHandler,
    retry: boolean,
  ): void {
    const refused = this.pending.open(uuid, first);
    if (refused !== undefined) {
      bump(this.options.counters.dropped, refused);
      // The retry was not tried: the leg's next report tries again.
      if (retry) this.retries.schedule(uuid, LOOKUP_NOT_SENT_RETRY_MS);
      return;
    }
    const aLegUuid = otherALeg(first.get("Channel-Call-UUID"), uuid);
    const fetching = this.fetchLeg(uuid, aLegUuid, isRtcp(name), retry)
      .catch((error: unknown): LookupResult | undefined => {
        // fetchLeg handles its own failures; this is the last guard of an async path.
        this.log.error("fetch", { err: String(error) }, "fetching a leg's state failed");
        return undefined;
      })
      .then((result) => this.drain(uuid, result, retry, handle));
    this.fetching.add(fetching);
    fetching.finally(() => this.fetching.delete(fetching));
  }

  /**
   * Loads or looks up a leg; resolves how its look-up ended, or undefined when none was needed
   * (the leg's state was in the store, or the event carries the leg's data itself).
   */
  private async fetchLeg(
    uuid: string,
    aLegUuid: string | undefined,
    rtcp: boolean,
    retry: boolean,
  ): Promise<LookupResult | undefined> {
    const store = this.store;
    // The A-leg's labels are inherited by a B-leg: fetch it too when it is not in memory.
    const aLegLoad =
      aLegUuid !== undefined && store.peek(aLegUuid) === undefined
        ? store.load(aLegUuid)
        : undefined;
    const [loaded] = await Promise.all([store.load(uuid), aLegLoad]);
    if (!rtcp) return undefined;
    // A retry looks up the partial state it was owed for; any other state found is used as is.
    if (loaded !== undefined && !(retry && loaded.labelSource === "partial")) return undefined;
    const looked = await this.lookups.leg(uuid);
    // A partial state is kept too, for the leg's waiting events (drain() decides what stays).
    if (store.peek(uuid) === undefined) this.save(looked.state);
    return looked.result;
  }

  /**
   * Handles a leg's waiting events in order, each guarded: one failure must not strand the rest;
   * then settles what the look-up (`result`) left.
   */
  private drain(
    uuid: string,
    result: LookupResult | undefined,
    retry: boolean,
    handle: LegEventHandler,
  ): void {
    for (const event of this.pending.close(uuid)) {
      try {
        handle(event, event.name, uuid, this.store.peek(uuid));
      } catch (error) {
        bump(this.options.counters.dropped, "processing_error");
        this.log.error(
          "drain",
          { err: error instanceof Error ? error.message : String(error) },
          "an event of a fetched leg could not be processed",
        );
      }
    }
    if (result !== undefined) this.afterLookup(uuid, result, retry);
  }

  /**
   * What a look-up leaves: a leg FreeSWITCH does not have is forgotten (its reports that waited
   * went out with the labels they had); a leg whose look-up failed or was not sent keeps its
   * partial state and is owed one more look-up, counted.
   */
  private afterLookup(uuid: string, result: LookupResult, retry: boolean): void {
    const partial = this.store.peek(uuid)?.labelSource === "partial";
    const { partialLabels } = this.options.counters;
    switch (result) {
      case "not_found":
      case "skipped_not_found":
        // A late report of a leg FreeSWITCH no longer knows: exported, but no state is kept
        // that nothing would remove before leg_ttl.
        if (partial) this.forget(uuid);
        return;
      case "failed":
      case "unusable":
        // FreeSWITCH was asked: a first failure earns one more try, a second one is final.
        if (!partial) return;
        bump(partialLabels, retry ? "retry" : "first");
        if (!retry) this.retries.schedule(uuid, LOOKUP_RETRY_DELAY_MS);
        return;
      case "skipped":
      case "rate_limited":
        // Nothing was asked: the try the leg is owed stays owed, soon (the rate refills).
        if (!partial) return;
        if (!retry) bump(partialLabels, "first");
        this.retries.schedule(uuid, LOOKUP_NOT_SENT_RETRY_MS);
        return;
      default:
        return;
    }
  }

  private register(uuid: string): void {
    if (this.legs.has(uuid)) return;
    this.legs.set(uuid, this.clock.now());
    if (this.legs.size < this.sweepAt) return;
    // Legs the store dropped on its own (max_legs, leg_ttl) never pass through forget(). After a
    // sweep only legs still in the store remain, and the next sweep waits for as many again:
    // the cost per registered leg stays constant.
    for (const known of this.legs.keys()) {
      if (this.store.peek(known) === undefined) this.legs.delete(known);
    }
    this.sweepAt = Math.max(MIN_SWEEP, this.legs.size * 2);
  }

  /** Out of the store, the registry and the sinks. */
  private forget(uuid: string): void {
    this.store.remove(uuid, this.options.fence?.());
    this.legs.delete(uuid);
    this.retries.forget(uuid);
    this.options.sinks.legEnded(uuid);
  }
}
