// The OTLP metrics encoder (src/export/otlp-encode.ts) and the transport around it
// (OtlpMetricsTransport in src/export/metric-exporter.ts). Every request is decoded with the
// official generated protobuf root (the one the test receiver uses), never with our own reading,
// and compared field by field with the ResourceMetrics it was made from.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import { type Attributes, type HrTime, ValueType } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import fc from "fast-check";
import { pino } from "pino";
import { isColumnMetric, pointCount } from "../src/export/column-points.js";
import type { ExportResult } from "../src/export/export-result.js";
import { splitRequests } from "../src/export/metric-batches.js";
import { OtlpMetricsTransport } from "../src/export/metric-exporter.js";
import { METRICS_EXPORT_METHOD, type OtlpTransportOptions } from "../src/export/otlp-client.js";
import { decodePartialSuccess } from "../src/export/otlp-decode.js";
import { MetricsRequestEncoder } from "../src/export/otlp-encode.js";
import { grpcAddress } from "../src/export/otlp-target.js";
import { RtcpSeriesProducer } from "../src/export/rtcp-series.js";
import type { LegLabels, ReportDirection, RtcpObservation } from "../src/quality/types.js";
import { otlpMessages } from "./support/otlp-receiver.js";

// ---------------------------------------------------------------------------------------------
// Decoding with the official root, into a plain shape compared with what the input says.

interface DecodedAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
}
interface DecodedKeyValue {
  key?: string;
  value?: DecodedAnyValue;
}
interface DecodedNumberPoint {
  attributes?: DecodedKeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  asDouble?: number;
  asInt?: string;
}
interface DecodedHistogramPoint {
  attributes?: DecodedKeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  count?: string;
  sum?: number;
  bucketCounts?: string[];
  explicitBounds?: number[];
  min?: number;
  max?: number;
}
interface DecodedMetric {
  name?: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: DecodedNumberPoint[] };
  sum?: {
    dataPoints?: DecodedNumberPoint[];
    aggregationTemporality?: string;
    isMonotonic?: boolean;
  };
  histogram?: { dataPoints?: DecodedHistogramPoint[]; aggregationTemporality?: string };
}
interface DecodedRequest {
  resourceMetrics?: {
    resource?: { attributes?: DecodedKeyValue[] };
    scopeMetrics?: {
      scope?: { name?: string; version?: string };
      metrics?: DecodedMetric[];
      schemaUrl?: string;
    }[];
    schemaUrl?: string;
  }[];
}

type Value =
  | { readonly string: string }
  | { readonly bool: boolean }
  | { readonly int: string }
  | { readonly double: number };
type KeyValues = [string, Value][];

interface NumberPointView {
  readonly start: string;
  readonly time: string;
  readonly value: { readonly asInt: string } | { readonly asDouble: number };
  readonly attributes: KeyValues;
}
interface HistogramPointView {
  readonly start: string;
  readonly time: string;
  readonly count: string;
  readonly sum: number | null;
  readonly bucketCounts: string[];
  readonly bounds: number[];
  readonly min: number | null;
  readonly max: number | null;
  readonly attributes: KeyValues;
}
interface MetricView {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly kind: "gauge" | "sum" | "histogram";
  readonly temporality: string | null;
  readonly monotonic: boolean | null;
  readonly points: (NumberPointView | HistogramPointView)[];
}
interface RequestView {
  readonly resource: KeyValues;
  readonly schemaUrl: string;
  readonly scopes: {
    readonly name: string;
    readonly version: string;
    readonly schemaUrl: string;
    readonly metrics: MetricView[];
  }[];
}

const TO_OBJECT = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: false,
};

function decodeValue(value: DecodedAnyValue | undefined): Value {
  assert.ok(value !== undefined, "a KeyValue without a value");
  if (value.stringValue !== undefined) return { string: value.stringValue };
  if (value.boolValue !== undefined) return { bool: value.boolValue };
  if (value.intValue !== undefined) return { int: value.intValue };
  if (value.doubleValue !== undefined) return { double: value.doubleValue };
  assert.fail(`an AnyValue of no known kind: ${JSON.stringify(value)}`);
}

function decodeAttributes(list: DecodedKeyValue[] | undefined): KeyValues {
  return (list ?? []).map((kv) => [kv.key ?? "", decodeValue(kv.value)]);
}

function numberPointView(p: DecodedNumberPoint): NumberPointView {
  assert.ok(
    (p.asInt === undefined) !== (p.asDouble === undefined),
    "exactly one of as_int, as_double",
  );
  return {
    start: p.startTimeUnixNano ?? "0",
    time: p.timeUnixNano ?? "0",
    value: p.asInt !== undefined ? { asInt: p.asInt } : { asDouble: p.asDouble ?? Number.NaN },
    attributes: decodeAttributes(p.attributes),
  };
}

function histogramPointView(p: DecodedHistogramPoint): HistogramPointView {
  return {
    start: p.startTimeUnixNano ?? "0",
    time: p.timeUnixNano ?? "0",
    count: p.count ?? "0",
    sum: p.sum ?? null,
    bucketCounts: p.bucketCounts ?? [],
    bounds: p.explicitBounds ?? [],
    min: p.min ?? null,
    max: p.max ?? null,
    attributes: decodeAttributes(p.attributes),
  };
}

function metricView(m: DecodedMetric): MetricView {
  const base = { name: m.name ?? "", description: m.description ?? "", unit: m.unit ?? "" };
  const kinds = [m.gauge, m.sum, m.histogram].filter((k) => k !== undefined);
  assert.equal(kinds.length, 1, `one data kind in ${base.name}`);
  if (m.gauge !== undefined) {
    const points = (m.gauge.dataPoints ?? []).map(numberPointView);
    return { ...base, kind: "gauge", temporality: null, monotonic: null, points };
  }
  if (m.sum !== undefined) {
    return {
      ...base,
      kind: "sum",
      temporality: m.sum.aggregationTemporality ?? "AGGREGATION_TEMPORALITY_UNSPECIFIED",
      monotonic: m.sum.isMonotonic ?? false,
      points: (m.sum.dataPoints ?? []).map(numberPointView),
    };
  }
  const h = m.histogram ?? {};
  return {
    ...base,
    kind: "histogram",
    temporality: h.aggregationTemporality ?? "AGGREGATION_TEMPORALITY_UNSPECIFIED",
    monotonic: null,
    points: (h.dataPoints ?? []).map(histogramPointView),
  };
}

function decode(bytes: Uint8Array): RequestView {
  const type = otlpMessages.ExportMetricsServiceRequest;
  const request = type.toObject(type.decode(bytes), TO_OBJECT) as unknown as DecodedRequest;
  const list = request.resourceMetrics ?? [];
  assert.equal(list.length, 1, "one ResourceMetrics");
  const rm = list[0]!;
  return {
    resource: decodeAttributes(rm.resource?.attributes),
    schemaUrl: rm.schemaUrl ?? "",
    scopes: (rm.scopeMetrics ?? []).map((sm) => ({
      name: sm.scope?.name ?? "",
      version: sm.scope?.version ?? "",
      schemaUrl: sm.schemaUrl ?? "",
      metrics: (sm.metrics ?? []).map(metricView),
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// What the input says the request must hold.

const TWO_63 = 2 ** 63;

function isInt64(value: number): boolean {
  return Number.isInteger(value) && value >= -TWO_63 && value < TWO_63;
}

/** What a JS string becomes through UTF-8: lone surrogates turn into U+FFFD. */
function wellFormed(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}

function expectedValue(value: unknown): Value {
  if (typeof value === "string") return { string: wellFormed(value) };
  if (typeof value === "boolean") return { bool: value };
  if (typeof value === "number") {
    return isInt64(value) ? { int: BigInt(value).toString() } : { double: value };
  }
  return { string: wellFormed(JSON.stringify(value)) };
}

function expectedAttributes(attributes: Attributes): KeyValues {
  const out: KeyValues = [];
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    out.push([wellFormed(key), expectedValue(value)]);
  }
  return out;
}

function nanos(time: HrTime): string {
  return (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();
}

function temporalityName(t: AggregationTemporality): string {
  return t === AggregationTemporality.DELTA
    ? "AGGREGATION_TEMPORALITY_DELTA"
    : "AGGREGATION_TEMPORALITY_CUMULATIVE";
}

function expectedNumberPoint(p: DataPoint<number>, valueType: ValueType): NumberPointView {
  return {
    start: nanos(p.startTime),
    time: nanos(p.endTime),
    value:
      valueType === ValueType.INT && isInt64(p.value)
        ? { asInt: BigInt(p.value).toString() }
        : { asDouble: p.value },
    attributes: expectedAttributes(p.attributes),
  };
}

function expectedHistogramPoint(p: DataPoint<Histogram>): HistogramPointView {
  const h = p.value;
  return {
    start: nanos(p.startTime),
    time: nanos(p.endTime),
    count: String(h.count),
    sum: h.sum ?? null,
    bucketCounts: h.buckets.counts.map(String),
    bounds: [...h.buckets.boundaries],
    min: h.min ?? null,
    max: h.max ?? null,
    attributes: expectedAttributes(p.attributes),
  };
}

function expectedMetric(m: MetricData): MetricView {
  const d = m.descriptor;
  const base = {
    name: wellFormed(d.name),
    description: wellFormed(d.description ?? ""),
    unit: wellFormed(d.unit ?? ""),
  };
  switch (m.dataPointType) {
    case DataPointType.GAUGE:
      return {
        ...base,
        kind: "gauge",
        temporality: null,
        monotonic: null,
        points: m.dataPoints.map((p) => expectedNumberPoint(p, d.valueType)),
      };
    case DataPointType.SUM:
      return {
        ...base,
        kind: "sum",
        temporality: temporalityName(m.aggregationTemporality),
        monotonic: m.isMonotonic,
        points: m.dataPoints.map((p) => expectedNumberPoint(p, d.valueType)),
      };
    case DataPointType.HISTOGRAM:
      return {
        ...base,
        kind: "histogram",
        temporality: temporalityName(m.aggregationTemporality),
        monotonic: null,
        points: m.dataPoints.map(expectedHistogramPoint),
      };
    default:
      throw new Error("not expected in these tests");
  }
}

function expected(rm: ResourceMetrics): RequestView {
  return {
    resource: expectedAttributes(rm.resource.attributes),
    schemaUrl: rm.resource.schemaUrl ?? "",
    scopes: rm.scopeMetrics.map((sm) => ({
      name: wellFormed(sm.scope.name),
      version: wellFormed(sm.scope.version ?? ""),
      schemaUrl: sm.scope.schemaUrl ?? "",
      metrics: sm.metrics.map(expectedMetric),
    })),
  };
}

/** Encodes, decodes with the official root and compares with the input, field by field. */
function roundTrip(rm: ResourceMetrics, encoder = new MetricsRequestEncoder()): RequestView {
  const view = decode(encoder.encode(rm));
  assert.deepStrictEqual(view, expected(rm));
  return view;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const T0: HrTime = [1_764_000_000, 123_456_789];
const T1: HrTime = [1_764_000_010, 987_654_321];

const resource = resourceFromAttributes({
  "service.name": "fsagent",
  "service.version": "1.2.3",
  "host.name": "höst-ñ.example",
  "process.pid": 4321,
  "sample.ratio": 0.25,
  "feature.on": false,
});

function descriptor(name: string, valueType = ValueType.DOUBLE, unit = "ms", description = "") {
  return { name, unit, description, valueType };
}

function gauge(
  name: string,
  points: DataPoint<number>[],
  valueType = ValueType.DOUBLE,
): MetricData {
  return {
    descriptor: descriptor(name, valueType, "ms", `${name}, described`),
    aggregationTemporality: AggregationTemporality.DELTA,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points,
  };
}

function point(value: number, attributes: Attributes = {}, start = T0, end = T1) {
  return { startTime: start, endTime: end, attributes, value };
}

function request(metrics: MetricData[], scope = { name: "fsagent", version: "0.1.0" }) {
  return { resource, scopeMetrics: [{ scope, metrics }] } satisfies ResourceMetrics;
}

const legAttributes = Object.freeze({
  fs_instance: "fs1",
  channel_id: "0f6c2d1e-6a0b-4c4e-9d7e-5f1a2b3c4d5e",
  correlation_id: "call-1@pbx.example.com",
  domain_name: "pbx.example.com",
  direction: "inbound",
});

function histogramPoint(value: Histogram, attributes: Attributes = {}): DataPoint<Histogram> {
  return { startTime: T0, endTime: T1, attributes, value };
}

// ---------------------------------------------------------------------------------------------

describe("OTLP metrics encoder: decoded by the official protobuf root", () => {
  it("gauges: double and int values, times in nanoseconds, resource and scope", () => {
    const view = roundTrip(
      request([
        gauge("freeswitch.rtcp.jitter", [point(12.5, legAttributes), point(-0.001, {})]),
        gauge(
          "freeswitch.qos.total_packets",
          [point(0, legAttributes), point(123_456_789_012, legAttributes), point(-7)],
          ValueType.INT,
        ),
      ]),
    );
    assert.equal(view.scopes[0]?.metrics[1]?.points.length, 3);
    // Spot-check what the comparison above already covers, so a broken oracle shows.
    assert.deepEqual(view.scopes[0]?.metrics[1]?.points[1], {
      start: "1764000000123456789",
      time: "1764000010987654321",
      value: { asInt: "123456789012" },
      attributes: [
        ["fs_instance", { string: "fs1" }],
        ["channel_id", { string: "0f6c2d1e-6a0b-4c4e-9d7e-5f1a2b3c4d5e" }],
        ["correlation_id", { string: "call-1@pbx.example.com" }],
        ["domain_name", { string: "pbx.example.com" }],
        ["direction", { string: "inbound" }],
      ],
    });
    assert.deepEqual(view.resource.slice(-3), [
      ["process.pid", { int: "4321" }],
      ["sample.ratio", { double: 0.25 }],
      ["feature.on", { bool: false }],
    ]);
  });

  it("sums: delta and cumulative, monotonic or not, int and double", () => {
    const sum = (
      name: string,
      temporality: AggregationTemporality,
      isMonotonic: boolean,
      valueType: ValueType,
      values: number[],
    ): MetricData => ({
      descriptor: descriptor(name, valueType, "{packet}"),
      aggregationTemporality: temporality,
      dataPointType: DataPointType.SUM,
      isMonotonic,
      dataPoints: values.map((v) => point(v, legAttributes)),
    });
    const view = roundTrip(
      request([
        sum("lost", AggregationTemporality.DELTA, true, ValueType.INT, [0, 3, 2 ** 40]),
        sum("total", AggregationTemporality.CUMULATIVE, true, ValueType.INT, [1, 5]),
        sum("updown", AggregationTemporality.CUMULATIVE, false, ValueType.DOUBLE, [-2.5, 1e300]),
        sum("updown.delta", AggregationTemporality.DELTA, false, ValueType.INT, [-1, -(2 ** 53)]),
      ]),
    );
    assert.deepEqual(
      view.scopes[0]?.metrics.map((m) => [m.temporality, m.monotonic]),
      [
        ["AGGREGATION_TEMPORALITY_DELTA", true],
        ["AGGREGATION_TEMPORALITY_CUMULATIVE", true],
        ["AGGREGATION_TEMPORALITY_CUMULATIVE", false],
        ["AGGREGATION_TEMPORALITY_DELTA", false],
      ],
    );
  });

  it("histograms: count, sum, buckets, bounds, with and without min/max/sum", () => {
    const histogram = (temporality: AggregationTemporality, points: DataPoint<Histogram>[]) =>
      ({
        descriptor: descriptor("freeswitch.rtcp.report.jitter"),
        aggregationTemporality: temporality,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: points,
      }) satisfies MetricData;
    const aggregate = Object.freeze({ fs_instance: "fs1", direction: "outbound" });
    const view = roundTrip(
      request([
        histogram(AggregationTemporality.CUMULATIVE, [
          histogramPoint(
            {
              buckets: { boundaries: [1, 2, 5, 10], counts: [4, 0, 7, 1, 2 ** 33] },
              count: 12 + 2 ** 33,
              sum: 83.25,
              min: 0.5,
              max: 1234.5,
            },
            aggregate,
          ),
          // What the SDK gives when min/max are not recorded, and for a gauge's histogram
          // (negative values allowed: no sum).
          histogramPoint({ buckets: { boundaries: [0], counts: [0, 3] }, count: 3 }, {}),
          histogramPoint({ buckets: { boundaries: [], counts: [] }, count: 0, sum: 0 }),
        ]),
        histogram(AggregationTemporality.DELTA, [
          histogramPoint(
            { buckets: { boundaries: [0.005], counts: [1, 1] }, count: 2, sum: 0.5, min: 0 },
            { "otel.metric.overflow": true },
          ),
        ]),
      ]),
    );
    const first = view.scopes[0]?.metrics[0]?.points[0] as HistogramPointView;
    assert.deepEqual(first.bucketCounts, ["4", "0", "7", "1", "8589934592"]);
    assert.equal(first.min, 0.5);
    const second = view.scopes[0]?.metrics[0]?.points[1] as HistogramPointView;
    assert.deepEqual([second.sum, second.min, second.max], [null, null, null]);
  });

  it("attributes: string, bool, int, double, empty sets, unicode, overflow, no value, arrays", () => {
    const view = roundTrip(
      request([
        gauge("g", [
          point(1, { s: "x", b: true, f: false, i: 42, n: -42, d: 2.5, z: 0 }),
          point(2, {}),
          point(3, { "otel.metric.overflow": true }),
          point(4, { "ключ 🔑": "значение ✓ 日本語", "": "", e: "" }),
          point(5, { big: 2 ** 62, min: -(2 ** 63), past: 2 ** 63, inf: Number.NEGATIVE_INFINITY }),
          point(6, { gone: undefined, list: ["a", "b"], nums: [1, 2] }),
        ]),
      ]),
    );
    const points = view.scopes[0]?.metrics[0]?.points as NumberPointView[];
    assert.deepEqual(points[1]?.attributes, [], "an empty set has no KeyValue");
    assert.deepEqual(points[2]?.attributes, [["otel.metric.overflow", { bool: true }]]);
    assert.deepEqual(points[4]?.attributes, [
      ["big", { int: "4611686018427387904" }],
      ["min", { int: "-9223372036854775808" }],
      ["past", { double: 2 ** 63 }],
      ["inf", { double: Number.NEGATIVE_INFINITY }],
    ]);
    assert.deepEqual(points[5]?.attributes, [
      ["list", { string: '["a","b"]' }],
      ["nums", { string: "[1,2]" }],
    ]);
  });

  it("resource and scope details: unicode names, schema URLs, no version, several scopes", () => {
    const rm: ResourceMetrics = {
      resource: resourceFromAttributes(
        { "service.name": "fsägent ✓" },
        { schemaUrl: "https://opentelemetry.io/schemas/1.30.0" },
      ),
      scopeMetrics: [
        {
          scope: { name: "fsagent", version: "0.1.0", schemaUrl: "https://example.com/s" },
          metrics: [gauge("métrique.ünïcode ✓", [point(1, legAttributes)])],
        },
        { scope: { name: "other" }, metrics: [] },
        {
          scope: { name: "third", version: "" },
          metrics: [
            {
              descriptor: { name: "n", description: "", unit: "", valueType: ValueType.INT },
              aggregationTemporality: AggregationTemporality.DELTA,
              dataPointType: DataPointType.GAUGE,
              dataPoints: [],
            },
          ],
        },
      ],
    };
    const view = roundTrip(rm);
    assert.equal(view.scopes.length, 3);
  });

  it("an empty request: the resource only", () => {
    const view = roundTrip({ resource, scopeMetrics: [] });
    assert.deepEqual(view.scopes, []);
  });

  it("refuses an exponential histogram instead of sending a wrong request", () => {
    const rm: ResourceMetrics = {
      resource,
      scopeMetrics: [
        {
          scope: { name: "s" },
          metrics: [
            {
              descriptor: descriptor("e"),
              aggregationTemporality: AggregationTemporality.DELTA,
              dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
              dataPoints: [],
            },
          ],
        },
      ],
    };
    assert.throws(() => new MetricsRequestEncoder().encode(rm), /exponential histogram e/);
  });

  it("encodes the agent's own producer output (per-leg gauges, packets_lost sum, cumulative histograms)", async () => {
    let now = 1_764_000_000_000;
    const producer = perLegProducer({ maxLegs: 100, cardinalityLimit: 3, now: () => now });
    const legLabels = (channelId: string): LegLabels => ({
      channelId,
      correlationId: `corr-${channelId}`,
      domainName: "pbx.example.com",
      callDirection: "inbound",
      codecName: "PCMU",
      srcIp: "198.51.100.7",
      dstIp: "203.0.113.5",
    });
    const observation = (l: LegLabels, direction: ReportDirection, i: number): RtcpObservation => ({
      instance: "fs1",
      labels: l,
      direction,
      jitterMs: 3 + i,
      fractionLost: i / 100,
      packetsLost: i,
      rttMs: direction === "inbound" ? 20 + i : undefined,
      mos: 4.2,
    });
    // Three legs, two directions: past the cardinality limit of 3, so an overflow series too.
    for (let i = 0; i < 3; i++) {
      const l = legLabels(`leg-${i}`);
      producer.record(observation(l, "inbound", i));
      producer.record(observation(l, "outbound", i));
    }
    now += 1_234;
    const { resourceMetrics } = await producer.collect();
    const names = resourceMetrics.scopeMetrics[0]?.metrics.map((m) => m.descriptor.name);
    assert.ok(names?.includes("freeswitch.rtcp.packets_lost"));
    assert.ok(names?.includes("freeswitch.rtcp.report.jitter"));
    const view = roundTrip(resourceMetrics);
    const overflow = view.scopes[0]?.metrics[0]?.points.some((p) =>
      p.attributes.some(([k]) => k === "otel.metric.overflow"),
    );
    assert.ok(overflow, "the overflow series is there");
  });
});

/** The agent's RTCP producer with per-leg series on, as the encoder tests use it. */
function perLegProducer(options: {
  maxLegs: number;
  cardinalityLimit: number;
  now: () => number;
}): RtcpSeriesProducer {
  return new RtcpSeriesProducer({
    ...options,
    perLeg: true,
    maxAggregates: 10,
    scope: { name: "fsagent", version: "0.1.0" },
    resource,
  });
}

describe("per-leg points stored by column", () => {
  async function collected() {
    const producer = perLegProducer({
      maxLegs: 1000,
      cardinalityLimit: 1000,
      now: () => 1_764_000_000_000,
    });
    for (let i = 0; i < 50; i++) {
      const labels: LegLabels = {
        channelId: `leg-${i}`,
        correlationId: `call-${i >> 1}`,
        domainName: `tenant-${i % 3}.example`,
        callDirection: i % 2 === 0 ? "inbound" : "outbound",
        codecName: "PCMA",
        srcIp: "198.51.100.7",
        dstIp: "203.0.113.5",
      };
      for (const direction of ["inbound", "outbound"] as const) {
        producer.record({
          instance: "fs1",
          labels,
          direction,
          jitterMs: i / 7,
          fractionLost: (i % 5) / 256,
          packetsLost: i,
          rttMs: direction === "inbound" ? 10 + i / 3 : undefined,
          mos: 4.1 + i / 1000,
        });
      }
    }
    return (await producer.collect()).resourceMetrics;
  }

  /** The same metrics with every column metric replaced by its SDK-shaped points. */
  function asPlainPoints(rm: ResourceMetrics): ResourceMetrics {
    return {
      resource: rm.resource,
      scopeMetrics: rm.scopeMetrics.map((s) => ({
        scope: s.scope,
        metrics: s.metrics.map((m) =>
          m.dataPointType === DataPointType.SUM
            ? {
                descriptor: m.descriptor,
                aggregationTemporality: m.aggregationTemporality,
                dataPointType: m.dataPointType,
                isMonotonic: m.isMonotonic,
                dataPoints: [...m.dataPoints],
              }
            : ({ ...m, dataPoints: [...m.dataPoints] } as MetricData),
        ),
      })),
    };
  }

  it("encodes exactly the bytes of the same points as DataPoint objects", async () => {
    const rm = await collected();
    const columns = rm.scopeMetrics[0]!.metrics.filter(isColumnMetric);
    assert.equal(columns.length, 5, "jitter, fraction lost, packets lost, rtt, mos");
    assert.equal(pointCount(columns[3]!), 50, "rtt: inbound reports only");
    const fast = new MetricsRequestEncoder().encode(rm);
    const plain = new MetricsRequestEncoder().encode(asPlainPoints(rm));
    assert.ok(fast.equals(plain));
    const view = roundTrip(rm);
    const jitter = view.scopes[0]?.metrics.find((m) => m.name === "freeswitch.rtcp.jitter");
    assert.equal(jitter?.points.length, 100);
  });

  it("splits into requests of at most N points, slicing columns as views, nothing lost", async () => {
    const rm = await collected();
    const requests = splitRequests(rm, 37);
    let total = 0;
    const encoder = new MetricsRequestEncoder();
    const byName = new Map<string, number>();
    for (const request of requests) {
      let n = 0;
      for (const scope of request.scopeMetrics) {
        for (const metric of scope.metrics) {
          n += pointCount(metric);
        }
      }
      assert.ok(n <= 37, `${n} points`);
      total += n;
      for (const m of roundTrip(request, encoder).scopes.flatMap((s) => s.metrics)) {
        byName.set(m.name, (byName.get(m.name) ?? 0) + m.points.length);
      }
    }
    let expected = 0;
    for (const metric of rm.scopeMetrics[0]!.metrics) expected += pointCount(metric);
    assert.equal(total, expected);
    assert.equal(byName.get("freeswitch.rtcp.jitter"), 100);
    assert.equal(byName.get("freeswitch.rtcp.rtt"), 50);
  });
});

describe("OTLP metrics encoder: the attribute cache", () => {
  it("encodes a frozen set once for all its points, request after request", () => {
    const encoder = new MetricsRequestEncoder();
    const shared = Object.freeze({ ...legAttributes });
    const points = Array.from({ length: 500 }, (_, i) => point(i / 10, shared));
    roundTrip(request([gauge("a", points), gauge("b", points.slice(0, 7))]), encoder);
    // The resource's attributes (not frozen) and the shared set.
    assert.equal(encoder.attributeSetsEncoded, 2);
    for (let round = 0; round < 3; round++) {
      roundTrip(request([gauge("a", points.slice(round))]), encoder);
    }
    assert.equal(encoder.attributeSetsEncoded, 2 + 3, "only the resource again, once per request");
  });

  it("encodes a set that is not frozen again in each request, so a change shows", () => {
    const encoder = new MetricsRequestEncoder();
    const mutable: Record<string, string | number> = { channel_id: "a", n: 1 };
    const metrics = () => [gauge("g", [point(1, mutable), point(2, mutable), point(3, mutable)])];
    roundTrip(request(metrics()), encoder);
    const before = encoder.attributeSetsEncoded;
    mutable.channel_id = "b";
    mutable.n = 2.5;
    mutable.added = "new";
    const view = roundTrip(request(metrics()), encoder);
    assert.deepEqual(view.scopes[0]?.metrics[0]?.points[2]?.attributes, [
      ["channel_id", { string: "b" }],
      ["n", { double: 2.5 }],
      ["added", { string: "new" }],
    ]);
    // Once per request (shared by its three points), plus the resource.
    assert.equal(encoder.attributeSetsEncoded - before, 2);
  });

  it("does not keep a frozen set holding an array (the array can still change)", () => {
    const encoder = new MetricsRequestEncoder();
    const list = ["a"];
    const frozen = Object.freeze({ list });
    roundTrip(request([gauge("g", [point(1, frozen)])]), encoder);
    list.push("b");
    const view = roundTrip(request([gauge("g", [point(1, frozen)])]), encoder);
    assert.deepEqual(view.scopes[0]?.metrics[0]?.points[0]?.attributes, [
      ["list", { string: '["a","b"]' }],
    ]);
  });

  it("keeps a frozen set's bytes right while later requests reuse the space of unfrozen ones", () => {
    const encoder = new MetricsRequestEncoder();
    const kept = Object.freeze({ domain_name: "tenant-1.example", direction: "inbound" });
    roundTrip(request([gauge("g", [point(1, kept)])]), encoder);
    // Many unfrozen sets, long enough to overflow and replace the encoder's 64 KiB arena.
    for (let round = 0; round < 3; round++) {
      const legs = Array.from({ length: 400 }, (_, i) =>
        point(i, { channel_id: `leg-${round}-${i}`.padEnd(200, "x"), direction: "outbound" }),
      );
      roundTrip(request([gauge("g", legs)]), encoder);
    }
    const view = roundTrip(
      request([gauge("g", [point(2, kept), point(3, { other: "é unicode ✓" })])]),
      encoder,
    );
    const points = view.scopes[0]?.metrics[0]?.points;
    assert.deepEqual(points?.[0]?.attributes, [
      ["domain_name", { string: "tenant-1.example" }],
      ["direction", { string: "inbound" }],
    ]);
    assert.deepEqual(points?.[1]?.attributes, [["other", { string: "é unicode ✓" }]]);
  });

  it("keeps a frozen set apart per field: the same object on a gauge and a histogram", () => {
    const encoder = new MetricsRequestEncoder();
    const shared = Object.freeze({ k: "v" });
    roundTrip(
      request([
        gauge("g", [point(1, shared)]),
        {
          descriptor: descriptor("h"),
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: [
            histogramPoint({ buckets: { boundaries: [1], counts: [1, 0] }, count: 1 }, shared),
          ],
        },
      ]),
      encoder,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const INT64_EDGES = [
  0,
  -0,
  1,
  -1,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 32,
  -(2 ** 32),
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  2 ** 53,
  2 ** 62,
  -(2 ** 63),
  2 ** 63, // not an int64: as a double
  -(2 ** 64),
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.EPSILON,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

const anyNumber = fc.oneof(
  fc.constantFrom(...INT64_EDGES),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b) => Number(b)),
  fc.double(),
);

/** Any UTF-16 text, lone surrogates included. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    fc.constantFrom("\uD800", "\uDBFF", "\uDC00", "\uDFFF"),
  ),
  maxLength: 40,
});

describe("OTLP metrics encoder: properties", () => {
  it("number point values: as_int for an int64 of an INT metric, else as_double, exactly", () => {
    fc.assert(
      fc.property(fc.array(anyNumber, { minLength: 1, maxLength: 20 }), (values) => {
        roundTrip(
          request([
            gauge(
              "int",
              values.map((v) => point(v)),
              ValueType.INT,
            ),
            gauge(
              "double",
              values.map((v) => point(v)),
              ValueType.DOUBLE,
            ),
          ]),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("attribute numbers and booleans", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(anyNumber, fc.boolean()), {
          maxKeys: 6,
        }),
        (attributes) => {
          roundTrip(request([gauge("g", [point(1, Object.freeze(attributes))])]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("strings anywhere: keys, values, metric name, description, unit, scope", () => {
    fc.assert(
      fc.property(
        fc.dictionary(anyText, anyText, { maxKeys: 5 }),
        anyText,
        anyText,
        anyText,
        anyText,
        (attributes, name, description, unit, scope) => {
          const metric: MetricData = {
            descriptor: { name, description, unit, valueType: ValueType.DOUBLE },
            aggregationTemporality: AggregationTemporality.DELTA,
            dataPointType: DataPointType.GAUGE,
            dataPoints: [point(1, attributes), point(2, Object.freeze({ ...attributes }))],
          };
          roundTrip(request([metric], { name: scope, version: unit }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("long strings and large sets: lengths past one varint byte", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", minLength: 100, maxLength: 20_000 }),
        fc.integer({ min: 1, max: 300 }),
        (text, keys) => {
          const attributes: Record<string, string> = {};
          for (let i = 0; i < keys; i++) attributes[`k${i}`] = text.slice(0, i * 7);
          roundTrip(request([gauge(text, [point(1, attributes)])]));
        },
      ),
      { numRuns: 40 },
    );
  });

  it("times: any HrTime up to the year 2500, nanoseconds exact", () => {
    const hrTime = fc.tuple(
      fc.integer({ min: 0, max: 16_725_225_600 }),
      fc.integer({ min: 0, max: 999_999_999 }),
    );
    fc.assert(
      fc.property(hrTime, hrTime, (start, end) => {
        roundTrip(request([gauge("t", [point(1, {}, start, end)])]));
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The Export response and the exporter

interface ResponseType {
  fromObject(object: object): object;
  encode(message: object): { finish(): Uint8Array };
}

const officialRoot = createRequire(
  createRequire(import.meta.url).resolve("@opentelemetry/otlp-transformer/package.json"),
)("./build/src/generated/root.js") as {
  opentelemetry: {
    proto: {
      collector: { metrics: { v1: { ExportMetricsServiceResponse: ResponseType } } };
    };
  };
};
const ExportResponse =
  officialRoot.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;

function response(object: object): Buffer {
  return Buffer.from(ExportResponse.encode(ExportResponse.fromObject(object)).finish());
}

describe("ExportMetricsServiceResponse: partial_success", () => {
  it("reads what the official encoder writes", () => {
    assert.equal(decodePartialSuccess(response({})), null);
    assert.equal(decodePartialSuccess(response({ partialSuccess: {} })), null);
    assert.deepEqual(
      decodePartialSuccess(
        response({ partialSuccess: { rejectedDataPoints: "300", errorMessage: "bad ✓" } }),
      ),
      { rejectedDataPoints: 300, errorMessage: "bad ✓" },
    );
    assert.deepEqual(
      decodePartialSuccess(response({ partialSuccess: { errorMessage: "just a warning" } })),
      { rejectedDataPoints: 0, errorMessage: "just a warning" },
    );
  });

  it("skips unknown fields and refuses truncated bytes", () => {
    // Field 9 (varint 5), field 10 (fixed64), field 11 (fixed32), then partial_success.
    const unknown = Buffer.from([0x48, 5, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5d, 1, 2, 3, 4]);
    const known = response({ partialSuccess: { rejectedDataPoints: "2" } });
    assert.deepEqual(decodePartialSuccess(Buffer.concat([unknown, known])), {
      rejectedDataPoints: 2,
      errorMessage: "",
    });
    assert.throws(() => decodePartialSuccess(known.subarray(0, known.length - 1)), /truncated/);
  });
});

describe("grpcAddress", () => {
  it("keeps host:port as written, dropping scheme and path", () => {
    assert.equal(grpcAddress("collector:4317"), "collector:4317");
    assert.equal(grpcAddress("http://collector:4317"), "collector:4317");
    assert.equal(grpcAddress("HTTPS://collector:443/otlp/v1"), "collector:443");
    // URL.host would drop the scheme's default port, and grpc-js would dial 443.
    assert.equal(grpcAddress("http://collector:80"), "collector:80");
    assert.equal(grpcAddress("https://[::1]:4317"), "[::1]:4317");
  });
});

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function captureLogger(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger = pino(
    { level: "debug", base: null, timestamp: false },
    { write: (text: string) => lines.push(JSON.parse(text) as Line) },
  );
  return { logger, lines };
}

/** A Collector stand-in answering every Export with `answer` (bytes) or an error status. */
async function stubCollector(
  answer: (call: ServerUnaryCall<Buffer, Buffer>, reply: sendUnaryData<Buffer>) => void,
  listenPort = 0,
): Promise<{ address: string; received: Buffer[]; metadata: Metadata[]; close(): void }> {
  const server = new Server();
  const received: Buffer[] = [];
  const metadata: Metadata[] = [];
  server.addService(
    {
      Export: {
        path: METRICS_EXPORT_METHOD,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, reply: sendUnaryData<Buffer>) => {
        received.push(call.request);
        metadata.push(call.metadata);
        answer(call, reply);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${listenPort}`, ServerCredentials.createInsecure(), (error, p) =>
      error === null ? resolve(p) : reject(error),
    ),
  );
  return { address: `127.0.0.1:${port}`, received, metadata, close: () => server.forceShutdown() };
}

/**
 * Our transport over plaintext HTTP/2 to `address`, each export with a deadline of `timeoutMs`;
 * the rest as given or a default.
 */
function plaintextExporter(
  address: string,
  timeoutMs: number,
  overrides: Partial<Pick<OtlpTransportOptions, "headers" | "logger" | "compression">> = {},
) {
  const transport = new OtlpMetricsTransport({
    address,
    tls: null,
    headers: {},
    logger: captureLogger().logger,
    endpoint: address,
    ...overrides,
  });
  return {
    export: (rm: ResourceMetrics, done: (result: ExportResult) => void) =>
      transport.send(rm, timeoutMs, done),
    forceFlush: () => transport.forceFlush(),
    shutdown: () => transport.shutdown(),
  };
}

function exportOnce(
  exporter: ReturnType<typeof plaintextExporter>,
  rm: ResourceMetrics,
): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(rm, resolve));
}

describe("OtlpMetricsTransport", () => {
  it("sends the encoded request with the metadata, and warns once about a partial success", async () => {
    const partial = response({
      partialSuccess: { rejectedDataPoints: "2", errorMessage: "2 points\nout of range" },
    });
    const collector = await stubCollector((_call, reply) => reply(null, partial));
    const { logger, lines } = captureLogger();
    const headers = { authorization: "Bearer token-1234" };
    const exporter = plaintextExporter(collector.address, 2000, { headers, logger });
    try {
      const rm = request([gauge("g", [point(1, legAttributes)])]);
      for (let i = 0; i < 3; i++) assert.deepEqual(await exportOnce(exporter, rm), { code: 0 });
      assert.equal(collector.received.length, 3);
      assert.deepStrictEqual(decode(collector.received[0]!), expected(rm));
      assert.deepEqual(collector.metadata[0]?.get("authorization"), ["Bearer token-1234"]);
      assert.match(String(collector.metadata[0]?.get("user-agent")[0]), /^fsagent\//);
      // The caller's headers are left as they were (the protocol's own go to each call's copy).
      assert.deepEqual(headers, { authorization: "Bearer token-1234" });
      const warns = lines.filter((l) => l.level === 40);
      assert.equal(warns.length, 1, `rate-limited: ${JSON.stringify(lines)}`);
      assert.equal(warns[0]?.rejectedDataPoints, 2);
      assert.equal(warns[0]?.error, "2 points out of range");
    } finally {
      await exporter.shutdown();
      collector.close();
    }
  });

  it("fails with the gRPC status in the message, waits for exports in flight, then refuses after shutdown", async () => {
    const collector = await stubCollector((_call, reply) =>
      setTimeout(() => reply({ code: status.UNAVAILABLE, details: "overloaded" }), 100),
    );
    const exporter = plaintextExporter(collector.address, 2000);
    try {
      const results: { code: number; error?: Error }[] = [];
      const rm = request([gauge("g", [point(1)])]);
      exporter.export(rm, (r) => results.push(r));
      exporter.export(rm, (r) => results.push(r));
      await exporter.forceFlush();
      assert.equal(results.length, 2, "forceFlush waited for both");
      assert.equal(results[0]?.code, 1);
      assert.match(results[0]?.error?.message ?? "", /^14 UNAVAILABLE: overloaded/);
      await exporter.shutdown();
      const late = await exportOnce(exporter, rm);
      assert.equal(late.code, 1);
      assert.match(late.error?.message ?? "", /shut down/);
    } finally {
      collector.close();
    }
  });

  it("bounds the exports in flight and reports a deadline as DEADLINE_EXCEEDED", async () => {
    const collector = await stubCollector(() => {
      // Never answers.
    });
    const exporter = plaintextExporter(collector.address, 300);
    try {
      const rm = request([gauge("g", [point(1)])]);
      const results: { code: number; error?: Error }[] = [];
      for (let i = 0; i < 31; i++) exporter.export(rm, (r) => results.push(r));
      assert.equal(results.length, 1, "the 31st fails at once");
      assert.match(results[0]?.error?.message ?? "", /30 OTLP metrics exports already in flight/);
      await exporter.forceFlush();
      assert.equal(results.length, 31);
      assert.match(results[1]?.error?.message ?? "", /DEADLINE_EXCEEDED/);
    } finally {
      await exporter.shutdown();
      collector.close();
    }
  });

  it("connects again at the next export after the Collector restarted on its port", async () => {
    let answers = 0;
    const first = await stubCollector((_call, reply) => {
      answers++;
      reply(null, Buffer.alloc(0));
    });
    const exporter = plaintextExporter(first.address, 2000);
    const rm = request([gauge("g", [point(1)])]);
    let second: Awaited<ReturnType<typeof stubCollector>> | undefined;
    try {
      assert.deepEqual(await exportOnce(exporter, rm), { code: 0 });
      first.close();
      // The first export may still meet the closing connection (a refused stream); by the next
      // one nothing listens, and the export fails at once with the reason instead of waiting.
      const closing = await exportOnce(exporter, rm);
      assert.match(closing.error?.message ?? "", /^14 UNAVAILABLE: /);
      const down = await exportOnce(exporter, rm);
      assert.match(down.error?.message ?? "", /^14 UNAVAILABLE: .*ECONNREFUSED/);
      second = await stubCollector(
        (_call, reply) => {
          answers++;
          reply(null, Buffer.alloc(0));
        },
        Number(first.address.split(":")[1]),
      );
      assert.deepEqual(await exportOnce(exporter, rm), { code: 0 });
      assert.equal(answers, 2);
      assert.equal(second.received.length, 1);
    } finally {
      await exporter.shutdown();
      second?.close();
    }
  });
});
