import { setNewest } from "../util/bounded-map.js";
import type { Clock } from "../util/clock.js";

/**
 * Legs FreeSWITCH said it does not have (`uuid_dump` answered `-ERR No such channel!`): a late
 * report after the leg's DESTROY, a leg evicted by storage.max_legs after it ended, a leg of
 * another replica's hand-over window. Their reports keep coming at RTCP rate, and asking again at
 * each would cost a look-up per leg per burst; for `ttlMs` the answer is taken as still true.
 * Bounded: past `maxEntries`, the oldest answer is forgotten (that leg may be looked up again).
 */
export class NotFoundCache {
  /** Expiry (clock ms) per leg, in insertion order: with one TTL, the oldest expires first. */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly clock: Clock,
  ) {}

  /** FreeSWITCH said now that the leg does not exist. */
  remember(uuid: string): void {
    const now = this.clock.now();
    this.sweep(now);
    // Re-inserted at the end, so insertion order stays expiry order.
    setNewest(this.until, uuid, now + this.ttlMs, this.maxEntries);
  }

  /** Whether FreeSWITCH said less than ttl ago that the leg does not exist. */
  has(uuid: string): boolean {
    const until = this.until.get(uuid);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.until.delete(uuid);
    return false;
  }

  /** The leg exists after all (an event made it known): its next report is not dropped. */
  forget(uuid: string): void {
    this.until.delete(uuid);
  }

  clear(): void {
    this.until.clear();
  }

  get size(): number {
    return this.until.size;
  }

  /** Drops expired answers from the front: amortised, each entry is swept at most once. */
  private sweep(now: number): void {
    for (const [uuid, until] of this.until) {
      if (until > now) return;
      this.until.delete(uuid);
    }
  }
}
