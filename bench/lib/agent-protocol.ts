// The IPC contract between the whole-agent benchmarks (parent: simulator, collector, clock) and
// bench/agent-child.ts (the agent under test, alone in its process so that its CPU time and heap
// are its own). Messages are JSON over the fork() channel; each request carries an id and gets
// exactly one reply with that id.

/** The fs_instance name of the simulator in the child's configuration. */
export const BENCH_INSTANCE = "fs-bench";

/** How the child builds its agent. Passed as the child's only argv entry, JSON-encoded. */
export interface ChildSettings {
  /**
   * The ESL port on 127.0.0.1 (password ClueCon): the parent's simulator, or a real FreeSWITCH
   * (freeswitch-calls suite).
   */
  readonly simPort: number;
  /** host:port of the OTLP/gRPC receiver (plaintext). */
  readonly otlpEndpoint: string;
  readonly storage: "memory" | "redis";
  /** Redis on 127.0.0.1 at this port, keys under this prefix (storage "redis" only). */
  readonly redisPort: number;
  readonly redisKeyPrefix: string;
  /** opentelemetry.export_interval (and export_timeout), ms. */
  readonly exportIntervalMs: number;
  /** Keep one record time per RTCP observation (latency suite); otherwise only count them. */
  readonly trackLatency: boolean;
}

/** The agent's counters and the process's resource use at one instant. */
export interface ChildStats {
  /** Wall clock of the child, ms: performance.timeOrigin + performance.now(). */
  readonly now: number;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  /**
   * CPU ms (user + system) of the main thread (JavaScript, I/O) and of the others (V8's GC and
   * compiler workers, libuv's pool), from /proc/self/task (Linux; main is -1 elsewhere).
   */
  readonly threadsCpuMs: { readonly main: number; readonly others: number };
  /**
   * Times the main thread blocked and woke up again (its voluntary context switches; -1 where
   * /proc is not Linux's): at a low event rate the agent's CPU goes mostly per wake-up.
   */
  readonly mainWakeups: number;
  /** recordRtcp calls that reached the metrics sink (one per usable RTCP report). */
  readonly rtcpRecorded: number;
  readonly qosRecorded: number;
  /** Router counters summed over event names / reasons. */
  readonly received: number;
  /** Events received by Event-Name (fsagent_events_received_total by event). */
  readonly receivedByEvent: Readonly<Record<string, number>>;
  readonly processed: number;
  readonly unusable: number;
  readonly dropped: number;
  /** Events dropped by reason (fsagent_events_dropped_total by reason). */
  readonly droppedByReason: Readonly<Record<string, number>>;
  /** uuid_dump look-ups by result (fsagent_leg_lookups_total by result). */
  readonly lookups: Readonly<Record<string, number>>;
  /** Legs in the leg store, and legs whose RTCP attribute sets the metrics sink caches. */
  readonly legs: number;
  readonly cachedLegs: number;
  /** V8 used heap, bytes; after full collections when the request asked for gc. Else -1. */
  readonly heapUsed: number;
  /** Resident set size of the process, bytes (process.memoryUsage.rss()). */
  readonly rssBytes: number;
  readonly exports: number;
  readonly exportErrors: number;
  /** RTCP points of failed exports, as the sink counts them (fsagent_export_items_dropped_total{reason="not_retried"}). */
  readonly rtcpPointsDropped: number;
  readonly connected: boolean;
}

/** Record times (child wall clock, ms) per `channelId + "<"` (inbound) or `">"` (outbound). */
export type LatencySamples = Record<string, number[]>;

export type ProfileKind = "cpu" | "allocations";

export interface ChildCommands {
  stats: { args: { gc: boolean }; result: ChildStats };
  /** The child's wall clock, for the parent to estimate the offset between the two clocks. */
  ping: { args: Record<string, never>; result: { now: number } };
  /** metrics.forceFlush(): exports what was recorded so far. */
  flush: { args: Record<string, never>; result: { exports: number } };
  /**
   * RTCP reports each leg in the store has had so far, [RECV, SEND] by Unique-ID (from the leg
   * state's summaries): whether every leg reports, without a second event socket consumer.
   */
  legReports: {
    args: Record<string, never>;
    result: { legs: Record<string, readonly [number, number]> };
  };
  /** Every RTCP record time kept since the start (trackLatency only). */
  latency: { args: Record<string, never>; result: { samples: LatencySamples } };
  /**
   * Starts one of V8's sampling profilers (node:inspector) in the child: `cpu` (time), or
   * `allocations` (every sampled allocation, the ones the GC has freed since included).
   */
  profileStart: { args: { kind: ProfileKind }; result: { started: true } };
  /** Stops it and writes the .cpuprofile / .heapprofile to `file`. */
  profileStop: { args: { file: string }; result: { file: string } };
  /** Full collections, then v8.writeHeapSnapshot(file). */
  heapSnapshot: { args: { file: string }; result: { file: string } };
  /** agent.stop(), then the process exits. */
  stop: { args: Record<string, never>; result: { stopped: true } };
}

export type CommandName = keyof ChildCommands;

export interface ChildRequest<K extends CommandName = CommandName> {
  readonly id: number;
  readonly cmd: K;
  readonly args: ChildCommands[K]["args"];
}

export type ChildReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** Unsolicited messages: the agent started (HTTP bound, connecting), or the child failed. */
export type ChildNotice =
  | { readonly notice: "ready"; readonly url: string }
  | { readonly notice: "fatal"; readonly error: string };

/** The key a latency sample is filed under. */
export function latencyKey(channelId: string, direction: "inbound" | "outbound"): string {
  return `${channelId}${direction === "inbound" ? "<" : ">"}`;
}
