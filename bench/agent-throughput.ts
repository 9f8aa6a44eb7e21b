// Issue 5, point 2: the whole agent at full speed. The simulator (this process) writes RTCP
// reports as fast as the agent (a child process: real Agent, real ESL over TCP, real OTLP/gRPC
// export every second to a receiver in this process) reads them; throughput is what the agent
// recorded per second of wall time over a steady-state window, with its CPU time per 1,000
// events and its CPU use (100 % = one core saturated). Memory state, then Redis state.

import { AgentBench, machineLoad, redisReachable } from "./lib/agent-harness.js";
import { CallTemplates } from "./lib/call-templates.js";
import type { BenchRow, Suite, TargetCheck } from "./lib/result.js";
import { medianOf } from "./lib/stats.js";

/** Bridged calls, so 2 × this many legs known to the agent before the first report. */
const CALLS = 10_000;
/** RECV and SEND reports generated per template leg; replayed in a cycle. */
const REPORTS_PER_LEG = 12;
const EXPORT_INTERVAL_MS = 1_000;
/** Reports in flight between the feeder and the agent's router (about 20 MB of frames). */
const WINDOW = 20_000;

const TARGETS = { memory: 100_000, redis: 30_000 } as const;

type Storage = keyof typeof TARGETS;

interface Timing {
  readonly warmupMs: number;
  readonly windowMs: number;
}

type Figures = Record<
  | "events/s"
  | "events/cpu-s"
  | "cpu ms/1k ev"
  | "agent cpu %"
  | "feeder cpu %"
  | "pts out/s"
  | "export cover %"
  | "export errors"
  | "pts dropped/s",
  number
>;

/**
 * Points the export owes per second at `eventsPerSecond`, at least: each of the SPEC's three
 * per-leg RTCP metrics (jitter, fraction lost, packets lost) once per series that reported in an
 * interval. Newer metrics per series only raise it, so `pts out / this` is an upper bound.
 */
function pointsDue(eventsPerSecond: number, series: number): number {
  const seriesPerInterval = Math.min(series, (eventsPerSecond * EXPORT_INTERVAL_MS) / 1000);
  return (3 * seriesPerInterval * 1000) / EXPORT_INTERVAL_MS;
}

async function run(storage: Storage, timing: Timing, index: number): Promise<Figures> {
  const bench = await AgentBench.start({
    storage,
    trackLatency: false,
    exportIntervalMs: EXPORT_INTERVAL_MS,
  });
  try {
    const templates = new CallTemplates({ count: 100, reportsPerLeg: REPORTS_PER_LEG, seed: 5 });
    const calls = await bench.createCalls(templates, CALLS);
    const legs = calls.length * 2;
    const { before, after, feederCpuMs, pointsOut } = await bench.steadyWindow(calls, {
      window: WINDOW,
      ...timing,
      profile: `agent-${storage}-${index + 1}`,
    });

    const events = after.rtcpRecorded - before.rtcpRecorded;
    const wallMs = after.now - before.now;
    const cpuMs = after.cpuUserMs + after.cpuSystemMs - (before.cpuUserMs + before.cpuSystemMs);
    if (events <= 0) throw new Error(`no RTCP recorded in the window (${storage})`);
    const eventsPerSecond = (events / wallMs) * 1000;
    const pointsPerSecond = (pointsOut / wallMs) * 1000;
    return {
      "events/s": eventsPerSecond,
      "events/cpu-s": (events / cpuMs) * 1000,
      "cpu ms/1k ev": (cpuMs / events) * 1000,
      "agent cpu %": (cpuMs / wallMs) * 100,
      "feeder cpu %": (feederCpuMs / wallMs) * 100,
      "pts out/s": pointsPerSecond,
      "export cover %": (pointsPerSecond / pointsDue(eventsPerSecond, 2 * legs)) * 100,
      "export errors": after.exportErrors - before.exportErrors,
      "pts dropped/s": ((after.rtcpPointsDropped - before.rtcpPointsDropped) / wallMs) * 1000,
    };
  } finally {
    await bench.close();
  }
}

export const agentThroughput: Suite = async ({ quick }) => {
  const runs = quick ? 1 : 3;
  const timing: Timing = quick
    ? { warmupMs: 1_500, windowMs: 2_000 }
    : { warmupMs: 2_000, windowMs: 5_000 };
  const rows: BenchRow[] = [];
  const targets: TargetCheck[] = [];
  const method = [
    `the built agent (dist/) in a child process, one FreeSWITCH instance, OTLP/gRPC every ${EXPORT_INTERVAL_MS / 1000} s to a counting receiver in the parent`,
    `${CALLS.toLocaleString("en-US")} bridged calls (${(2 * CALLS).toLocaleString("en-US")} legs) created first; then RECV/SEND_RTCP_MESSAGE round-robin over the legs (two series per leg) as fast as the agent reads them (<= ${WINDOW.toLocaleString("en-US")} in flight)`,
    `events/s = RTCP observations recorded by the agent per wall second over a ${timing.windowMs / 1000} s window after ${timing.warmupMs / 1000} s of warm-up; cpu = the agent process's user+system time (all its threads)`,
    "events/cpu-s = the same events per second of the agent's CPU time: what one whole core yields when the machine does not give the agent all of one (agent cpu % < ~95); the targets are checked on it",
    machineLoad(),
    "pts out/s = data points the receiver got per second; export cover % = pts out / (3 per-leg RTCP metrics x series that reported in each interval), an upper bound: below 100 the exporter fell behind; export errors and pts dropped/s = failed exports in the window and the RTCP points the sink counted as dropped",
    `median of ${runs} run(s), a fresh agent process each`,
  ];
  for (const storage of ["memory", "redis"] as const) {
    if (storage === "redis" && !(await redisReachable())) {
      method.push("redis: no Redis at 127.0.0.1:6379, row skipped");
      targets.push({
        name: "whole agent, Redis state, RTCP events/s on one core",
        value: Number.NaN,
        goal: `>= ${TARGETS.redis.toLocaleString("en-US")}`,
        met: false,
      });
      continue;
    }
    const figures = await medianOf(runs, (index) => run(storage, timing, index));
    rows.push({ name: `${storage} state`, figures });
    targets.push({
      name: `whole agent, ${storage === "memory" ? "memory" : "Redis"} state, RTCP events/s on one core`,
      value: figures["events/cpu-s"],
      goal: `>= ${TARGETS[storage].toLocaleString("en-US")}`,
      met: figures["events/cpu-s"] >= TARGETS[storage],
    });
    targets.push({
      name: `(validity, not an issue-5 target) ${storage} state: OTLP export kept up at that rate, % of points due`,
      value: figures["export cover %"],
      goal: ">= 99 %",
      met: figures["export cover %"] >= 99,
    });
  }
  return { suite: "agent", method, rows, targets };
};
