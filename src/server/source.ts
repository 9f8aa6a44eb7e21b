import type { ConnectionStats } from "../esl/status.js";
import type { ServerSnapshot } from "../fs-health/server-health.js";
import type { EventCounters } from "../pipeline/counters.js";
import type { EndedLeg, StatusSample } from "../pipeline/status-history.js";
import type { LegLabels, RtcpSummary } from "../quality/types.js";
import type { StoreOpCount } from "../state/store.js";

// What the operator endpoints read. The server never holds the connections or the pipeline
// themselves: it reads their live counters at request time, so the hot path stays plain number
// increments and the server can be tested with hand-built objects.

export interface InstanceView {
  readonly stats: Readonly<ConnectionStats>;
  readonly events: EventCounters;
  /** HA only: whether this replica holds the instance's lease. */
  readonly owned?: boolean;
  /** HA only: the replica id holding the lease as far as this replica knows; null when free. */
  readonly owner?: string | null;
  /** HA only: why this replica does or does not own it when reachability is involved. */
  readonly note?: string | null;
  /** What FreeSWITCH says of itself (HEARTBEAT, `status`, mod_sofia); absent in views without. */
  readonly server?: ServerSnapshot;
}

/** The HA lease manager's figures (absent when ha.enabled is false). */
export interface HaView {
  readonly replicaId: string;
  /** The last lease round reached Redis. */
  readonly redisReachable: boolean;
  /** Live replicas seen at the last round, this one included. */
  readonly replicas: number;
  /** ceil(instances / replicas): the most leases one replica holds while all are healthy. */
  readonly fairShare: number;
  readonly leasesHeld: number;
  readonly acquisitions: number;
  readonly losses: Readonly<Record<"refused" | "expired", number>>;
  readonly handovers: number;
  /** Of the handovers, those because this replica could not reach the instance. */
  readonly unreachableReleases: number;
  readonly redisErrors: number;
  readonly qosClaims: Readonly<Record<"claimed" | "duplicate" | "unclaimed" | "fenced", number>>;
  /** Leg-state writes Redis refused because another replica had taken the instance over. */
  readonly fencedWrites: Readonly<Record<"leg_state" | "leg_delete", number>>;
}

/** fsagent_storage_operations_total's source: the store's own counts. */
export type StorageOpCount = StoreOpCount;

/** The leg store's figures. */
export interface LegStoreView {
  readonly legs: number;
  readonly evicted: number;
  readonly expired: number;
}

/**
 * One signal's OTLP export figures (src/export/sender.ts's ExportStats): requests and their
 * failures, items (metric data points, log records) sent, retried, dropped by reason, queued.
 */
export interface ExportView {
  readonly exports: number;
  readonly exportErrors: number;
  readonly sent: number;
  /** Delivered after an export carrying them failed (included in sent). */
  readonly retried: number;
  readonly dropped: Readonly<Record<"notRetried" | "queueFull" | "refused" | "shutdown", number>>;
  /** Waiting in the retry queue now. */
  readonly queued: number;
  /** The retry queue's bound. */
  readonly capacity: number;
}

/** The quality-record (OTLP logs) export's figures. */
export interface RecordsView extends ExportView {
  /** Records handed to the sink, one per ended leg. */
  readonly emitted: number;
}

/** A leg in progress, for the status page. */
export interface ActiveLegView {
  readonly instance: string;
  readonly labels: LegLabels;
  /** When the agent first saw the leg (ms since epoch). */
  readonly since: number;
  readonly rtcpIn: RtcpSummary | null;
  readonly rtcpOut: RtcpSummary | null;
}

/** What the status page and /api/status are built from (src/server/status.ts). */
export interface StatusSnapshot {
  readonly version: string;
  /** When the agent started (ms since epoch). */
  readonly startedAt: number;
  /** The time of the snapshot (ms since epoch). */
  readonly now: number;
  /** Every leg in progress, in no particular order (status.ts picks the worst). */
  activeLegs(): Iterable<ActiveLegView>;
  /** The last legs that ended, newest first. */
  readonly endedLegs: readonly EndedLeg[];
  /** Chart samples, oldest first. */
  readonly samples: readonly StatusSample[];
  readonly sampleIntervalMs: number;
  /** Upper bounds of the MOS buckets of StatusSample.mosEnded. */
  readonly mosBuckets: readonly number[];
}

export interface AgentView {
  instances(): readonly InstanceView[];
  /** Cumulative storage operation counts; empty until storage exists. */
  storageOperations(): readonly StorageOpCount[];
  legStore(): LegStoreView;
  /** The metrics export (signal "metrics"). */
  exporter(): ExportView;
  /** The quality records' export (signal "logs"); absent in views that do not export them. */
  records?(): RecordsView;
  /** HA figures; undefined (or absent) when HA is off. */
  ha?(): HaView | undefined;
  /** The status page's data; absent in views without one (then / and /api/status are 404). */
  status?(): StatusSnapshot;
  /** Requests refused for want of credentials, by reason; absent without basic auth. */
  httpAuthFailures?():
    | Readonly<Record<"missing" | "malformed" | "invalid" | "throttled", number>>
    | undefined;
}
