import { bump, type EventCounters } from "../pipeline/counters.js";
import { emptyLeg, type Intern, legFromLookup, otherALeg } from "../quality/labels.js";
import type { LegState } from "../quality/types.js";
import { isUnusable } from "../quality/unusable.js";
import type { LegStore } from "../state/store.js";
import { type ChannelFields, parseUuidDump, uuidDumpCommand } from "./uuid-dump.js";

/** Look-ups of unknown legs allowed in flight at once; past it, the leg gets the labels it has. */
const MAX_LOOKUPS_IN_FLIGHT = 100;

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
}

/**
 * Look-ups (`uuid_dump`) of legs the agent never saw: shared per leg, bounded in number. Whatever
 * happens, a look-up resolves with a state: FreeSWITCH's labels, or a partial state with the
 * labels the leg has (its Unique-ID) when FreeSWITCH does not know it, cannot answer, or too
 * many look-ups are already running.
 */
export class LegLookups {
  private inFlight = 0;
  private readonly running = new Map<string, Promise<LegState>>();

  constructor(private readonly options: LegLookupsOptions) {}

  /**
   * The leg's state as FreeSWITCH knows it. Concurrent requests for one leg share the look-up
   * (a B-leg's look-up may fetch its A-leg while the A-leg's own reports wait for the same
   * answer), and a leg already labelled is never looked up again.
   */
  leg(uuid: string): Promise<LegState> {
    const running = this.running.get(uuid);
    if (running !== undefined) return running;
    const known = this.options.store.peek(uuid);
    if (known !== undefined && known.labelSource !== "partial") return Promise.resolve(known);
    // The state is kept before the look-up stops being shared: a caller that comes after it
    // (FreeSWITCH answered the A-leg and its B-leg in one read) finds the leg, never dumps it again.
    const lookup = this.run(uuid)
      .then((looked) => this.kept(looked))
      .finally(() => this.running.delete(uuid));
    this.running.set(uuid, lookup);
    return lookup;
  }

  /** A leg's own events may have created its state during the look-up: theirs wins. */
  private kept(looked: LegState): LegState {
    const current = this.options.store.peek(looked.uuid);
    if (current !== undefined) return current;
    if (looked.labelSource !== "partial") this.options.keep(looked);
    return looked;
  }

  private async run(uuid: string): Promise<LegState> {
    const { counters } = this.options;
    if (this.inFlight >= MAX_LOOKUPS_IN_FLIGHT) {
      bump(counters.lookups, "skipped");
      return emptyLeg(uuid);
    }
    this.inFlight++;
    try {
      const fields = await this.dump(uuid);
      if (fields === undefined) {
        bump(counters.lookups, "not_found");
        return emptyLeg(uuid);
      }
      const aLegUuid = otherALeg(fields["Channel-Call-UUID"], uuid);
      const aLeg = aLegUuid === undefined ? undefined : await this.aLeg(aLegUuid);
      const leg = legFromLookup(fields, undefined, aLeg, this.options.intern);
      if (isUnusable(leg)) {
        bump(counters.lookups, "unusable");
        return emptyLeg(uuid);
      }
      bump(counters.lookups, "found");
      return leg;
    } catch (error) {
      bump(counters.lookups, "failed");
      this.options.failed(error);
      return emptyLeg(uuid);
    } finally {
      this.inFlight--;
    }
  }

  private async dump(uuid: string): Promise<ChannelFields | undefined> {
    return parseUuidDump(await this.options.api(uuidDumpCommand(uuid)));
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
    return looked.labelSource === "partial" ? undefined : looked;
  }
}
