import type { LegState } from "../quality/types.js";
import type { Fence } from "./fence.js";

/** Counts of store operations for fsagent_storage_operations_total{operation,status}. */
export interface StoreOpCount {
  readonly operation: string;
  readonly status: "ok" | "error";
  readonly count: number;
}

/**
 * Where leg state lives. Both stores keep the live legs in a bounded in-memory map (the hot
 * path never waits); the Redis store also keeps a durable copy, written behind in pipelined
 * batches and read only on a miss (after a restart, or an HA handover).
 */
export interface LegStore {
  readonly kind: "memory" | "redis";
  /** The leg if it is in memory. Synchronous: this is the hot path. */
  peek(uuid: string): LegState | undefined;
  /**
   * The leg from the durable copy, for a leg not in memory (memory store: always undefined).
   * Resolves undefined when the store is unreachable (counted), never rejects.
   */
  load(uuid: string): Promise<LegState | undefined>;
  /**
   * Keeps the new state in memory and queues its durable write. Never throws or blocks. With a
   * fence (HA), Redis applies the write only while the fence's token is current (fence.ts).
   */
  save(state: LegState, fence?: Fence): void;
  /** Forgets the leg everywhere (its CHANNEL_DESTROY came), not left to the TTL. */
  remove(uuid: string, fence?: Fence): void;
  /**
   * Forgets the leg's hot copy but keeps its durable copy: another HA replica consumes its
   * FreeSWITCH instance now, and reads the leg from Redis (if this replica takes the instance
   * back later, it must read it again, not trust a copy that went stale meanwhile). A write still
   * pending is sent first, and `gone` is called once the hot copy is gone. Not counted as an
   * eviction.
   */
  unload(uuid: string, gone?: () => void): void;
  /** Legs in memory. */
  readonly size: number;
  /** Every leg in memory (for reconciling against FreeSWITCH after a reconnect). */
  uuids(): IterableIterator<string>;
  /**
   * Resolves true once the durable copy can be read (at once for memory), false after
   * `timeoutMs`. The agent waits on it before consuming events, so the first report of a leg
   * after a restart finds its baseline instead of counting the whole cumulative loss again.
   */
  ready(timeoutMs: number): Promise<boolean>;
  /** Writes everything queued; resolves when done or when the store gave up (counted). */
  flush(): Promise<void>;
  close(): Promise<void>;
  operations(): readonly StoreOpCount[];
  /** Fenced writes Redis refused: the instance had a new owner by then (nothing applied). */
  readonly fencedWrites: Readonly<Record<FencedWrite, number>>;
  /** Legs dropped to stay within max_legs, and legs expired by leg_ttl. */
  readonly evicted: number;
  readonly expired: number;
}

export type FencedWrite = "leg_state" | "leg_delete";
