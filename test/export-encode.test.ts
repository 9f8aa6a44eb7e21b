// The OTLP metrics encoder (src/export/otlp-encode.ts) and the transport around it
// (OtlpMetricsTransport in src/export/metric-exporter.ts). Every request is decoded with the
// official generated protobuf root (the one the test receiver uses), never with our own reading,
// and compared field by field with the ResourceMetrics it was made from.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ValueType } from "@opentelemetry/api";
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
import { isColumnMetric, pointCount } from "../src/export/column-points.js";
import { splitRequests } from "../src/export/metric-batches.js";
import { decodePartialSuccess } from "../src/export/otlp-decode.js";
import { MetricsRequestEncoder } from "../src/export/otlp-encode.js";
import { grpcAddress } from "../src/export/otlp-target.js";
import { RtcpSeriesProducer } from "../src/export/rtcp-series.js";
import type { LegLabels, ReportDirection, RtcpObservation } from "../src/quality/types.js";
import {
  descriptor,
  gauge,
  type HistogramPointView,
  histogramPoint,
  legAttributes,
  type NumberPointView,
  point,
  request,
  resource,
  response,
  roundTrip,
} from "./support/otlp-views.js";

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
