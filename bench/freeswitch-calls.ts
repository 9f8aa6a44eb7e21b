// The agent on a real FreeSWITCH, beside the simulator at the same load. FreeSWITCH (from
// test/support/freeswitch.ts: the test bed's configuration, its own ports) carries CALLS bridged
// calls of 4 channels each, every leg with RTCP every second and fire_rtcp_events, so every leg
// fires a RECV_RTCP_MESSAGE and a SEND_RTCP_MESSAGE a second. The built agent (the same child
// process and configuration as the other whole-agent suites; OTLP to the null collector every
// 10 s, the default) is connected before the first call. After FreeSWITCH's RTCP warm-up, one
// window measures the agent's CPU, RSS and the events it received, and FreeSWITCH's own CPU.
// Then the simulator: as many legs (2 per simulated bridged call), each sent a RECV and a SEND
// report a second, to a fresh agent process, over the same window.

import { performance } from "node:perf_hooks";
import {
  type Call,
  FreeswitchInstance,
  freeswitchInstalled,
  HOW_TO_GET_FREESWITCH,
} from "../test/support/freeswitch.js";
import {
  AgentBench,
  type AgentBenchOptions,
  type AgentWithCollector,
  machineLoad,
  paced,
  sleep,
  startAgentOn,
  startProfile,
  stopProfile,
} from "./lib/agent-harness.js";
import type { ChildStats } from "./lib/agent-protocol.js";
import { CallTemplates } from "./lib/call-templates.js";
import { idlePercent, machineTicks, processCpuMs } from "./lib/proc-stat.js";
import type { BenchRow, Suite, SuiteResult, TargetCheck } from "./lib/result.js";

/**
 * Bridged calls on FreeSWITCH (x4 channels). Tried here (2 shared cores, 2026-12-07): 20, 40 and
 * 60 calls all kept every call up and every leg reporting each second; FreeSWITCH itself took
 * ~26, ~47-51 and ~70 % of a core, and at 60 the machine's idle CPU (FreeSWITCH's Idle-CPU) fell
 * to 9 % with the agent and the other engineers' tests still to fit. 40 leaves about a core for
 * them: the most this shared machine carries reliably.
 */
const CALLS = 40;
const QUICK_CALLS = 10;
const LEGS_PER_CALL = 4;
/** RTP and RTCP ports of each leg, and spare ones (FreeSWITCH does not reuse a port at once). */
const RTP_PORTS_PER_CALL = 2 * LEGS_PER_CALL;
const RTP_PORTS_SPARE = 40;
const RTCP_MSEC = 1_000;
/**
 * The cheapest codec for FreeSWITCH's media threads (no transcoding, no Opus encoder): more calls
 * fit, and the agent's work per report does not depend on the codec.
 */
const CODEC = "PCMU";
const WINDOW_MS = 60_000;
const QUICK_WINDOW_MS = 15_000;
/**
 * The first 4 RTCP reports of a stream come 4 s apart, the interval only applies from then on:
 * 16 s after the last call is answered, and room to spare. The simulator warms up as long, so
 * that both agent processes are as old and have exported as often when the window starts.
 */
const WARMUP_MS = 20_000;
/**
 * The simulator's reports leave on FreeSWITCH's packet clock: its media threads send RTCP from
 * the 20 ms read loop (report intervals in captures are multiples of 20 ms), so events reach the
 * agent at most 50 times a second. At this rate the agent's CPU is mostly per wake-up, and a
 * 10 ms tick cost it ~0.4 points more (2.6-2.75 % against 2.2-2.3 %, two runs each).
 */
const SIM_TICK_MS = 20;
/** How often the agent's RSS is sampled within the window (for its maximum). */
const SAMPLE_MS = 1_000;
/**
 * A leg "reporting every second" reads 0.98/s: FreeSWITCH's period is the interval plus one
 * 20 ms packet (1.02 s, seen in captures), and a window may cut one report more.
 */
const MIN_LEG_RATE = 0.9;
/**
 * FreeSWITCH's own CPU, % of one core, it may use: the second core stays for the agent, the
 * simulator's side and whoever else shares the machine. Its Idle-CPU (`status`, HEARTBEAT) is the
 * whole machine's idle time, other people's load included, so it is shown, not checked.
 */
const MAX_FS_CPU_PCT = 100;

const AGENT: AgentBenchOptions = {
  storage: "memory",
  trackLatency: false,
  exportIntervalMs: 10_000,
};

type Figures = Record<
  | "legs"
  | "events/s"
  | "RECV/s"
  | "SEND/s"
  | "min leg rtcp/s"
  | "agent cpu %"
  | "other threads %"
  | "wakeups/s"
  | "cpu ms/1k ev"
  | "rss start MiB"
  | "rss end MiB"
  | "rss max MiB"
  | "pts out/s"
  | "fs cpu %"
  | "fs idle-cpu %"
  | "machine idle %",
  number
>;

interface Measured {
  readonly figures: Figures;
  /** Legs the agent tracked, and FreeSWITCH's channels, at the end of the window. */
  readonly agentLegs: number;
  readonly channels: number;
  /** What `version` answered ("" for the simulator). */
  readonly version: string;
}

const MIB = 2 ** 20;

function delta(after: ChildStats, before: ChildStats, event: string): number {
  return (after.receivedByEvent[event] ?? 0) - (before.receivedByEvent[event] ?? 0);
}

/**
 * The agent over one window: its CPU and events from stats at both ends, its RSS sampled each
 * second, and per leg the RTCP reports it got in each direction (the slowest leg-direction is
 * what says whether RTCP flowed on every leg). The legs' reports are read outside the CPU
 * figures; `pid` is a process to measure beside the agent (FreeSWITCH).
 */
async function measureWindow(
  agent: AgentWithCollector,
  windowMs: number,
  profileName: string,
  pid?: number,
): Promise<Omit<Figures, "fs idle-cpu %"> & { agentLegs: number }> {
  const { child, collector } = agent;
  const legsBefore = (await child.request("legReports", {})).legs;
  await startProfile(child);
  const ticksBefore = machineTicks();
  const pidBefore = pid === undefined ? Number.NaN : processCpuMs(pid);
  const before = await child.stats();
  const pointsBefore = collector.points;
  const end = performance.now() + windowMs;
  let rssMax = before.rssBytes;
  for (let left = windowMs; left > 0; left = end - performance.now()) {
    await sleep(Math.min(SAMPLE_MS, left));
    if (end - performance.now() > SAMPLE_MS / 2) {
      rssMax = Math.max(rssMax, (await child.stats()).rssBytes);
    }
  }
  const after = await child.stats();
  const pointsAfter = collector.points;
  const pidAfter = pid === undefined ? Number.NaN : processCpuMs(pid);
  const ticksAfter = machineTicks();
  await stopProfile(child, profileName);
  const legsAfter = (await child.request("legReports", {})).legs;

  const wallMs = after.now - before.now;
  const perSecond = (n: number): number => (n / wallMs) * 1000;
  const cpuMs = after.cpuUserMs + after.cpuSystemMs - (before.cpuUserMs + before.cpuSystemMs);
  const events = after.received - before.received;
  let slowest = Number.POSITIVE_INFINITY;
  for (const [uuid, [recv, send]] of Object.entries(legsAfter)) {
    const [recv0, send0] = legsBefore[uuid] ?? [0, 0];
    slowest = Math.min(slowest, recv - recv0, send - send0);
  }
  return {
    legs: Object.keys(legsAfter).length,
    agentLegs: after.legs,
    "events/s": perSecond(events),
    "RECV/s": perSecond(delta(after, before, "RECV_RTCP_MESSAGE")),
    "SEND/s": perSecond(delta(after, before, "SEND_RTCP_MESSAGE")),
    "min leg rtcp/s": Number.isFinite(slowest) ? perSecond(slowest) : 0,
    "agent cpu %": (cpuMs / wallMs) * 100,
    "other threads %": ((after.threadsCpuMs.others - before.threadsCpuMs.others) / wallMs) * 100,
    "wakeups/s": perSecond(after.mainWakeups - before.mainWakeups),
    "cpu ms/1k ev": (cpuMs / events) * 1000,
    "rss start MiB": before.rssBytes / MIB,
    "rss end MiB": after.rssBytes / MIB,
    "rss max MiB": Math.max(rssMax, after.rssBytes) / MIB,
    "pts out/s": perSecond(pointsAfter - pointsBefore),
    "fs cpu %": ((pidAfter - pidBefore) / wallMs) * 100,
    "machine idle %": idlePercent(ticksBefore, ticksAfter),
  };
}

/** FreeSWITCH's own view of the machine's idle CPU (`status`: "min idle cpu <min>/<now>"). */
async function idleCpu(fs: FreeswitchInstance): Promise<number> {
  const match = /min idle cpu [\d.]+\/([\d.]+)/.exec(await fs.api("status"));
  return match === null ? Number.NaN : Number(match[1]);
}

async function onFreeswitch(calls: number, windowMs: number): Promise<Measured> {
  const fs = await FreeswitchInstance.start({
    name: "bench",
    // The agent child logs in with FreeSWITCH's default password (agent-child.ts).
    password: "ClueCon",
    rtpPorts: calls * RTP_PORTS_PER_CALL + RTP_PORTS_SPARE,
    rtcpMsec: RTCP_MSEC,
    fireRtcpEvents: true,
  });
  let agent: AgentWithCollector | undefined;
  let up: Call[] = [];
  try {
    agent = await startAgentOn(fs.eslPort, AGENT);
    // One after the other, each answered before the next (~0.15 s apart here): the calls'
    // RTCP timers are staggered as on a real switch rather than all firing in the same tick.
    up = await fs.originate(calls, { codec: CODEC });
    await fs.waitForChannels(calls * LEGS_PER_CALL, 30_000);
    await sleep(WARMUP_MS);
    const pid = fs.pid;
    if (pid === undefined) throw new Error("FreeSWITCH is not running");
    const { agentLegs, ...window } = await measureWindow(agent, windowMs, "freeswitch-real", pid);
    const figures = { ...window, "fs idle-cpu %": await idleCpu(fs) };
    const version = (await fs.api("version")).trim().replace(/ \(.*$/, "");
    return { figures, agentLegs, channels: await fs.channelCount(), version };
  } finally {
    // The calls end while the agent still listens (as they would), then the agent, then
    // FreeSWITCH; each step runs whatever the previous one did.
    if (up.length > 0) {
      await fs.hangup(up, 30_000).catch((error: unknown) => {
        console.error(`  hangup: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
    if (agent !== undefined) {
      await agent.child.stop();
      agent.collector.close();
    }
    await fs.dispose();
  }
}

async function onSimulator(legs: number, windowMs: number): Promise<Measured> {
  const bench = await AgentBench.start(AGENT);
  try {
    const templates = new CallTemplates({ count: 40, reportsPerLeg: 6, seed: 23 });
    const calls = await bench.createCalls(templates, legs / 2);
    // Report p: its leg and direction from p mod 2 x legs (RECV then SEND of the same leg), and
    // which of the leg's template reports from the round, so every leg sends one of each a second.
    let p = 0;
    const send = (n: number): void => {
      for (let k = 0; k < n; k++, p++) {
        const slot = p % (2 * legs);
        const leg = slot >> 1;
        const round = Math.floor(p / (2 * legs));
        const call = calls[leg >> 1]!;
        const reports = (slot & 1) === 0 ? call.template.recv : call.template.send;
        const frames = reports[leg & 1]!;
        bench.feed.add(frames[round % frames.length]!, call);
      }
      bench.feed.flush();
    };
    const rate = (2 * legs * 1000) / RTCP_MSEC;
    await paced(rate, WARMUP_MS, send, SIM_TICK_MS);
    // Paced on past the window's end: the last stats must not see a feeder already stopped.
    const feeding = paced(rate, windowMs + 2 * SAMPLE_MS, send, SIM_TICK_MS);
    const { agentLegs, ...window } = await measureWindow(bench, windowMs, "freeswitch-simulator");
    await feeding;
    return {
      figures: { ...window, "fs cpu %": Number.NaN, "fs idle-cpu %": Number.NaN },
      agentLegs,
      channels: Number.NaN,
      version: "",
    };
  } finally {
    await bench.close();
  }
}

/** FreeSWITCH's figure over the simulator's, for the figures both have. */
function ratios(real: Figures, sim: Figures): Record<string, number> {
  const keys = [
    "events/s",
    "RECV/s",
    "SEND/s",
    "agent cpu %",
    "other threads %",
    "wakeups/s",
    "cpu ms/1k ev",
    "rss start MiB",
    "rss end MiB",
    "rss max MiB",
    "pts out/s",
  ] as const;
  return Object.fromEntries(keys.map((k) => [k, real[k] / sim[k]]));
}

export const freeswitchCalls: Suite = async ({ quick }): Promise<SuiteResult> => {
  // Skipped in CI too (unlike the system tests): `npm run bench` runs the other suites anyway.
  if (!freeswitchInstalled()) {
    return {
      suite: "freeswitch",
      method: [],
      rows: [],
      targets: [],
      skipped: HOW_TO_GET_FREESWITCH,
    };
  }
  const calls = quick ? QUICK_CALLS : CALLS;
  const windowMs = quick ? QUICK_WINDOW_MS : WINDOW_MS;
  const legs = calls * LEGS_PER_CALL;
  const load = machineLoad();
  // A Ctrl-C ends FreeSWITCH and the agent child too: test/support/freeswitch.ts exits through
  // process.exit on SIGINT/SIGTERM, whose exit hooks kill them.
  const real = await onFreeswitch(calls, windowMs);
  const sim = await onSimulator(legs, windowMs);
  const rows: BenchRow[] = [
    { name: `FreeSWITCH, ${calls} calls`, figures: real.figures },
    { name: `simulator, ${legs / 2} calls`, figures: sim.figures },
    { name: "FreeSWITCH / simulator", figures: ratios(real.figures, sim.figures) },
  ];
  const targets: TargetCheck[] = [
    {
      name: "FreeSWITCH channels up at the end of the window",
      value: real.channels,
      goal: `= ${legs}`,
      met: real.channels === legs,
    },
    {
      name: "legs the agent tracked on FreeSWITCH",
      value: real.agentLegs,
      goal: `= ${legs}`,
      met: real.agentLegs === legs,
    },
    {
      name: "FreeSWITCH: slowest leg's RTCP reports/s (RECV or SEND) at the agent",
      value: real.figures["min leg rtcp/s"],
      goal: `>= ${MIN_LEG_RATE}`,
      met: real.figures["min leg rtcp/s"] >= MIN_LEG_RATE,
    },
    {
      name: "FreeSWITCH's own CPU over the window, % of one core",
      value: real.figures["fs cpu %"],
      goal: `< ${MAX_FS_CPU_PCT}`,
      met: real.figures["fs cpu %"] < MAX_FS_CPU_PCT,
    },
  ];
  const method = [
    `${real.version} (test bed): ${calls} bridged calls x ${LEGS_PER_CALL} channels, ${CODEC}, rtcp_audio_interval_msec=${RTCP_MSEC}, fire_rtcp_events=true; originated one after the other, the agent connected first`,
    `simulator: ${legs / 2} bridged calls x 2 legs, each leg sent a RECV_RTCP_MESSAGE and a SEND_RTCP_MESSAGE every ${RTCP_MSEC / 1000} s (${(2 * legs).toLocaleString("en-US")}/s, on a drift-corrected ${SIM_TICK_MS} ms tick like FreeSWITCH's packet clock), no HEARTBEAT`,
    `the built agent (dist/) in a child process, memory state, OTLP/gRPC every ${AGENT.exportIntervalMs / 1000} s (the default) to a counting receiver; a fresh agent per side`,
    `window ${windowMs / 1000} s after a ${WARMUP_MS / 1000} s warm-up; agent cpu = its user+system time (% of one core), of it other threads = V8's GC and compiler workers, libuv; wakeups/s = its main thread's voluntary context switches; rss sampled every ${SAMPLE_MS / 1000} s; events/s = fsagent_events_received_total; min leg rtcp/s = the slowest leg and direction in the agent's leg state`,
    `fs cpu % = FreeSWITCH's user+system time (% of one core, all threads); fs idle-cpu % = its status's idle CPU at the end; machine idle % = all cores over the window`,
    `one run per side; ${load}`,
  ];
  return { suite: "freeswitch", method, rows, targets };
};
