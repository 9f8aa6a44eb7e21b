import type { EslEvent } from "../esl/event.js";

/** Why an event could not wait: its fsagent_events_dropped_total reason. */
export type PendingRefusal = "too_many_legs_waiting" | "leg_queue_full" | "too_many_bytes_waiting";

export interface PendingLimits {
  /** Legs waiting at once. */
  readonly maxLegs: number;
  /** Events waiting per leg. */
  readonly maxEventsPerLeg: number;
  /** Bytes of all waiting events together (each a copy of its frame: see EslEvent.retain). */
  readonly maxBytes: number;
}

const DEFAULT_LIMITS: PendingLimits = {
  maxLegs: 10_000,
  maxEventsPerLeg: 64,
  maxBytes: 16 * 1024 * 1024,
};

/**
 * Events of legs whose state is being fetched (from Redis after a restart, or from FreeSWITCH
 * for a leg that began before the agent). A leg's events must be handled in arrival order, so
 * while its fetch runs, its later events wait here. Bounded three times: legs waiting at once,
 * events per leg, and bytes in all (the counts alone allow 640,000 events, gigabytes of frames
 * when legs' events are large); what does not fit is refused and the caller counts the drop.
 */
export class PendingLegs {
  private readonly waiting = new Map<string, EslEvent[]>();
  private readonly limits: PendingLimits;
  private heldBytes = 0;

  constructor(limits: Partial<PendingLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  isWaiting(uuid: string): boolean {
    return this.waiting.has(uuid);
  }

  /** Starts waiting for a leg with its first event; undefined when it waits, else why not. */
  open(uuid: string, first: EslEvent): PendingRefusal | undefined {
    if (this.waiting.size >= this.limits.maxLegs) return "too_many_legs_waiting";
    if (!this.fits(first)) return "too_many_bytes_waiting";
    this.waiting.set(uuid, [this.hold(first)]);
    return undefined;
  }

  /** Queues a later event of a waiting leg; undefined when it waits, else why not. */
  add(uuid: string, event: EslEvent): PendingRefusal | undefined {
    const queue = this.waiting.get(uuid);
    if (queue === undefined || queue.length >= this.limits.maxEventsPerLeg) return "leg_queue_full";
    if (!this.fits(event)) return "too_many_bytes_waiting";
    queue.push(this.hold(event));
    return undefined;
  }

  /** Ends the wait and hands back the leg's events in arrival order. */
  close(uuid: string): EslEvent[] {
    const queue = this.waiting.get(uuid);
    if (queue === undefined) return [];
    this.waiting.delete(uuid);
    for (const event of queue) this.heldBytes -= event.byteLength;
    return queue;
  }

  get size(): number {
    return this.waiting.size;
  }

  /** Bytes of the events waiting now. */
  get bytes(): number {
    return this.heldBytes;
  }

  private fits(event: EslEvent): boolean {
    return this.heldBytes + event.byteLength <= this.limits.maxBytes;
  }

  private hold(event: EslEvent): EslEvent {
    const held = event.retain();
    this.heldBytes += held.byteLength;
    return held;
  }
}
