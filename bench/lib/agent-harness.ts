// The whole-agent benchmark rig: the simulator (SimServer) and an OTLP receiver in this process,
// the agent in a child process (bench/agent-child.ts), and the plumbing between them: a typed
// request/reply channel to the child, a raw frame feeder with flow control, a drift-corrected
// pacer and a clock-offset estimate for cross-process latencies.
//
// Everything here has a timeout, and every child is killed when the run ends, fails, or when
// this process exits.

import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { SimServer } from "../../src/sim/index.js";
import type {
  ChildCommands,
  ChildNotice,
  ChildReply,
  ChildRequest,
  ChildSettings,
  ChildStats,
  CommandName,
  ProfileKind,
} from "./agent-protocol.js";
import {
  type BenchCall,
  type CallTemplates,
  rtcpRounds,
  type TemplateFrame,
  writeFrame,
} from "./call-templates.js";
import { NullCollector } from "./null-collector.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHILD_PATH = fileURLToPath(new URL("../agent-child.ts", import.meta.url));

export const REDIS_PORT = 6379;

/**
 * FSAGENT_BENCH_CPU_PROF=<dir>: the agent child profiles each suite's measurement window and
 * writes <dir>/<suite>-<what>-<run>.cpuprofile (open it in Chrome DevTools, or summarise it with
 * `node --import tsx bench/lib/cpu-profile.ts <file>`).
 */
export function cpuProfDir(): string | undefined {
  return dirFromEnv("FSAGENT_BENCH_CPU_PROF");
}

/**
 * FSAGENT_BENCH_ALLOC_PROF=<dir>: the same windows, sampling allocations instead of time, into
 * <dir>/<name>.heapprofile (`node --import tsx bench/lib/alloc-profile.ts <file>` summarises it).
 * One profiler at a time: with both set, the CPU profile wins.
 */
export function allocProfDir(): string | undefined {
  return dirFromEnv("FSAGENT_BENCH_ALLOC_PROF");
}

function dirFromEnv(name: string): string | undefined {
  const dir = process.env[name];
  return dir === undefined || dir === "" ? undefined : dir;
}

function profileKind(): ProfileKind | undefined {
  if (cpuProfDir() !== undefined) return "cpu";
  return allocProfDir() !== undefined ? "allocations" : undefined;
}

/** Where heap snapshots go: FSAGENT_BENCH_HEAP_SNAPSHOT=<dir> (memory suite), else none. */
export function heapSnapshotDir(): string | undefined {
  return dirFromEnv("FSAGENT_BENCH_HEAP_SNAPSHOT");
}

/** Wall clock in ms, comparable across processes (up to the offset clockOffset() measures). */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `what` when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// The child process.

function newestMtime(dir: string, suffix: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full, suffix));
    else if (entry.name.endsWith(suffix)) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

let distChecked = false;

/**
 * The child runs dist/ (see agent-child.ts): says so once when a source file is newer than the
 * build, which `npm run bench` (build first) never leaves behind.
 */
function warnIfDistStale(): void {
  if (distChecked) return;
  distChecked = true;
  let built = 0;
  try {
    built = statSync(path.join(REPO_ROOT, "dist", "agent.js")).mtimeMs;
  } catch {
    throw new Error("dist/agent.js is missing: run `npm run build` (or `npm run bench`) first");
  }
  if (newestMtime(path.join(REPO_ROOT, "src"), ".ts") > built) {
    console.error(
      "  warning: src/ changed after the last build; the agent child runs dist/ (npm run build)",
    );
  }
}

const liveChildren = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

export interface AgentProcessOptions {
  readonly startTimeoutMs?: number;
}

/** Agent log lines echoed per child process. */
const MAX_ECHOED_LINES = 3;

interface Waiting {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** The agent's process: typed requests, stderr kept for error messages, always killable. */
export class AgentProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private readonly stderrTail: string[] = [];
  private stderrLines = 0;
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (message: ChildReply | ChildNotice) => {
      if (!("id" in message)) return;
      const waiting = this.waiting.get(message.id);
      if (waiting === undefined) return;
      this.waiting.delete(message.id);
      clearTimeout(waiting.timer);
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(new Error(`agent child: ${message.error}`));
    });
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      for (const line of text.split("\n")) {
        if (line === "") continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > 20) this.stderrTail.shift();
        // Warnings of the agent under test belong in the benchmark's output, a few per process:
        // an overloaded exporter repeats itself, and the tables must stay readable.
        this.stderrLines++;
        if (this.stderrLines <= MAX_ECHOED_LINES) console.error(`  [agent] ${line.slice(0, 300)}`);
        else if (this.stderrLines === MAX_ECHOED_LINES + 1) {
          console.error("  [agent] (further lines of this agent process not shown)");
        }
      }
    });
    child.once("exit", (code, signal) => {
      this.exited = true;
      liveChildren.delete(child);
      const why = new Error(
        `agent child exited (${signal ?? code}); stderr: ${this.stderrTail.slice(-3).join(" | ")}`,
      );
      for (const waiting of this.waiting.values()) {
        clearTimeout(waiting.timer);
        waiting.reject(why);
      }
      this.waiting.clear();
    });
  }

  static async start(
    settings: ChildSettings,
    options: AgentProcessOptions = {},
  ): Promise<AgentProcess> {
    warnIfDistStale();
    // FSAGENT_BENCH_NODE_ARGS: extra node flags for the agent child (diagnosis, e.g.
    // --no-turbo-inlining to see inlined callees in profiles, or --max-semi-space-size=...).
    const extra = (process.env.FSAGENT_BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
    const execArgv = ["--expose-gc", "--import", "tsx", ...extra];
    const child = fork(CHILD_PATH, [JSON.stringify(settings)], {
      cwd: REPO_ROOT,
      execArgv,
      // Only what node needs: the agent's configuration is built by the child, and the OTel SDK
      // must not pick up the developer's OTEL_* variables.
      env: {
        PATH: process.env.PATH ?? "",
        ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      },
      stdio: [
        "ignore",
        process.env.FSAGENT_BENCH_CHILD_STDOUT ? "inherit" : "ignore",
        "pipe",
        "ipc",
      ],
    });
    liveChildren.add(child);
    const agent = new AgentProcess(child);
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          child.on("message", (message: ChildReply | ChildNotice) => {
            if ("notice" in message && message.notice === "ready") resolve();
            if ("notice" in message && message.notice === "fatal") {
              reject(new Error(`agent child failed to start: ${message.error}`));
            }
          });
          child.once("exit", (code) => reject(new Error(`agent child exited at start (${code})`)));
        }),
        options.startTimeoutMs ?? 30_000,
        "the agent child to start",
      );
    } catch (error) {
      agent.kill();
      throw error;
    }
    return agent;
  }

  request<K extends CommandName>(
    cmd: K,
    args: ChildCommands[K]["args"],
    timeoutMs = 30_000,
  ): Promise<ChildCommands[K]["result"]> {
    if (this.exited) return Promise.reject(new Error("agent child is not running"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`agent child did not answer ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (value) => resolve(value as ChildCommands[K]["result"]),
        reject,
        timer,
      });
      const request: ChildRequest<K> = { id, cmd, args };
      this.child.send(request);
    });
  }

  stats(gc = false): Promise<ChildStats> {
    return this.request("stats", { gc }, gc ? 60_000 : 30_000);
  }

  /** agent.stop() in the child, then waits for it to exit; kills it if that takes too long. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    try {
      await this.request("stop", {}, timeoutMs);
      await withTimeout(exited, timeoutMs, "the agent child to exit");
    } catch {
      this.kill();
    }
  }

  kill(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }
}

// ---------------------------------------------------------------------------------------------
// Raw frames, written as fast as the agent takes them.

const CHUNK_BYTES = 256 * 1024;

/**
 * Frames copied into large chunks and written to the agent's socket through SimServer.sendRaw.
 * sendRaw does not report back-pressure, so the feeder does its own: see pump().
 */
export class RawFeed {
  /** Frames written so far. */
  sent = 0;
  bytes = 0;
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;

  constructor(private readonly server: SimServer) {}

  add(frame: TemplateFrame, call: BenchCall): void {
    const size = frame.bytes.length;
    if (this.used + size > this.chunk.length) {
      this.flush();
      if (size > this.chunk.length) this.chunk = Buffer.allocUnsafe(size);
    }
    this.used = writeFrame(this.chunk, this.used, frame, call);
    this.sent++;
    this.bytes += size;
  }

  /** Writes what is buffered. The chunk is handed to the socket, so a fresh one is started. */
  flush(): void {
    if (this.used === 0) return;
    this.server.sendRaw(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
  }
}

/** What steadyWindow() measured over its window. */
export interface SteadyWindow {
  readonly before: ChildStats;
  readonly after: ChildStats;
  /** CPU time of this process (the feeder) over the window, ms. */
  readonly feederCpuMs: number;
  /** Points the collector received over the window. */
  readonly pointsOut: number;
}

export interface SteadyWindowOptions {
  /** Frames in flight between the feeder and the agent's router (PumpOptions.window). */
  readonly window: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  /** The profile's name (FSAGENT_BENCH_CPU_PROF / _ALLOC_PROF). */
  readonly profile: string;
}

export interface PumpOptions {
  /** Frames allowed between the feeder and the agent's router (sent, not yet received). */
  readonly window: number;
  /** Stop early when this returns true (checked every poll). */
  readonly until?: () => boolean;
  readonly timeoutMs: number;
  readonly pollMs?: number;
}

// ---------------------------------------------------------------------------------------------
// One run: simulator + receiver + agent child.

export interface AgentBenchOptions {
  readonly storage: "memory" | "redis";
  readonly trackLatency: boolean;
  readonly exportIntervalMs: number;
}

/** Starts profiling `child` when FSAGENT_BENCH_CPU_PROF or _ALLOC_PROF is set. */
export async function startProfile(child: AgentProcess): Promise<void> {
  const kind = profileKind();
  if (kind !== undefined) await child.request("profileStart", { kind });
}

/** Writes the profile started by startProfile() as <dir>/<name>.cpuprofile or .heapprofile. */
export async function stopProfile(child: AgentProcess, name: string): Promise<void> {
  const kind = profileKind();
  if (kind === undefined) return;
  const dir = kind === "cpu" ? cpuProfDir() : allocProfDir();
  if (dir === undefined) return;
  mkdirSync(dir, { recursive: true });
  const extension = kind === "cpu" ? "cpuprofile" : "heapprofile";
  const { file } = await child.request("profileStop", {
    file: path.resolve(dir, `${name}.${extension}`),
  });
  console.error(`  ${kind} profile: ${file}`);
}

/** An agent child and the NullCollector it exports to. */
export interface AgentWithCollector {
  readonly child: AgentProcess;
  readonly collector: NullCollector;
}

/**
 * Starts a NullCollector and the agent child on an ESL port of 127.0.0.1 (the simulator's, or a
 * real FreeSWITCH's: the agent cannot tell), and waits until the agent is connected and
 * subscribed. Kills what it started when that fails.
 */
export async function startAgentOn(
  eslPort: number,
  options: AgentBenchOptions,
  redisKeyPrefix: string | null = null,
): Promise<AgentWithCollector> {
  const collector = await NullCollector.start();
  let child: AgentProcess | undefined;
  try {
    child = await AgentProcess.start({
      simPort: eslPort,
      otlpEndpoint: collector.endpoint,
      storage: options.storage,
      redisPort: REDIS_PORT,
      redisKeyPrefix: redisKeyPrefix ?? "fsagent:",
      exportIntervalMs: options.exportIntervalMs,
      trackLatency: options.trackLatency,
    });
    const started = child;
    // `connected` is set once the agent's subscription was accepted.
    await waitUntil(
      async () => (await started.stats()).connected,
      15_000,
      "the agent to connect and subscribe",
    );
    return { child, collector };
  } catch (error) {
    child?.kill();
    collector.close();
    throw error;
  }
}

export class AgentBench {
  /** Events published through SimServer.publish (the paced path), on top of feed.sent. */
  published = 0;

  private constructor(
    readonly server: SimServer,
    readonly collector: NullCollector,
    readonly child: AgentProcess,
    readonly feed: RawFeed,
    readonly redisKeyPrefix: string | null,
  ) {}

  static async start(options: AgentBenchOptions): Promise<AgentBench> {
    const server = new SimServer({ heartbeatIntervalMs: 0 });
    const redisKeyPrefix =
      options.storage === "redis"
        ? `fsbench:${process.pid}:${randomBytes(4).toString("hex")}:`
        : null;
    let agent: AgentWithCollector | undefined;
    try {
      const simPort = await server.listen(0, "127.0.0.1");
      agent = await startAgentOn(simPort, options, redisKeyPrefix);
      const { child, collector } = agent;
      await waitUntil(
        async () => server.clientInfo().some((c) => c.subscription.events.length > 0),
        15_000,
        "the simulator to see the agent's subscription",
      );
      return new AgentBench(server, collector, child, new RawFeed(server), redisKeyPrefix);
    } catch (error) {
      agent?.child.kill();
      agent?.collector.close();
      await server.stop();
      if (redisKeyPrefix !== null) await deleteRedisKeys(redisKeyPrefix).catch(() => undefined);
      throw error;
    }
  }

  /** Starts profiling the agent when FSAGENT_BENCH_CPU_PROF or _ALLOC_PROF is set. */
  startProfile(): Promise<void> {
    return startProfile(this.child);
  }

  /** Writes the profile started by startProfile() as <dir>/<name>.cpuprofile or .heapprofile. */
  stopProfile(name: string): Promise<void> {
    return stopProfile(this.child, name);
  }

  /** Writes <dir>/<name>.heapsnapshot when FSAGENT_BENCH_HEAP_SNAPSHOT is set (see heapSnapshotDir). */
  async heapSnapshot(name: string): Promise<void> {
    const dir = heapSnapshotDir();
    if (dir === undefined) return;
    mkdirSync(dir, { recursive: true });
    const { file } = await this.child.request(
      "heapSnapshot",
      { file: path.resolve(dir, `${name}.heapsnapshot`) },
      300_000,
    );
    console.error(`  heap snapshot: ${file}`);
  }

  /** Stops the agent (gracefully, else killed), the simulator and the receiver; removes Redis keys. */
  async close(): Promise<void> {
    await this.child.stop();
    await this.server.stop();
    this.collector.close();
    if (this.redisKeyPrefix !== null) await deleteRedisKeys(this.redisKeyPrefix);
  }

  /**
   * Feeds frames while fewer than `window` are in flight (written, not yet read by the agent's
   * router), polling the child's counter every `pollMs`: full speed without unbounded buffers.
   * `produce(budget)` adds up to `budget` frames to the feed and returns false once it has no
   * more. Resolves when produce is exhausted (frames may still be in flight) or `until` holds.
   */
  async pump(produce: (budget: number) => boolean, options: PumpOptions): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      if (options.until?.() === true) return;
      if (Date.now() > deadline)
        throw new Error(`feeding did not finish in ${options.timeoutMs} ms`);
      const stats = await this.child.stats();
      const inFlight = this.feed.sent + this.published - stats.received;
      if (inFlight < options.window) {
        const more = produce(options.window - inFlight);
        this.feed.flush();
        if (!more) return;
      }
      await sleep(options.pollMs ?? 5);
    }
  }

  /**
   * RTCP of `calls` (rtcpRounds) fed at full speed: a warm-up, then the agent's stats and this
   * process's CPU before and after a steady window (profiled), then the feeding stops.
   */
  async steadyWindow(
    calls: readonly BenchCall[],
    options: SteadyWindowOptions,
  ): Promise<SteadyWindow> {
    const produce = rtcpRounds(calls, (frame, call) => this.feed.add(frame, call));
    let stop = false;
    const feeding = this.pump(produce, {
      window: options.window,
      until: () => stop,
      timeoutMs: options.warmupMs + options.windowMs + 60_000,
    });
    // A feeder failing during the sleeps below must not be an unhandled rejection: it is
    // rethrown by the `await feeding` after the window.
    feeding.catch(() => undefined);
    await sleep(options.warmupMs);
    await this.startProfile();
    const before = await this.child.stats();
    const feederBefore = ownCpuMs();
    const pointsBefore = this.collector.points;
    await sleep(options.windowMs);
    const after = await this.child.stats();
    const feederCpuMs = ownCpuMs() - feederBefore;
    const pointsOut = this.collector.points - pointsBefore;
    await this.stopProfile(options.profile);
    stop = true;
    await feeding;
    return { before, after, feederCpuMs, pointsOut };
  }

  /** Waits until the agent's router has read every frame sent so far; returns its stats then. */
  async drain(timeoutMs = 60_000): Promise<ChildStats> {
    const target = this.feed.sent + this.published;
    let last: ChildStats | undefined;
    await waitUntil(
      async () => {
        last = await this.child.stats();
        return last.received >= target;
      },
      timeoutMs,
      `the agent to read ${target} events`,
    );
    return last!;
  }

  /** Sends the setup events (CREATE, ANSWER, BRIDGE) of `count` new calls and waits for them. */
  async createCalls(templates: CallTemplates, count: number): Promise<BenchCall[]> {
    const calls: BenchCall[] = [];
    await this.pump(
      (budget) => {
        for (let n = 0; n < budget && calls.length < count; ) {
          const call = templates.newCall();
          calls.push(call);
          for (const frame of call.template.setup) this.feed.add(frame, call);
          n += call.template.setup.length;
        }
        return calls.length < count;
      },
      { window: 4_000, timeoutMs: 120_000 },
    );
    await this.drain();
    return calls;
  }
}

async function waitUntil(
  predicate: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------------------------
// Time.

/**
 * The child's wall clock minus ours, from the ping with the shortest round trip (its error is at
 * most half that round trip). Both clocks are performance.timeOrigin + performance.now(), which
 * may differ between processes by up to a millisecond or so.
 */
export async function clockOffset(
  child: AgentProcess,
  pings = 25,
): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: 0, rttMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < pings; i++) {
    const sent = wallNow();
    const { now } = await child.request("ping", {});
    const back = wallNow();
    if (back - sent < best.rttMs) best = { offsetMs: now - (sent + back) / 2, rttMs: back - sent };
    await sleep(2);
  }
  return best;
}

/**
 * Calls `send(n)` so that `rate` events per second leave in total, every `tickMs`, for
 * `durationMs`. Drift-corrected: each tick sends what is due since the start, so a late timer
 * sends more rather than losing rate.
 */
export async function paced(
  rate: number,
  durationMs: number,
  send: (n: number) => void,
  tickMs = 10,
): Promise<number> {
  const start = performance.now();
  let sent = 0;
  for (let tick = 1; ; tick++) {
    const elapsed = performance.now() - start;
    const due = Math.floor((Math.min(elapsed, durationMs) * rate) / 1000) - sent;
    if (due > 0) {
      send(due);
      sent += due;
    }
    if (elapsed >= durationMs) return sent;
    await sleep(Math.max(0, start + tick * tickMs - performance.now()));
  }
}

/** "load average at start: 1.2 0.8 0.5 (2 cores)": context for figures from a shared machine. */
export function machineLoad(): string {
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
  return `load average at start: ${load} (${cpus().length} cores)`;
}

/** CPU time of this process (the feeder), ms. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Redis.

export async function redisReachable(): Promise<boolean> {
  const redis = new Redis({
    host: "127.0.0.1",
    port: REDIS_PORT,
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/** Removes every key a run's agent wrote (its unique prefix). */
export async function deleteRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis({
    host: "127.0.0.1",
    port: REDIS_PORT,
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 1,
  });
  redis.on("error", () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}
