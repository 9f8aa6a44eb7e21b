// Issue 5, point 3: heap per active leg with 20,000 active legs (memory state), and the heap after
// 100,000 calls have come and gone, which must be back at the baseline.
//
// Heap figures are V8's used heap in the agent's process after forced full collections
// (--expose-gc). Exports are triggered explicitly (a long export interval, then forceFlush at
// chosen moments) so that what the metrics SDK holds at each measurement is known:
// - baseline: after a warm-up of calls that came and went (code compiled, lazy structures made),
//   two exports with nothing new (the SDK keeps the last collection until the next one);
// - active: 20,000 legs, each with one RECV and one SEND report exported and a second pair
//   recorded since: the steady state of a running agent, whose sink holds one interval of
//   points and the last collection;
// - active, idle: the same legs after two empty exports (leg state and caches only);
// - after: every call hung up, 100,000 more bridged calls (each with its RTCP reports and
//   end-of-call QoS) run through in waves with an export after each wave, two empty exports.

import { AgentBench } from "./lib/agent-harness.js";
import type { ChildStats } from "./lib/agent-protocol.js";
import { type BenchCall, CallTemplates, type TemplateFrame } from "./lib/call-templates.js";
import type { BenchRow, Suite, TargetCheck } from "./lib/result.js";
import { median } from "./lib/stats.js";

const ACTIVE_CALLS = 10_000;
const WARMUP_CALLS = 2_000;
const WAVE_CALLS = 2_000;
/** Long enough never to fire during a run: exports are explicit (see above). */
const EXPORT_INTERVAL_MS = 600_000;
const TARGET_BYTES_PER_LEG = 2048;
const TARGET_GROWTH_BYTES = 1024 * 1024;

type Item = readonly [TemplateFrame, BenchCall];

/** Frames in `items` are written as fast as the agent reads them (at most 4,000 in flight). */
async function feed(bench: AgentBench, items: Iterator<Item>): Promise<void> {
  await bench.pump(
    (budget) => {
      for (let n = 0; n < budget; n++) {
        const next = items.next();
        if (next.done === true) return false;
        bench.feed.add(next.value[0], next.value[1]);
      }
      return true;
    },
    { window: 4_000, timeoutMs: 300_000 },
  );
}

/** RTCP round `round` for every leg of `calls`: a RECV and a SEND report each. */
function* reports(calls: readonly BenchCall[], round: number): Generator<Item> {
  for (const call of calls) {
    for (const side of [0, 1]) {
      const recv = call.template.recv[side]!;
      const send = call.template.send[side]!;
      yield [recv[round % recv.length]!, call];
      yield [send[round % send.length]!, call];
    }
  }
}

function* hangups(calls: readonly BenchCall[]): Generator<Item> {
  for (const call of calls) for (const frame of call.template.hangup) yield [frame, call];
}

/** Whole calls: CREATE … BRIDGE for all of them, one RTCP round, then their hangups. */
function* lifecycles(calls: readonly BenchCall[]): Generator<Item> {
  for (const call of calls) for (const frame of call.template.setup) yield [frame, call];
  yield* reports(calls, 0);
  yield* hangups(calls);
}

/** Two exports: the second one, with nothing new, makes the SDK drop the first collection. */
async function exportTwice(bench: AgentBench): Promise<void> {
  await bench.child.request("flush", {}, 120_000);
  await bench.child.request("flush", {}, 120_000);
}

async function settledHeap(bench: AgentBench): Promise<ChildStats> {
  await bench.drain(120_000);
  return bench.child.stats(true);
}

interface RunResult {
  readonly baselineMiB: number;
  readonly bytesPerLeg: number;
  readonly bytesPerLegIdle: number;
  /** Only when the run churned calls. */
  readonly churn?: {
    readonly calls: number;
    readonly growthKiB: number;
    readonly legsLeft: number;
    readonly cachedLegsLeft: number;
    readonly callsPerSecond: number;
  };
}

async function run(churnCalls: number, index: number): Promise<RunResult> {
  const bench = await AgentBench.start({
    storage: "memory",
    trackLatency: false,
    exportIntervalMs: EXPORT_INTERVAL_MS,
  });
  try {
    const templates = new CallTemplates({ count: 100, reportsPerLeg: 2, seed: 17 + index });
    const newCalls = (n: number) => Array.from({ length: n }, () => templates.newCall());

    await feed(bench, lifecycles(newCalls(WARMUP_CALLS)));
    await bench.drain(120_000);
    await exportTwice(bench);
    const baseline = await settledHeap(bench);
    if (index === 0) await bench.heapSnapshot("memory-baseline");

    const active = await bench.createCalls(templates, ACTIVE_CALLS);
    await feed(bench, reports(active, 0));
    await bench.drain(120_000);
    await bench.child.request("flush", {}, 120_000);
    await feed(bench, reports(active, 1));
    const loaded = await settledHeap(bench);
    if (loaded.legs !== 2 * ACTIVE_CALLS) {
      throw new Error(`expected ${2 * ACTIVE_CALLS} legs in the store, found ${loaded.legs}`);
    }
    await exportTwice(bench);
    const idle = await settledHeap(bench);
    if (index === 0) await bench.heapSnapshot("memory-active-idle");
    const legs = 2 * ACTIVE_CALLS;
    const result = {
      baselineMiB: baseline.heapUsed / 2 ** 20,
      bytesPerLeg: (loaded.heapUsed - baseline.heapUsed) / legs,
      bytesPerLegIdle: (idle.heapUsed - baseline.heapUsed) / legs,
    };
    if (churnCalls === 0) return result;

    await feed(bench, hangups(active));
    await bench.startProfile();
    const churnStart = performance.now();
    for (let done = 0; done < churnCalls; done += WAVE_CALLS) {
      await feed(bench, lifecycles(newCalls(Math.min(WAVE_CALLS, churnCalls - done))));
      // An export per wave, as the periodic reader would do: ended legs' points leave the SDK.
      await bench.child.request("flush", {}, 120_000);
    }
    await bench.drain(120_000);
    const churnMs = performance.now() - churnStart;
    await bench.stopProfile("memory-churn");
    await exportTwice(bench);
    const after = await settledHeap(bench);
    await bench.heapSnapshot("memory-after-churn");
    return {
      ...result,
      churn: {
        calls: churnCalls,
        growthKiB: (after.heapUsed - baseline.heapUsed) / 1024,
        legsLeft: after.legs,
        cachedLegsLeft: after.cachedLegs,
        callsPerSecond: (churnCalls / churnMs) * 1000,
      },
    };
  } finally {
    await bench.close();
  }
}

export const agentMemory: Suite = async ({ quick }) => {
  const runs = quick ? 1 : 3;
  const churnCalls = quick ? 20_000 : 100_000;
  const results: RunResult[] = [];
  // The churn takes about a minute (each call's end-of-call QoS and RTCP points are exported):
  // it runs once, in the first run; the per-leg figures are medians of every run.
  for (let i = 0; i < runs; i++) results.push(await run(i === 0 ? churnCalls : 0, i));
  const churn = results[0]?.churn;
  if (churn === undefined) throw new Error("the churn run produced no figures");
  const bytesPerLeg = median(results.map((r) => r.bytesPerLeg));
  const activeName = `${(2 * ACTIVE_CALLS).toLocaleString("en-US")} active legs`;
  const churnName = `after ${churnCalls.toLocaleString("en-US")} calls`;
  const rows: BenchRow[] = [
    {
      name: activeName,
      figures: {
        "baseline MiB": median(results.map((r) => r.baselineMiB)),
        "B/leg": bytesPerLeg,
        "B/leg idle": median(results.map((r) => r.bytesPerLegIdle)),
      },
    },
    {
      name: churnName,
      figures: {
        "growth KiB": churn.growthKiB,
        "legs left": churn.legsLeft,
        "cached legs left": churn.cachedLegsLeft,
        "calls/s": churn.callsPerSecond,
      },
    },
  ];
  const targets: TargetCheck[] = [
    {
      name: `heap per active leg, ${activeName}, memory state (B)`,
      value: bytesPerLeg,
      goal: `<= ${TARGET_BYTES_PER_LEG} B`,
      met: bytesPerLeg <= TARGET_BYTES_PER_LEG,
    },
    {
      name: `heap growth ${churnName} came and went, vs baseline (KiB; legs and cached legs must be 0)`,
      value: churn.growthKiB,
      goal: `< ${TARGET_GROWTH_BYTES / 1024} KiB (noise)`,
      met:
        churn.growthKiB * 1024 < TARGET_GROWTH_BYTES &&
        churn.legsLeft === 0 &&
        churn.cachedLegsLeft === 0,
    },
  ];
  return {
    suite: "memory",
    method: [
      "the built agent (dist/) in a child process (--expose-gc), memory state; heap = V8 used heap after forced full collections; exports triggered explicitly (forceFlush)",
      `baseline: after ${WARMUP_CALLS.toLocaleString("en-US")} warm-up calls came and went and two empty exports (the SDK keeps the last collection until the next)`,
      `B/leg: ${ACTIVE_CALLS.toLocaleString("en-US")} bridged calls (${(2 * ACTIVE_CALLS).toLocaleString("en-US")} legs), each leg with a RECV and a SEND report exported and a second pair recorded since (steady state: one interval of points pending + the last collection); (heap - baseline) / legs`,
      "B/leg idle: the same legs after two empty exports (leg state and caches only)",
      `${churnName}: all hung up, then ${churnCalls.toLocaleString("en-US")} bridged calls (CREATE, ANSWER, BRIDGE, RECV+SEND RTCP per leg, HANGUP_COMPLETE, DESTROY) in waves of ${WAVE_CALLS.toLocaleString("en-US")} with an export after each; growth vs baseline after two empty exports`,
      `${activeName}: median of ${runs} run(s), a fresh agent process each; ${churnName}: one run (the first)`,
    ],
    rows,
    targets,
  };
};
