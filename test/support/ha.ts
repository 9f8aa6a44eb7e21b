// Test support for the HA tests: a fleet of FreeSWITCH simulators that watches, from the
// FreeSWITCH side, how many authenticated listeners each instance has at every moment; agent
// replicas as real processes (the built CLI); a private redis-server that can be stopped.

import type { ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import type { HealthBody } from "../../src/server/health.js";
import { CallGenerator, ChannelRegistry, EventFactory, SimServer } from "../../src/sim/index.js";
import { CliProcess } from "./child.js";
import { closedPort, httpRequest } from "./net.js";
import { killProcess, spawnRedisServer } from "./redis.js";
import { waitFor } from "./wait.js";

/** One simulated FreeSWITCH and the history of its authenticated listeners. */
export class WatchedSim {
  readonly channels = new ChannelRegistry();
  readonly factory: EventFactory;
  readonly server: SimServer;
  readonly generator: CallGenerator;
  /** Every command line received, with the time. */
  readonly commands: { at: number; line: string }[] = [];
  /** Authenticated listeners now (as last sampled). */
  current = 0;
  /** The most authenticated listeners seen at once. */
  maxConcurrent = 0;
  /** Total and longest time with two or more authenticated listeners. */
  overlapMs = 0;
  longestOverlapMs = 0;
  /** [time, count] at every change. */
  readonly history: [number, number][] = [];
  private overlapSince: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  port = 0;

  constructor(readonly name: string) {
    this.factory = new EventFactory({ hostname: `${name}-host` });
    this.server = new SimServer({
      heartbeatIntervalMs: 0,
      channels: this.channels,
      factory: this.factory,
    });
    this.generator = new CallGenerator({
      factory: this.factory,
      channels: this.channels,
      sink: (event) => this.server.publish(event),
      callsPerSecond: 0,
      seed: 7,
    });
    this.server.on("command", ({ line }) => {
      this.commands.push({ at: Date.now(), line });
      this.sample();
    });
    this.server.on("authenticated", () => this.sample());
    this.server.on("disconnected", () => this.sample());
  }

  async listen(): Promise<void> {
    this.port = await this.server.listen(this.port, "127.0.0.1");
    // Events catch connects and disconnects at once; the poll catches `exit` (closing sockets
    // stop counting before they close).
    this.timer = setInterval(() => this.sample(), 5);
  }

  /** Authenticated listeners whose subscription is in place (the agent consumes events). */
  get subscribed(): number {
    return this.server
      .clientInfo()
      .filter((c) => c.authenticated && c.subscription.events.length > 0).length;
  }

  sample(): void {
    const now = Date.now();
    const count = this.server.authenticatedCount;
    if (count !== this.current) {
      this.current = count;
      this.history.push([now, count]);
    }
    this.maxConcurrent = Math.max(this.maxConcurrent, count);
    if (count >= 2 && this.overlapSince === null) this.overlapSince = now;
    if (count < 2 && this.overlapSince !== null) {
      const span = now - this.overlapSince;
      this.overlapMs += span;
      this.longestOverlapMs = Math.max(this.longestOverlapMs, span);
      this.overlapSince = null;
    }
  }

  /** When the count last became `count` at or after `since`, or undefined. */
  reached(count: number, since: number): number | undefined {
    for (const [at, n] of this.history) if (at >= since && n === count) return at;
    return undefined;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.generator.stop();
    await this.server.stop();
  }
}

export async function startSims(count: number): Promise<WatchedSim[]> {
  const sims = Array.from({ length: count }, (_, i) => new WatchedSim(`fs${i + 1}`));
  for (const sim of sims) await sim.listen();
  return sims;
}

/** An instance as FSAGENT_FREESWITCH_INSTANCES lists it. */
export interface AgentInstance {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly password: string;
}

/** The instances of the simulators, as the agent is configured with them. */
export function simInstances(sims: readonly WatchedSim[]): AgentInstance[] {
  return sims.map((s) => ({ name: s.name, host: "127.0.0.1", port: s.port, password: "ClueCon" }));
}

export interface ReplicaEnv {
  /** Simulators (password ClueCon), or any instances (a real FreeSWITCH, a dead address). */
  readonly sims?: readonly WatchedSim[];
  readonly instances?: readonly AgentInstance[];
  readonly replicaId: string;
  readonly keyPrefix: string;
  readonly leaseTtl: string;
  readonly redisPort: number;
  readonly redisPassword?: string;
  readonly otlpEndpoint: string;
}

/** FSAGENT_* for one replica: the instances, Redis state and HA, fast backoff and export. */
export function replicaEnv(options: ReplicaEnv): Record<string, string> {
  return {
    FSAGENT_FREESWITCH_INSTANCES: JSON.stringify(
      options.instances ?? simInstances(options.sims ?? []),
    ),
    FSAGENT_HTTP_HOST: "127.0.0.1",
    FSAGENT_HTTP_PORT: "0",
    FSAGENT_STORAGE_TYPE: "redis",
    FSAGENT_REDIS_HOST: "127.0.0.1",
    FSAGENT_REDIS_PORT: String(options.redisPort),
    ...(options.redisPassword === undefined
      ? {}
      : { FSAGENT_REDIS_PASSWORD: options.redisPassword }),
    FSAGENT_REDIS_KEY_PREFIX: options.keyPrefix,
    FSAGENT_HA_ENABLED: "true",
    FSAGENT_HA_LEASE_TTL: options.leaseTtl,
    FSAGENT_HA_REPLICA_ID: options.replicaId,
    FSAGENT_OTEL_ENDPOINT: options.otlpEndpoint,
    FSAGENT_OTEL_EXPORT_INTERVAL: "500ms",
    FSAGENT_OTEL_EXPORT_TIMEOUT: "500ms",
    FSAGENT_ESL_BACKOFF_INITIAL: "50ms",
    FSAGENT_ESL_BACKOFF_MAX: "500ms",
    // Replica.start reads the HTTP URL from the JSON start-up line, whatever the environment says.
    FSAGENT_LOG_FORMAT: "json",
  };
}

/** The running replica consuming `instance` (owner and connected, per its /health), if any. */
export async function consumerOf(
  replicas: readonly Replica[],
  instance: string,
): Promise<Replica | undefined> {
  for (const r of replicas) {
    if (!r.process.running) continue;
    if ((await r.consuming().catch((): string[] => [])).includes(instance)) return r;
  }
  return undefined;
}

/** Deletes a test's keys (its random prefix) from the shared Redis on 127.0.0.1:6379. */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true });
  try {
    await redis.connect();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/** A replica process and its HTTP base URL. */
export class Replica {
  url = "";
  readonly spawnedAt = Date.now();

  constructor(
    readonly id: string,
    readonly process: CliProcess,
  ) {}

  static async start(cwd: string, env: Record<string, string>): Promise<Replica> {
    const replica = new Replica(env.FSAGENT_HA_REPLICA_ID ?? "", new CliProcess([], { cwd, env }));
    replica.url = await replica.process.jsonHttpUrl(10_000);
    return replica;
  }

  async health(): Promise<HealthBody> {
    const reply = await httpRequest(`${this.url}/health`);
    return JSON.parse(reply.body) as HealthBody;
  }

  async ready(): Promise<number> {
    return (await httpRequest(`${this.url}/ready`)).status;
  }

  async metrics(): Promise<string> {
    return (await httpRequest(`${this.url}/metrics`)).body;
  }

  /** Instances this replica owns and is connected to, per its /health. */
  async consuming(): Promise<string[]> {
    const body = await this.health();
    return Object.entries(body.connections)
      .filter(([, c]) => c.owned === true && c.connected)
      .map(([name]) => name)
      .sort();
  }

  /** The time of the log line matching `pattern` (pino's `time`), or undefined. */
  logTime(pattern: RegExp): number | undefined {
    for (const line of this.process.jsonLines()) {
      if (typeof line.msg === "string" && pattern.test(line.msg) && typeof line.time === "number") {
        return line.time;
      }
    }
    return undefined;
  }

  /** JSON log lines whose message matches. */
  logLines(pattern: RegExp): Record<string, unknown>[] {
    return this.process.jsonLines().filter((l) => typeof l.msg === "string" && pattern.test(l.msg));
  }
}

/** The value of one series in Prometheus text, or undefined when absent. */
export function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = match[2] === undefined || match[2] === "" ? [] : match[2].split(",");
    if (wanted.length === have.length && wanted.every((w) => have.includes(w)))
      return Number(match[3]);
  }
  return undefined;
}

/** Waits until every simulator has exactly one subscribed listener. */
export async function waitAllConsumed(
  sims: readonly WatchedSim[],
  what: string,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    () => sims.every((s) => s.current === 1 && s.subscribed === 1),
    `${what} (listeners: ${sims.map((s) => `${s.name}=${s.current}`).join(" ")})`,
    timeoutMs,
  );
}

/** A redis-server of the test's own, on a free port, that the test may stop and start again. */
export class PrivateRedisServer {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly password: string,
    private readonly dir: string,
  ) {}

  static async start(dir: string, password: string): Promise<PrivateRedisServer> {
    const server = new PrivateRedisServer(await closedPort(), password, dir);
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    this.child = spawnRedisServer(this.port, this.dir, this.password).child;
    const probe = new Redis({
      host: "127.0.0.1",
      port: this.port,
      password: this.password,
      // Queued until the server answers: ping() resolves once it is up.
      retryStrategy: () => 25,
      maxRetriesPerRequest: null,
      disconnectTimeout: 50,
    });
    probe.on("error", () => {});
    try {
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILL: nothing is saved (the server persists nothing anyway). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child !== null) await killProcess(child);
  }
}
