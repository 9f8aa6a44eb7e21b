import { hostname } from "node:os";

/**
 * This replica's name: `ha.replica_id`, or `<hostname>-<pid>` when it is "" (in Kubernetes the
 * host name is the pod name, unique per replica; the pid tells two agents on one host apart).
 */
export function resolveReplicaId(configured: string): string {
  return configured !== "" ? configured : `${hostname()}-${process.pid}`;
}

/**
 * A replica's member string in Redis: its id and a token drawn per process, so that two
 * processes configured with the same id never take each other's leases for their own.
 */
export function memberOf(replicaId: string, token: string): string {
  return `${replicaId}#${token}`;
}

/** The replica id of a member string (everything before the last `#`). */
export function replicaIdOf(member: string): string {
  const hash = member.lastIndexOf("#");
  return hash === -1 ? member : member.slice(0, hash);
}
