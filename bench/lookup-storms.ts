// Issue 21, look-up storms: RTCP at full speed for 1,000 legs the agent has no state for and that
// FreeSWITCH does not have either (the simulator answers their `uuid_dump` with `-ERR No such
// channel!` like FreeSWITCH 1.11: the legs were never created there), against RTCP at full speed
// for 1,000 legs the agent knows. The agent is the built one in a child process, as in the
// `agent` suite; the simulator in this process counts every uuid_dump it is sent, per leg.

import { AgentBench, machineLoad } from "./lib/agent-harness.js";
import type { BenchCall } from "./lib/call-templates.js";
import { CallTemplates } from "./lib/call-templates.js";
import type { BenchRow, Suite, TargetCheck } from "./lib/result.js";
import { medianOf } from "./lib/stats.js";

/** Bridged calls: 2 legs each. */
const CALLS = 500;
const LEGS = 2 * CALLS;
const REPORTS_PER_LEG = 12;
const EXPORT_INTERVAL_MS = 1_000;
/** Reports in flight between the feeder and the agent's router. */
const WINDOW = 20_000;

/** Issue 21's targets. */
const MIN_RATIO = 0.8;
const MAX_LOOKUPS_PER_LEG_PER_MINUTE = 1;

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
  | "uuid_dumps"
  | "dumps/leg"
  | "run s"
  | "min s between dumps of a leg"
  | "max dumps of a leg in 60 s"
  | "dropped not_found/s"
  | "rate_limited",
  number
>;

async function run(known: boolean, timing: Timing): Promise<Figures> {
  const bench = await AgentBench.start({
    storage: "memory",
    trackLatency: false,
    exportIntervalMs: EXPORT_INTERVAL_MS,
  });
  try {
    const templates = new CallTemplates({ count: 100, reportsPerLeg: REPORTS_PER_LEG, seed: 5 });
    // Unknown legs: stamped-out calls whose setup events are never sent, to the agent or to the
    // simulator's channel table, so both know nothing of them.
    const calls: BenchCall[] = known
      ? await bench.createCalls(templates, CALLS)
      : Array.from({ length: CALLS }, () => templates.newCall());
    const dumpsAt = new Map<string, number[]>();
    bench.server.on("command", ({ line }: { line: string }) => {
      const match = /^api uuid_dump (\S+)/.exec(line);
      if (match === null) return;
      const times = dumpsAt.get(match[1]!) ?? [];
      times.push(Date.now());
      dumpsAt.set(match[1]!, times);
    });
    const started = Date.now();
    const { before, after, feederCpuMs } = await bench.steadyWindow(calls, {
      window: WINDOW,
      ...timing,
      profile: `lookups-${known ? "known" : "unknown"}`,
    });
    const runMs = Date.now() - started;

    const events = after.received - before.received;
    const wallMs = after.now - before.now;
    const cpuMs = after.cpuUserMs + after.cpuSystemMs - (before.cpuUserMs + before.cpuSystemMs);
    if (events <= 0)
      throw new Error(`no event read in the window (${known ? "known" : "unknown"})`);
    let dumps = 0;
    let minGapMs = Number.POSITIVE_INFINITY;
    let maxIn60s = 0;
    for (const times of dumpsAt.values()) {
      dumps += times.length;
      // Times are in arrival order: a sliding 60 s window over them.
      let first = 0;
      for (let i = 0; i < times.length; i++) {
        if (i > 0) minGapMs = Math.min(minGapMs, times[i]! - times[i - 1]!);
        while (times[i]! - times[first]! >= 60_000) first++;
        maxIn60s = Math.max(maxIn60s, i - first + 1);
      }
    }
    const notFoundDrops =
      (after.droppedByReason.leg_not_found ?? 0) - (before.droppedByReason.leg_not_found ?? 0);
    return {
      "events/s": (events / wallMs) * 1000,
      "events/cpu-s": (events / cpuMs) * 1000,
      "cpu ms/1k ev": (cpuMs / events) * 1000,
      "agent cpu %": (cpuMs / wallMs) * 100,
      "feeder cpu %": (feederCpuMs / wallMs) * 100,
      uuid_dumps: dumps,
      // Over the whole run, warm-up included: the first look-up of every leg counts.
      "dumps/leg": dumps / LEGS,
      "run s": runMs / 1000,
      "min s between dumps of a leg": minGapMs / 1000,
      "max dumps of a leg in 60 s": maxIn60s,
      "dropped not_found/s": (notFoundDrops / wallMs) * 1000,
      rate_limited: after.lookups.rate_limited ?? 0,
    };
  } finally {
    await bench.close();
  }
}

export const lookupStorms: Suite = async ({ quick }) => {
  // The unknown legs' run lasts past lookups.not_found_ttl (60 s), so that every leg's answer
  // expires once and the look-ups per minute include the second round. --quick does not.
  const knownTiming: Timing = quick
    ? { warmupMs: 1_500, windowMs: 3_000 }
    : { warmupMs: 2_000, windowMs: 10_000 };
  const unknownTiming: Timing = quick
    ? { warmupMs: 2_000, windowMs: 10_000 }
    : { warmupMs: 2_000, windowMs: 68_000 };
  const knownRuns = quick ? 1 : 3;
  const method = [
    "the built agent (dist/) in a child process with the default configuration (lookups.rate 100/s, lookups.not_found_ttl 60 s), memory state, one FreeSWITCH instance (the simulator), OTLP/gRPC every 1 s to a counting receiver",
    `known: ${CALLS} bridged calls (${LEGS} legs) created first, then RECV/SEND_RTCP_MESSAGE round-robin over the legs as fast as the agent reads them (<= ${WINDOW.toLocaleString("en-US")} in flight); median of ${knownRuns} run(s), ${knownTiming.windowMs / 1000} s window after ${knownTiming.warmupMs / 1000} s`,
    `unknown: the same reports for ${LEGS} legs never created, neither in the agent nor in the simulator (uuid_dump answers -ERR No such channel!); one run, ${unknownTiming.windowMs / 1000} s window after ${unknownTiming.warmupMs / 1000} s`,
    "events/s = events the agent's router read per wall second (handled, or dropped as leg_not_found); uuid_dumps = look-ups the simulator received over the whole run (run s, warm-up included), dumps/leg = uuid_dumps / legs; max dumps of a leg in 60 s = the most look-ups of one leg within any 60 s window (the target: at most one look-up per leg per minute); min s between dumps of a leg = the shortest gap between two look-ups of one leg (Infinity: none was looked up twice)",
    machineLoad(),
  ];
  const knownFigures = await medianOf(knownRuns, () => run(true, knownTiming));
  const unknownFigures = await run(false, unknownTiming);
  const rows: BenchRow[] = [
    { name: "known legs", figures: knownFigures },
    { name: "unknown legs", figures: unknownFigures },
  ];
  const ratio = unknownFigures["events/s"] / knownFigures["events/s"];
  const cpuRatio = unknownFigures["events/cpu-s"] / knownFigures["events/cpu-s"];
  const targets: TargetCheck[] = [
    {
      name: "unknown legs' events/s / known legs' events/s",
      value: ratio,
      goal: `>= ${MIN_RATIO}`,
      met: ratio >= MIN_RATIO,
    },
    {
      name: "(same, per CPU-second of the agent)",
      value: cpuRatio,
      goal: `>= ${MIN_RATIO}`,
      met: cpuRatio >= MIN_RATIO,
    },
    {
      name: "uuid_dumps of one unknown leg within any 60 s, at most",
      value: unknownFigures["max dumps of a leg in 60 s"],
      goal: `<= ${MAX_LOOKUPS_PER_LEG_PER_MINUTE}`,
      met: unknownFigures["max dumps of a leg in 60 s"] <= MAX_LOOKUPS_PER_LEG_PER_MINUTE,
    },
  ];
  return { suite: "lookups", method, rows, targets };
};
