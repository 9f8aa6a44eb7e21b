import type { ConnectionStats } from "../esl/status.js";
import type { EventCounters } from "../pipeline/counters.js";

// What the operator endpoints read. The server never holds the connections or the pipeline
// themselves: it reads their live counters at request time, so the hot path stays plain number
// increments and the server can be tested with hand-built objects.

export interface InstanceView {
  readonly stats: ConnectionStats;
  readonly events: EventCounters;
}

export interface StorageOpCount {
  operation: string;
  status: "ok" | "error";
  count: number;
}

/** The leg store's figures. */
export interface LegStoreView {
  readonly legs: number;
  readonly evicted: number;
  readonly expired: number;
}

/** The OTLP exporter's figures. */
export interface ExportView {
  readonly exports: number;
  readonly exportErrors: number;
}

export interface AgentView {
  instances(): readonly InstanceView[];
  /** Cumulative storage operation counts; empty until storage exists. */
  storageOperations(): readonly StorageOpCount[];
  legStore(): LegStoreView;
  exporter(): ExportView;
}
