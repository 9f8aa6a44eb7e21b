import { bump, type EventCounters } from "../pipeline/counters.js";
import { emptyLeg, type Intern, legFromLookup, otherALeg } from "../quality/labels.js";
import type { LegState } from "../quality/types.js";
import { isUnusable } from "../quality/unusable.js";
import type { LegStore } from "../state/store.js";
import type { TokenBucket } from "../util/token-bucket.js";
import type { NotFoundCache } from "./not-found-cache.js";
import { type ChannelFields, parseUuidDump, uuidDumpCommand } from "./uuid-dump.js";

/** Look-ups of unknown legs allowed in flight at once; past it, the leg gets the labels it has. */
const MAX_LOOKUPS_IN_FLIGHT = 100;

/**
 * How a look-up ended: its fsagent_leg_lookups_total result, or `known` (the leg was already
 * labelled: nothing asked, nothing counted).
 */
export type LookupResult =
  | "found"
  | "known"
  | "not_found"
  | "skipped_not_found"
  | "unusable"
  | "failed"
  | "skipped"
  | "rate_limited";

/** A leg's state after a look-up, and how the look-up ended. */
export interface Looked {
  readonly state: LegState;
  readonly result: LookupResult;
}

export interface LegLookupsOptions {
  readonly store: LegStore;
  /** A FreeSWITCH API command over the instance's current connection; rejects when it cannot. */
  readonly api: (command: string) => Promise<string>;
  readonly counters: EventCounters;
  /** Keeps a looked-up leg (the tracker's save, so its registry knows the leg). */
  readonly keep: (state: LegState) => void;
  readonly intern: Intern;
  /** Says once (rate-limited) that look-ups fail. */
  readonly failed: (error: unknown) => void;
  /** Legs FreeSWITCH recently said it does not have: not asked about again meanwhile. */
  readonly notFound: NotFoundCache;
  /** The instance's look-up rate (lookups.rate); undefined = no limit. */
  readonly rate: TokenBucket | undefined;
}

/** FreeSWITCH's answer for a uuid it has no channel for (mod_commands' uuid_dump). */
function isNoSuchChannel(output: string): boolean {
  return output.startsWith("-ERR No such channel");
}

/**
 * Look-ups (`uuid_dump`) of legs the agent never saw: shared per leg, bounded in number and in
 * rate. Whatever happens, a look-up resolves with a state: FreeSWITCH's labels, or a partial state
 * with the labels the leg has (its Unique-ID) when FreeSWITCH does not know it, cannot answer, or
 * the look-up is not sent (too many in flight, over the rate, FreeSWITCH said recently it does not
 * have the leg).
 */
export class LegLookups {
  private inFlight = 0;
  private readonly running = new Map<string, Promise<Looked>>();

  constructor(private readonly options: LegLookupsOptions) {}

  /**
   * The leg's state as FreeSWITCH knows it. Concurrent requests for one leg share the look-up
   * (a B-leg's look-up may fetch its A-leg while the A-leg's own reports wait for the same
   * answer), and a leg already labelled is never looked up again. A leg with a partial state
   * is looked up, and keeps its RTCP history when FreeSWITCH labels it.
   */
  leg(uuid: string): Promise<Looked> {
    const running = this.running.get(uuid);
    if (running !== undefined) return running;
    const known = this.options.store.peek(uuid);
    if (known !== undefined && known.labelSource !== "partial") {
      return Promise.resolve({ state: known, result: "known" });
    }
    // The state is kept before the look-up stops being shared: a caller that comes after it
    // (FreeSWITCH answered the A-leg and its B-leg in one read) finds the leg, never dumps it again.
    const lookup = this.run(uuid).finally(() => this.running.delete(uuid));
    this.running.set(uuid, lookup);
    return lookup;
  }

  private async run(uuid: string): Promise<Looked> {
    const { counters, notFound, rate } = this.options;
    const partial = (result: LookupResult): Looked => {
      bump(counters.lookups, result);
      return { state: emptyLeg(uuid), result };
    };
    if (notFound.has(uuid)) return partial("skipped_not_found");
    if (this.inFlight >= MAX_LOOKUPS_IN_FLIGHT) return partial("skipped");
    if (rate !== undefined && !rate.take()) return partial("rate_limited");
    this.inFlight++;
    try {
      const output = await this.options.api(uuidDumpCommand(uuid));
      const fields = parseUuidDump(output);
      if (fields === undefined) {
        // Only FreeSWITCH's own "no such channel" is remembered: any other answer (a usage
        // error, a reply the agent cannot read) says nothing about whether the leg exists.
        if (isNoSuchChannel(output)) notFound.remember(uuid);
        return partial("not_found");
      }
      // Awaited here: a failure while reading the A-leg counts as a failed look-up.
      return await this.labelled(uuid, fields);
    } catch (error) {
      this.options.failed(error);
      return partial("failed");
    } finally {
      this.inFlight--;
    }
  }

  /**
   * The leg from FreeSWITCH's fields, kept. Computed on the state the leg has when the answer
   * is in (a partial state keeps its RTCP history); a leg whose own events labelled it during
   * the look-up keeps that state: theirs wins.
   */
  private async labelled(uuid: string, fields: ChannelFields): Promise<Looked> {
    const { counters, store } = this.options;
    const aLegUuid = otherALeg(fields["Channel-Call-UUID"], uuid);
    const aLeg = aLegUuid === undefined ? undefined : await this.aLeg(aLegUuid);
    const current = store.peek(uuid);
    if (current !== undefined && current.labelSource !== "partial") {
      bump(counters.lookups, "found");
      return { state: current, result: "found" };
    }
    const leg = legFromLookup(fields, current, aLeg, this.options.intern);
    if (isUnusable(leg)) {
      bump(counters.lookups, "unusable");
      return { state: current ?? emptyLeg(uuid), result: "unusable" };
    }
    bump(counters.lookups, "found");
    this.options.keep(leg);
    return { state: leg, result: "found" };
  }

  /**
   * The A-leg of a B-leg being looked up: a B-leg inherits the call's correlation_id and domain
   * from it (SPEC §3), so when it is in neither memory nor Redis it is looked up too, and kept.
   */
  private async aLeg(callUuid: string): Promise<LegState | undefined> {
    const { store } = this.options;
    const known = store.peek(callUuid) ?? (await store.load(callUuid));
    if (known !== undefined) return known;
    const looked = await this.leg(callUuid);
    return looked.state.labelSource === "partial" ? undefined : looked.state;
  }
}
