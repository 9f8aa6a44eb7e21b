// The agent under test for the whole-agent suites, alone in its process (started by
// bench/lib/agent-harness.ts with `node --expose-gc --import tsx bench/agent-child.ts <settings>`):
// the real Agent, loaded from the BUILT dist/ (what `fsagent` runs; `npm run bench` builds first;
// tsx would run a whitespace-minified transform of src/, so profiles would point at line 1), with
// a real Config from the project's loader, ESL to the parent's simulator,
// OTLP/gRPC to the parent's receiver. The only addition is a thin wrapper around the real OTLP
// sink that counts (and, for the latency suite, timestamps) every recordRtcp call before passing
// it on. The parent asks for counters, CPU time, heap and samples over the IPC channel.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { getHeapStatistics, writeHeapSnapshot } from "node:v8";
import type { Config } from "../src/config/types.js";
import type { MetricsSink } from "../src/export/metrics.js";
import type { QosObservation, RtcpObservation } from "../src/quality/types.js";
import type {
  ChildCommands,
  ChildNotice,
  ChildReply,
  ChildRequest,
  ChildSettings,
  ChildStats,
  CommandName,
  LatencySamples,
  ProfileKind,
} from "./lib/agent-protocol.js";
import { BENCH_INSTANCE, latencyKey } from "./lib/agent-protocol.js";
import { statCpuMs, voluntarySwitches } from "./lib/proc-stat.js";

/** The agent's modules from dist/, typed by their sources. */
const dist = (file: string): string => new URL(`../dist/${file}`, import.meta.url).href;
const [{ Agent }, { loadConfig }, { createMetricsSink }, { createLogger }] = await Promise.all([
  import(dist("agent.js")) as Promise<typeof import("../src/agent.js")>,
  import(dist("config/load.js")) as Promise<typeof import("../src/config/load.js")>,
  import(dist("export/metrics.js")) as Promise<typeof import("../src/export/metrics.js")>,
  import(dist("log/logger.js")) as Promise<typeof import("../src/log/logger.js")>,
]);

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

function send(message: ChildReply | ChildNotice): void {
  process.send?.(message);
}

function parseSettings(text: string | undefined): ChildSettings {
  if (text === undefined) throw new Error("usage: agent-child.ts <settings JSON>");
  return JSON.parse(text) as ChildSettings;
}

/**
 * The agent's configuration through the project's own loader (defaults, validation), from an
 * environment built here: nothing of the parent's FSAGENT_* / OTEL_* variables leaks in, and an
 * empty directory as cwd so that no config.yaml is picked up.
 */
function benchConfig(settings: ChildSettings): Config {
  const dir = mkdtempSync(path.join(tmpdir(), "fsagent-bench-"));
  const interval = `${settings.exportIntervalMs}ms`;
  try {
    return loadConfig({
      cwd: dir,
      env: {
        FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
          { name: BENCH_INSTANCE, host: "127.0.0.1", port: settings.simPort, password: "ClueCon" },
        ]),
        FSAGENT_STORAGE_TYPE: settings.storage,
        FSAGENT_REDIS_HOST: "127.0.0.1",
        FSAGENT_REDIS_PORT: String(settings.redisPort),
        FSAGENT_REDIS_KEY_PREFIX: settings.redisKeyPrefix,
        FSAGENT_OTEL_ENDPOINT: settings.otlpEndpoint,
        FSAGENT_OTEL_INSECURE: "true",
        FSAGENT_OTEL_EXPORT_INTERVAL: interval,
        FSAGENT_OTEL_EXPORT_TIMEOUT: interval,
        FSAGENT_HTTP_HOST: "127.0.0.1",
        FSAGENT_HTTP_PORT: "0",
        FSAGENT_LOG_LEVEL: "warn",
        FSAGENT_ESL_BACKOFF_INITIAL: "50ms",
        FSAGENT_ESL_BACKOFF_MAX: "500ms",
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CHUNK = 65_536;

class RecordChunk {
  readonly times = new Float64Array(CHUNK);
  readonly channels = new Array<string>(CHUNK);
  readonly inbound = new Uint8Array(CHUNK);
}

/**
 * Counts what reaches the sink and, when asked, files the wall-clock time of every RTCP record
 * by leg and direction (the parent matches the nth record of a leg with the nth report it sent).
 * A Proxy rather than a hand-written object: the sink's interface is being extended in parallel
 * and everything but the two record calls must reach the real sink untouched.
 */
class RecordProbe {
  rtcp = 0;
  qos = 0;
  /**
   * Every record, in order: the leg's channel id, its direction and the time. Kept flat (no
   * per-record string or map lookup) and in fixed-size chunks (no array growing by copies, which
   * lands in the old generation and sets off the full GCs the CPU figure would then include),
   * so the probe costs the agent's process as little as possible while CPU is measured; filed
   * by leg only when the parent asks (latency command).
   */
  private readonly chunks: RecordChunk[] = [];
  private count = 0;

  constructor(private readonly track: boolean) {}

  samples(): LatencySamples {
    const out: LatencySamples = {};
    for (let i = 0; i < this.count; i++) {
      const chunk = this.chunks[Math.floor(i / CHUNK)]!;
      const k = i % CHUNK;
      const key = latencyKey(chunk.channels[k]!, chunk.inbound[k] === 1 ? "inbound" : "outbound");
      const times = out[key];
      if (times === undefined) out[key] = [chunk.times[k]!];
      else times.push(chunk.times[k]!);
    }
    return out;
  }

  private file(o: RtcpObservation): void {
    const k = this.count % CHUNK;
    if (k === 0) this.chunks.push(new RecordChunk());
    const chunk = this.chunks[this.chunks.length - 1]!;
    chunk.times[k] = wallNow();
    chunk.channels[k] = o.labels.channelId;
    chunk.inbound[k] = o.direction === "inbound" ? 1 : 0;
    this.count++;
  }

  wrap(real: MetricsSink): MetricsSink {
    const recordRtcp = (o: RtcpObservation): void => {
      this.rtcp++;
      if (this.track) this.file(o);
      real.recordRtcp(o);
    };
    const recordQos = (o: QosObservation): void => {
      this.qos++;
      real.recordQos(o);
    };
    const bound = new Map<PropertyKey, unknown>();
    return new Proxy(real, {
      get(target, property) {
        if (property === "recordRtcp") return recordRtcp;
        if (property === "recordQos") return recordQos;
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        let fn = bound.get(property);
        if (fn === undefined) {
          fn = (value as (...args: unknown[]) => unknown).bind(target);
          bound.set(property, fn);
        }
        return fn;
      },
    });
  }
}

/**
 * CPU ms of the main thread and of all the others together (Node 20 names every thread "node":
 * they are V8's GC and compiler workers, libuv's pool and the inspector).
 */
function threadsCpuMs(): ChildStats["threadsCpuMs"] {
  const out = { main: -1, others: 0 };
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return out;
  }
  for (const tid of tids) {
    const ms = statCpuMs(`/proc/self/task/${tid}/stat`);
    if (ms < 0) continue;
    if (tid === String(process.pid)) out.main = ms;
    else out.others += ms;
  }
  return out;
}

function sum(map: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const value of map.values()) total += value;
  return total;
}

/** Full collections until the heap stops shrinking (weak maps and finalizers need a second pass). */
async function collect(): Promise<number> {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error("the child needs --expose-gc");
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const used = getHeapStatistics().used_heap_size;
    if (used >= last - 1024) return used;
    last = used;
  }
  return last;
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv[2]);
  const config = benchConfig(settings);
  const logger = createLogger(config.logging, process.stderr);
  const real = createMetricsSink(config.opentelemetry, {
    maxLegs: config.storage.maxLegs,
    logger,
    perLeg: config.metrics.perLeg,
  });
  const probe = new RecordProbe(settings.trackLatency);
  const agent = new Agent({ config, logger, version: "bench", metrics: probe.wrap(real) });

  const stats = async (gc: boolean): Promise<ChildStats> => {
    const heapUsed = gc ? await collect() : -1;
    const cpu = process.cpuUsage();
    let received = 0;
    const receivedByEvent: Record<string, number> = {};
    let processed = 0;
    let unusable = 0;
    let dropped = 0;
    const droppedByReason: Record<string, number> = {};
    const lookups: Record<string, number> = {};
    const add = (into: Record<string, number>, from: ReadonlyMap<string, number>): void => {
      for (const [key, count] of from) into[key] = (into[key] ?? 0) + count;
    };
    for (const view of agent.instances()) {
      received += sum(view.events.received);
      for (const [name, count] of view.events.received) {
        receivedByEvent[name] = (receivedByEvent[name] ?? 0) + count;
      }
      processed += sum(view.events.processed);
      unusable += sum(view.events.unusable);
      dropped += sum(view.events.dropped);
      add(droppedByReason, view.events.dropped);
      add(lookups, view.events.lookups);
    }
    return {
      now: wallNow(),
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      threadsCpuMs: threadsCpuMs(),
      mainWakeups: voluntarySwitches(`/proc/self/task/${process.pid}/status`),
      rtcpRecorded: probe.rtcp,
      qosRecorded: probe.qos,
      received,
      receivedByEvent,
      processed,
      unusable,
      dropped,
      droppedByReason,
      lookups,
      legs: agent.store.size,
      cachedLegs: real.cachedLegs,
      heapUsed,
      rssBytes: process.memoryUsage.rss(),
      exports: real.stats.exports,
      exportErrors: real.stats.exportErrors,
      rtcpPointsDropped: real.stats.dropped.notRetried,
      connected: agent.connections.every((c) => c.connected),
    };
  };

  // The profiler runs only over a suite's measurement window, not over the setup.
  let profiler: Session | undefined;
  let profiling: ProfileKind = "cpu";
  type Handlers = {
    [K in CommandName]: (args: ChildCommands[K]["args"]) => Promise<ChildCommands[K]["result"]>;
  };
  const handlers: Handlers = {
    stats: (args) => stats(args.gc),
    ping: async () => ({ now: wallNow() }),
    flush: async () => {
      await real.forceFlush();
      return { exports: real.stats.exports };
    },
    legReports: async () => {
      const legs: Record<string, readonly [number, number]> = {};
      for (const uuid of agent.store.uuids()) {
        const leg = agent.store.peek(uuid);
        if (leg !== undefined) legs[uuid] = [leg.rtcpIn?.reports ?? 0, leg.rtcpOut?.reports ?? 0];
      }
      return { legs };
    },
    latency: async () => {
      return { samples: probe.samples() };
    },
    profileStart: async ({ kind }) => {
      profiler ??= new Session();
      profiler.connect();
      profiling = kind;
      if (kind === "cpu") {
        await profiler.post("Profiler.enable");
        await profiler.post("Profiler.start");
      } else {
        await profiler.post("HeapProfiler.enable");
        // What a window allocates, not only what it keeps: the short-lived objects are the ones
        // that drive the scavenges. FSAGENT_BENCH_ALLOC_SURVIVORS=1 leaves out what scavenges
        // freed: what remains was promoted to the old generation (or is still young and alive),
        // the objects that set off full GCs.
        const survivorsOnly = process.env.FSAGENT_BENCH_ALLOC_SURVIVORS === "1";
        await profiler.post("HeapProfiler.startSampling", {
          samplingInterval: 4096,
          includeObjectsCollectedByMinorGC: !survivorsOnly,
          includeObjectsCollectedByMajorGC: true,
        });
      }
      return { started: true };
    },
    profileStop: async ({ file }) => {
      if (profiler === undefined) throw new Error("no profile running");
      const { profile } =
        profiling === "cpu"
          ? await profiler.post("Profiler.stop")
          : await profiler.post("HeapProfiler.stopSampling");
      profiler.disconnect();
      profiler = undefined;
      writeFileSync(file, JSON.stringify(profile));
      return { file };
    },
    heapSnapshot: async ({ file }) => {
      await collect();
      return { file: writeHeapSnapshot(file) };
    },
    stop: async () => {
      await agent.stop();
      return { stopped: true };
    },
  };

  process.on("message", (message: ChildRequest) => {
    const handler = handlers[message.cmd] as (args: unknown) => Promise<unknown>;
    handler(message.args).then(
      (result) => {
        send({ id: message.id, ok: true, result });
        // The reply must leave before the process does.
        if (message.cmd === "stop") setTimeout(() => process.exit(0), 50);
      },
      (error: unknown) =>
        send({
          id: message.id,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
  });
  // The parent went away (crashed, killed): nothing left to measure for.
  process.on("disconnect", () => process.exit(0));

  await agent.start();
  send({ notice: "ready", url: agent.url ?? "" });
}

main().catch((error: unknown) => {
  send({ notice: "fatal", error: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100);
});
