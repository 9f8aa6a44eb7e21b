import type { ConnectionOptions } from "node:tls";
import { Redis } from "ioredis";
import type { StorageConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import type { LegState } from "../quality/types.js";
import { backoffDelay } from "../util/backoff.js";
import { type Clock, systemClock, type TimerHandle, withTimeout } from "../util/clock.js";
import { FENCED_DEL_SCRIPT, FENCED_SET_SCRIPT, type Fence, landedKey } from "./fence.js";
import { decodeLegState } from "./leg-schema.js";
import { MemoryStore } from "./memory-store.js";
import { redisTlsOptions } from "./redis-tls.js";
import type { FencedWrite, LegStore, StoreOpCount } from "./store.js";

export interface RedisStoreOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Longest time a save waits before its pipeline is sent: the durability window. Default 50. */
  readonly flushIntervalMs?: number;
  /** Pending keys that trigger a flush at once; also the most keys one pipeline carries. Default 1000. */
  readonly batchSize?: number;
  /** A command (GET, or one command of a pipeline) without a reply by then fails. Default 1000. */
  readonly commandTimeoutMs?: number;
  /** TCP connect + handshake limit per attempt. Default 2000. */
  readonly connectTimeoutMs?: number;
  /**
   * Commands outstanding and no byte received for this long: the connection is dead (half-open)
   * and is replaced. Default 5000.
   */
  readonly socketTimeoutMs?: number;
  /** Reconnect delay: min(maxMs, initialMs · 2^(attempt-1)), jittered to 50–100 %. */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
  /** close(): the final flush and QUIT together take at most this long. Default 2000. */
  readonly closeTimeoutMs?: number;
  /** The hot map's expiry sweep (see MemoryStoreOptions). */
  readonly sweepIntervalMs?: number;
  /** Window of the rate-limited error log. Default 60 s. */
  readonly logWindowMs?: number;
  /**
   * HA: told, per leg, the packets lost (inbound, outbound) whose baseline is now in Redis: what
   * a landed write adds to the leg's RTCP loss totals since its previous landed (or loaded)
   * state, and at remove() what is left. Refused writes add nothing: the next owner counts those
   * packets from the older baseline. The metrics export waits for it (rtcp-series.ts).
   */
  readonly onDurableLoss?: (uuid: string, inbound: number, outbound: number) => void;
}

/** A leg's RTCP loss totals (summary.packetsLost) per direction: inbound, outbound. */
type LossTotals = readonly [number, number];

function lossTotals(state: LegState): LossTotals {
  return [state.rtcpIn?.packetsLost ?? 0, state.rtcpOut?.packetsLost ?? 0];
}

type Operation = "save" | "delete" | "load" | "flush";
/** What ioredis' pipeline exec() resolves with: one [error, reply] per command. */
type PipelineResults = [error: Error | null, result: unknown][];
const OPERATIONS: readonly Operation[] = ["save", "delete", "load", "flush"];

/** One command of a flush pipeline: the legs it writes or deletes, and their fence. */
interface BatchPart {
  readonly op: "save" | "delete";
  readonly uuids: string[];
  /** Saves: each leg's JSON, taken from the hot map when the batch is built (latest wins). */
  readonly values: string[];
  /** Saves: each leg's loss totals in that JSON (for onDurableLoss). */
  readonly losses: LossTotals[];
  readonly fence: Fence | null;
}

/** The key holding one leg's durable copy. */
function legKey(keyPrefix: string, uuid: string): string {
  return `${keyPrefix}leg:${uuid}`;
}

/**
 * Leg state kept in memory, with a durable copy in Redis written behind.
 *
 * Hot path: save()/peek()/remove() only touch the wrapped MemoryStore (same bound, LRU eviction
 * and expiry sweep as the memory store) and two pending sets; nothing waits for Redis.
 *
 * Write-behind: save() marks the leg dirty (a Set of uuids, so a leg has at most one pending write
 * however many events it gets, and the value written is whatever the hot map holds when the
 * pipeline is built: latest state wins). remove() cancels the pending write and queues a DEL. A
 * flush sends ONE pipeline with every pending SET (`SET key json PX legTtlMs`, which also refreshes
 * the TTL) and one DEL for the pending deletes; it runs flushIntervalMs after the first pending
 * change, or at once when batchSize keys are pending. One pipeline is in flight at a time, so
 * writes reach Redis in order; a larger backlog goes out in consecutive batches of batchSize keys
 * (bounded synchronous work per batch).
 *
 * Durability window: a crash loses at most the changes of the last flushIntervalMs (plus the one
 * round trip in flight); while Redis is down, everything since it went down.
 *
 * Bounds: the dirty set only holds legs that are in the hot map (evicted and expired legs leave
 * it), so it never exceeds maxLegs; the pending deletes are capped at maxLegs too (past that the
 * oldest is dropped and counted as a failed delete; its key still expires by TTL). So a leg
 * evicted while dirty loses its last unwritten change; its older copy stays in Redis (TTL) and a
 * later miss can still load it.
 *
 * Failures never reach the caller: while Redis is unreachable, saves stay pending (latest state
 * per leg) and are written by the first flush after the reconnect; a failed pipeline puts its
 * keys back in the pending sets unless something newer superseded them. load() answers undefined
 * at once when not connected (no offline queue), and a reply that is not a valid LegState is
 * counted and treated as a miss. The client reconnects forever with backoff; the first error is
 * logged, repeats are summed up by RateLimitedLog, and the recovery is logged at info.
 *
 * Fencing (HA): a save or remove with a fence is written by a script that applies it only while
 * the fence's token is current (fence.ts); the legs of one fence go in one script call per
 * flush. A refused write is counted (fencedWrites), logged and dropped, never retried: the leg
 * belongs to another replica now.
 */
export class RedisStore implements LegStore {
  readonly kind = "redis";
  private readonly memory: MemoryStore;
  private readonly client: Redis;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly errors: RateLimitedLog;
  /** host:port for log lines; never the password. */
  private readonly where: string;
  private readonly keyPrefix: string;
  private readonly legTtlMs: number;
  private readonly maxLegs: number;
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly closeTimeoutMs: number;
  private readonly onDurableLoss: RedisStoreOptions["onDurableLoss"];

  /** Legs whose current hot state is not yet in Redis, with their fence. Disjoint from `deletes`. */
  private readonly dirty = new Map<string, Fence | null>();
  /** Legs removed whose key is not yet deleted in Redis, with their fence. */
  private readonly deletes = new Map<string, Fence | null>();
  /** GETs in flight per leg, and the legs removed while one was (see load()). */
  private readonly loading = new Map<string, number>();
  private readonly removedWhileLoading = new Set<string>();
  /**
   * Unloaded legs kept in the hot map only until their pending write is answered (a subset of
   * dirty), with what to call once they are gone.
   */
  private readonly unloading = new Map<string, (() => void) | undefined>();
  /** With onDurableLoss: each hot leg's loss totals as Redis has them (landed or loaded). */
  private readonly landedLoss = new Map<string, LossTotals>();
  private readonly counts = new Map<string, number>();
  readonly fencedWrites: Record<FencedWrite, number> = { leg_state: 0, leg_delete: 0 };

  private flushTimer: TimerHandle | null = null;
  private flushDueAt = Number.POSITIVE_INFINITY;
  private inFlight: Promise<boolean> | null = null;
  private inFlightKeys = 0;
  /** Set when Redis was lost (or never reached after trying): flush attempts then count as errors. */
  private down = false;
  /** No flush before this time (set after a failed batch). */
  private retryAt = 0;
  private downSince = 0;
  private everReady = false;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(config: StorageConfig, options: RedisStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.errors = new RateLimitedLog(options.logger, options.logWindowMs ?? 60_000, this.clock);
    this.keyPrefix = config.redis.keyPrefix;
    this.legTtlMs = Math.max(1, Math.floor(config.legTtlMs));
    this.maxLegs = Math.max(1, Math.floor(config.maxLegs));
    this.flushIntervalMs = Math.max(1, options.flushIntervalMs ?? 50);
    this.batchSize = Math.max(1, options.batchSize ?? 1000);
    this.closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    this.onDurableLoss = options.onDurableLoss;
    this.where = `${config.redis.host}:${config.redis.port}`;
    for (const op of OPERATIONS) {
      this.counts.set(`${op}:ok`, 0);
      this.counts.set(`${op}:error`, 0);
    }

    this.memory = new MemoryStore({
      maxLegs: config.maxLegs,
      legTtlMs: config.legTtlMs,
      clock: this.clock,
      sweepIntervalMs: options.sweepIntervalMs,
      // A leg gone from the hot map has nothing left to write; keeping it out of `dirty` is
      // what bounds the dirty set by maxLegs. Its key, if any, expires by TTL like the leg did
      // (expiry) or stays readable for a later load() miss (eviction).
      onDrop: (uuid) => {
        this.dirty.delete(uuid);
        this.landedLoss.delete(uuid);
        this.unloaded(uuid);
      },
    });

    const reconnect = options.reconnect ?? { initialMs: 100, maxMs: 5000 };
    const commandTimeout = options.commandTimeoutMs ?? 1000;
    this.client = new Redis({
      host: config.redis.host,
      port: config.redis.port,
      // An ACL user (Redis 6+) authenticates with AUTH <username> <password>; "" is the default
      // user, for which a plain AUTH <password> is what older servers understand.
      username: config.redis.username === "" ? undefined : config.redis.username,
      password: config.redis.password === "" ? undefined : config.redis.password,
      tls: config.redis.tls ? this.tlsOptions(config) : undefined,
      db: config.redis.db,
      connectionName: "fsagent",
      // Construction does no network I/O and cannot throw; connect() below starts it in the
      // background.
      lazyConnect: true,
      // Fail fast instead of queueing behind a dead connection: a command issued while not
      // connected is rejected at once (the store keeps its own bounded pending sets instead).
      enableOfflineQueue: false,
      // Commands that were in flight when the connection dropped are failed on that close, not
      // kept for a resend: the store re-queues what matters itself, with the latest state.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      socketTimeout: options.socketTimeoutMs ?? 5000,
      // disconnect() waits this long (a ref'd timer) for the socket to end gracefully; after a
      // failed connect the socket never reports closing, and the 2 s default would hold a
      // shutting-down process open for 2 s.
      disconnectTimeout: 200,
      // Jitter keeps a fleet of agents from reconnecting in lockstep after a Redis restart.
      retryStrategy: (times) => backoffDelay(times - 1, { ...reconnect, jitter: "equal" }),
    });
    // Without an 'error' listener ioredis errors would be swallowed at best; with one they are
    // ours to count and log. Nothing here may throw.
    this.client.on("error", (error: unknown) => this.onError(error));
    this.client.on("close", () => this.onClose());
    this.client.on("ready", () => this.onReady());
    this.client.connect().catch(() => {
      // Already reported through 'error'; the retry strategy keeps trying.
    });
  }

  /** TLS to Redis; an unreadable CA file is logged (path and error code only, never contents). */
  private tlsOptions(config: StorageConfig): ConnectionOptions {
    return redisTlsOptions(config.redis, (error) => {
      this.logger.error(
        { redis: this.where, caFile: config.redis.caFile, err: describe(error) },
        "cannot read the Redis CA file; verifying Redis with Node's bundled CA roots instead",
      );
    });
  }

  /** True while the connection is up and ready for commands (for /health). */
  ready(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        this.clock.clearTimeout(timer);
        this.client.off("ready", onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = this.clock.setTimeout(() => done(this.connected), timeoutMs);
      this.client.on("ready", onReady);
    });
  }

  get connected(): boolean {
    return !this.closed && this.client.status === "ready";
  }

  get size(): number {
    return this.memory.size;
  }

  get evicted(): number {
    return this.memory.evicted;
  }

  get expired(): number {
    return this.memory.expired;
  }

  /** Writes not yet confirmed by Redis (SETs + DELs), including the pipeline in flight. */
  get pending(): number {
    return this.queued + this.inFlightKeys;
  }

  /** Writes waiting for a pipeline. */
  private get queued(): number {
    return this.dirty.size + this.deletes.size;
  }

  peek(uuid: string): LegState | undefined {
    return this.memory.peek(uuid);
  }

  save(state: LegState, fence?: Fence): void {
    this.memory.save(state);
    const uuid = state.uuid;
    this.deletes.delete(uuid);
    this.unloading.delete(uuid);
    this.dirty.set(uuid, fence ?? null);
    if (this.closed) return;
    if (this.queued >= this.batchSize && this.connected) this.armFlush(0);
    else this.armFlush(this.flushIntervalMs);
  }

  remove(uuid: string, fence?: Fence): void {
    if (this.loading.has(uuid)) this.removedWhileLoading.add(uuid);
    // The leg is over: nobody will count its last reports' loss again, durable or not.
    const state = this.memory.peek(uuid);
    if (state !== undefined) this.durable(uuid, lossTotals(state));
    this.landedLoss.delete(uuid);
    this.memory.remove(uuid);
    this.dirty.delete(uuid);
    this.unloading.delete(uuid);
    this.queueDelete(uuid, fence ?? null);
    if (!this.closed) this.armFlush(this.flushIntervalMs);
  }

  /**
   * The hot copy goes now, or once its pending write is answered: that write is the newest state
   * of the leg and the next owner reads it (during a Redis outage it waits with the other pending
   * writes). `gone` is called then (HA: the leg's series end only after its loss is durable).
   */
  unload(uuid: string, gone?: () => void): void {
    if (this.dirty.has(uuid) && !this.closed) {
      this.unloading.set(uuid, gone);
      return;
    }
    this.landedLoss.delete(uuid);
    this.memory.remove(uuid);
    this.unloaded(uuid);
    gone?.();
  }

  /** An unloaded leg's hot copy is gone: its callback runs (once). */
  private unloaded(uuid: string): void {
    if (!this.unloading.has(uuid)) return;
    const gone = this.unloading.get(uuid);
    this.unloading.delete(uuid);
    gone?.();
  }

  /** Reports the loss that `totals` adds to what Redis had of the leg (see onDurableLoss). */
  private durable(uuid: string, totals: LossTotals): void {
    const report = this.onDurableLoss;
    if (report === undefined || this.memory.peek(uuid) === undefined) return;
    const [inbound, outbound] = this.landedLoss.get(uuid) ?? [0, 0];
    this.landedLoss.set(uuid, totals);
    const addIn = Math.max(0, totals[0] - inbound);
    const addOut = Math.max(0, totals[1] - outbound);
    if (addIn > 0 || addOut > 0) report(uuid, addIn, addOut);
  }

  uuids(): IterableIterator<string> {
    return this.memory.uuids();
  }

  async load(uuid: string): Promise<LegState | undefined> {
    const hot = this.memory.peek(uuid);
    if (hot !== undefined) return hot;
    // Removed, DEL not written yet: Redis may still hold the old state, which must not return.
    if (this.deletes.has(uuid) || this.closed) return undefined;
    if (!this.connected) {
      this.count("load", "error");
      return undefined;
    }
    let text: string | null;
    let removed: boolean;
    this.loading.set(uuid, (this.loading.get(uuid) ?? 0) + 1);
    try {
      text = await this.client.get(legKey(this.keyPrefix, uuid));
    } catch (error) {
      this.count("load", "error");
      this.errors.warn(
        "redis:load",
        { redis: this.where, err: describe(error) },
        "Redis read of leg state failed; continuing without it",
      );
      return undefined;
    } finally {
      // A remove() during the GET: its DEL may already be sent (`deletes` no longer says so),
      // behind the GET on the connection, so the GET's answer is the state just removed.
      removed = this.removedWhileLoading.has(uuid);
      const left = (this.loading.get(uuid) ?? 1) - 1;
      if (left > 0) {
        this.loading.set(uuid, left);
      } else {
        this.loading.delete(uuid);
        this.removedWhileLoading.delete(uuid);
      }
    }
    if (text === null) {
      this.count("load", "ok");
      return undefined;
    }
    const state = decodeLegState(text, uuid);
    if (state === undefined) {
      this.count("load", "error");
      this.errors.warn(
        "redis:load:invalid",
        { redis: this.where, key: legKey(this.keyPrefix, uuid) },
        "Redis holds a value for a leg that is not valid leg state; ignored",
      );
      return undefined;
    }
    this.count("load", "ok");
    // A save() or remove() while the GET was in flight is newer than what Redis returned.
    const current = this.memory.peek(uuid);
    if (current !== undefined) return current;
    if (removed || this.deletes.has(uuid)) return undefined;
    // Into the hot map without marking it dirty: Redis already has exactly this.
    this.memory.save(state);
    if (this.onDurableLoss !== undefined) this.landedLoss.set(uuid, lossTotals(state));
    return state;
  }

  /**
   * Sends everything pending now (shutdown: SIGTERM → flush). Resolves when all of it is written,
   * or as soon as a batch fails or Redis is not connected (counted; the writes stay pending).
   */
  async flush(): Promise<void> {
    if (this.closed) return;
    // Saves arriving meanwhile are not waited for indefinitely: enough rounds for the backlog
    // present at the call.
    let rounds = Math.ceil(this.queued / this.batchSize) + 1;
    while (this.inFlight !== null) await this.inFlight;
    while (this.queued > 0 && rounds-- > 0) {
      if (!this.connected) {
        this.count("flush", "error");
        return;
      }
      if (!(await this.sendBatch())) return;
    }
  }

  /** Final flush (bounded by closeTimeoutMs), then QUIT, falling back to a hard disconnect. */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown();
    return this.closing;
  }

  operations(): readonly StoreOpCount[] {
    const out: StoreOpCount[] = [];
    for (const operation of OPERATIONS) {
      out.push({ operation, status: "ok", count: this.counts.get(`${operation}:ok`) ?? 0 });
      out.push({ operation, status: "error", count: this.counts.get(`${operation}:error`) ?? 0 });
    }
    return out;
  }

  private async shutdown(): Promise<void> {
    const deadline = this.clock.now() + this.closeTimeoutMs;
    this.disarmFlush();
    await this.memory.close();
    await withTimeout(this.flush(), this.closeTimeoutMs, this.clock);
    const wasConnected = this.connected;
    this.closed = true;
    this.disarmFlush();
    const left = Math.max(0, deadline - this.clock.now());
    const quit = wasConnected ? this.client.quit().then(() => true) : Promise.resolve(false);
    const done = await withTimeout(
      quit.catch(() => false),
      left,
      this.clock,
    );
    // quit() not possible (not connected), failed or too slow: cut the socket and stop retrying.
    if (done !== true) this.client.disconnect();
  }

  private queueDelete(uuid: string, fence: Fence | null): void {
    this.deletes.set(uuid, fence);
    if (this.deletes.size <= this.maxLegs) return;
    // Bounded during a long outage: the oldest pending delete is given up; its key expires by TTL.
    const oldest = this.deletes.keys().next();
    if (oldest.done === true) return;
    this.deletes.delete(oldest.value);
    this.count("delete", "error");
  }

  private count(operation: Operation, status: "ok" | "error", n = 1): void {
    const key = `${operation}:${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  /** Makes sure a flush runs within `delayMs` (an earlier one already armed is kept). */
  private armFlush(delayMs: number): void {
    if (this.closed) return;
    const now = this.clock.now();
    const due = Math.max(now + delayMs, this.retryAt);
    if (this.flushTimer !== null) {
      if (this.flushDueAt <= due) return;
      this.clock.clearTimeout(this.flushTimer);
    }
    this.flushDueAt = due;
    const handle = this.clock.setTimeout(() => {
      this.flushTimer = null;
      this.flushDueAt = Number.POSITIVE_INFINITY;
      this.onFlushTimer();
    }, due - now);
    // Pending writes must not keep the process alive; shutdown flushes explicitly.
    handle.unref?.();
    this.flushTimer = handle;
  }

  private disarmFlush(): void {
    if (this.flushTimer !== null) this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.flushDueAt = Number.POSITIVE_INFINITY;
  }

  private onFlushTimer(): void {
    if (this.queued === 0 || this.closed) return;
    if (this.inFlight !== null) return; // Its completion re-arms the timer.
    if (!this.connected) {
      // Counted only once Redis is known to be down, not during the first connect at startup.
      if (this.down) this.count("flush", "error");
      this.armFlush(this.flushIntervalMs);
      return;
    }
    void this.sendBatch();
  }

  /**
   * Takes up to batchSize pending keys and writes them in one pipeline. Resolves true when every
   * command succeeded; failed keys go back to the pending sets (unless superseded meanwhile).
   * Never rejects.
   */
  private sendBatch(): Promise<boolean> {
    // One pipeline at a time keeps writes in order and lets a failure re-queue safely.
    if (this.inFlight !== null) return this.inFlight.then(() => this.sendBatch());
    const parts = this.queueBatch();
    if (parts.length === 0) return Promise.resolve(true);
    const pipeline = this.client.pipeline();
    for (const part of parts) this.queueCommand(pipeline, part);

    this.inFlightKeys = parts.reduce((n, part) => n + part.uuids.length, 0);
    const settle = (results: PipelineResults | null, failure: unknown): boolean => {
      // Before re-queueing, so that `pending` never counts a key twice.
      this.inFlightKeys = 0;
      return this.settleBatch(parts, results, failure);
    };
    const sent = pipeline
      .exec()
      .then(
        (results) => settle(results, undefined),
        (error: unknown) => settle(null, error),
      )
      .catch((error: unknown) => {
        // settleBatch is plain bookkeeping; this only guards the "never rejects" promise.
        this.inFlightKeys = 0;
        this.logger.error({ err: describe(error) }, "Redis store bookkeeping failed");
        return false;
      })
      .then((ok) => {
        this.inFlight = null;
        // A failed batch holds further attempts back by one interval: Redis refusing writes
        // (OOM, READONLY) must not turn into a tight retry loop.
        if (!ok) this.retryAt = this.clock.now() + this.flushIntervalMs;
        // Whatever arrived meanwhile (or failed and was re-queued) gets the next turn.
        if (this.queued > 0)
          this.armFlush(this.queued >= this.batchSize ? 0 : this.flushIntervalMs);
        return ok;
      });
    this.inFlight = sent;
    return sent;
  }

  /**
   * Takes up to batchSize pending keys out of the pending sets: one part per fence for deletes
   * and fenced saves, one per leg for unfenced saves (each SET fails on its own).
   */
  private queueBatch(): BatchPart[] {
    const parts: BatchPart[] = [];
    let taken = 0;
    const deletes = new Map<Fence | null, string[]>();
    for (const [uuid, fence] of this.deletes) {
      if (taken >= this.batchSize) break;
      this.deletes.delete(uuid);
      groupOf(deletes, fence).push(uuid);
      taken++;
    }
    for (const [fence, uuids] of deletes) {
      parts.push({ op: "delete", uuids, values: [], losses: [], fence });
    }
    const saves = new Map<Fence | null, BatchPart>();
    for (const [uuid, fence] of this.dirty) {
      if (taken >= this.batchSize) break;
      this.dirty.delete(uuid);
      const state = this.memory.peek(uuid);
      if (state === undefined) continue;
      let json: string;
      try {
        json = JSON.stringify(state);
      } catch {
        // Not plain data (a bug upstream): it can never be written, so it is not re-queued.
        this.count("save", "error");
        continue;
      }
      let part = fence === null ? undefined : saves.get(fence);
      if (part === undefined) {
        part = { op: "save", uuids: [], values: [], losses: [], fence };
        parts.push(part);
        if (fence !== null) saves.set(fence, part);
      }
      part.uuids.push(uuid);
      part.values.push(json);
      part.losses.push(lossTotals(state));
      taken++;
    }
    return parts;
  }

  private queueCommand(pipeline: ReturnType<Redis["pipeline"]>, part: BatchPart): void {
    const keys = part.uuids.map((uuid) => legKey(this.keyPrefix, uuid));
    const { fence } = part;
    if (part.op === "delete") {
      if (fence === null) pipeline.del(...keys);
      else pipeline.eval(FENCED_DEL_SCRIPT, keys.length + 1, fence.key, ...keys, fence.token);
      return;
    }
    const { values } = part;
    if (fence === null) {
      pipeline.set(keys[0] ?? "", values[0] ?? "", "PX", this.legTtlMs);
      return;
    }
    pipeline.eval(
      FENCED_SET_SCRIPT,
      keys.length + 2,
      fence.key,
      landedKey(fence),
      ...keys,
      fence.token,
      String(this.legTtlMs),
      ...values,
      ...part.losses.map(([inbound, outbound]) => `${inbound},${outbound}`),
    );
  }

  private settleBatch(
    parts: readonly BatchPart[],
    results: PipelineResults | null,
    failure: unknown,
  ): boolean {
    let firstError: unknown = failure;
    const done: string[] = [];
    parts.forEach((part, index) => {
      const [error, reply] =
        results === null ? [failure ?? "no reply", null] : (results[index] ?? ["no reply", null]);
      const n = part.uuids.length;
      if (error !== null && error !== undefined) {
        firstError ??= error;
        this.count(part.op, "error", n);
        this.requeue(part);
        return;
      }
      done.push(...part.uuids);
      const refused = part.fence !== null && (reply === 0 || Array.isArray(reply));
      if (refused) this.refused(part);
      else this.count(part.op, "ok", n);
      if (part.op !== "save" || this.onDurableLoss === undefined) return;
      part.uuids.forEach((uuid, i) => {
        const totals = part.losses[i] ?? [0, 0];
        if (!refused) {
          this.durable(uuid, totals);
          return;
        }
        // An earlier write of this tenure that timed out may have landed after all: the loss it
        // carried is durable. The rest is the next owner's to count; it is settled here.
        const landed = Array.isArray(reply) ? parseTotals(reply[i]) : undefined;
        if (landed !== undefined) this.durable(uuid, landed);
        if (this.memory.peek(uuid) !== undefined) this.landedLoss.set(uuid, totals);
      });
    });
    // Unloaded legs whose write went through (or was refused) leave the hot map now, unless
    // saved again since.
    if (this.unloading.size > 0) {
      for (const uuid of done) {
        if (this.unloading.has(uuid) && !this.dirty.has(uuid)) {
          this.landedLoss.delete(uuid);
          this.memory.remove(uuid);
          this.unloaded(uuid);
        }
      }
    }
    if (firstError === undefined) {
      this.count("flush", "ok");
      return true;
    }
    this.count("flush", "error");
    this.errors.warn(
      "redis:flush",
      {
        redis: this.where,
        err: describe(firstError),
        keys: parts.reduce((n, part) => n + part.uuids.length, 0),
      },
      "Redis write of leg state failed; keeping it in memory and retrying",
    );
    return false;
  }

  /** A failed write goes back to the pending sets, unless something newer superseded it. */
  private requeue(part: BatchPart): void {
    for (const uuid of part.uuids) {
      if (part.op === "delete") {
        // Unless the leg came back meanwhile (then its SET is what counts).
        if (
          !this.dirty.has(uuid) &&
          !this.deletes.has(uuid) &&
          this.memory.peek(uuid) === undefined
        )
          this.queueDelete(uuid, part.fence);
      } else if (
        !this.deletes.has(uuid) &&
        !this.dirty.has(uuid) &&
        this.memory.peek(uuid) !== undefined
      ) {
        this.dirty.set(uuid, part.fence);
      }
    }
  }

  /** The instance has a new owner: the write is dropped, counted and logged (rate-limited). */
  private refused(part: BatchPart): void {
    const fence = part.fence;
    if (fence === null) return;
    const what: FencedWrite = part.op === "save" ? "leg_state" : "leg_delete";
    this.fencedWrites[what] += part.uuids.length;
    this.errors.warn(
      `fenced:${fence.instance}`,
      { fs_instance: fence.instance, legs: part.uuids.length, write: what },
      `HA: Redis refused this replica's late leg-state writes for ${fence.instance}: another replica has owned it since (this one was paused or cut off past its lease); they are not applied`,
    );
  }

  private onError(error: unknown): void {
    if (this.closed || this.closing !== null) return;
    if (!this.down) {
      this.down = true;
      this.downSince = this.clock.now();
    }
    this.errors.warn(
      "redis:connection",
      { redis: this.where, err: describe(error) },
      "Redis unavailable; leg state stays in memory and is written after reconnecting",
    );
  }

  private onClose(): void {
    if (this.closed || this.closing !== null) return;
    if (this.down) return; // Each failed reconnect attempt closes too; 'error' logged those.
    this.down = true;
    this.downSince = this.clock.now();
    this.errors.warn(
      "redis:connection",
      { redis: this.where },
      "Redis connection lost; leg state stays in memory and is written after reconnecting",
    );
  }

  private onReady(): void {
    if (this.down) {
      this.down = false;
      this.errors.clearPrefix("redis:");
      this.logger.info(
        { redis: this.where, downMs: this.clock.now() - this.downSince, pending: this.pending },
        this.everReady
          ? "Redis connection recovered; writing pending leg state"
          : "connected to Redis for leg state after failed attempts; writing pending leg state",
      );
    } else if (!this.everReady) {
      this.logger.info({ redis: this.where }, "connected to Redis for leg state");
    }
    this.everReady = true;
    if (this.queued > 0) this.armFlush(0);
  }
}

/** "inbound,outbound" as the fenced write noted it; undefined for nil or anything else. */
function parseTotals(value: unknown): LossTotals | undefined {
  if (typeof value !== "string") return undefined;
  const [inbound, outbound] = value.split(",").map(Number);
  if (!Number.isFinite(inbound) || !Number.isFinite(outbound)) return undefined;
  return [inbound ?? 0, outbound ?? 0];
}

function groupOf(groups: Map<Fence | null, string[]>, fence: Fence | null): string[] {
  let group = groups.get(fence);
  if (group === undefined) {
    group = [];
    groups.set(fence, group);
  }
  return group;
}

/** An error's code or message for a log line; never the connection options. */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
