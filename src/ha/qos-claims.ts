import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import type { Clock } from "../util/clock.js";
import type { ClaimResult } from "./lease-manager.js";
import { haKeys } from "./redis-keys.js";

export interface QosClaimsOptions {
  /**
   * SET NX PX of `key` over the replica's Redis connection, under the instance's fencing token
   * (lease-manager.ts claim). Rejects with a readable error when Redis cannot answer.
   */
  readonly claimOnce: (instance: string, key: string, ttlMs: number) => Promise<ClaimResult>;
  readonly keyPrefix: string;
  /** The lease TTL: a claim is remembered max(5 min, 4 × it). */
  readonly leaseTtlMs: number;
  readonly logger: Logger;
  /** Where Redis is (host:port), for the warning. */
  readonly where: string;
  /** Times the warning's rate limit (default the system clock). */
  readonly clock?: Clock;
}

/** Claims counted for /health and /metrics. */
export interface QosClaimStats {
  claimed: number;
  duplicate: number;
  unclaimed: number;
  /** Refused: another replica had taken the instance over (a stale owner after a pause). */
  fenced: number;
}

/**
 * Exactly-once end-of-call QoS across HA replicas: a leg's report is exported only by the replica
 * that claims it first (SET NX on a per-leg key). A hand-over between a leg's HANGUP_COMPLETE and
 * its DESTROY would otherwise let both replicas report it. The claim carries the instance's
 * fencing token: a replica that lost the instance during a pause reports nothing.
 */
export class QosClaims {
  readonly stats: QosClaimStats = { claimed: 0, duplicate: 0, unclaimed: 0, fenced: 0 };
  private readonly inFlight = new Set<Promise<boolean>>();
  private readonly log: RateLimitedLog;
  private readonly keys: ReturnType<typeof haKeys>;
  private readonly ttlMs: number;

  constructor(private readonly options: QosClaimsOptions) {
    this.log = new RateLimitedLog(options.logger, undefined, options.clock);
    this.keys = haKeys(options.keyPrefix);
    this.ttlMs = Math.max(300_000, 4 * options.leaseTtlMs);
  }

  /**
   * True when this replica is the first to report the leg. When Redis cannot say, true as well:
   * a report twice is better than none, and only a hand-over between HANGUP_COMPLETE and DESTROY
   * can make it a duplicate.
   */
  claim(uuid: string, instance: string): Promise<boolean> {
    const claim = this.options.claimOnce(instance, this.keys.qos(uuid), this.ttlMs).then(
      (result) => {
        this.stats[result]++;
        if (result === "claimed") return true;
        if (result === "duplicate") {
          this.options.logger.debug({ unique_id: uuid }, "HA: QoS of this leg already reported");
        } else {
          this.log.warn(
            `ha:claim-fenced:${instance}`,
            { fs_instance: instance, unique_id: uuid },
            `HA: not reporting an end-of-call QoS of ${instance}: another replica has owned it since (this one was paused or cut off past its lease)`,
          );
        }
        return false;
      },
      (error: unknown) => {
        this.stats.unclaimed++;
        this.log.warn(
          "ha:claim",
          {
            redis: this.options.where,
            err: error instanceof Error ? error.message : String(error),
          },
          "HA: cannot claim an end-of-call QoS report in Redis; reporting it anyway",
        );
        return true;
      },
    );
    this.inFlight.add(claim);
    void claim.finally(() => this.inFlight.delete(claim));
    return claim;
  }

  /** Resolves once the claims in flight are answered (bounded by the command timeout). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
