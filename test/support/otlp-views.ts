// Decoded views of OTLP metrics requests (by the official protobuf definitions) and what a request
// should hold, for the encoder's tests and the transport's.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
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
import { MetricsRequestEncoder } from "../../src/export/otlp-encode.js";
import { otlpMessages } from "./otlp-receiver.js";

// ---------------------------------------------------------------------------------------------
// Decoding with the official root, into a plain shape compared with what the input says.

export interface DecodedAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
}
export interface DecodedKeyValue {
  key?: string;
  value?: DecodedAnyValue;
}
export interface DecodedNumberPoint {
  attributes?: DecodedKeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  asDouble?: number;
  asInt?: string;
}
export interface DecodedHistogramPoint {
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
export interface DecodedMetric {
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
export interface DecodedRequest {
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

export type Value =
  | { readonly string: string }
  | { readonly bool: boolean }
  | { readonly int: string }
  | { readonly double: number };
export type KeyValues = [string, Value][];

export interface NumberPointView {
  readonly start: string;
  readonly time: string;
  readonly value: { readonly asInt: string } | { readonly asDouble: number };
  readonly attributes: KeyValues;
}
export interface HistogramPointView {
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
export interface MetricView {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly kind: "gauge" | "sum" | "histogram";
  readonly temporality: string | null;
  readonly monotonic: boolean | null;
  readonly points: (NumberPointView | HistogramPointView)[];
}
export interface RequestView {
  readonly resource: KeyValues;
  readonly schemaUrl: string;
  readonly scopes: {
    readonly name: string;
    readonly version: string;
    readonly schemaUrl: string;
    readonly metrics: MetricView[];
  }[];
}

export const TO_OBJECT = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: false,
};

export function decodeValue(value: DecodedAnyValue | undefined): Value {
  assert.ok(value !== undefined, "a KeyValue without a value");
  if (value.stringValue !== undefined) return { string: value.stringValue };
  if (value.boolValue !== undefined) return { bool: value.boolValue };
  if (value.intValue !== undefined) return { int: value.intValue };
  if (value.doubleValue !== undefined) return { double: value.doubleValue };
  assert.fail(`an AnyValue of no known kind: ${JSON.stringify(value)}`);
}

export function decodeAttributes(list: DecodedKeyValue[] | undefined): KeyValues {
  return (list ?? []).map((kv) => [kv.key ?? "", decodeValue(kv.value)]);
}

export function numberPointView(p: DecodedNumberPoint): NumberPointView {
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

export function histogramPointView(p: DecodedHistogramPoint): HistogramPointView {
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

export function metricView(m: DecodedMetric): MetricView {
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

export function decode(bytes: Uint8Array): RequestView {
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

export const TWO_63 = 2 ** 63;

export function isInt64(value: number): boolean {
  return Number.isInteger(value) && value >= -TWO_63 && value < TWO_63;
}

/** What a JS string becomes through UTF-8: lone surrogates turn into U+FFFD. */
export function wellFormed(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}

export function expectedValue(value: unknown): Value {
  if (typeof value === "string") return { string: wellFormed(value) };
  if (typeof value === "boolean") return { bool: value };
  if (typeof value === "number") {
    return isInt64(value) ? { int: BigInt(value).toString() } : { double: value };
  }
  return { string: wellFormed(JSON.stringify(value)) };
}

export function expectedAttributes(attributes: Attributes): KeyValues {
  const out: KeyValues = [];
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    out.push([wellFormed(key), expectedValue(value)]);
  }
  return out;
}

export function nanos(time: HrTime): string {
  return (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();
}

export function temporalityName(t: AggregationTemporality): string {
  return t === AggregationTemporality.DELTA
    ? "AGGREGATION_TEMPORALITY_DELTA"
    : "AGGREGATION_TEMPORALITY_CUMULATIVE";
}

export function expectedNumberPoint(p: DataPoint<number>, valueType: ValueType): NumberPointView {
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

export function expectedHistogramPoint(p: DataPoint<Histogram>): HistogramPointView {
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

export function expectedMetric(m: MetricData): MetricView {
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

export function expected(rm: ResourceMetrics): RequestView {
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
export function roundTrip(rm: ResourceMetrics, encoder = new MetricsRequestEncoder()): RequestView {
  const view = decode(encoder.encode(rm));
  assert.deepStrictEqual(view, expected(rm));
  return view;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

export const T0: HrTime = [1_764_000_000, 123_456_789];
export const T1: HrTime = [1_764_000_010, 987_654_321];

export const resource = resourceFromAttributes({
  "service.name": "fsagent",
  "service.version": "1.2.3",
  "host.name": "höst-ñ.example",
  "process.pid": 4321,
  "sample.ratio": 0.25,
  "feature.on": false,
});

export function descriptor(
  name: string,
  valueType = ValueType.DOUBLE,
  unit = "ms",
  description = "",
) {
  return { name, unit, description, valueType };
}

export function gauge(
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

export function point(value: number, attributes: Attributes = {}, start = T0, end = T1) {
  return { startTime: start, endTime: end, attributes, value };
}

export function request(metrics: MetricData[], scope = { name: "fsagent", version: "0.1.0" }) {
  return { resource, scopeMetrics: [{ scope, metrics }] } satisfies ResourceMetrics;
}

export const legAttributes = Object.freeze({
  fs_instance: "fs1",
  channel_id: "0f6c2d1e-6a0b-4c4e-9d7e-5f1a2b3c4d5e",
  correlation_id: "call-1@pbx.example.com",
  domain_name: "pbx.example.com",
  direction: "inbound",
});

export function histogramPoint(
  value: Histogram,
  attributes: Attributes = {},
): DataPoint<Histogram> {
  return { startTime: T0, endTime: T1, attributes, value };
}

// ---------------------------------------------------------------------------------------------

export interface ResponseType {
  fromObject(object: object): object;
  encode(message: object): { finish(): Uint8Array };
}

export const officialRoot = createRequire(
  createRequire(import.meta.url).resolve("@opentelemetry/otlp-transformer/package.json"),
)("./build/src/generated/root.js") as {
  opentelemetry: {
    proto: {
      collector: { metrics: { v1: { ExportMetricsServiceResponse: ResponseType } } };
    };
  };
};
export const ExportResponse =
  officialRoot.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;

export function response(object: object): Buffer {
  return Buffer.from(ExportResponse.encode(ExportResponse.fromObject(object)).finish());
}
