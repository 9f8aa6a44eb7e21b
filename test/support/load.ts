// Load and process helpers for the fault tests that drive the BUILT agent (dist/cli.js) as a real
// child process with a SimServer and an OtlpReceiver living in the test process (issue 4, faults
// 7 and 8). Nothing is mocked: ESL over TCP in, OTLP/gRPC out, /metrics and /health over HTTP.

import type { HealthBody } from "../../src/server/health.js";
import {
  CallGenerator,
  ChannelRegistry,
  EventFactory,
  type SimEvent,
  SimServer,
} from "../../src/sim/index.js";
import { CliProcess } from "./child.js";
import { httpRequest, pollUntil } from "./net.js";

export const LOAD_INSTANCE = "fs-load";

/** A simulator whose channels and Event-Sequence are shared with a generator. */
export interface LoadSim {
  readonly server: SimServer;
  readonly channels: ChannelRegistry;
  readonly factory: EventFactory;
  readonly port: number;
  /** Events the generator produced (published to the server), by name. */
  readonly published: Map<string, number>;
}

export async function startLoadSim(queueLimit?: number): Promise<LoadSim> {
  const channels = new ChannelRegistry();
  const factory = new EventFactory({ hostname: "fs-load-host" });
  const server = new SimServer({
    heartbeatIntervalMs: 0,
    channels,
    factory,
    ...(queueLimit === undefined ? {} : { queueLimit }),
  });
  const port = await server.listen(0, "127.0.0.1");
  return { server, channels, factory, port, published: new Map() };
}

/** The sink a CallGenerator publishes through: counts by Event-Name, then publishes. */
export function publisher(sim: LoadSim): (event: SimEvent) => void {
  return (event) => {
    sim.published.set(event.name, (sim.published.get(event.name) ?? 0) + 1);
    sim.server.publish(event);
  };
}

export function generatorFor(
  sim: LoadSim,
  options: Omit<ConstructorParameters<typeof CallGenerator>[0], "factory" | "sink" | "channels">,
): CallGenerator {
  return new CallGenerator({
    ...options,
    factory: sim.factory,
    channels: sim.channels,
    sink: publisher(sim),
  });
}

/** FSAGENT_* for one instance (the simulator), HTTP on a free loopback port, plus `extra`. */
export function loadAgentEnv(
  simPort: number,
  otlpEndpoint: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
      { name: LOAD_INSTANCE, host: "127.0.0.1", port: simPort, password: "ClueCon" },
    ]),
    FSAGENT_HTTP_HOST: "127.0.0.1",
    FSAGENT_HTTP_PORT: "0",
    FSAGENT_STORAGE_TYPE: "memory",
    FSAGENT_OTEL_ENDPOINT: otlpEndpoint,
    FSAGENT_OTEL_INSECURE: "true",
    FSAGENT_ESL_BACKOFF_INITIAL: "50ms",
    FSAGENT_ESL_BACKOFF_MAX: "500ms",
    ...extra,
  };
}

/** Starts `node dist/cli.js` and waits until it is connected and subscribed at `sim`. */
export async function startLoadAgent(
  cwd: string,
  sim: LoadSim,
  env: Record<string, string>,
): Promise<{ agent: CliProcess; url: string }> {
  const agent = new CliProcess([], { cwd, env });
  const url = await agent.jsonHttpUrl(10_000);
  await pollUntil(
    () => health(url),
    (h) => h.connections[LOAD_INSTANCE]?.state === "connected",
    "the agent to connect",
    10_000,
  );
  await pollUntil(
    async () => sim.server.clientInfo(),
    (clients) => clients.some((c) => c.subscription.events.length > 0),
    "the agent to subscribe",
    10_000,
  );
  return { agent, url };
}

export async function health(url: string): Promise<HealthBody> {
  const reply = await httpRequest(`${url}/health`);
  return JSON.parse(reply.body) as HealthBody;
}

export async function scrape(url: string): Promise<string> {
  const reply = await httpRequest(`${url}/metrics`, "GET", 5000);
  if (reply.status !== 200) throw new Error(`/metrics answered ${reply.status}`);
  return reply.body;
}

/**
 * The value of one series in Prometheus text format: `labels` must match the series' label set
 * exactly ({} = the series without labels). undefined when absent.
 */
export function sampleOf(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(",");
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (match?.[1] !== name) continue;
    const have = (match[2] ?? "")
      .split(",")
      .filter((s) => s !== "")
      .sort()
      .join(",");
    if (have === wanted) return Number(match[3]);
  }
  return undefined;
}

/** sampleOf, failing loudly when the series is missing. */
export function requireSample(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const value = sampleOf(text, name, labels);
  if (value === undefined) {
    throw new Error(`no ${name}${JSON.stringify(labels)} in /metrics`);
  }
  return value;
}
