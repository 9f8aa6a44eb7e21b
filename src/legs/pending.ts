import type { EslEvent } from "../esl/event.js";

/**
 * Events of legs whose state is being fetched (from Redis after a restart, or from FreeSWITCH
 * for a leg that began before the agent). A leg's events must be handled in arrival order, so
 * while its fetch runs, its later events wait here. Bounded twice: legs waiting at once, and
 * events per leg; what does not fit is refused and the caller counts the drop.
 */
export class PendingLegs {
  private readonly waiting = new Map<string, EslEvent[]>();

  constructor(
    private readonly maxLegs = 10_000,
    private readonly maxEventsPerLeg = 64,
  ) {}

  isWaiting(uuid: string): boolean {
    return this.waiting.has(uuid);
  }

  /** Starts waiting for a leg with its first event; false when too many legs already wait. */
  open(uuid: string, first: EslEvent): boolean {
    if (this.waiting.size >= this.maxLegs) return false;
    this.waiting.set(uuid, [first.retain()]);
    return true;
  }

  /** Queues a later event of a waiting leg; false when the leg's queue is full. */
  add(uuid: string, event: EslEvent): boolean {
    const queue = this.waiting.get(uuid);
    if (queue === undefined || queue.length >= this.maxEventsPerLeg) return false;
    queue.push(event.retain());
    return true;
  }

  /** Ends the wait and hands back the leg's events in arrival order. */
  close(uuid: string): EslEvent[] {
    const queue = this.waiting.get(uuid) ?? [];
    this.waiting.delete(uuid);
    return queue;
  }

  get size(): number {
    return this.waiting.size;
  }
}
