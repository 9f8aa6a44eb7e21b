import type { ConnectionState } from "../esl/status.js";
import type { AgentView, HaView } from "./source.js";

export type HealthStatus = "healthy" | "degraded" | "unhealthy";

export interface ConnectionHealth {
  connected: boolean;
  state: ConnectionState;
  /** ISO-8601 UTC time of the last event; absent until one arrives. */
  last_event?: string;
  /** Absent when the connection has no error to report. */
  last_error?: string;
  reconnects: number;
  /** HA only: whether this replica holds the instance's lease (and so may connect to it). */
  owned?: boolean;
  /** HA only: the replica id holding the lease, null when nobody does. */
  owner?: string | null;
  /**
   * HA only, when reachability decides ownership: e.g. "released: unreachable from this replica
   * for 31 s (ECONNREFUSED ...); held by replica-b" (docs/replicas.md).
   */
  note?: string;
}

export interface HaHealth {
  replica_id: string;
  redis: "reachable" | "unreachable";
  replicas: number;
  leases_held: number;
  fair_share: number;
}

export interface HealthBody {
  status: HealthStatus;
  connections: Record<string, ConnectionHealth>;
  /** Present when HA is enabled. */
  ha?: HaHealth;
}

export interface ReadyBody {
  ready: boolean;
}

/**
 * The /health body. Every field comes from the connection stats, which never hold a secret, so
 * nothing here needs redacting. No instance at all counts as unhealthy: the agent is not doing
 * its job.
 *
 * With HA, a replica answers for the instances it owns: all of them connected is healthy, some
 * degraded, none unhealthy. A replica that owns nothing is a standby: healthy while Redis is
 * reachable (it can take over), degraded when not. Redis unreachable makes an owner degraded at
 * best, since it will drop its connections when its leases run out.
 */
export function healthBody(view: AgentView): HealthBody {
  // A null-prototype object so an instance named like an Object.prototype member ("__proto__")
  // is an ordinary key.
  const connections: Record<string, ConnectionHealth> = Object.create(null);
  const ha = view.ha?.();
  let total = 0;
  let up = 0;
  for (const { stats, owned, owner, note } of view.instances()) {
    const connected = stats.state === "connected";
    if (ha === undefined || owned === true) {
      total++;
      if (connected) up++;
    }
    // Key order is the documented one: connected, state, last_event, last_error, reconnects.
    connections[stats.instance] = {
      connected,
      state: stats.state,
      ...(stats.lastEventAt !== null
        ? { last_event: new Date(stats.lastEventAt).toISOString() }
        : {}),
      ...(stats.lastError !== null ? { last_error: stats.lastError } : {}),
      reconnects: stats.reconnects,
      ...(ha === undefined ? {} : { owned: owned === true, owner: owner ?? null }),
      ...(ha !== undefined && typeof note === "string" ? { note } : {}),
    };
  }
  if (ha === undefined) {
    const status: HealthStatus = up === 0 ? "unhealthy" : up === total ? "healthy" : "degraded";
    return { status, connections };
  }
  return { status: haStatus(ha, total, up), connections, ha: haHealth(ha) };
}

function haStatus(ha: HaView, owned: number, up: number): HealthStatus {
  if (owned === 0) return ha.redisReachable ? "healthy" : "degraded";
  if (up === 0) return "unhealthy";
  return up === owned && ha.redisReachable ? "healthy" : "degraded";
}

function haHealth(ha: HaView): HaHealth {
  return {
    replica_id: ha.replicaId,
    redis: ha.redisReachable ? "reachable" : "unreachable",
    replicas: ha.replicas,
    leases_held: ha.leasesHeld,
    fair_share: ha.fairShare,
  };
}

/**
 * The /ready body: ready as soon as one FreeSWITCH connection is up. With HA also a standby
 * whose Redis is reachable is ready (docs/replicas.md says why).
 */
export function readyBody(view: AgentView): ReadyBody {
  const connected = view.instances().some((i) => i.stats.state === "connected");
  return { ready: connected || view.ha?.()?.redisReachable === true };
}
