import type { LegState } from "../quality/types.js";
import { type Clock, systemClock, type TimerHandle } from "../util/clock.js";
import type { LegStore, StoreOpCount } from "./store.js";

/** Why a leg left the map without remove(): over max_legs, or not saved for leg_ttl. */
export type DropReason = "evicted" | "expired";

export interface MemoryStoreOptions {
  /** Legs kept at most; saving a new leg past it drops the least recently saved one. */
  readonly maxLegs: number;
  /** A leg not saved for this long is dropped by the sweep (its DESTROY was missed). */
  readonly legTtlMs: number;
  readonly clock?: Clock;
  /**
   * Pause between sweep steps when the last step found nothing more to expire. Default
   * min(1 s, legTtlMs). 0 disables the timer: the owner calls sweep() itself (tests do).
   */
  readonly sweepIntervalMs?: number;
  /**
   * Legs expired at most per sweep step. A backlog larger than this is drained over several
   * steps with a zero delay between them, so other work runs in between (no long pause).
   */
  readonly sweepBatch?: number;
  /** Told about every leg dropped by eviction or expiry (not remove()): the Redis store's hook. */
  readonly onDrop?: (uuid: string, reason: DropReason) => void;
}

const DEFAULT_SWEEP_BATCH = 1000;

/**
 * The hot map of live legs. Everything is synchronous and O(1) per call: the event path reads
 * and writes here and never waits.
 *
 * Two Maps share the same uuid strings: `legs` (uuid → state, for lookups; updated in place) and
 * `savedAt` (uuid → last save time, re-inserted on every save). Map iteration follows insertion
 * order, so the first entry of `savedAt` is always the least recently saved leg: that is the LRU
 * victim on eviction and the first candidate for expiry, and the sweep can stop at the first
 * leg that has not expired. The states themselves are stored as given, never wrapped (issue 5's
 * per-leg heap budget); the save time is an integer relative to the store's creation, which V8
 * keeps unboxed (no heap number per leg) for the first ~12 days of uptime; after that it is
 * still correct, just 16 bytes more per leg. Measured: ~130 bytes of map overhead per leg.
 */
export class MemoryStore implements LegStore {
  readonly kind = "memory";
  /** Nothing here is shared with another replica, so nothing is fenced. */
  readonly fencedWrites = { leg_state: 0, leg_delete: 0 } as const;
  private readonly legs = new Map<string, LegState>();
  private readonly savedAt = new Map<string, number>();
  private readonly clock: Clock;
  private readonly epoch: number;
  private readonly maxLegs: number;
  private readonly legTtlMs: number;
  private readonly sweepIntervalMs: number;
  private readonly sweepBatch: number;
  private readonly onDrop: ((uuid: string, reason: DropReason) => void) | undefined;
  private sweepTimer: TimerHandle | null = null;
  private closed = false;
  private evictedCount = 0;
  private expiredCount = 0;

  constructor(options: MemoryStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.epoch = this.clock.now();
    // A bound below 1 would evict the leg being saved; configuration validates, this guards.
    this.maxLegs = Math.max(1, Math.floor(options.maxLegs));
    this.legTtlMs = options.legTtlMs;
    this.sweepIntervalMs = options.sweepIntervalMs ?? Math.min(1000, Math.max(1, options.legTtlMs));
    this.sweepBatch = Math.max(1, options.sweepBatch ?? DEFAULT_SWEEP_BATCH);
    this.onDrop = options.onDrop;
    if (this.sweepIntervalMs > 0) this.armSweep(this.sweepIntervalMs);
  }

  get size(): number {
    return this.legs.size;
  }

  get evicted(): number {
    return this.evictedCount;
  }

  get expired(): number {
    return this.expiredCount;
  }

  peek(uuid: string): LegState | undefined {
    return this.legs.get(uuid);
  }

  /** Nothing is durable here. */
  load(_uuid: string): Promise<LegState | undefined> {
    return Promise.resolve(undefined);
  }

  save(state: LegState): void {
    const uuid = state.uuid;
    if (this.legs.has(uuid)) {
      // Delete + set moves the leg to the end of the insertion order: most recently saved.
      this.savedAt.delete(uuid);
    } else if (this.legs.size >= this.maxLegs) {
      this.evictOldest();
    }
    this.legs.set(uuid, state);
    this.savedAt.set(uuid, this.clock.now() - this.epoch);
  }

  remove(uuid: string): void {
    this.legs.delete(uuid);
    this.savedAt.delete(uuid);
  }

  /** No durable copy to keep: the same as remove(). */
  unload(uuid: string, gone?: () => void): void {
    this.remove(uuid);
    gone?.();
  }

  uuids(): IterableIterator<string> {
    return this.legs.keys();
  }

  ready(): Promise<boolean> {
    return Promise.resolve(true);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer !== null) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    return Promise.resolve();
  }

  /** Nothing to count: every operation is a Map access that cannot fail. */
  operations(): readonly StoreOpCount[] {
    return [];
  }

  /**
   * One bounded sweep step: drops legs not saved for legTtlMs, oldest first, at most `budget`
   * of them, and stops at the first leg that has not expired (all later ones are newer).
   * Returns how many it dropped. Called by the timer; public so tests can drive it.
   */
  sweep(budget = this.sweepBatch): number {
    // Expired when now - savedAt >= ttl, i.e. savedAt <= now - ttl (both relative to epoch).
    const cutoff = this.clock.now() - this.epoch - this.legTtlMs;
    let dropped = 0;
    // Deleting the entry being visited is safe during Map iteration.
    for (const [uuid, at] of this.savedAt) {
      if (at > cutoff || dropped >= budget) break;
      this.savedAt.delete(uuid);
      this.legs.delete(uuid);
      this.expiredCount++;
      dropped++;
      this.onDrop?.(uuid, "expired");
    }
    return dropped;
  }

  private evictOldest(): void {
    const oldest = this.savedAt.keys().next();
    if (oldest.done === true) return;
    const uuid = oldest.value;
    this.savedAt.delete(uuid);
    this.legs.delete(uuid);
    this.evictedCount++;
    this.onDrop?.(uuid, "evicted");
  }

  private armSweep(delayMs: number): void {
    const handle = this.clock.setTimeout(() => {
      this.sweepTimer = null;
      if (this.closed) return;
      const dropped = this.sweep();
      // A full budget means more may be waiting: continue right after other queued work.
      this.armSweep(dropped >= this.sweepBatch ? 0 : this.sweepIntervalMs);
    }, delayMs);
    handle.unref?.();
    this.sweepTimer = handle;
  }
}
