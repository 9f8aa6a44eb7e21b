import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { RedisConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import type { Fence } from "../state/fence.js";
import { redisTlsOptions } from "../state/redis-tls.js";
import { backoffDelay } from "../util/backoff.js";
import { type Clock, systemClock, type TimerHandle, withTimeout } from "../util/clock.js";
import { type BalancePlan, planBalance } from "./balance.js";
import {
  ACQUIRE_SCRIPT,
  type HaKeys,
  haKeys,
  PRESENCE_SCRIPT,
  QOS_CLAIM_SCRIPT,
  RELEASE_SCRIPT,
  RENEW_SCRIPT,
  UNREACHABLE_SCRIPT,
} from "./redis-keys.js";
import { memberOf, replicaIdOf } from "./replica-id.js";
import {
  decideUnreachable,
  failingFor,
  type Reachability,
  UNREACHABLE_MARK_TTL_MS,
  UNREACHABLE_RELEASE_INTERVAL_MS,
  type UnreachableDecision,
  unreachableNote,
} from "./unreachable.js";

/** Why a lease was lost: another replica holds it, or it could not be renewed in time. */
export type LossReason = "refused" | "expired";

/** What the agent does when ownership changes. */
export interface LeaseHooks {
  /** This replica holds the instance's lease now: connect to it. */
  acquired(instance: string): void;
  /** The lease is gone: disconnect at once and stop exporting the instance's data. */
  lost(instance: string, reason: LossReason): void;
  /**
   * Give the instance up: disconnect, then write its pending state to Redis. The lease is kept
   * (renewed) until this resolves and deleted right after, so the next owner reads that state.
   */
  handOver(instance: string): Promise<void>;
}

export interface LeaseManagerOptions {
  readonly instances: readonly string[];
  readonly replicaId: string;
  readonly leaseTtlMs: number;
  readonly redis: RedisConfig;
  readonly logger: Logger;
  readonly hooks: LeaseHooks;
  readonly clock?: Clock;
  /** Jitter source, [0, 1). */
  readonly random?: () => number;
  /**
   * This replica's connection to an instance (unreachable.ts): a holder failing for
   * `unreachableReleaseAfterMs` hands the lease to a replica that can reach it. Absent: never.
   */
  readonly reachability?: (instance: string) => Reachability;
  /** ha.unreachable_release_after (default 30 s). */
  readonly unreachableReleaseAfterMs?: number;
}

/** Counters and state for /health and /metrics (read at request time). */
export interface HaStats {
  acquisitions: number;
  losses: Record<LossReason, number>;
  /** Leases handed over on purpose: balancing, or a graceful stop. */
  handovers: number;
  /** Of the handovers, leases given up because this replica could not reach the instance. */
  unreachableReleases: number;
  /** Lease rounds that failed because Redis did not answer. */
  redisErrors: number;
}

interface Held {
  /** Local time at which the last successful renewal (or the acquisition) was sent. */
  renewedAt: number;
  /** renewedAt + TTL − margin: past it the lease may have expired in Redis. */
  deadline: number;
  timer: TimerHandle | null;
  handingOver: boolean;
  /** This tenure's fencing token: every leg write and QoS claim carries it. */
  readonly fence: Fence;
}

/** What a QoS claim found in Redis. */
export type ClaimResult = "claimed" | "duplicate" | "fenced";

type PipelineResults = [error: Error | null, result: unknown][];

/**
 * Ownership of FreeSWITCH instances through Redis leases: one key per instance, taken with
 * SET NX PX, renewed with a compare-and-pexpire script every third of the TTL, released with a
 * compare-and-delete script. Each acquisition also writes a new fencing token (an epoch that
 * grows, plus the member) that the leg writes and QoS claims of the tenure carry, so a replica
 * that lost the lease during a pause cannot overwrite the next owner's state (state/fence.ts).
 * Presence (a sorted set of heartbeats) tells every replica how many
 * replicas are alive, hence its fair share (balance.ts).
 *
 * Safety does not depend on Redis answering: each held lease has a local deadline, the send
 * time of its last successful renewal + TTL − margin. At the deadline the lease is dropped
 * (hooks.lost) whatever Redis says, before it can have expired in Redis and been taken by
 * another replica. `holds()` checks the deadline too, so events read after a long pause (the
 * process stopped, the event loop blocked) are not consumed even before the timer fires.
 *
 * Timing, from the TTL: a tick every min(1 s, TTL/6) reads the replicas and the lease holders
 * (MGET) and takes free leases; every TTL/3 a tick also renews the held leases and the heartbeat,
 * in the same pipeline; the margin is TTL/5. A replica killed with -9 is replaced within
 * TTL + one tick (its heartbeat and its leases expire together); a graceful stop deletes its
 * leases and its heartbeat, so the others take over within a tick.
 */
export class LeaseManager {
  readonly replicaId: string;
  /** This process's member string: replica id + a random token. */
  readonly member: string;
  readonly stats: HaStats = {
    acquisitions: 0,
    losses: { refused: 0, expired: 0 },
    handovers: 0,
    unreachableReleases: 0,
    redisErrors: 0,
  };
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly tickMs: number;
  readonly marginMs: number;

  private readonly client: Redis;
  private readonly keys: HaKeys;
  private readonly leaseKeys: string[];
  /** Per instance, the fence of a replica that does not hold it: its writes are all refused. */
  private readonly unheldFences: Map<string, Fence>;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly logger: Logger;
  private readonly log: RateLimitedLog;
  private readonly where: string;
  private readonly held = new Map<string, Held>();
  /** Instances handed over recently: not taken back before the time given. */
  private readonly cooldown = new Map<string, number>();
  /** Holder of each lease at the last successful tick (member strings). */
  private owners = new Map<string, string | null>();
  private members: string[] = [];
  private plan: BalancePlan | null = null;
  private tickTimer: TimerHandle | null = null;
  private ticking: Promise<void> | null = null;
  private lastRoundAt = Number.NEGATIVE_INFINITY;
  private redisUp = false;
  private downSince: number | null = null;
  /** False until a tick after (re)gaining Redis saw the others: no acquisitions before. */
  private settled = false;
  private started = false;
  private joined = false;
  /** No acquisitions or hand-overs any more (shutting down); renewals go on. */
  private frozen = false;
  private stopped = false;
  private lastError = "";
  private readonly releaseAfterMs: number;
  /** Per instance: live marks (members) and whether a release happened within the minute. */
  private marks = new Map<string, { members: Set<string>; releasedRecently: boolean }>();
  private decisions = new Map<string, UnreachableDecision>();
  /** This replica's unreachable releases: why, for /health while its mark may live. */
  private readonly releasedUnreachable = new Map<
    string,
    { at: number; failedForMs: number; error: string | null }
  >();

  constructor(private readonly options: LeaseManagerOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.replicaId = options.replicaId;
    this.member = memberOf(options.replicaId, randomBytes(4).toString("hex"));
    this.ttlMs = Math.max(1, Math.floor(options.leaseTtlMs));
    this.renewEveryMs = this.ttlMs / 3;
    this.tickMs = Math.min(1_000, this.ttlMs / 6);
    this.marginMs = this.ttlMs / 5;
    this.releaseAfterMs = options.unreachableReleaseAfterMs ?? 30_000;
    this.keys = haKeys(options.redis.keyPrefix);
    this.leaseKeys = options.instances.map((name) => this.keys.lease(name));
    this.unheldFences = new Map(
      options.instances.map((instance) => [
        instance,
        { key: this.keys.fence(instance), token: "", instance },
      ]),
    );
    this.logger = options.logger.child({ replica_id: options.replicaId });
    this.log = new RateLimitedLog(this.logger, 60_000, this.clock);
    this.where = `${options.redis.host}:${options.redis.port}`;
    const redis = options.redis;
    // A lease command that takes longer than this is as good as failed: the deadline decides.
    const commandTimeout = Math.round(Math.min(1_000, Math.max(100, this.ttlMs / 6)));
    const maxDelay = Math.max(50, Math.round(this.tickMs));
    this.client = new Redis({
      host: redis.host,
      port: redis.port,
      username: redis.username === "" ? undefined : redis.username,
      password: redis.password === "" ? undefined : redis.password,
      tls: redis.tls
        ? redisTlsOptions(redis, (error) =>
            this.logger.error(
              { redis: this.where, caFile: redis.caFile, err: describe(error) },
              "HA: cannot read the Redis CA file; verifying Redis with Node's bundled CA roots instead",
            ),
          )
        : undefined,
      db: redis.db,
      connectionName: "fsagent-ha",
      lazyConnect: true,
      // Fail at once while disconnected: a lease command queued behind a dead connection would
      // only be answered after its deadline.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout,
      connectTimeout: Math.max(commandTimeout, 500),
      socketTimeout: Math.max(2 * commandTimeout, 1_000),
      disconnectTimeout: 200,
      retryStrategy: (times) =>
        backoffDelay(times - 1, { initialMs: 50, maxMs: maxDelay, jitter: "equal" }, this.random),
    });
    // Reported by the failing ticks, once and then rate-limited; here only remembered.
    this.client.on("error", (error: unknown) => {
      this.lastError = describe(error);
    });
  }

  /** Starts the lease loop in the background. Never throws; Redis may come later. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    // The first tick runs once the first connection attempt is over, so that a start-up race
    // with the connection is not reported as an unreachable Redis.
    this.client.connect().then(
      () => this.schedule(0),
      () => this.schedule(0),
    );
  }

  /**
   * Whether this replica may consume the instance now: it holds the lease and its deadline has
   * not passed (checked on the clock, not only by the timer).
   */
  holds(instance: string): boolean {
    const held = this.held.get(instance);
    return held !== undefined && this.clock.now() < held.deadline;
  }

  /**
   * The fence of this replica's writes for the instance: its tenure's token while it holds the
   * lease, else one that Redis always refuses (a look-up answered after the lease was lost).
   */
  fence(instance: string): Fence {
    const held = this.held.get(instance);
    if (held !== undefined && this.holds(instance)) return held.fence;
    return (
      this.unheldFences.get(instance) ?? { key: this.keys.fence(instance), token: "", instance }
    );
  }

  /** The replica id holding the instance, as far as this replica knows; null when free. */
  ownerOf(instance: string): string | null {
    if (this.holds(instance)) return this.replicaId;
    const owner = this.owners.get(instance) ?? null;
    if (owner === null || owner === this.member) return null;
    return replicaIdOf(owner);
  }

  /** Why the instance is or is not this replica's when reachability is involved, for /health. */
  noteOf(instance: string): string | null {
    const decision = this.decisions.get(instance);
    if (decision === undefined) return null;
    const reach = this.reach(instance);
    const held = this.held.get(instance);
    const marks = this.marks.get(instance);
    const released = this.releasedUnreachable.get(instance);
    const markedBy = [...(marks?.members ?? [])]
      .filter((m) => m !== this.member && this.members.includes(m))
      .map(replicaIdOf)
      .sort();
    return unreachableNote({
      decision,
      held: held !== undefined && !held.handingOver,
      owner: this.ownerOf(instance),
      markedBy,
      failedForMs: failingFor(reach, this.clock.now()),
      error: reach.error,
      released:
        released !== undefined && this.clock.now() - released.at < UNREACHABLE_MARK_TTL_MS
          ? released
          : null,
      releasedRecently: marks?.releasedRecently ?? false,
    });
  }

  private reach(instance: string): Reachability {
    return this.options.reachability?.(instance) ?? { failingSince: null, error: null };
  }

  get redisReachable(): boolean {
    return this.redisUp;
  }

  get leasesHeld(): number {
    let n = 0;
    for (const instance of this.held.keys()) if (this.holds(instance)) n++;
    return n;
  }

  /** Live replicas at the last successful tick (at least this one). */
  get replicas(): number {
    return this.plan?.replicas ?? Math.max(1, this.members.length);
  }

  /** ceil(instances / replicas) at the last successful tick. */
  get fairShare(): number {
    return this.plan?.cap ?? Math.ceil(this.options.instances.length / this.replicas);
  }

  /**
   * SET NX PX of `key` to this replica's member over the lease connection, if `fence` is still
   * current (QoS claims, qos-claims.ts). Rejects with a readable error when Redis cannot answer.
   */
  claim(fence: Fence, key: string, ttlMs: number): Promise<ClaimResult> {
    return this.client
      .eval(QOS_CLAIM_SCRIPT, 2, fence.key, key, fence.token, String(ttlMs), this.member)
      .then(
        (reply) => (reply === 1 ? "claimed" : reply === 0 ? "duplicate" : "fenced"),
        (error: unknown) => {
          throw new Error(this.describeFailure(error));
        },
      );
  }

  /** host:port of the Redis the leases live in. */
  get redisAddress(): string {
    return this.where;
  }

  /** No more acquisitions or hand-overs (shutdown begins); held leases keep being renewed. */
  freeze(): void {
    this.frozen = true;
  }

  /**
   * Releases every held lease (compare-and-delete) and leaves the replicas set, so the others
   * take over within a tick; then closes the Redis connection. Call it after the instances are
   * disconnected and their state is written. Bounded by `timeoutMs`.
   */
  async stop(timeoutMs = 1_500): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.frozen = true;
    this.clearTick();
    const deadline = this.clock.now() + timeoutMs;
    if (this.ticking !== null) await withTimeout(this.ticking, timeoutMs / 2, this.clock);
    const instances = [...this.held.keys()];
    for (const held of this.held.values()) this.clearDeadline(held);
    this.held.clear();
    if (this.client.status === "ready") {
      const pipeline = this.client.pipeline();
      for (const instance of instances) {
        pipeline.eval(RELEASE_SCRIPT, 1, this.keys.lease(instance), this.member);
      }
      pipeline.zrem(this.keys.replicas, this.member);
      const left = Math.max(0, deadline - this.clock.now());
      const results = await withTimeout(pipeline.exec(), left, this.clock).catch(() => undefined);
      const released = (results ?? [])
        .slice(0, instances.length)
        .filter(([error, reply]) => error === null && reply === 1).length;
      this.stats.handovers += released;
      this.logger.info(
        { released, instances },
        `HA: released ${released} lease(s) and left the replicas set`,
      );
      const quit = this.client.quit().then(
        () => true,
        () => false,
      );
      const done = await withTimeout(quit, Math.max(0, deadline - this.clock.now()), this.clock);
      if (done !== true) this.client.disconnect();
    } else {
      if (instances.length > 0) {
        this.logger.warn(
          { instances },
          "HA: Redis unreachable at shutdown; the leases expire by themselves",
        );
      }
      this.client.disconnect();
    }
  }

  // ---- the loop ----------------------------------------------------------------------------

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.clearTick();
    const timer = this.clock.setTimeout(() => {
      this.tickTimer = null;
      const ticking = this.tick()
        .catch((error: unknown) => {
          // tick handles Redis failures itself; this guards the loop against a bug.
          this.log.error("ha:tick", { err: describe(error) }, "HA: lease round failed");
        })
        .finally(() => {
          this.ticking = null;
          this.schedule(this.nextDelay());
        });
      this.ticking = ticking;
    }, delayMs);
    timer.unref?.();
    this.tickTimer = timer;
  }

  private nextDelay(): number {
    // Jitter keeps replicas from ticking in lockstep; a replica waiting for a donor looks sooner.
    const base = this.plan?.waiting === true ? this.tickMs / 4 : this.tickMs;
    const jittered = base * (0.9 + 0.2 * this.random());
    // A renewal falls due before that: tick then, so that leases are renewed every TTL/3. One
    // overdue (Redis did not answer) is retried at the tick pace, not in a tight loop.
    const untilRenewal = this.nextRoundAt() - this.clock.now();
    return Math.round(untilRenewal > 0 ? Math.min(jittered, untilRenewal) : jittered);
  }

  /** When the next renewal round falls due (the heartbeat, or the oldest renewal of a lease). */
  private nextRoundAt(): number {
    let at = this.lastRoundAt + this.renewEveryMs;
    for (const held of this.held.values()) at = Math.min(at, held.renewedAt + this.renewEveryMs);
    return at;
  }

  private clearTick(): void {
    if (this.tickTimer !== null) this.clock.clearTimeout(this.tickTimer);
    this.tickTimer = null;
  }

  /** Whether this tick renews: a third of the TTL since the last round, or a lease due. */
  private roundDue(now: number): boolean {
    return now >= this.nextRoundAt();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const round = this.roundDue(this.clock.now());
    const renewing = round ? [...this.held.keys()] : [];
    const pipeline = this.client.pipeline();
    pipeline.eval(
      PRESENCE_SCRIPT,
      1,
      this.keys.replicas,
      this.member,
      String(this.ttlMs),
      round ? "1" : "0",
    );
    for (const instance of renewing) {
      pipeline.eval(RENEW_SCRIPT, 1, this.keys.lease(instance), this.member, String(this.ttlMs));
    }
    if (this.leaseKeys.length > 0) pipeline.mget(...this.leaseKeys);
    const reachable = this.options.reachability !== undefined && this.leaseKeys.length > 0;
    if (reachable) this.queueMarks(pipeline);
    // Renewals count from when they were sent: Redis extends the lease at or after this instant.
    const sentAt = this.clock.now();
    let results: PipelineResults;
    try {
      results = ((await pipeline.exec()) ?? []) as PipelineResults;
    } catch (error) {
      this.onRedisFailure(error);
      return;
    }
    if (this.stopped) return;

    renewing.forEach((instance, index) => {
      const [error, reply] = results[index + 1] ?? [new Error("no reply"), null];
      if (error !== null) return; // the deadline decides
      if (reply === 1) this.extend(instance, sentAt);
      else this.lose(instance, "refused");
    });
    const [presenceError, members] = results[0] ?? [new Error("no reply"), null];
    const [ownersError, owners] =
      this.leaseKeys.length > 0
        ? (results[renewing.length + 1] ?? [new Error("no reply"), null])
        : [null, []];
    const failure = presenceError ?? ownersError;
    if (failure !== null || !Array.isArray(members) || !Array.isArray(owners)) {
      this.onRedisFailure(failure ?? new Error("unexpected reply"));
      return;
    }
    if (round) this.lastRoundAt = sentAt;
    this.members = members.map(String);
    this.owners = new Map(
      this.options.instances.map((name, i) => [
        name,
        typeof owners[i] === "string" ? owners[i] : null,
      ]),
    );
    if (reachable) this.readMarks(results[renewing.length + 2]);
    this.onRedisSuccess();
    this.checkDuplicateId();

    const now = this.clock.now();
    for (const [instance, until] of this.cooldown) if (until <= now) this.cooldown.delete(instance);
    const avoid = reachable ? this.decide(now) : [];
    const plan = planBalance({
      instances: this.options.instances,
      self: this.member,
      members: this.members,
      owners: this.owners,
      held: new Set([...this.held].filter(([, h]) => !h.handingOver).map(([name]) => name)),
      busy: new Set([
        ...[...this.held].filter(([, h]) => h.handingOver).map(([name]) => name),
        ...this.cooldown.keys(),
        ...avoid,
      ]),
      marks: new Map([...this.marks].map(([instance, { members }]) => [instance, members])),
    });
    this.plan = plan;
    if (!this.settled) {
      // The first tick with Redis only registers this replica: others that start (or come back)
      // at the same moment register too, and the next tick sees all of them.
      this.settled = true;
      this.logger.info(
        {
          replicas: plan.replicas,
          instances: this.options.instances.length,
          lease_ttl_ms: this.ttlMs,
        },
        `HA: replica ${this.replicaId} ${this.joined ? "rejoined" : "joined"}: ${plan.replicas} replica(s) live, ${this.options.instances.length} FreeSWITCH instance(s), lease TTL ${formatSeconds(this.ttlMs)}`,
      );
      this.joined = true;
      return;
    }
    if (this.frozen) return;
    for (const [instance, decision] of this.decisions) {
      if (decision.release) void this.releaseUnreachable(instance, decision);
    }
    for (const instance of plan.release) void this.handOver(instance, plan);
    if (plan.acquire.length > 0) await this.acquire(plan);
  }

  /** Takes the planned leases after a jitter (short for a replica below its floor). */
  private async acquire(plan: BalancePlan): Promise<void> {
    const jitter = plan.needy
      ? this.random() * Math.min(100, this.tickMs / 4)
      : this.tickMs / 4 + (this.random() * this.tickMs) / 4;
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(resolve, Math.round(jitter));
      timer.unref?.();
    });
    if (this.stopped || this.frozen) return;
    const pipeline = this.client.pipeline();
    for (const instance of plan.acquire) {
      // Taken only if free, or renewed if Redis still gives it to this replica (dropped locally
      // at its deadline); either way with the fencing token to write under.
      pipeline.eval(
        ACQUIRE_SCRIPT,
        2,
        this.keys.lease(instance),
        this.keys.fence(instance),
        this.member,
        String(this.ttlMs),
      );
    }
    const sentAt = this.clock.now();
    let results: PipelineResults;
    try {
      results = ((await pipeline.exec()) ?? []) as PipelineResults;
    } catch (error) {
      this.onRedisFailure(error);
      return;
    }
    plan.acquire.forEach((instance, index) => {
      const [error, reply] = results[index] ?? [new Error("no reply"), null];
      if (error !== null || typeof reply !== "string") return;
      if (this.stopped || this.frozen || this.held.has(instance)) {
        // Shutting down meanwhile: give it straight back.
        if (!this.held.has(instance)) void this.releaseKey(instance);
        return;
      }
      this.adopt(instance, sentAt, reply);
    });
  }

  private adopt(instance: string, at: number, token: string): void {
    const held: Held = {
      renewedAt: at,
      deadline: 0,
      timer: null,
      handingOver: false,
      fence: { key: this.keys.fence(instance), token, instance },
    };
    this.held.set(instance, held);
    this.owners.set(instance, this.member);
    this.armDeadline(instance, held, at);
    this.stats.acquisitions++;
    const epoch = token.slice(0, token.indexOf("/"));
    this.logger.info(
      { fs_instance: instance, leases_held: this.held.size, epoch },
      `HA: took the lease on ${instance} (epoch ${epoch}); connecting`,
    );
    this.callHook("acquired", () => this.options.hooks.acquired(instance));
  }

  private extend(instance: string, at: number): void {
    const held = this.held.get(instance);
    if (held === undefined || at <= held.renewedAt) return;
    this.armDeadline(instance, held, at);
  }

  private armDeadline(instance: string, held: Held, renewedAt: number): void {
    this.clearDeadline(held);
    held.renewedAt = renewedAt;
    held.deadline = renewedAt + this.ttlMs - this.marginMs;
    const timer = this.clock.setTimeout(
      () => {
        held.timer = null;
        if (this.held.get(instance) !== held) return;
        if (this.clock.now() >= held.deadline) this.lose(instance, "expired");
        else this.armDeadline(instance, held, held.renewedAt);
      },
      Math.max(0, held.deadline - this.clock.now()),
    );
    timer.unref?.();
    held.timer = timer;
  }

  private clearDeadline(held: Held): void {
    if (held.timer !== null) this.clock.clearTimeout(held.timer);
    held.timer = null;
  }

  private lose(instance: string, reason: LossReason): void {
    const held = this.held.get(instance);
    if (held === undefined) return;
    this.held.delete(instance);
    this.clearDeadline(held);
    this.stats.losses[reason]++;
    if (reason === "refused") {
      const holder = this.owners.get(instance);
      this.logger.warn(
        {
          fs_instance: instance,
          reason,
          holder: holder === undefined || holder === null ? null : replicaIdOf(holder),
        },
        `HA: lost the lease on ${instance} (another replica holds it); disconnected`,
      );
    } else {
      this.logger.warn(
        { fs_instance: instance, reason, redis: this.where },
        `HA: the lease on ${instance} could not be renewed in time (Redis ${this.redisUp ? "too slow" : "unreachable"}); disconnected before it can expire`,
      );
    }
    // A hand-over in progress is disconnecting already.
    if (!held.handingOver) this.callHook("lost", () => this.options.hooks.lost(instance, reason));
  }

  /** Disconnect and write the state (the hook), then delete the lease; renewed meanwhile. */
  private async handOver(instance: string, plan: BalancePlan): Promise<void> {
    const held = this.held.get(instance);
    if (held === undefined || held.handingOver) return;
    held.handingOver = true;
    this.logger.info(
      {
        fs_instance: instance,
        leases_held: this.held.size,
        fair_share: plan.cap,
        replicas: plan.replicas,
      },
      `HA: handing ${instance} over to balance the load (${plan.replicas} replicas share ${this.options.instances.length} instances)`,
    );
    await this.giveUp(instance, held);
  }

  /** Disconnect and write the state (the hook), then delete the lease; true when deleted. */
  private async giveUp(instance: string, held: Held): Promise<boolean> {
    try {
      await this.options.hooks.handOver(instance);
    } catch (error) {
      this.log.error("ha:handover", { err: describe(error) }, "HA: hand-over hook failed");
    }
    const released = await this.releaseKey(instance);
    if (this.held.get(instance) === held) {
      this.held.delete(instance);
      this.clearDeadline(held);
    }
    this.cooldown.set(instance, this.clock.now() + 3 * this.tickMs);
    if (released) {
      this.stats.handovers++;
      this.owners.set(instance, null);
      this.logger.info({ fs_instance: instance }, `HA: released the lease on ${instance}`);
    }
    return released;
  }

  // ---- a holder that cannot reach its instance (unreachable.ts) ---------------------------

  /** Adds the marks script to the round: mark, clear or leave each instance, read all marks. */
  private queueMarks(pipeline: ReturnType<Redis["pipeline"]>): void {
    const now = this.clock.now();
    const flags = this.options.instances.map((instance) => {
      const held = this.held.get(instance);
      if (held === undefined || held.handingOver) return "-";
      const reach = this.reach(instance);
      if (reach.failingSince === null) {
        return this.marks.get(instance)?.members.has(this.member) === true ? "0" : "-";
      }
      return failingFor(reach, now) >= this.releaseAfterMs ? "1" : "-";
    });
    pipeline.eval(
      UNREACHABLE_SCRIPT,
      2 * this.options.instances.length,
      ...this.options.instances.map((i) => this.keys.unreachable(i)),
      ...this.options.instances.map((i) => this.keys.unreachableRelease(i)),
      this.member,
      String(UNREACHABLE_MARK_TTL_MS),
      ...flags,
    );
  }

  private readMarks(result: PipelineResults[number] | undefined): void {
    const [error, reply] = result ?? [new Error("no reply"), null];
    // Without an answer the previous marks stand; the next round reads them again.
    if (error !== null || !Array.isArray(reply)) return;
    this.options.instances.forEach((instance, i) => {
      const entry = reply[i] as unknown;
      if (!Array.isArray(entry)) return;
      const [members, pttl] = entry as [unknown, unknown];
      this.marks.set(instance, {
        members: new Set(Array.isArray(members) ? members.map(String) : []),
        releasedRecently: typeof pttl === "number" && pttl !== -2,
      });
    });
  }

  /** Decides per instance; returns the instances this replica must not take now. */
  private decide(now: number): string[] {
    const avoid: string[] = [];
    for (const instance of this.options.instances) {
      const held = this.held.get(instance);
      const marks = this.marks.get(instance);
      const decision = decideUnreachable({
        now,
        releaseAfterMs: this.releaseAfterMs,
        self: this.member,
        members: this.members,
        marks: marks?.members ?? new Set(),
        held: held !== undefined && !held.handingOver,
        reach: this.reach(instance),
        releasedRecently: marks?.releasedRecently ?? false,
      });
      this.decisions.set(instance, decision);
      if (decision.avoid) avoid.push(instance);
    }
    return avoid;
  }

  /**
   * Hands the lease over because this replica cannot reach the instance, at most once a minute
   * per instance fleet-wide (SET NX of the release key), so that an instance nobody can reach
   * does not move from replica to replica.
   */
  private async releaseUnreachable(instance: string, decision: UnreachableDecision): Promise<void> {
    const held = this.held.get(instance);
    if (held === undefined || held.handingOver) return;
    const reach = this.reach(instance);
    const failedForMs = failingFor(reach, this.clock.now());
    let allowed: boolean;
    try {
      const reply = await this.client.set(
        this.keys.unreachableRelease(instance),
        this.member,
        "PX",
        UNREACHABLE_RELEASE_INTERVAL_MS,
        "NX",
      );
      allowed = reply === "OK";
    } catch {
      return; // Redis did not answer: the next round decides again
    }
    if (!allowed || this.held.get(instance) !== held || held.handingOver || this.frozen) return;
    held.handingOver = true;
    const others = decision.others.map(replicaIdOf);
    this.logger.warn(
      {
        fs_instance: instance,
        failed_for_ms: Math.round(failedForMs),
        err: reach.error,
        can_take_it: others,
      },
      `HA: cannot reach ${instance} for ${formatSeconds(failedForMs)} (${reach.error ?? "not connected"}); handing it over to ${others.join(" or ")}, not taking it back for ${formatSeconds(UNREACHABLE_MARK_TTL_MS)} unless no other replica can`,
    );
    this.releasedUnreachable.set(instance, {
      at: this.clock.now(),
      failedForMs,
      error: reach.error,
    });
    if (await this.giveUp(instance, held)) this.stats.unreachableReleases++;
  }

  /** Compare-and-delete; true when this replica's lease was deleted. Never rejects. */
  private async releaseKey(instance: string): Promise<boolean> {
    try {
      const reply = await this.client.eval(
        RELEASE_SCRIPT,
        1,
        this.keys.lease(instance),
        this.member,
      );
      return reply === 1;
    } catch (error) {
      this.log.warn(
        `ha:release:${instance}`,
        { fs_instance: instance, err: describe(error) },
        `HA: cannot release the lease on ${instance}; it expires by itself`,
      );
      return false;
    }
  }

  private onRedisFailure(error: unknown): void {
    this.stats.redisErrors++;
    this.settled = false;
    this.redisUp = false;
    if (this.downSince === null) this.downSince = this.clock.now();
    const err = this.describeFailure(error);
    const count = this.held.size;
    if (count > 0) {
      const until = Math.min(...[...this.held.values()].map((h) => h.deadline));
      const left = Math.max(0, until - this.clock.now());
      this.log.warn(
        "ha:redis",
        { redis: this.where, err, leases_held: count, drop_in_ms: Math.round(left) },
        `HA: Redis unreachable (${err}); keeping ${count} connection(s) until their leases would expire (in ${formatSeconds(left)}), taking no instance meanwhile`,
      );
    } else {
      this.log.warn(
        "ha:redis",
        { redis: this.where, err },
        this.joined
          ? `HA: Redis unreachable (${err}); taking no instance until it answers`
          : `HA: cannot reach Redis at ${this.where} (${err}); taking no instance until it answers`,
      );
    }
  }

  private onRedisSuccess(): void {
    if (this.downSince !== null) {
      const downMs = this.clock.now() - this.downSince;
      this.log.clear("ha:redis");
      if (this.stats.redisErrors > 0) {
        this.logger.info(
          { redis: this.where, down_ms: Math.round(downMs) },
          `HA: Redis reachable again after ${formatSeconds(downMs)}`,
        );
      }
    }
    this.downSince = null;
    this.redisUp = true;
  }

  /**
   * ioredis says "Stream isn't writeable ..." while reconnecting, and "Reached the max retries
   * per request limit" for a command the connection dropped under it; the socket error says why.
   */
  private describeFailure(error: unknown): string {
    const text = describe(error);
    if (!/enableOfflineQueue|Connection is closed|max retries per request/.test(text)) return text;
    return this.lastError === "" ? "not connected" : `not connected: ${this.lastError}`;
  }

  private checkDuplicateId(): void {
    const twin = this.members.find((m) => m !== this.member && replicaIdOf(m) === this.replicaId);
    if (twin === undefined) return;
    this.log.warn(
      "ha:duplicate-id",
      { replica_id: this.replicaId },
      `HA: another live replica uses the replica id ${this.replicaId}; give each replica its own ha.replica_id`,
    );
  }

  private callHook(name: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log.error(`ha:hook:${name}`, { err: describe(error) }, `HA: ${name} hook failed`);
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = error.message.split("\n", 1)[0] ?? "";
    return typeof code === "string" && !message.startsWith(code) ? `${code}: ${message}` : message;
  }
  return String(error);
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
