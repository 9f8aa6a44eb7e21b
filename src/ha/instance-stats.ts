import type { ProtocolErrorReason } from "../esl/parser.js";
import { type ConnectionState, type ConnectionStats, newConnectionStats } from "../esl/status.js";

type Counter =
  | "reconnects"
  | "framesReceived"
  | "bytesReceived"
  | "commandsTimedOut"
  | "commandsRejected"
  | "framesIgnored";

const COUNTERS: readonly Counter[] = [
  "reconnects",
  "framesReceived",
  "bytesReceived",
  "commandsTimedOut",
  "commandsRejected",
  "framesIgnored",
];

/**
 * One FreeSWITCH instance's connection figures across the connections it had. Under HA the
 * instance is connected while this replica holds its lease, and a new EslConnection is made at
 * each acquisition; /health and /metrics read this instead, so that counters stay monotonic
 * (the retired connections' totals are kept) and an instance with no connection reads
 * `stopped`. Read-only: the connections update their own stats.
 */
export class InstanceStats implements Readonly<ConnectionStats> {
  private current: ConnectionStats | null = null;
  private readonly retired: ConnectionStats;

  constructor(readonly instance: string) {
    this.retired = newConnectionStats(instance);
  }

  /** The live connection's stats from now on. */
  attach(stats: ConnectionStats): void {
    this.current = stats;
  }

  /** The connection is gone for good: its totals join the retired ones. */
  detach(): void {
    const stats = this.current;
    if (stats === null) return;
    this.current = null;
    for (const counter of COUNTERS) this.retired[counter] += stats[counter];
    for (const [reason, count] of Object.entries(stats.protocolErrors)) {
      this.retired.protocolErrors[reason as ProtocolErrorReason] += count;
    }
    this.retired.lastFrameAt = latest(this.retired.lastFrameAt, stats.lastFrameAt);
    this.retired.lastEventAt = latest(this.retired.lastEventAt, stats.lastEventAt);
  }

  get state(): ConnectionState {
    return this.current?.state ?? "stopped";
  }

  get lastFrameAt(): number | null {
    return latest(this.retired.lastFrameAt, this.current?.lastFrameAt ?? null);
  }

  get lastEventAt(): number | null {
    return latest(this.retired.lastEventAt, this.current?.lastEventAt ?? null);
  }

  get lastError(): string | null {
    return this.current?.lastError ?? null;
  }

  get connectedSince(): number | null {
    return this.current?.connectedSince ?? null;
  }

  get reconnects(): number {
    return this.sum("reconnects");
  }

  get framesReceived(): number {
    return this.sum("framesReceived");
  }

  get bytesReceived(): number {
    return this.sum("bytesReceived");
  }

  get commandsTimedOut(): number {
    return this.sum("commandsTimedOut");
  }

  get commandsRejected(): number {
    return this.sum("commandsRejected");
  }

  get framesIgnored(): number {
    return this.sum("framesIgnored");
  }

  get protocolErrors(): Record<ProtocolErrorReason, number> {
    const out = { ...this.retired.protocolErrors };
    const current = this.current?.protocolErrors;
    if (current !== undefined) {
      for (const [reason, count] of Object.entries(current)) {
        out[reason as ProtocolErrorReason] += count;
      }
    }
    return out;
  }

  private sum(counter: Counter): number {
    return this.retired[counter] + (this.current?.[counter] ?? 0);
  }
}

function latest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
