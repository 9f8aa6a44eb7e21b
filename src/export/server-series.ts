import { type Attributes, type HrTime, ValueType } from "@opentelemetry/api";
import { hrTime } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type GaugeMetricData,
  type MetricData,
  type MetricDescriptor,
  type MetricProducer,
  type SumMetricData,
} from "@opentelemetry/sdk-metrics";
import type { ServerSnapshot } from "../fs-health/server-health.js";

// FreeSWITCH's own figures (issue 20, docs/metrics.md "FreeSWITCH servers") as OTLP points, made
// at each collection from what every instance holds now (fs-health/server-health.ts). A producer
// rather than SDK instruments: the SDK's asynchronous instruments remember every attribute set
// they ever saw and, under cumulative temporality, keep exporting a gateway that was removed;
// here a gateway, profile or instance that is gone (or whose connection is) is simply absent
// from the next collection. The counters are FreeSWITCH's own, cumulative since it started: their
// start time is FreeSWITCH's start, so a restart shows as a reset.

const INT = ValueType.INT;
const DOUBLE = ValueType.DOUBLE;

function descriptor(
  name: string,
  unit: string,
  valueType: ValueType,
  description: string,
): MetricDescriptor {
  return { name, unit, valueType, description };
}

/**
 * Every metric of this producer, by name (docs/metrics.md lists the same). The up and info gauges
 * have no unit: "1" would make them freeswitch_info_ratio and …_up_ratio in Prometheus, where
 * states and information are conventionally unitless (`up`, `*_info`).
 */
export const SERVER_METRICS = {
  sessionsActive: descriptor(
    "freeswitch.sessions.active",
    "{session}",
    INT,
    "Sessions (channels) up on FreeSWITCH now (HEARTBEAT Session-Count).",
  ),
  sessionsLimit: descriptor(
    "freeswitch.sessions.limit",
    "{session}",
    INT,
    "FreeSWITCH's session limit, switch.conf max-sessions (Max-Sessions).",
  ),
  sessionsPeak: descriptor(
    "freeswitch.sessions.peak",
    "{session}",
    INT,
    "Most sessions at once since FreeSWITCH started (Session-Peak-Max).",
  ),
  sessionsPeak5min: descriptor(
    "freeswitch.sessions.peak_5min",
    "{session}",
    INT,
    "Most sessions at once in FreeSWITCH's current five-minute window (Session-Peak-FiveMin).",
  ),
  sessionsCreated: descriptor(
    "freeswitch.sessions.created",
    "{session}",
    INT,
    "Sessions FreeSWITCH created since it started (Session-Since-Startup).",
  ),
  sessionRate: descriptor(
    "freeswitch.sessions.rate",
    "{session}/s",
    INT,
    "Sessions FreeSWITCH created in the last whole second (Session-Per-Sec-Last).",
  ),
  sessionRateLimit: descriptor(
    "freeswitch.sessions.rate_limit",
    "{session}/s",
    INT,
    "FreeSWITCH's sessions-per-second limit, switch.conf sessions-per-second (status; HEARTBEAT Session-Per-Sec).",
  ),
  sessionRatePeak: descriptor(
    "freeswitch.sessions.rate_peak",
    "{session}/s",
    INT,
    "Most sessions created in one second since FreeSWITCH started (Session-Per-Sec-Max).",
  ),
  sessionRatePeak5min: descriptor(
    "freeswitch.sessions.rate_peak_5min",
    "{session}/s",
    INT,
    "Most sessions created in one second in the current five-minute window (Session-Per-Sec-FiveMin).",
  ),
  cpuIdle: descriptor(
    "freeswitch.cpu.idle",
    "1",
    DOUBLE,
    "Idle CPU of FreeSWITCH's host as FreeSWITCH measures it, 0 to 1 (Idle-CPU / 100).",
  ),
  uptime: descriptor(
    "freeswitch.uptime",
    "s",
    DOUBLE,
    "Time since FreeSWITCH started (Uptime-msec / 1000).",
  ),
  info: descriptor(
    "freeswitch.info",
    "",
    INT,
    "1 per connected FreeSWITCH, with its version and hostname as attributes.",
  ),
  profileUp: descriptor(
    "freeswitch.sofia.profile.up",
    "",
    INT,
    "1 while a SIP profile is running (sofia xmlstatus); a stopped profile is not listed.",
  ),
  gatewayUp: descriptor(
    "freeswitch.sofia.gateway.up",
    "",
    INT,
    "1 when the gateway's status is UP, else 0; its registration state is the `state` attribute.",
  ),
  gatewayPing: descriptor(
    "freeswitch.sofia.gateway.ping",
    "s",
    DOUBLE,
    "Round trip of the gateway's last answered OPTIONS ping (gateways with `ping` only).",
  ),
  gatewayCalls: descriptor(
    "freeswitch.sofia.gateway.calls",
    "{call}",
    INT,
    "Calls through the gateway since FreeSWITCH started, by direction (calls-in, calls-out).",
  ),
  gatewayFailedCalls: descriptor(
    "freeswitch.sofia.gateway.failed_calls",
    "{call}",
    INT,
    "Failed calls through the gateway since FreeSWITCH started, by direction.",
  ),
  registrations: descriptor(
    "freeswitch.registrations",
    "{registration}",
    INT,
    "SIP registrations a profile holds (sofia xmlstatus profile: registrations).",
  ),
} as const;

interface Point {
  readonly attributes: Attributes;
  readonly value: number;
  /** FreeSWITCH's start for its counters; the collection time for gauges. */
  readonly start: HrTime;
}

export interface ServerSeriesOptions {
  /** Every instance's figures now. */
  readonly snapshots: () => Iterable<ServerSnapshot>;
  readonly scope: { readonly name: string; readonly version: string };
  readonly resource: Resource;
  /** Collection time (clock ms); default Date.now. */
  readonly now?: () => number;
}

export class ServerSeriesProducer implements MetricProducer {
  constructor(private readonly options: ServerSeriesOptions) {}

  async collect(): Promise<CollectionResult> {
    const metrics = this.metrics();
    return {
      resourceMetrics: {
        resource: this.options.resource,
        scopeMetrics: metrics.length === 0 ? [] : [{ scope: this.options.scope, metrics }],
      },
      errors: [],
    };
  }

  /** The points of every instance's current figures. */
  metrics(): MetricData[] {
    const nowMs = (this.options.now ?? Date.now)();
    const now = hrTime(nowMs);
    const gauges = new Map<MetricDescriptor, Point[]>();
    const sums = new Map<MetricDescriptor, Point[]>();
    const add = (into: Map<MetricDescriptor, Point[]>, d: MetricDescriptor, point: Point): void => {
      const points = into.get(d);
      if (points === undefined) into.set(d, [point]);
      else points.push(point);
    };
    const gauge = (d: MetricDescriptor, value: number, attributes: Attributes): void =>
      add(gauges, d, { attributes, value, start: now });
    const sum = (d: MetricDescriptor, start: HrTime, value: number, attributes: Attributes): void =>
      add(sums, d, { attributes, value, start });
    for (const s of this.options.snapshots()) {
      const fs = { fs_instance: s.instance };
      const start = hrTime(s.startedAtMs ?? nowMs);
      const core = s.core;
      if (core !== null) {
        gauge(SERVER_METRICS.sessionsActive, core.sessions, fs);
        gauge(SERVER_METRICS.sessionsLimit, core.sessionsLimit, fs);
        gauge(SERVER_METRICS.sessionsPeak, core.sessionsPeak, fs);
        gauge(SERVER_METRICS.sessionsPeak5min, core.sessionsPeak5min, fs);
        sum(SERVER_METRICS.sessionsCreated, start, core.sessionsCreated, fs);
        gauge(SERVER_METRICS.sessionRate, core.sessionRate, fs);
        gauge(SERVER_METRICS.sessionRateLimit, core.sessionRateLimit, fs);
        gauge(SERVER_METRICS.sessionRatePeak, core.sessionRatePeak, fs);
        gauge(SERVER_METRICS.sessionRatePeak5min, core.sessionRatePeak5min, fs);
        gauge(SERVER_METRICS.cpuIdle, core.idleCpu, fs);
        gauge(SERVER_METRICS.uptime, core.uptimeS, fs);
        gauge(SERVER_METRICS.info, 1, {
          ...fs,
          version: core.version,
          hostname: s.hostname ?? "",
        });
      }
      for (const p of s.profiles ?? []) {
        const profile = { ...fs, profile: p.name };
        gauge(SERVER_METRICS.profileUp, p.up ? 1 : 0, profile);
        if (p.registrations !== null) gauge(SERVER_METRICS.registrations, p.registrations, profile);
      }
      for (const g of s.gateways ?? []) {
        const gateway = { ...fs, profile: g.profile, gateway: g.name };
        gauge(SERVER_METRICS.gatewayUp, g.status === "UP" ? 1 : 0, { ...gateway, state: g.state });
        if (g.pingS !== null) gauge(SERVER_METRICS.gatewayPing, g.pingS, gateway);
        sum(SERVER_METRICS.gatewayCalls, start, g.callsIn, { ...gateway, direction: "inbound" });
        sum(SERVER_METRICS.gatewayCalls, start, g.callsOut, { ...gateway, direction: "outbound" });
        sum(SERVER_METRICS.gatewayFailedCalls, start, g.failedCallsIn, {
          ...gateway,
          direction: "inbound",
        });
        sum(SERVER_METRICS.gatewayFailedCalls, start, g.failedCallsOut, {
          ...gateway,
          direction: "outbound",
        });
      }
    }
    const metrics: MetricData[] = [];
    const dataPoints = (points: Point[]) =>
      points.map((p) => ({
        startTime: p.start,
        endTime: now,
        attributes: p.attributes,
        value: p.value,
      }));
    for (const [descriptor, points] of gauges) {
      const data: GaugeMetricData = {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: dataPoints(points),
      };
      metrics.push(data);
    }
    for (const [descriptor, points] of sums) {
      const data: SumMetricData = {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: dataPoints(points),
      };
      metrics.push(data);
    }
    return metrics;
  }
}
