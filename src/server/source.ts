import type { ConnectionStats } from "../esl/status.js";
import type { EventCounters } from "../pipeline/counters.js";
import type { StoreOpCount } from "../state/store.js";

// What the operator endpoints read. The server never holds the connections or the pipeline
// themselves: it reads their live counters at request time, so the hot path stays plain number
// increments and the server can be tested with hand-built objects.

export interface InstanceView {
  readonly stats: ConnectionStats;
  readonly events: EventCounters;
}

/** fsagent_storage_operations_total's source: the store's own counts. */
export type StorageOpCount = StoreOpCount;

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
  /** End-of-call QoS points delivered after a failed export. */
  readonly qosPointsRetried: number;
  /** QoS points given up: retry queue overflow, queue disabled, or shutdown. */
  readonly qosPointsDropped: number;
  /** RTCP points of failed exports (never retried). */
  readonly rtcpPointsDropped: number;
  /** QoS points in the retry queue now. */
  readonly retryQueued: number;
}

export interface AgentView {
  instances(): readonly InstanceView[];
  /** Cumulative storage operation counts; empty until storage exists. */
  storageOperations(): readonly StorageOpCount[];
  legStore(): LegStoreView;
  exporter(): ExportView;
}
