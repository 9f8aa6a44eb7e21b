// The OTLP metrics sink against a real OTLP/gRPC receiver over loopback. The receiver decodes
// with the official protobuf root (test/support/otlp-receiver.ts); the exporter is never mocked.

import assert from "node:assert/strict";
import net from "node:net";
import { hostname } from "node:os";
import { describe, it } from "node:test";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { pino } from "pino";
import type { OpenTelemetryConfig } from "../../src/config/types.js";
import { cardinalityLimit, createMetricsSink, type MetricsSink } from "../../src/export/metrics.js";
import { grpcTarget, otlpHeaders } from "../../src/export/otlp-target.js";
import { PROCESS_INSTANCE_ID } from "../../src/export/resource.js";
import { emodelMos } from "../../src/quality/emodel.js";
import type {
  LegLabels,
  QosObservation,
  QosValues,
  ReportDirection,
  RtcpObservation,
} from "../../src/quality/types.js";
import { VERSION } from "../../src/version.js";
import {
  type HistogramPoint,
  type MetricPoint,
  type OtlpReceiver,
  otlpMessages,
} from "../support/otlp-receiver.js";
import { shareReceiver } from "../support/receiver-hooks.js";

// ---------------------------------------------------------------------------------------------
// Fixtures

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

const WARN = 40;
const INFO = 30;

function captureLogger(): { logger: pino.Logger; lines: Line[]; raw: string[] } {
  const lines: Line[] = [];
  const raw: string[] = [];
  const logger = pino(
    { level: "debug", base: null, timestamp: false },
    {
      write: (text: string) => {
        raw.push(text);
        lines.push(JSON.parse(text) as Line);
      },
    },
  );
  return { logger, lines, raw };
}

let receiver: OtlpReceiver;

function config(overrides: Partial<OpenTelemetryConfig> = {}): OpenTelemetryConfig {
  return {
    enabled: true,
    protocol: "grpc",
    endpoint: receiver.endpoint,
    endpointExplicit: true,
    insecure: true,
    headers: {},
    compression: "none",
    serviceName: "fsagent",
    // Long by default: the tests export with forceFlush(), so every export is one they caused.
    exportIntervalMs: 60_000,
    exportTimeoutMs: 2_000,
    retryQueueSize: 10_000,
    tls: { caFile: "", certFile: "", keyFile: "" },
    resourceAttributes: {},
    ...overrides,
  };
}

const sinks: MetricsSink[] = [];

function sink(
  overrides: Partial<OpenTelemetryConfig> = {},
  options: { maxLegs?: number; instanceId?: string } = {},
): { sink: MetricsSink; lines: Line[]; raw: string[] } {
  const { logger, lines, raw } = captureLogger();
  const created = createMetricsSink(config(overrides), {
    maxLegs: options.maxLegs ?? 1000,
    logger,
    ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
  });
  sinks.push(created);
  return { sink: created, lines, raw };
}

function labels(channelId: string, extra: Partial<LegLabels> = {}): LegLabels {
  return {
    channelId,
    correlationId: "call-1@pbx.example.com",
    domainName: "pbx.example.com",
    callDirection: "inbound",
    codecName: "PCMU",
    srcIp: "198.51.100.7",
    dstIp: "203.0.113.5",
    ...extra,
  };
}

function rtcp(
  legLabels: LegLabels,
  direction: ReportDirection,
  jitterMs: number,
  fractionLost: number,
  packetsLost: number,
  instance = "fs1",
  rttMs?: number,
): RtcpObservation {
  const mos = emodelMos(jitterMs, fractionLost, rttMs);
  return {
    instance,
    labels: legLabels,
    direction,
    jitterMs,
    fractionLost,
    packetsLost,
    rttMs,
    mos,
  };
}

function qos(
  legLabels: LegLabels,
  values: QosValues,
  instance = "fs1",
  mosEstimate?: number,
): QosObservation {
  return {
    instance,
    labels: legLabels,
    values,
    mosEstimate,
    rtcpIn: null,
    rtcpOut: null,
    hangup: { cause: "NORMAL_CLEARING", durationS: 30, billsec: 21 },
  };
}

/** The per-leg RTCP metrics: one point per leg and direction that reported in the interval. */
const RTCP_NAMES = [
  "freeswitch.rtcp.fraction_lost",
  "freeswitch.rtcp.jitter",
  "freeswitch.rtcp.mos",
  "freeswitch.rtcp.packets_lost",
  "freeswitch.rtcp.rtt",
];
/** The low-cardinality report histograms (cumulative). */
const REPORT_NAMES = ["freeswitch.rtcp.report.fraction_lost", "freeswitch.rtcp.report.jitter"];
/** The end-of-call histograms (cumulative); mos_estimate only for legs that had RTCP. */
const CALL_NAMES = ["freeswitch.call.mos"];
const QOS_NAMES = [
  "freeswitch.qos.jitter_avg",
  "freeswitch.qos.jitter_max",
  "freeswitch.qos.jitter_min",
  "freeswitch.qos.mos_score",
  "freeswitch.qos.packet_loss",
  "freeswitch.qos.total_bytes",
  "freeswitch.qos.total_packets",
];

/** Points of a metric as comparable { value, attributes }, sorted by channel and direction. */
function valuesOf(name: string): { value: number; attributes: Record<string, string> }[] {
  return receiver
    .points(name)
    .map((p) => ({ value: p.value, attributes: { ...p.attributes } }))
    .sort((a, b) => key(a.attributes).localeCompare(key(b.attributes)));
}

function key(attributes: Record<string, string>): string {
  return `${attributes.channel_id ?? ""}/${attributes.direction ?? ""}`;
}

/** Histogram points of a metric, sorted by their (aggregate) attributes. */
function histogramsOf(name: string): HistogramPoint[] {
  return receiver
    .histogramPoints(name)
    .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
}

function aggAttrs(direction: string, codec: string, callDirection: string, instance = "fs1") {
  return {
    call_direction: callDirection,
    codec_name: codec,
    direction,
    domain_name: "pbx.example.com",
    fs_instance: instance,
  };
}

function channelsIn(points: readonly MetricPoint[]): Set<string> {
  return new Set(points.map((p) => p.attributes.channel_id ?? "(none)"));
}

function rtcpAttrs(channelId: string, direction: string, instance = "fs1") {
  return {
    fs_instance: instance,
    channel_id: channelId,
    correlation_id: "call-1@pbx.example.com",
    domain_name: "pbx.example.com",
    direction,
  };
}

function qosAttrs(l: LegLabels, instance = "fs1") {
  return {
    fs_instance: instance,
    channel_id: l.channelId,
    correlation_id: l.correlationId,
    domain_name: l.domainName,
    call_direction: l.callDirection,
    codec_name: l.codecName,
    src_ip: l.srcIp,
    dst_ip: l.dstIp,
  };
}

/** A garbage-collected heap size, for "memory does not grow" checks. */
function heapAfterGc(): number {
  v8.setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

shareReceiver(sinks, (started) => {
  receiver = started;
});

// ---------------------------------------------------------------------------------------------

describe("metrics sink: what is exported", () => {
  it("exports a scripted sequence with exact values, units, labels, kinds and DELTA", async () => {
    const { sink: s } = sink();
    const a = labels("a-leg-1");
    const b = labels("b-leg-1", {
      callDirection: "outbound",
      codecName: "PCMA",
      srcIp: "192.0.2.10",
      dstIp: "203.0.113.5",
    });

    // Two inbound reports of the A-leg in one interval: the jitter and fraction gauges keep the
    // last value, packets_lost adds up.
    s.recordRtcp(rtcp(a, "inbound", 12.5, 0.25, 3, "fs1", 120));
    s.recordRtcp(rtcp(a, "inbound", 20, 0.5, 4, "fs1", 80));
    s.recordRtcp(rtcp(a, "outbound", 2, 0, 0));
    s.recordRtcp(rtcp(b, "inbound", 1.25, 1 / 256, 1));
    s.recordQos(
      qos(a, {
        mosScore: 4.2,
        jitterMinMs: 0.5,
        jitterMaxMs: 9,
        jitterAvgMs: 11.25,
        totalPackets: 1500,
        packetLoss: 8,
        totalBytes: 258_000,
        unreadable: [],
      }),
    );
    // No MOS for the B-leg: it received nothing, and 4.5 would be a lie.
    s.recordQos(
      qos(b, {
        mosScore: undefined,
        jitterMinMs: 0,
        jitterMaxMs: 0,
        jitterAvgMs: 1.25,
        totalPackets: 750,
        packetLoss: 1,
        totalBytes: 129_000,
        unreadable: [],
      }),
    );
    await s.forceFlush();

    assert.deepEqual(receiver.decodeErrors, []);
    assert.equal(receiver.metricRequests.length, 1, "one export carried everything");
    assert.deepEqual(
      receiver.metricNames(),
      [...QOS_NAMES, ...RTCP_NAMES, ...REPORT_NAMES, ...CALL_NAMES].sort(),
    );

    assert.deepEqual(valuesOf("freeswitch.rtcp.jitter"), [
      { value: 20, attributes: rtcpAttrs("a-leg-1", "inbound") },
      { value: 2, attributes: rtcpAttrs("a-leg-1", "outbound") },
      { value: 1.25, attributes: rtcpAttrs("b-leg-1", "inbound") },
    ]);
    assert.deepEqual(valuesOf("freeswitch.rtcp.fraction_lost"), [
      { value: 0.5, attributes: rtcpAttrs("a-leg-1", "inbound") },
      { value: 0, attributes: rtcpAttrs("a-leg-1", "outbound") },
      { value: 1 / 256, attributes: rtcpAttrs("b-leg-1", "inbound") },
    ]);
    assert.deepEqual(valuesOf("freeswitch.rtcp.packets_lost"), [
      { value: 7, attributes: rtcpAttrs("a-leg-1", "inbound") },
      { value: 0, attributes: rtcpAttrs("a-leg-1", "outbound") },
      { value: 1, attributes: rtcpAttrs("b-leg-1", "inbound") },
    ]);
    // RTT only where a report had one (the last of the A-leg's inbound reports: 80 ms).
    assert.deepEqual(valuesOf("freeswitch.rtcp.rtt"), [
      { value: 80, attributes: rtcpAttrs("a-leg-1", "inbound") },
    ]);
    // MOS estimate of each series' last report: Le = 40 + 40 + 10 = 90, R = 90.95 − 125 < 0 → 1.
    assert.deepEqual(valuesOf("freeswitch.rtcp.mos"), [
      { value: 1, attributes: rtcpAttrs("a-leg-1", "inbound") },
      { value: emodelMos(2, 0, undefined), attributes: rtcpAttrs("a-leg-1", "outbound") },
      { value: emodelMos(1.25, 1 / 256, undefined), attributes: rtcpAttrs("b-leg-1", "inbound") },
    ]);

    // Report histograms: no per-leg labels, one observation per report. The A-leg's two inbound
    // reports (12.5 and 20 ms) share a label set; bucket i holds (bounds[i-1], bounds[i]].
    const jitterHist = histogramsOf("freeswitch.rtcp.report.jitter");
    assert.deepEqual(
      jitterHist.map((h) => h.attributes),
      [
        aggAttrs("inbound", "PCMA", "outbound"),
        aggAttrs("inbound", "PCMU", "inbound"),
        aggAttrs("outbound", "PCMU", "inbound"),
      ],
    );
    const [bIn, aIn, aOut] = jitterHist;
    assert.deepEqual(aIn?.bounds, [1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300]);
    assert.deepEqual(aIn?.bucketCounts, [0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([aIn?.count, aIn?.sum, aIn?.min, aIn?.max], [2, 32.5, 12.5, 20]);
    assert.deepEqual(aOut?.bucketCounts, [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "2 ms is ≤ 2");
    assert.deepEqual(bIn?.bucketCounts, [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    for (const h of jitterHist) {
      assert.equal(h.temporality, "cumulative");
      assert.equal(h.unit, "ms");
    }
    const lossHist = histogramsOf("freeswitch.rtcp.report.fraction_lost");
    assert.deepEqual(lossHist[1]?.bounds, [0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5]);
    // A inbound: 0.25 and 0.5 → (0.2, 0.5]; A outbound: 0 → the loss-free bucket; B: 1/256.
    assert.deepEqual(lossHist[1]?.bucketCounts, [0, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
    assert.deepEqual(lossHist[2]?.bucketCounts, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(lossHist[0]?.bucketCounts, [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(lossHist[1]?.unit, "1");

    const qosExpected: Record<string, [number, number | null]> = {
      "freeswitch.qos.mos_score": [4.2, null],
      "freeswitch.qos.jitter_min": [0.5, 0],
      "freeswitch.qos.jitter_max": [9, 0],
      "freeswitch.qos.jitter_avg": [11.25, 1.25],
      "freeswitch.qos.total_packets": [1500, 750],
      "freeswitch.qos.packet_loss": [8, 1],
      "freeswitch.qos.total_bytes": [258_000, 129_000],
    };
    for (const [name, [aValue, bValue]] of Object.entries(qosExpected)) {
      const expected = [{ value: aValue, attributes: qosAttrs(a) }];
      if (bValue !== null) expected.push({ value: bValue, attributes: qosAttrs(b) });
      assert.deepEqual(valuesOf(name), expected, name);
    }

    const meta: Record<string, { unit: string; kind: string; valueType: string }> = {
      "freeswitch.rtcp.jitter": { unit: "ms", kind: "gauge", valueType: "double" },
      "freeswitch.rtcp.fraction_lost": { unit: "1", kind: "gauge", valueType: "double" },
      "freeswitch.rtcp.packets_lost": { unit: "{packet}", kind: "sum", valueType: "int" },
      "freeswitch.rtcp.rtt": { unit: "ms", kind: "gauge", valueType: "double" },
      "freeswitch.rtcp.mos": { unit: "1", kind: "gauge", valueType: "double" },
      "freeswitch.qos.mos_score": { unit: "1", kind: "gauge", valueType: "double" },
      "freeswitch.qos.jitter_min": { unit: "ms", kind: "gauge", valueType: "double" },
      "freeswitch.qos.jitter_max": { unit: "ms", kind: "gauge", valueType: "double" },
      "freeswitch.qos.jitter_avg": { unit: "ms", kind: "gauge", valueType: "double" },
      "freeswitch.qos.total_packets": { unit: "{packet}", kind: "gauge", valueType: "int" },
      "freeswitch.qos.packet_loss": { unit: "{packet}", kind: "gauge", valueType: "int" },
      "freeswitch.qos.total_bytes": { unit: "By", kind: "gauge", valueType: "int" },
    };
    for (const point of receiver.points()) {
      const m = meta[point.name];
      assert.ok(m, `unexpected metric ${point.name}`);
      assert.equal(point.unit, m.unit, `${point.name} unit`);
      assert.equal(point.kind, m.kind, `${point.name} kind`);
      assert.equal(point.valueType, m.valueType, `${point.name} value type`);
      assert.match(
        point.description,
        /^[A-Z].+\.$/,
        `${point.name} has a one-sentence description`,
      );
      assert.equal(point.scope.name, "fsagent");
      assert.equal(point.scope.version, VERSION);
      if (point.kind === "sum") {
        assert.equal(point.temporality, "delta", `${point.name} is a DELTA sum`);
        assert.equal(point.monotonic, true, `${point.name} is monotonic`);
      } else {
        // OTLP gauges carry no temporality; that they are forgotten is tested below.
        assert.equal(point.temporality, null);
      }
    }
  });

  it("starts a new series when a leg's labels change mid-call", async () => {
    const { sink: s } = sink();
    s.recordRtcp(rtcp(labels("leg-x", { correlationId: "" }), "inbound", 5, 0, 0));
    s.recordRtcp(rtcp(labels("leg-x"), "inbound", 6, 0, 0));
    // A new labels object with the same values keeps the cached attribute set.
    s.recordRtcp(rtcp(labels("leg-x"), "inbound", 7, 0, 0));
    await s.forceFlush();
    const points = receiver.points("freeswitch.rtcp.jitter");
    assert.deepEqual(points.map((p) => [p.attributes.correlation_id, p.value]).sort(), [
      ["", 5],
      ["call-1@pbx.example.com", 7],
    ]);
    assert.equal(s.cachedLegs, 1);
  });

  it("skips non-finite values and negative losses instead of exporting them", async () => {
    const { sink: s } = sink();
    const l = labels("leg-nan");
    s.recordRtcp(rtcp(l, "inbound", Number.NaN, Number.POSITIVE_INFINITY, -1));
    s.recordRtcp(rtcp(l, "outbound", 3, 0.5, 2));
    await s.forceFlush();
    assert.deepEqual(
      receiver.points().map((p) => [p.name, p.attributes.direction, p.value]),
      [
        ["freeswitch.rtcp.jitter", "outbound", 3],
        ["freeswitch.rtcp.fraction_lost", "outbound", 0.5],
        ["freeswitch.rtcp.packets_lost", "outbound", 2],
        // No RTT was known; the MOS estimate of 3 ms jitter and 50 % loss is the floor, 1.
        ["freeswitch.rtcp.mos", "outbound", 1],
      ],
    );
    const jitter = receiver.histogramPoints("freeswitch.rtcp.report.jitter");
    assert.deepEqual(
      jitter.map((h) => [h.attributes.direction, h.count, h.sum]),
      [["outbound", 1, 3]],
      "the NaN report left the inbound histogram out",
    );
    const loss = receiver.histogramPoints("freeswitch.rtcp.report.fraction_lost");
    assert.deepEqual(
      loss.map((h) => [h.attributes.direction, h.count]),
      [["outbound", 1]],
    );
  });

  it("carries the resource: service.*, host.name and OTEL_RESOURCE_ATTRIBUTES", async () => {
    const { sink: s } = sink(
      {
        serviceName: "fsagent-test",
        resourceAttributes: {
          "deployment.environment.name": "staging",
          "k8s.pod.name": "fsagent-0",
        },
      },
      { instanceId: "replica-a" },
    );
    s.recordRtcp(rtcp(labels("leg-r"), "inbound", 1, 0, 0));
    await s.forceFlush();
    const [point] = receiver.points("freeswitch.rtcp.jitter");
    assert.ok(point);
    assert.equal(point.resource["service.name"], "fsagent-test");
    assert.equal(point.resource["service.version"], VERSION);
    assert.equal(point.resource["service.instance.id"], "replica-a");
    assert.equal(point.resource["host.name"], hostname());
    assert.equal(point.resource["deployment.environment.name"], "staging");
    assert.equal(point.resource["k8s.pod.name"], "fsagent-0");
    assert.equal(point.resource["telemetry.sdk.language"], "nodejs");
  });

  it("lets OTEL_RESOURCE_ATTRIBUTES override host.name but not service.name", async () => {
    const { sink: s } = sink({
      serviceName: "from-otel-service-name",
      resourceAttributes: { "host.name": "node-7", "service.name": "ignored" },
    });
    s.recordRtcp(rtcp(labels("leg-r2"), "inbound", 1, 0, 0));
    await s.forceFlush();
    const [point] = receiver.points("freeswitch.rtcp.jitter");
    assert.ok(point);
    assert.equal(point.resource["host.name"], "node-7");
    assert.equal(point.resource["service.name"], "from-otel-service-name");
    // No instanceId and none in the environment: the process's own random UUID.
    assert.equal(point.resource["service.instance.id"], PROCESS_INSTANCE_ID);
    assert.match(
      PROCESS_INSTANCE_ID,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("sends the configured headers as gRPC metadata and never logs their values", async () => {
    const { sink: s, raw } = sink({
      headers: {
        authorization: "Bearer s3cr3t-token",
        "X-Scope-OrgID": "tenant-42",
        Connection: "close",
        te: "gzip",
        "content-type": "text/plain",
        "grpc-timeout": "1m",
      },
    });
    s.recordRtcp(rtcp(labels("leg-h"), "inbound", 1, 0, 0));
    await s.forceFlush();
    const [request] = receiver.metricRequests;
    assert.ok(request);
    assert.equal(request.metadata.authorization, "Bearer s3cr3t-token");
    assert.equal(request.metadata["x-scope-orgid"], "tenant-42");
    // Names HTTP/2 forbids or gRPC reserves are skipped (by name, in the log): one of them would
    // have made node:http2 refuse every request.
    for (const name of ["Connection", "te", "content-type", "grpc-timeout"]) {
      assert.ok(
        raw.some((line) => line.includes(`"header":"${name}"`) && line.includes("reserves")),
        `${name} reported as skipped`,
      );
    }
    // And when the export fails, the error line carries no secret either.
    receiver.behave("fail");
    s.recordRtcp(rtcp(labels("leg-h"), "inbound", 1, 0, 0));
    await s.forceFlush();
    assert.equal(s.stats.exportErrors, 1);
    await s.shutdown();
    assert.ok(!raw.join("").includes("s3cr3t"), "a header value reached the log");
  });

  it("checks the headers by gRPC's metadata rules, lowercases their names, never logs a value", () => {
    const raw: string[] = [];
    const logger = pino({ level: "warn", base: null }, { write: (line: string) => raw.push(line) });
    const headers = otlpHeaders(
      {
        "X-Scope-OrgID": "tenant-42",
        authorization: "Bearer s3cr3t-1",
        "x-evil": "s3cr3t-2\r\nx-injected: 1",
        "bad name": "s3cr3t-3",
        "x-raw-bin": "s3cr3t-4",
        Host: "s3cr3t-5",
      },
      logger,
    );
    assert.deepEqual(headers, { "x-scope-orgid": "tenant-42", authorization: "Bearer s3cr3t-1" });
    const skipped = raw.map((line) => JSON.parse(line) as { header: string; msg: string });
    assert.deepEqual(
      skipped.map((line) => line.header),
      ["x-evil", "bad name", "x-raw-bin", "Host"],
    );
    assert.match(skipped[0]?.msg ?? "", /gRPC refuses its name or value/);
    assert.match(skipped[2]?.msg ?? "", /binary \(-bin\)/);
    assert.match(skipped[3]?.msg ?? "", /reserves this name/);
    assert.ok(!raw.join("").includes("s3cr3t"), "a header value reached the log");
  });
});

describe("metrics sink: per-leg series are forgotten", () => {
  it("exports a leg's series after its event and not in the exports after that", async () => {
    const { sink: s } = sink();
    const a = labels("leg-gone");
    s.recordRtcp(rtcp(a, "inbound", 4, 0.1, 2));
    s.recordQos(
      qos(a, {
        mosScore: 4.1,
        jitterMinMs: 1,
        jitterMaxMs: 2,
        jitterAvgMs: 1.5,
        totalPackets: 10,
        packetLoss: 0,
        totalBytes: 1720,
        unreadable: [],
      }),
    );
    s.legEnded("leg-gone");
    await s.forceFlush();
    assert.equal(receiver.metricRequests.length, 1);
    assert.equal(receiver.points().length, 11, "4 RTCP (no RTT) + 7 QoS points");
    assert.deepEqual(channelsIn(receiver.points()), new Set(["leg-gone"]));

    // Nothing new recorded: a CUMULATIVE SDK would re-export the per-leg gauges here; DELTA
    // exports none of them. Only the report histograms, cumulative and without per-leg labels,
    // are exported again, unchanged.
    await s.forceFlush();
    await s.forceFlush();
    assert.equal(receiver.metricRequests.length, 3);
    assert.equal(receiver.points().length, 11, "no per-leg point after the first export");
    const again = receiver.histogramPoints("freeswitch.rtcp.report.jitter");
    assert.deepEqual(
      again.map((h) => [h.request, h.count]),
      [
        [0, 1],
        [1, 1],
        [2, 1],
      ],
    );

    // Another leg's points: the export carries them and nothing of the ended leg.
    s.recordRtcp(rtcp(labels("leg-next"), "inbound", 1, 0, 0));
    await s.forceFlush();
    assert.equal(receiver.metricRequests.length, 4);
    const later = receiver.points().filter((p) => p.request === 3);
    assert.deepEqual(channelsIn(later), new Set(["leg-next"]));
    assert.equal(s.cachedLegs, 1);
  });

  it("leaves no series, no cached attributes and no heap growth after rounds of 2,000 legs", async () => {
    const maxLegs = 2000;
    const { sink: s } = sink({}, { maxLegs });
    const values: QosValues = {
      mosScore: 4.3,
      jitterMinMs: 0.2,
      jitterMaxMs: 3,
      jitterAvgMs: 1,
      totalPackets: 500,
      packetLoss: 1,
      totalBytes: 86_000,
      unreadable: [],
    };
    const round = async (r: number): Promise<void> => {
      receiver.clear();
      for (let i = 0; i < 2000; i++) {
        const l = labels(`r${r}-leg-${i}`);
        s.recordRtcp(rtcp(l, "inbound", 1 + (i % 7), 0, i % 3));
        s.recordRtcp(rtcp(l, "outbound", 2, 0, 0));
        s.recordQos(qos(l, values));
        s.legEnded(l.channelId);
      }
      assert.equal(s.cachedLegs, 0, "every leg ended: the attribute cache is empty");
      await s.forceFlush();
      assert.equal(s.stats.exportErrors, 0, s.stats.lastError ?? "");
      const jitter = receiver.points("freeswitch.rtcp.jitter");
      assert.equal(jitter.length, 4000, "two directions × 2,000 legs, none folded away");
      assert.equal(receiver.points("freeswitch.qos.mos_score").length, 2000);
      const overflow = receiver.points().filter((p) => "otel.metric.overflow" in p.attributes);
      assert.equal(overflow.length, 0, "the cardinality limit is above one interval's series");
      // 26,000 points, ~5.5 MB: one request would exceed a Collector's default 4 MiB limit.
      assert.ok(receiver.metricRequests.length >= 7, "split into several requests");
      const largest = Math.max(...receiver.metricRequests.map((q) => q.bytes));
      assert.ok(largest < 2 * 1024 * 1024, `largest request: ${largest} bytes`);
    };

    // One more export with only a canary leg: it must carry nothing of the rounds before. It also
    // settles memory: the SDK keeps the previous collection's attribute sets (for start times)
    // until the next collection, so the heap is compared after one.
    const settle = async (): Promise<number> => {
      receiver.clear();
      s.recordRtcp(rtcp(labels("canary"), "inbound", 1, 0, 0));
      s.legEnded("canary");
      await s.forceFlush();
      assert.deepEqual(channelsIn(receiver.points()), new Set(["canary"]));
      receiver.clear();
      return heapAfterGc();
    };

    await round(0);
    const baseline = await settle();
    for (let r = 1; r <= 4; r++) await round(r);
    const grown = (await settle()) - baseline;
    // 8,000 legs went through after the baseline; kept series would be tens of MB.
    assert.ok(grown < 2 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MB`);
    assert.ok(cardinalityLimit(maxLegs) > 2 * maxLegs);
  });

  it("warns when one interval holds more series than the cardinality limit", async () => {
    const maxLegs = 100;
    const limit = cardinalityLimit(maxLegs);
    const { sink: s, lines } = sink({}, { maxLegs });
    for (let i = 0; i < limit + 100; i++) {
      const l = labels(`many-${i}`);
      s.recordRtcp(rtcp(l, "inbound", 1, 0, 1));
      s.legEnded(l.channelId);
    }
    await s.forceFlush();
    const jitter = receiver.points("freeswitch.rtcp.jitter");
    // The SDK keeps limit − 1 series and folds the rest into one overflow series.
    assert.equal(jitter.length, limit);
    const overflow = jitter.filter((p) => p.attributes["otel.metric.overflow"] === "true");
    assert.equal(overflow.length, 1);
    const lost = receiver
      .points("freeswitch.rtcp.packets_lost")
      .find((p) => p.attributes["otel.metric.overflow"] === "true");
    assert.equal(lost?.value, 101, "the overflow sum holds the folded legs' losses");
    const warns = lines.filter((l) => l.level === WARN && /cardinality limit/.test(l.msg));
    assert.equal(warns.length, 1);
    // The export is split in batches; the one warning names the metrics of the first.
    const named = warns[0]?.metrics as string[];
    assert.deepEqual(named.slice(0, 3), [
      "freeswitch.rtcp.jitter",
      "freeswitch.rtcp.fraction_lost",
      "freeswitch.rtcp.packets_lost",
    ]);
    assert.ok(
      named.every((n) => RTCP_NAMES.includes(n)),
      named.join(),
    );
  });

  it("bounds the attribute cache at 2 × maxLegs when legEnded is missed", async () => {
    const { sink: s } = sink({}, { maxLegs: 100 });
    for (let i = 0; i < 1000; i++) s.recordRtcp(rtcp(labels(`lost-${i}`), "inbound", 1, 0, 0));
    assert.equal(s.cachedLegs, 200);
    // The newest are the ones kept, and a dropped leg that reports again is simply re-added.
    s.recordRtcp(rtcp(labels("lost-0"), "outbound", 1, 0, 0));
    assert.equal(s.cachedLegs, 200);
    s.legEnded("lost-999");
    assert.equal(s.cachedLegs, 199);
  });
});

describe("metrics sink: Collector trouble", () => {
  it("counts failures while the Collector is down, warns once, and recovers", async () => {
    const { sink: s, lines } = sink({ exportIntervalMs: 100, exportTimeoutMs: 100 });
    await receiver.stop();

    // Legs come and go during the outage, on the periodic exports' schedule.
    let n = 0;
    const during = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        for (let i = 0; i < 50; i++, n++) {
          const l = labels(`out-${n}`);
          s.recordRtcp(rtcp(l, "inbound", 1, 0, 1));
          s.legEnded(l.channelId);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await during(700);
    assert.ok(s.stats.exportErrors >= 3, `errors: ${s.stats.exportErrors}`);
    assert.equal(s.stats.exports, s.stats.exportErrors, "no export succeeded");
    assert.ok(s.stats.lastError !== null && !s.stats.lastError.includes("\n"));
    assert.match(s.stats.lastError, /UNAVAILABLE|ECONNREFUSED|No connection/);
    assert.equal(s.cachedLegs, 0, "ended legs are not kept while exports fail");
    const warns = lines.filter(
      (l) => l.level === WARN && l.msg.startsWith("OTLP metrics export failed"),
    );
    assert.equal(warns.length, 1, "the failure is logged once, then rate-limited");
    assert.equal(warns[0]?.endpoint, receiver.endpoint);
    // The reader's own report of the same failure is not a second warning.
    assert.equal(lines.filter((l) => l.level >= WARN).length, 1);

    const lastOutageLeg = n - 1;
    await receiver.start();
    // gRPC reconnects with its own backoff; keep recording until an export arrives.
    const recovered = (async () => {
      while (receiver.metricRequests.length === 0) await during(50);
    })();
    await receiver.waitFor(
      () => receiver.metricRequests.length > 0,
      "an export after recovery",
      10_000,
    );
    await recovered;
    await s.forceFlush();
    assert.equal(lines.filter((l) => l.level === INFO && /works again/.test(l.msg)).length, 1);

    // Nothing was queued: what arrives is from the last interval(s), not the backlog of the outage.
    const ids = [...channelsIn(receiver.points())].map((id) => Number(id.slice(4)));
    assert.ok(Math.min(...ids) > lastOutageLeg - 1000, `oldest leg exported: ${Math.min(...ids)}`);
    assert.ok(!ids.includes(0));
  });

  it("counts UNAVAILABLE answers, never throws, and logs recovery once", async () => {
    const { sink: s, lines } = sink();
    receiver.behave("fail");
    for (let i = 0; i < 5; i++) {
      s.recordRtcp(rtcp(labels(`f-${i}`), "inbound", 1, 0, 0));
      await s.forceFlush();
    }
    assert.equal(receiver.rejected.metrics, 5);
    assert.deepEqual(
      { exports: s.stats.exports, exportErrors: s.stats.exportErrors },
      { exports: 5, exportErrors: 5 },
    );
    assert.match(s.stats.lastError ?? "", /UNAVAILABLE: test receiver told to fail/);
    assert.equal(lines.filter((l) => l.level === WARN).length, 1);

    receiver.behave("ok");
    s.recordRtcp(rtcp(labels("f-ok"), "inbound", 1, 0, 0));
    await s.forceFlush();
    assert.equal(s.stats.exports, 6);
    assert.equal(s.stats.exportErrors, 5);
    assert.deepEqual(
      channelsIn(receiver.points()),
      new Set(["f-ok"]),
      "failed points are not resent",
    );
    const info = lines.filter((l) => l.level === INFO && l.msg.includes("works again"));
    assert.equal(info.length, 1);
    assert.equal(info[0]?.failedExports, 5);
  });
});

describe("metrics sink: transport settings", () => {
  it("does nothing and connects nowhere when export is disabled", async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === "TCPWRAP").length;
    const { sink: s, lines } = sink({ enabled: false });
    s.recordRtcp(rtcp(labels("noop"), "inbound", 1, 0, 0));
    s.recordQos(
      qos(labels("noop"), {
        mosScore: 4,
        jitterMinMs: 0,
        jitterMaxMs: 0,
        jitterAvgMs: 0,
        totalPackets: 1,
        packetLoss: 0,
        totalBytes: 1,
        unreadable: [],
      }),
    );
    s.legEnded("noop");
    await s.forceFlush();
    await s.shutdown();
    assert.deepEqual(s.stats, {
      exports: 0,
      exportErrors: 0,
      sent: 0,
      retried: 0,
      dropped: { notRetried: 0, queueFull: 0, refused: 0, shutdown: 0 },
      queued: 0,
      capacity: 0,
      lastError: null,
    });
    assert.equal(s.cachedLegs, 0);
    assert.equal(receiver.metricRequests.length, 0);
    assert.equal(process.getActiveResourcesInfo().filter((r) => r === "TCPWRAP").length, before);
    assert.ok(lines.some((l) => /disabled/.test(l.msg)));
  });

  it("opens no connection while there is nothing to export", async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const { sink: s } = sink({
        endpoint: `127.0.0.1:${port}`,
        exportIntervalMs: 50,
        exportTimeoutMs: 50,
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await s.forceFlush();
      await s.shutdown();
      assert.equal(connections, 0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("uses plaintext for http:// even when insecure is false", async () => {
    const { sink: s } = sink({ endpoint: `http://${receiver.endpoint}`, insecure: false });
    s.recordRtcp(rtcp(labels("leg-http"), "inbound", 1, 0, 0));
    await s.forceFlush();
    assert.equal(s.stats.exportErrors, 0, s.stats.lastError ?? "");
    assert.equal(receiver.points("freeswitch.rtcp.jitter").length, 1);
  });

  it("uses TLS for https:// even when insecure is true, and for host:port with insecure: false", async () => {
    // localhost rather than 127.0.0.1: Node deprecates TLS server names that are IP addresses.
    const cases = [
      { endpoint: `https://localhost:${receiver.port}`, insecure: true },
      { endpoint: `localhost:${receiver.port}`, insecure: false },
    ];
    for (const { endpoint, insecure } of cases) {
      const { sink: s } = sink({ endpoint, insecure });
      s.recordRtcp(rtcp(labels("leg-tls"), "inbound", 1, 0, 0));
      await s.forceFlush();
      // A TLS client against the plaintext receiver: the handshake fails, nothing is received.
      assert.equal(s.stats.exportErrors, 1, `${endpoint} (insecure: ${insecure}) should use TLS`);
      assert.match(s.stats.lastError ?? "", /SSL|TLS|wrong version/i);
      assert.equal(receiver.metricRequests.length, 0);
      await s.shutdown();
    }
    assert.deepEqual(grpcTarget("HTTPS://collector:4317", true), {
      url: "HTTPS://collector:4317",
      tls: true,
      display: "collector:4317",
    });
    assert.deepEqual(grpcTarget("collector:4317", true), {
      url: "collector:4317",
      tls: false,
      display: "collector:4317",
    });
    assert.equal(grpcTarget("http://collector:4317/v1", false).tls, false);
  });
});

describe("metrics sink: shutdown", () => {
  it("flushes what was recorded on shutdown", async () => {
    const { sink: s } = sink();
    s.recordRtcp(rtcp(labels("leg-last"), "inbound", 3, 0, 1));
    await s.shutdown();
    assert.deepEqual(channelsIn(receiver.points()), new Set(["leg-last"]));
    // After shutdown, recording is a silent no-op.
    s.recordRtcp(rtcp(labels("leg-late"), "inbound", 3, 0, 1));
    await s.forceFlush();
    await s.shutdown();
    assert.equal(receiver.metricRequests.length, 1);
  });

  it("finishes within the export timeout when the Collector is gone", async () => {
    const { sink: s } = sink({ exportTimeoutMs: 500 });
    await receiver.stop();
    s.recordRtcp(rtcp(labels("leg-down"), "inbound", 3, 0, 1));
    const start = Date.now();
    await s.shutdown();
    const took = Date.now() - start;
    // Refused connections fail at once; at worst the 500 ms timeout, plus scheduling slack.
    assert.ok(took < 1200, `shutdown took ${took} ms`);
  });

  it("finishes within the export timeout when the Collector never answers", async () => {
    const { sink: s, lines } = sink({ exportTimeoutMs: 500 });
    receiver.behave("hang");
    s.recordRtcp(rtcp(labels("leg-hang"), "inbound", 3, 0, 1));
    const start = Date.now();
    await s.shutdown();
    const took = Date.now() - start;
    // 500 ms of timeout, plus slack for timers firing late on a loaded test machine.
    assert.ok(took >= 400 && took < 1200, `shutdown took ${took} ms`);
    assert.ok(lines.some((l) => l.level === WARN && /did not finish within 500 ms/.test(l.msg)));
    // The abandoned export ends by its own gRPC deadline and is counted.
    await receiver.waitFor(() => s.stats.exportErrors === 1, "the abandoned export to be counted");
    assert.match(s.stats.lastError ?? "", /DEADLINE_EXCEEDED|Deadline/i);
  });
});

describe("test receiver", () => {
  it("decodes a logs request with the official types (for the log records of issue 8)", async () => {
    const type = otlpMessages.ExportLogsServiceRequest;
    const request = type.fromObject({
      resourceLogs: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "fsagent" } }] },
          scopeLogs: [
            {
              scope: { name: "fsagent", version: "1.2.3" },
              logRecords: [
                {
                  timeUnixNano: "1700000000123456789",
                  severityNumber: 9,
                  severityText: "INFO",
                  body: { stringValue: "call ended" },
                  attributes: [
                    { key: "channel_id", value: { stringValue: "leg-1" } },
                    { key: "mos", value: { doubleValue: 4.2 } },
                    { key: "packets", value: { intValue: "1500" } },
                    { key: "bridged", value: { boolValue: true } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const bytes = Buffer.from(type.encode(request).finish());
    const client = new Client(receiver.endpoint, credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set("authorization", "Bearer t");
    try {
      await new Promise<void>((resolve, reject) => {
        client.makeUnaryRequest(
          "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
          (value: Buffer) => value,
          (value: Buffer) => value,
          bytes,
          metadata,
          (error) => (error ? reject(error) : resolve()),
        );
      });
    } finally {
      client.close();
    }
    assert.deepEqual(receiver.decodeErrors, []);
    assert.equal(receiver.logRequests[0]?.metadata.authorization, "Bearer t");
    assert.deepEqual(receiver.logRecords(), [
      {
        eventName: "",
        body: "call ended",
        severityNumber: "SEVERITY_NUMBER_INFO",
        severityText: "INFO",
        attributes: { channel_id: "leg-1", mos: 4.2, packets: 1500, bridged: true },
        resource: { "service.name": "fsagent" },
        scope: { name: "fsagent", version: "1.2.3" },
        timeUnixNano: "1700000000123456789",
        observedTimeUnixNano: "0",
        request: 0,
      },
    ]);
  });
});
