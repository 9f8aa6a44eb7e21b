import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { CONNECTION_STATES } from "../esl/status.js";
import type { AgentView, ExportView, HaView, InstanceView } from "./source.js";

// The agent's own metrics for /metrics. The connections and the pipeline count with plain
// numbers; these prom-client metrics copy those totals at scrape time, so the hot path never
// touches prom-client and a scrape costs one pass over a handful of maps.

type Labels<L extends string> = Partial<Record<L, string>>;
/** Records one series: its labels and its current value. */
type Emit<L extends string> = (labels: Labels<L>, value: number) => void;

interface Spec<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Calls emit once per series, with the current value. */
  fill(emit: Emit<L>): void;
}

// A source counter that is not a finite, non-negative number would make prom-client throw and
// fail the whole scrape; one bad series is better skipped than every series lost.
function usable(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}

function counter<L extends string>(register: Registry, spec: Spec<L>): void {
  new Counter<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [register],
    // Reset then re-add the current totals: series of instances that went away disappear, and
    // the exported value is always the source's own cumulative count.
    collect() {
      this.reset();
      spec.fill((labels, value) => {
        if (usable(value)) this.inc(labels, value);
      });
    },
  });
}

function gauge<L extends string>(register: Registry, spec: Spec<L>): void {
  new Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames,
    registers: [register],
    collect() {
      this.reset();
      spec.fill((labels, value) => {
        if (Number.isFinite(value)) this.set(labels, value);
      });
    },
  });
}

/** One counter series per instance, from a number in its connection stats. */
function perInstance(view: AgentView, value: (i: InstanceView) => number) {
  return (emit: Emit<"fs_instance">): void => {
    for (const i of view.instances()) emit({ fs_instance: i.stats.instance }, value(i));
  };
}

/** One series per instance and map key, from a map in its event counters. */
function perInstanceMap<K extends string>(
  view: AgentView,
  key: K,
  map: (i: InstanceView) => ReadonlyMap<string, number>,
) {
  return (emit: Emit<"fs_instance" | K>): void => {
    for (const i of view.instances()) {
      for (const [name, count] of map(i)) {
        emit({ fs_instance: i.stats.instance, [key]: name } as Labels<"fs_instance" | K>, count);
      }
    }
  };
}

/**
 * A fresh registry (never prom-client's global one, so several agents or tests in one process do
 * not collide) with Node's default process metrics and the fsagent_* metrics read from `view`.
 */
export function createInternalMetrics(view: AgentView, options?: { version?: string }): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });

  counter(register, {
    name: "fsagent_events_received_total",
    help: "FreeSWITCH events read from the Event Socket, by event name.",
    labelNames: ["fs_instance", "event"],
    fill: perInstanceMap(view, "event", (i) => i.events.received),
  });
  counter(register, {
    name: "fsagent_events_processed_total",
    help: "FreeSWITCH events fully handled by the pipeline, by event name.",
    labelNames: ["fs_instance", "event"],
    fill: perInstanceMap(view, "event", (i) => i.events.processed),
  });
  counter(register, {
    name: "fsagent_events_unusable_total",
    help: "FreeSWITCH events skipped because they could not be used, by reason.",
    labelNames: ["fs_instance", "reason"],
    fill: perInstanceMap(view, "reason", (i) => i.events.unusable),
  });
  counter(register, {
    name: "fsagent_qos_variables_unreadable_total",
    help:
      "End-of-call QoS variables (variable_rtp_audio_<variable>) absent or unreadable; the " +
      "leg's other QoS values are exported without them.",
    labelNames: ["fs_instance", "variable"],
    fill: perInstanceMap(view, "variable", (i) => i.events.qosUnreadable),
  });
  counter(register, {
    name: "fsagent_server_health_unreadable_total",
    help:
      "FreeSWITCH health readings (HEARTBEAT, status, sofia xmlstatus answers) that could not " +
      "be read, by source; their figures are not exported.",
    labelNames: ["fs_instance", "source"],
    fill: perInstanceMap(view, "source", (i) => i.events.healthUnreadable),
  });
  counter(register, {
    name: "fsagent_server_health_command_failures_total",
    help:
      "FreeSWITCH health commands that got no answer (timeout, connection gone), by source; " +
      "the figures keep their last values until the next poll.",
    labelNames: ["fs_instance", "source"],
    fill: perInstanceMap(view, "source", (i) => i.events.healthFailed),
  });
  counter(register, {
    name: "fsagent_rtcp_messages_processed_total",
    help: "RTCP reports turned into metric points.",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.events.rtcpProcessed),
  });
  counter(register, {
    name: "fsagent_qos_messages_generated_total",
    help: "End-of-call QoS records produced.",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.events.qosGenerated),
  });
  counter(register, {
    name: "fsagent_storage_operations_total",
    help: "State storage operations, by operation and outcome.",
    labelNames: ["operation", "status"],
    fill(emit) {
      for (const op of view.storageOperations()) {
        emit({ operation: op.operation, status: op.status }, op.count);
      }
    },
  });

  counter(register, {
    name: "fsagent_rtcp_extra_report_blocks_total",
    help: "RTCP report blocks beyond the first in a report; only block 0 is exported.",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.events.extraReportBlocks),
  });
  counter(register, {
    name: "fsagent_events_dropped_total",
    help: "Events dropped before processing, by reason.",
    labelNames: ["fs_instance", "reason"],
    fill: perInstanceMap(view, "reason", (i) => i.events.dropped),
  });
  counter(register, {
    name: "fsagent_leg_lookups_total",
    help: "Look-ups on FreeSWITCH of legs the agent had no state for, by result.",
    labelNames: ["fs_instance", "result"],
    fill: perInstanceMap(view, "result", (i) => i.events.lookups),
  });
  counter(register, {
    name: "fsagent_legs_partial_labels_total",
    help:
      "Legs left with partial labels because a look-up failed or was not sent, by stage: " +
      "first (one more look-up follows later), retry (that one failed too).",
    labelNames: ["fs_instance", "stage"],
    fill: perInstanceMap(view, "stage", (i) => i.events.partialLabels),
  });
  counter(register, {
    name: "fsagent_legs_reconciled_total",
    help:
      "Legs forgotten after a reconnect because FreeSWITCH no longer listed them (they ended " +
      "while the agent was disconnected; their end-of-call QoS is lost).",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.events.legsReconciled),
  });
  gauge(register, {
    name: "fsagent_legs_active",
    help: "Call legs whose state the agent holds in memory.",
    labelNames: [],
    fill: (emit) => emit({}, view.legStore().legs),
  });
  counter(register, {
    name: "fsagent_legs_evicted_total",
    help: "Legs dropped from memory to stay within storage.max_legs.",
    labelNames: [],
    fill: (emit) => emit({}, view.legStore().evicted),
  });
  counter(register, {
    name: "fsagent_legs_expired_total",
    help: "Legs forgotten after storage.leg_ttl without an update (their end was never seen).",
    labelNames: [],
    fill: (emit) => emit({}, view.legStore().expired),
  });
  exportMetrics(register, view);

  gauge(register, {
    name: "fsagent_fs_connections",
    help: "Whether the Event Socket connection to the FreeSWITCH instance is up (1) or not (0).",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => (i.stats.state === "connected" ? 1 : 0)),
  });
  gauge(register, {
    name: "fsagent_fs_connection_state",
    help: "Current state of the Event Socket connection: 1 for the current state, 0 for the others.",
    labelNames: ["fs_instance", "state"],
    fill(emit) {
      for (const { stats } of view.instances()) {
        for (const state of CONNECTION_STATES) {
          emit({ fs_instance: stats.instance, state }, stats.state === state ? 1 : 0);
        }
      }
    },
  });
  gauge(register, {
    name: "fsagent_fs_last_event_timestamp_seconds",
    help: "Unix time of the last event received from the FreeSWITCH instance.",
    labelNames: ["fs_instance"],
    fill(emit) {
      for (const { stats } of view.instances()) {
        if (stats.lastEventAt !== null) {
          emit({ fs_instance: stats.instance }, stats.lastEventAt / 1000);
        }
      }
    },
  });

  counter(register, {
    name: "fsagent_esl_reconnects_total",
    help: "Event Socket connection attempts after the first one.",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.stats.reconnects),
  });
  counter(register, {
    name: "fsagent_esl_protocol_errors_total",
    help: "Event Socket protocol errors, each of which reset the connection, by reason.",
    labelNames: ["fs_instance", "reason"],
    fill(emit) {
      for (const { stats } of view.instances()) {
        // Every reason, zeros included, so rate() and alerts work before the first error.
        for (const [reason, count] of Object.entries(stats.protocolErrors)) {
          emit({ fs_instance: stats.instance, reason }, count);
        }
      }
    },
  });
  counter(register, {
    name: "fsagent_esl_commands_timed_out_total",
    help: "Event Socket commands that got no reply in time.",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.stats.commandsTimedOut),
  });
  counter(register, {
    name: "fsagent_esl_commands_rejected_total",
    help: "Event Socket commands refused before sending (too many awaiting replies, or a line break in the command).",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.stats.commandsRejected),
  });
  counter(register, {
    name: "fsagent_esl_frames_received_total",
    help: "Event Socket frames received, of any content type.",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.stats.framesReceived),
  });
  counter(register, {
    name: "fsagent_esl_frames_ignored_total",
    help: "Event Socket frames of a content type the agent does not handle.",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.stats.framesIgnored),
  });
  counter(register, {
    name: "fsagent_esl_bytes_received_total",
    help: "Bytes read from the Event Socket.",
    labelNames: ["fs_instance"],
    fill: perInstance(view, (i) => i.stats.bytesReceived),
  });

  if (view.ha?.() !== undefined) haMetrics(register, view);
  if (view.httpAuthFailures?.() !== undefined) {
    counter(register, {
      name: "fsagent_http_auth_failures_total",
      help:
        "HTTP requests refused with 401 by basic authentication (http.web_config_file), by " +
        "reason: missing (no credentials), malformed, invalid (wrong user or password); " +
        "throttled: answered 429, too many new credentials waiting for a bcrypt check.",
      labelNames: ["reason"],
      fill(emit) {
        for (const [reason, count] of Object.entries(view.httpAuthFailures?.() ?? {})) {
          emit({ reason }, count);
        }
      },
    });
  }

  const buildInfo = new Gauge({
    name: "fsagent_build_info",
    help: "Always 1; the labels carry the agent and Node.js versions.",
    labelNames: ["version", "node_version"],
    registers: [register],
  });
  buildInfo.set({ version: options?.version ?? "unknown", node_version: process.version }, 1);

  return register;
}

/** Drop reasons as the `reason` label names them. */
const DROP_REASONS = [
  ["not_retried", "notRetried"],
  ["queue_full", "queueFull"],
  ["refused", "refused"],
  ["shutdown", "shutdown"],
] as const;

/**
 * fsagent_export*: one family for both OTLP signals (src/export/sender.ts), one series per
 * `signal`: metrics (items are data points) and logs (the quality records; absent in views that
 * do not export them).
 */
function exportMetrics(register: Registry, view: AgentView): void {
  const perSignal =
    <L extends string>(fill: (stats: ExportView, emit: Emit<"signal" | L>) => void) =>
    (emit: Emit<"signal" | L>): void => {
      const signals: [string, ExportView | undefined][] = [
        ["metrics", view.exporter()],
        ["logs", view.records?.()],
      ];
      for (const [signal, stats] of signals) {
        if (stats === undefined) continue;
        fill(stats, (labels, value) => emit({ signal, ...labels } as Labels<"signal" | L>, value));
      }
    };
  counter(register, {
    name: "fsagent_exports_total",
    help: "OTLP export requests completed, successful or not, by signal (metrics, logs).",
    labelNames: ["signal"],
    fill: perSignal((s, emit) => emit({}, s.exports)),
  });
  counter(register, {
    name: "fsagent_export_errors_total",
    help: "OTLP export requests that failed (the Collector was unreachable, timed out or refused them).",
    labelNames: ["signal"],
    fill: perSignal((s, emit) => emit({}, s.exportErrors)),
  });
  counter(register, {
    name: "fsagent_export_items_sent_total",
    help: "Items (metric data points, log records) the Collector accepted, retried ones included.",
    labelNames: ["signal"],
    fill: perSignal((s, emit) => emit({}, s.sent)),
  });
  counter(register, {
    name: "fsagent_export_items_retried_total",
    help: "Items delivered by a later export after an export carrying them failed.",
    labelNames: ["signal"],
    fill: perSignal((s, emit) => emit({}, s.retried)),
  });
  counter(register, {
    name: "fsagent_export_items_dropped_total",
    help:
      "Items given up, by reason: not_retried (RTCP points of a failed export: the next report " +
      "replaces them), queue_full (past the retry queue's bound, or no queue), refused (the " +
      "server refused them for good, or has no such service), shutdown.",
    labelNames: ["signal", "reason"],
    fill: perSignal<"reason">((s, emit) => {
      for (const [reason, key] of DROP_REASONS) emit({ reason }, s.dropped[key]);
    }),
  });
  gauge(register, {
    name: "fsagent_export_queue_items",
    help: "Items waiting in the retry queue for the Collector.",
    labelNames: ["signal"],
    fill: perSignal((s, emit) => emit({}, s.queued)),
  });
  gauge(register, {
    name: "fsagent_export_queue_capacity",
    help: "The retry queue's bound in items (opentelemetry.retry_queue_size).",
    labelNames: ["signal"],
    fill: perSignal((s, emit) => emit({}, s.capacity)),
  });
}

/** fsagent_ha_*: registered only when HA is enabled. */
function haMetrics(register: Registry, view: AgentView): void {
  const ha = (fill: (h: HaView, emit: Emit<string>) => void) => (emit: Emit<string>) => {
    const h = view.ha?.();
    if (h !== undefined) fill(h, emit);
  };
  gauge(register, {
    name: "fsagent_ha_leases_held",
    help: "FreeSWITCH instances whose lease this replica holds (and so consumes).",
    labelNames: [],
    fill: ha((h, emit) => emit({}, h.leasesHeld)),
  });
  gauge(register, {
    name: "fsagent_ha_replicas",
    help: "Live replicas seen in Redis at the last lease round, this one included.",
    labelNames: [],
    fill: ha((h, emit) => emit({}, h.replicas)),
  });
  gauge(register, {
    name: "fsagent_ha_redis_up",
    help: "Whether the last lease round reached Redis (1) or not (0).",
    labelNames: [],
    fill: ha((h, emit) => emit({}, h.redisReachable ? 1 : 0)),
  });
  gauge(register, {
    name: "fsagent_ha_instance_owned",
    help: "Whether this replica holds the FreeSWITCH instance's lease (1) or not (0).",
    labelNames: ["fs_instance"],
    fill(emit) {
      for (const i of view.instances()) emit({ fs_instance: i.stats.instance }, i.owned ? 1 : 0);
    },
  });
  counter(register, {
    name: "fsagent_ha_lease_acquisitions_total",
    help: "Leases this replica took (it then connected to the instance).",
    labelNames: [],
    fill: ha((h, emit) => emit({}, h.acquisitions)),
  });
  counter(register, {
    name: "fsagent_ha_lease_losses_total",
    help:
      "Leases lost, by reason: refused (another replica holds it) or expired (not renewed in " +
      "time, e.g. Redis unreachable); the instance was disconnected at once.",
    labelNames: ["reason"],
    fill: ha((h, emit) => {
      emit({ reason: "refused" }, h.losses.refused);
      emit({ reason: "expired" }, h.losses.expired);
    }),
  });
  counter(register, {
    name: "fsagent_ha_lease_handovers_total",
    help: "Leases released on purpose, to balance the load or at shutdown.",
    labelNames: [],
    fill: ha((h, emit) => emit({}, h.handovers)),
  });
  counter(register, {
    name: "fsagent_ha_unreachable_releases_total",
    help:
      "Leases this replica gave up because it could not connect to the instance for " +
      "ha.unreachable_release_after while another live replica could take it (also counted in " +
      "fsagent_ha_lease_handovers_total).",
    labelNames: [],
    fill: ha((h, emit) => emit({}, h.unreachableReleases)),
  });
  counter(register, {
    name: "fsagent_ha_redis_errors_total",
    help: "Lease rounds that failed because Redis did not answer.",
    labelNames: [],
    fill: ha((h, emit) => emit({}, h.redisErrors)),
  });
  counter(register, {
    name: "fsagent_ha_qos_claims_total",
    help:
      "End-of-call QoS reports claimed in Redis before export, by result: claimed (exported), " +
      "duplicate (another replica reported the leg; not exported), unclaimed (Redis did not " +
      "answer; exported anyway), fenced (another replica had taken the instance over since " +
      "this one's lease ended; not exported).",
    labelNames: ["result"],
    fill: ha((h, emit) => {
      for (const [result, count] of Object.entries(h.qosClaims)) emit({ result }, count);
    }),
  });
  counter(register, {
    name: "fsagent_ha_fenced_writes_total",
    help:
      "Leg-state writes (leg_state) and deletes (leg_delete) Redis refused because another " +
      "replica had taken the instance over since they were made: the late writes of a replica " +
      "paused or cut off past its lease. None of them was applied.",
    labelNames: ["write"],
    fill: ha((h, emit) => {
      for (const [write, count] of Object.entries(h.fencedWrites)) emit({ write }, count);
    }),
  });
}
