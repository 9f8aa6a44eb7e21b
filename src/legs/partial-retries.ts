import { setNewest } from "../util/bounded-map.js";
import type { Clock } from "../util/clock.js";

/**
 * Legs left with partial labels because their look-up failed, was rate-limited or skipped, and
 * that are owed one more look-up: at their first event after a delay. A failure is often
 * passing (a reconnection, a burst of look-ups), so one more try is worth it; more would turn a
 * FreeSWITCH that cannot answer into a look-up per report. Bounded: past `maxEntries`, the
 * oldest leg loses its retry and keeps its partial labels.
 */
export class PartialRetries {
  /** When each leg's retry is due (clock ms), in insertion order. */
  private readonly dueAt = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly clock: Clock,
  ) {}

  /** The leg is owed one more look-up, `delayMs` from now. */
  schedule(uuid: string, delayMs: number): void {
    setNewest(this.dueAt, uuid, this.clock.now() + delayMs, this.maxEntries);
  }

  /** True once, when the leg's retry is due: the caller looks it up (or schedules it again). */
  take(uuid: string): boolean {
    const due = this.dueAt.get(uuid);
    if (due === undefined || this.clock.now() < due) return false;
    this.dueAt.delete(uuid);
    return true;
  }

  forget(uuid: string): void {
    this.dueAt.delete(uuid);
  }

  clear(): void {
    this.dueAt.clear();
  }

  get size(): number {
    return this.dueAt.size;
  }
}
