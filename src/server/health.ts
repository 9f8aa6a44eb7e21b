import type { ConnectionState } from "../esl/status.js";
import type { AgentView } from "./source.js";

export type HealthStatus = "healthy" | "degraded" | "unhealthy";

export interface ConnectionHealth {
  connected: boolean;
  state: ConnectionState;
  /** ISO-8601 UTC time of the last event; absent until one arrives. */
  last_event?: string;
  /** Absent when the connection has no error to report. */
  last_error?: string;
  reconnects: number;
}

export interface HealthBody {
  status: HealthStatus;
  connections: Record<string, ConnectionHealth>;
}

export interface ReadyBody {
  ready: boolean;
}

/**
 * The /health body. Every field comes from the connection stats, which never hold a secret, so
 * nothing here needs redacting. No instance at all counts as unhealthy: the agent is not doing
 * its job.
 */
export function healthBody(view: AgentView): HealthBody {
  // A null-prototype object so an instance named like an Object.prototype member ("__proto__")
  // is an ordinary key.
  const connections: Record<string, ConnectionHealth> = Object.create(null);
  let total = 0;
  let up = 0;
  for (const { stats } of view.instances()) {
    const connected = stats.state === "connected";
    total++;
    if (connected) up++;
    // Key order is the documented one: connected, state, last_event, last_error, reconnects.
    connections[stats.instance] = {
      connected,
      state: stats.state,
      ...(stats.lastEventAt !== null
        ? { last_event: new Date(stats.lastEventAt).toISOString() }
        : {}),
      ...(stats.lastError !== null ? { last_error: stats.lastError } : {}),
      reconnects: stats.reconnects,
    };
  }
  const status: HealthStatus = up === 0 ? "unhealthy" : up === total ? "healthy" : "degraded";
  return { status, connections };
}

/** The /ready body: ready as soon as one FreeSWITCH connection is up. */
export function readyBody(view: AgentView): ReadyBody {
  return { ready: view.instances().some((i) => i.stats.state === "connected") };
}
