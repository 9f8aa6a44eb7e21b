// End-to-end harness: the FreeSWITCH simulator (SimServer + scripted CallGenerator) on a real TCP
// socket, the real Agent connected to it over ESL, and a real OTLP/gRPC receiver decoding what the
// agent exports with the official protobuf root. Nothing in between is mocked.
//
//   const h = await E2eHarness.start({ events: { rtcp: false } });
//   const call = h.generator.startCall({ bridged: true, ... });
//   await h.waitProcessed("CHANNEL_ANSWER", 2);
//   await h.flush();
//   h.pointsOf("freeswitch.rtcp.jitter", call.uuid)
//   await h.close();
//
// The expected values of a test come from what it sent and SPEC formulas written out in the test,
// never from the calculators: this file only moves events and collects points.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Agent } from "../../src/agent.js";
import { loadConfig } from "../../src/config/load.js";
import type { Config, EventsConfig, StorageConfig } from "../../src/config/types.js";
import { silentLogger } from "../../src/log/logger.js";
import type { EventCounters } from "../../src/pipeline/counters.js";
import {
  CallGenerator,
  ChannelRegistry,
  EventFactory,
  headerValue,
  type SimEvent,
  SimServer,
} from "../../src/sim/index.js";
import { type MetricPoint, OtlpReceiver } from "./otlp-receiver.js";
import { waitFor } from "./wait.js";

export const FS_INSTANCE = "fs-e2e";

/** The label sets SPEC §4 gives each family, sorted. */
export const RTCP_LABEL_KEYS = [
  "channel_id",
  "correlation_id",
  "direction",
  "domain_name",
  "fs_instance",
] as const;
export const QOS_LABEL_KEYS = [
  "call_direction",
  "channel_id",
  "codec_name",
  "correlation_id",
  "domain_name",
  "dst_ip",
  "fs_instance",
  "src_ip",
] as const;

/** SPEC §4 and §7 per-leg RTCP instrument names and units (rtt only when a report had one). */
export const RTCP_METRICS = {
  jitter: { name: "freeswitch.rtcp.jitter", unit: "ms" },
  packetsLost: { name: "freeswitch.rtcp.packets_lost", unit: "{packet}" },
  fractionLost: { name: "freeswitch.rtcp.fraction_lost", unit: "1" },
  rtt: { name: "freeswitch.rtcp.rtt", unit: "ms" },
  mos: { name: "freeswitch.rtcp.mos", unit: "1" },
} as const;
export const QOS_METRICS = {
  mos: { name: "freeswitch.qos.mos_score", unit: "1" },
  jitterMin: { name: "freeswitch.qos.jitter_min", unit: "ms" },
  jitterMax: { name: "freeswitch.qos.jitter_max", unit: "ms" },
  jitterAvg: { name: "freeswitch.qos.jitter_avg", unit: "ms" },
  totalPackets: { name: "freeswitch.qos.total_packets", unit: "{packet}" },
  packetLoss: { name: "freeswitch.qos.packet_loss", unit: "{packet}" },
  totalBytes: { name: "freeswitch.qos.total_bytes", unit: "By" },
} as const;
export const QOS_METRIC_NAMES: readonly string[] = Object.values(QOS_METRICS).map((m) => m.name);
export const RTCP_METRIC_NAMES: readonly string[] = Object.values(RTCP_METRICS).map((m) => m.name);

export interface HarnessOptions {
  readonly events?: Partial<EventsConfig>;
  readonly storage?: {
    readonly type?: StorageConfig["type"];
    readonly maxLegs?: number;
    readonly keyPrefix?: string;
    readonly host?: string;
    readonly port?: number;
  };
  /** Periodic export interval of the agent; tests flush with forceFlush() anyway. */
  readonly exportIntervalMs?: number;
  /** Start and connect the agent at once (default true). */
  readonly connect?: boolean;
  /** metrics.per_leg (default true). */
  readonly perLeg?: boolean;
  /** The status page's chart interval (the agent's default 5 s when absent). */
  readonly statusSampleMs?: number;
  /** The agent's version (default "e2e"). */
  readonly version?: string;
}

/**
 * A valid Config from loadConfig (env only, empty directory), then the test's overrides: the
 * simulator as the only FreeSWITCH, the receiver as the Collector, HTTP on any free port.
 */
export function e2eConfig(simPort: number, endpoint: string, options: HarnessOptions): Config {
  const dir = mkdtempSync(path.join(tmpdir(), "fsagent-e2e-"));
  let base: Config;
  try {
    base = loadConfig({
      env: {
        FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
          { name: FS_INSTANCE, host: "127.0.0.1", port: simPort, password: "ClueCon" },
        ]),
      },
      cwd: dir,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const interval = options.exportIntervalMs ?? 300;
  const storage = options.storage ?? {};
  return {
    ...base,
    esl: { ...base.esl, backoff: { ...base.esl.backoff, initialMs: 50, maxMs: 500 } },
    storage: {
      ...base.storage,
      type: storage.type ?? "memory",
      maxLegs: storage.maxLegs ?? base.storage.maxLegs,
      redis: {
        ...base.storage.redis,
        host: storage.host ?? "127.0.0.1",
        port: storage.port ?? 6379,
        keyPrefix: storage.keyPrefix ?? base.storage.redis.keyPrefix,
      },
    },
    opentelemetry: {
      ...base.opentelemetry,
      protocol: "grpc",
      endpoint: endpoint,
      endpointExplicit: true,
      insecure: true,
      exportIntervalMs: interval,
      exportTimeoutMs: interval,
    },
    http: { ...base.http, host: "127.0.0.1", port: 0 },
    events: { ...base.events, ...(options.events ?? {}) },
    metrics: { perLeg: options.perLeg ?? true },
  };
}

export class E2eHarness {
  readonly channels = new ChannelRegistry();
  readonly factory = new EventFactory({ hostname: "fs-e2e-host" });
  readonly server: SimServer;
  readonly generator: CallGenerator;
  /** Every command line the simulator received (`api uuid_dump ... json`, `event plain ...`). */
  readonly commands: string[] = [];
  /** Events for which this returns true are not published (a FreeSWITCH that never sent them). */
  drop: (event: SimEvent) => boolean = () => false;
  agent: Agent | undefined;
  config!: Config;
  receiver!: OtlpReceiver;
  private statusSampleMs: number | undefined;
  private version = "e2e";
  private readonly agents: Agent[] = [];

  private constructor() {
    this.server = new SimServer({
      heartbeatIntervalMs: 0,
      channels: this.channels,
      factory: this.factory,
    });
    this.server.on("command", ({ line }) => this.commands.push(line));
    this.generator = new CallGenerator({
      factory: this.factory,
      channels: this.channels,
      sink: (event) => {
        if (!this.drop(event)) this.server.publish(event);
      },
      callsPerSecond: 0,
      seed: 4242,
    });
  }

  static async start(options: HarnessOptions = {}): Promise<E2eHarness> {
    const h = new E2eHarness();
    const port = await h.server.listen(0, "127.0.0.1");
    h.receiver = await OtlpReceiver.start();
    h.config = e2eConfig(port, h.receiver.endpoint, options);
    h.statusSampleMs = options.statusSampleMs;
    h.version = options.version ?? h.version;
    if (options.connect !== false) await h.startAgent();
    return h;
  }

  /** A new Agent with the harness's config, started and subscribed at the simulator. */
  async startAgent(): Promise<Agent> {
    const agent = new Agent({
      config: this.config,
      logger: silentLogger(),
      version: this.version,
      ...(this.statusSampleMs === undefined ? {} : { statusSampleMs: this.statusSampleMs }),
    });
    this.agents.push(agent);
    this.agent = agent;
    await agent.start();
    await waitFor(
      () =>
        agent.connections[0]?.connected === true &&
        this.server.clientInfo().some((c) => c.subscription.events.length > 0),
      "the agent to connect and subscribe",
    );
    return agent;
  }

  /** Stops the current agent (flushes its store and its last points). */
  async stopAgent(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    if (agent === undefined) return;
    await agent.stop();
    await waitFor(() => this.server.clientCount === 0, "the agent to leave the simulator");
  }

  get current(): Agent {
    if (this.agent === undefined) throw new Error("no agent running");
    return this.agent;
  }

  /** The pipeline counters of the current agent's only instance. */
  counters(): EventCounters {
    const view = this.current.instances()[0];
    if (view === undefined) throw new Error("agent has no instance");
    return view.events;
  }

  processed(name: string): number {
    return this.counters().processed.get(name) ?? 0;
  }

  received(name: string): number {
    return this.counters().received.get(name) ?? 0;
  }

  unusable(reason: string): number {
    return this.counters().unusable.get(reason) ?? 0;
  }

  /** Waits until the agent has fully handled `count` events named `name` (since it started). */
  async waitProcessed(name: string, count: number, timeoutMs = 5000): Promise<void> {
    await waitFor(
      () => this.processed(name) >= count,
      `${count} ${name} processed (have ${this.agent === undefined ? "no agent" : this.processed(name)})`,
      timeoutMs,
    );
  }

  /** Exports what the agent recorded so far (metrics and quality records); resolves once the receiver has it. */
  async flush(): Promise<void> {
    await Promise.all([this.current.metrics.forceFlush(), this.current.recordSink.forceFlush()]);
  }

  /** uuid_dump commands the simulator received for `uuid`. */
  uuidDumps(uuid: string): number {
    return this.commands.filter((line) => /\buuid_dump\b/.test(line) && line.includes(uuid)).length;
  }

  /** Points of metric `name` carrying channel_id `channelId`, in export order. */
  pointsOf(name: string, channelId: string, fromRequest = 0): MetricPoint[] {
    return this.receiver
      .points(name)
      .filter((p) => p.attributes.channel_id === channelId && p.request >= fromRequest);
  }

  /** Every point (any metric) carrying channel_id `channelId`, from request `fromRequest` on. */
  legPoints(channelId: string, fromRequest = 0): MetricPoint[] {
    return this.receiver
      .points()
      .filter((p) => p.attributes.channel_id === channelId && p.request >= fromRequest);
  }

  async close(): Promise<void> {
    this.generator.stop();
    for (const agent of this.agents) await agent.stop();
    this.agent = undefined;
    await this.server.stop();
    await this.receiver?.close();
  }
}

/** The first event of `events` named `name` for leg `uuid`. */
export function eventOf(events: readonly SimEvent[], name: string, uuid: string): SimEvent {
  const found = events.find((e) => e.name === name && headerValue(e, "Unique-ID") === uuid);
  if (found === undefined) throw new Error(`no ${name} for ${uuid} among the events`);
  return found;
}

/** A header that must be there, as the simulator sent it. */
export function header(event: SimEvent, name: string): string {
  const value = headerValue(event, name);
  if (value === undefined) throw new Error(`${event.name} has no ${name}`);
  return value;
}

/** A header that must be a number, as the simulator sent it. */
export function numberHeader(event: SimEvent, name: string): number {
  const text = header(event, name);
  const value = Number(text);
  if (text === "" || !Number.isFinite(value)) throw new Error(`${name} is not a number: ${text}`);
  return value;
}

/** Attribute keys of a point, sorted (to compare with RTCP_LABEL_KEYS / QOS_LABEL_KEYS). */
export function labelKeys(point: MetricPoint): string[] {
  return Object.keys(point.attributes).sort();
}

/** |actual - expected| <= 1e-9 relative (values crossed protobuf doubles, sums may reorder). */
export function near(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
}

// ---------------------------------------------------------------------------------------------
// SPEC §4, written out: what the agent must export for what the simulator sent.

/** freeswitch.rtcp.jitter: Source-Jitter × 1000 / RTP clock rate. */
export function specJitterMs(units: number, rate: number): number {
  return (units * 1000) / rate;
}

/** freeswitch.rtcp.fraction_lost: Source-Fraction / 256. */
export function specFraction(raw: number): number {
  return raw / 256;
}

/**
 * The seven freeswitch.qos.* values of a leg from the end-of-call variables of the event that
 * carried them (CHANNEL_HANGUP_COMPLETE, or CHANNEL_DESTROY when that was missed), the RTCP
 * jitter values (ms) sent for the leg, and the far end's last cumulative Source0-Lost sent for it.
 */
export function specQos(
  event: SimEvent,
  rtcpJitterMs: readonly number[],
  farEndLost: number,
): Record<string, number> {
  const v = (name: string) => numberHeader(event, `variable_rtp_audio_${name}`);
  const minVariance = v("in_jitter_min_variance");
  const maxVariance = v("in_jitter_max_variance");
  const jitterAvg =
    rtcpJitterMs.length > 0
      ? rtcpJitterMs.reduce((sum, x) => sum + x, 0) / rtcpJitterMs.length
      : Math.sqrt((minVariance + maxVariance) / 2);
  return {
    [QOS_METRICS.mos.name]: v("in_mos"),
    [QOS_METRICS.jitterMin.name]: Math.sqrt(minVariance),
    [QOS_METRICS.jitterMax.name]: Math.sqrt(maxVariance),
    [QOS_METRICS.jitterAvg.name]: jitterAvg,
    [QOS_METRICS.totalPackets.name]: v("in_packet_count") + v("out_packet_count"),
    [QOS_METRICS.packetLoss.name]: v("in_flaw_total") + farEndLost,
    [QOS_METRICS.totalBytes.name]: v("in_raw_bytes") + v("out_raw_bytes"),
  };
}

/** The QoS label set SPEC §3 gives a leg, from its end-of-call event and its call's A-leg. */
export function specQosLabels(
  event: SimEvent,
  correlationId: string,
  domainName: string,
): Record<string, string> {
  return {
    fs_instance: FS_INSTANCE,
    channel_id: header(event, "Unique-ID"),
    correlation_id: correlationId,
    domain_name: domainName,
    call_direction: header(event, "Call-Direction"),
    codec_name: header(event, "variable_rtp_use_codec_name"),
    src_ip: header(event, "variable_remote_media_ip"),
    dst_ip: header(event, "variable_local_media_ip"),
  };
}

/** The RTCP label set SPEC §3 gives a leg's reports. */
export function specRtcpLabels(
  channelId: string,
  correlationId: string,
  domainName: string,
  direction: "inbound" | "outbound",
): Record<string, string> {
  return {
    fs_instance: FS_INSTANCE,
    channel_id: channelId,
    correlation_id: correlationId,
    domain_name: domainName,
    direction,
  };
}

// ---------------------------------------------------------------------------------------------
// Assertions on what the receiver decoded.

export interface RtcpSeries {
  /** One value per report, in the order the reports were sent. */
  readonly jitterMs: readonly number[];
  readonly fractionLost: readonly number[];
  readonly packetsLost: readonly number[];
}

/**
 * The RTCP points of one leg and direction: one per report and metric, with these values, in
 * order, and exactly `labels` as attributes. The test flushes between two reports of one series,
 * so that each report's last-value gauge point is exported on its own.
 */
export function assertRtcpSeries(
  h: E2eHarness,
  labels: Record<string, string>,
  expected: RtcpSeries,
): void {
  const channelId = labels.channel_id ?? "";
  const what = `${channelId} ${labels.direction}`;
  const check = (metric: { name: string; unit: string }, values: readonly number[]) => {
    const points = h
      .pointsOf(metric.name, channelId)
      .filter((p) => p.attributes.direction === labels.direction);
    assert.deepEqual(
      points.map((p) => p.value),
      [...values],
      `${metric.name} values of ${what}`,
    );
    for (const p of points) {
      assert.deepEqual(labelKeys(p), [...RTCP_LABEL_KEYS], `${metric.name} label keys`);
      assert.deepEqual(p.attributes, labels, `${metric.name} labels of ${what}`);
      assert.equal(p.unit, metric.unit, `${metric.name} unit`);
    }
    return points;
  };
  for (const p of check(RTCP_METRICS.jitter, expected.jitterMs)) assert.equal(p.kind, "gauge");
  for (const p of check(RTCP_METRICS.fractionLost, expected.fractionLost)) {
    assert.equal(p.kind, "gauge");
  }
  for (const p of check(RTCP_METRICS.packetsLost, expected.packetsLost)) {
    assert.equal(p.kind, "sum");
    assert.equal(p.temporality, "delta");
    assert.equal(p.monotonic, true);
  }
}

/** Exactly one point per QoS metric for the leg, with these values and exactly these labels. */
export function assertQos(
  h: E2eHarness,
  labels: Record<string, string>,
  values: Record<string, number>,
): void {
  const channelId = labels.channel_id ?? "";
  for (const metric of Object.values(QOS_METRICS)) {
    const points = h.pointsOf(metric.name, channelId);
    assert.equal(points.length, 1, `${metric.name}: one point for ${channelId}`);
    const [p] = points;
    if (p === undefined) continue;
    const expected = values[metric.name];
    assert.ok(expected !== undefined, `an expected value for ${metric.name}`);
    assert.ok(
      near(p.value, expected),
      `${metric.name} of ${channelId}: exported ${p.value}, expected ${expected}`,
    );
    assert.deepEqual(labelKeys(p), [...QOS_LABEL_KEYS], `${metric.name} label keys`);
    assert.deepEqual(p.attributes, labels, `${metric.name} labels of ${channelId}`);
    assert.equal(p.unit, metric.unit, `${metric.name} unit`);
    assert.equal(p.kind, "gauge", `${metric.name} is a gauge`);
  }
}
