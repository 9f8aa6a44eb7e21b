// How the export sender (sender.ts) acts on what a failed export says of itself
// (export-failure.ts), for both signals' data (metric-batches.ts, log-exporter.ts), with
// node:test's mock timers instead of sleeps: a Retry-After holds the queue back exactly as long as
// the server asked (fresh data still goes), a refusal is dropped and not retried, and an
// UNIMPLEMENTED drops the queue with one warning naming the fix. The transport is a script here,
// because time is what is under test; the same paths run against real servers in
// export-http.test.ts and export-failure-logs.test.ts. Also: Retry-After parsing and the HTTP
// status rules.

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { status as grpcStatus } from "@grpc/grpc-js";
import type { Attributes, HrTime } from "@opentelemetry/api";
import { ValueType } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import {
  AggregationTemporality,
  DataPointType,
  type MetricData,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import pino from "pino";
import type { ExportResult } from "../src/export/export-result.js";
import { GrpcCallError } from "../src/export/grpc-unary.js";
import {
  HttpCallError,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  statusError,
} from "../src/export/http-unary.js";
import { logsSignal, RecordExporter } from "../src/export/log-exporter.js";
import { metricsSignal } from "../src/export/metric-batches.js";
import { ExportSender, type Transport } from "../src/export/sender.js";

const SUCCESS = { code: 0 } as const;

function failed(error: Error): ExportResult {
  return { code: 1, error };
}

function unavailable(retryAfterMs: number | null): HttpCallError {
  return new HttpCallError(503, "HTTP 503", true, retryAfterMs, "HTTP 503 Service Unavailable");
}

// ---------------------------------------------------------------------------------------------
// A scripted transport: answers each request with the next scripted result (then success), at
// once, and keeps what it was given.

class Scripted<B> implements Transport<B> {
  readonly calls: B[] = [];
  constructor(private readonly script: ExportResult[]) {}
  send(request: B, _timeoutMs: number, done: (result: ExportResult) => void): void {
    this.calls.push(request);
    done(this.script.shift() ?? SUCCESS);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function logger(lines: { level: number; msg: string }[] = []) {
  return pino({ level: "info", base: null }, { write: (t: string) => lines.push(JSON.parse(t)) });
}

/** The sender's options common to both signals: a queue of 100, backoff 100 ms to 1 s. */
const common = {
  capacity: 100,
  maxItemsPerRequest: 1000,
  timeoutMs: 10_000,
  backoff: { initialMs: 100, maxMs: 1000 },
  endpoint: "collector:4317",
  secrets: [],
};

const T: HrTime = [1_764_000_000, 0];
const resource = resourceFromAttributes({ "service.name": "fsagent" });

function gauge(name: string, channels: string[]): MetricData {
  return {
    descriptor: { name, unit: "1", description: "", valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.DELTA,
    dataPointType: DataPointType.GAUGE,
    dataPoints: channels.map((channel) => ({
      startTime: T,
      endTime: T,
      attributes: { channel_id: channel } satisfies Attributes,
      value: 4,
    })),
  };
}

function metrics(...list: MetricData[]): ResourceMetrics {
  return { resource, scopeMetrics: [{ scope: { name: "fsagent" }, metrics: list }] };
}

/** The channel_id of every QoS point in a request. */
function qosChannels(request: ResourceMetrics | undefined): string[] {
  const out: string[] = [];
  for (const scope of request?.scopeMetrics ?? []) {
    for (const metric of scope.metrics) {
      if (!metric.descriptor.name.startsWith("freeswitch.qos.")) continue;
      for (const point of metric.dataPoints) out.push(String(point.attributes.channel_id));
    }
  }
  return out;
}

function metricsSender(script: ExportResult[]) {
  const transport = new Scripted<ResourceMetrics>(script);
  const sender = new ExportSender({
    ...common,
    signal: metricsSignal,
    transport,
    logger: logger(),
  });
  return { transport, sender, stats: sender.stats };
}

function exportOnce(
  sender: ExportSender<ResourceMetrics, unknown>,
  request: ResourceMetrics,
): ExportResult[] {
  const results: ExportResult[] = [];
  sender.export(request, (r) => results.push(r));
  return results;
}

beforeEach(() => {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
});

afterEach(() => {
  mock.timers.reset();
});

describe("metrics: the retry queue and the failure's kind", () => {
  it("waits the Retry-After before sending the queue again, while fresh exports still go", () => {
    const { transport, sender, stats } = metricsSender([failed(unavailable(5000))]);
    exportOnce(sender, metrics(gauge("freeswitch.qos.mos_score", ["a", "b"])));
    assert.equal(stats.queued, 2);
    // A fresh export during the hold carries its own points, not the queue's.
    exportOnce(sender, metrics(gauge("freeswitch.qos.mos_score", ["c"])));
    assert.equal(transport.calls.length, 2);
    assert.deepEqual(qosChannels(transport.calls[1]), ["c"]);
    // The backoff alone (100 ms) would have retried long ago.
    mock.timers.tick(4999);
    assert.equal(transport.calls.length, 2, "nothing before the server's time");
    mock.timers.tick(1);
    assert.equal(transport.calls.length, 3);
    assert.deepEqual(qosChannels(transport.calls[2]), ["a", "b"]);
    assert.equal(stats.queued, 0);
    assert.equal(stats.retried, 2);
  });

  it("holds the queue as long as a gRPC RetryInfo asks, as for a Retry-After", () => {
    const exhausted = new GrpcCallError(grpcStatus.RESOURCE_EXHAUSTED, "slow down", 2000);
    const { transport, sender, stats } = metricsSender([failed(exhausted)]);
    exportOnce(sender, metrics(gauge("freeswitch.qos.mos_score", ["a"])));
    mock.timers.tick(1999);
    assert.equal(transport.calls.length, 1);
    mock.timers.tick(1);
    assert.equal(transport.calls.length, 2);
    assert.equal(stats.retried, 1);
  });

  it("without a Retry-After, retries on the backoff", () => {
    const { transport, sender, stats } = metricsSender([failed(unavailable(null))]);
    exportOnce(sender, metrics(gauge("freeswitch.qos.mos_score", ["a"])));
    mock.timers.tick(99);
    assert.equal(transport.calls.length, 1);
    mock.timers.tick(1);
    assert.equal(transport.calls.length, 2);
    assert.equal(stats.retried, 1);
  });

  it("drops a refused request's points at once, counted, and never sends them again", () => {
    const refused = new HttpCallError(400, "HTTP 400", false, null, "HTTP 400 Bad Request");
    const { transport, sender, stats } = metricsSender([failed(refused)]);
    exportOnce(
      sender,
      metrics(
        gauge("freeswitch.qos.mos_score", ["a", "b"]),
        gauge("freeswitch.rtcp.jitter", ["a"]),
      ),
    );
    mock.timers.tick(60_000);
    assert.equal(transport.calls.length, 1);
    assert.deepEqual(
      { retried: stats.retried, dropped: stats.dropped, queued: stats.queued },
      {
        retried: 0,
        dropped: { notRetried: 0, queueFull: 0, refused: 3, shutdown: 0 },
        queued: 0,
      },
    );
  });
});

describe("quality records: the retry queue and the failure's kind", () => {
  function records(n: number): ReadableLogRecord[] {
    return Array.from({ length: n }, () => ({}) as ReadableLogRecord);
  }

  function setup(script: ExportResult[]) {
    const transport = new Scripted<ReadableLogRecord[]>(script);
    const lines: { level: number; msg: string }[] = [];
    const sender = new ExportSender({
      ...common,
      signal: logsSignal,
      transport,
      logger: logger(lines),
    });
    const exporter = new RecordExporter(sender);
    const inner = {
      get calls() {
        return transport.calls.map((c) => c.length);
      },
    };
    return { inner, stats: sender.stats, lines, exporter };
  }

  it("waits the Retry-After, and tells the batch processor the records are in hand", () => {
    const { inner, stats, exporter } = setup([failed(unavailable(3000))]);
    const results: ExportResult[] = [];
    exporter.export(records(2), (r) => results.push(r));
    // SUCCESS to the processor: it would pass a FAILED result to the SDK's global error handler.
    assert.deepEqual(results, [{ code: 0 }]);
    assert.equal(stats.queued, 2);
    exporter.export(records(1), () => {});
    assert.deepEqual(inner.calls, [2, 1], "fresh records go during the hold, without the queue");
    mock.timers.tick(2999);
    assert.deepEqual(inner.calls, [2, 1]);
    mock.timers.tick(1);
    assert.deepEqual(inner.calls, [2, 1, 2]);
    assert.equal(stats.queued, 0);
    assert.equal(stats.retried, 2);
  });

  it("drops a refusal, counted, without a retry", () => {
    const refused = new HttpCallError(413, "HTTP 413", false, null, "HTTP 413 Payload Too Large");
    const { inner, stats, lines, exporter } = setup([failed(refused)]);
    exporter.export(records(3), () => {});
    mock.timers.tick(60_000);
    assert.deepEqual(inner.calls, [3]);
    assert.deepEqual(
      { dropped: stats.dropped, queued: stats.queued },
      { dropped: { notRetried: 0, queueFull: 0, refused: 3, shutdown: 0 }, queued: 0 },
    );
    assert.equal(lines.filter((l) => l.level === 40).length, 1);
  });

  it("on UNIMPLEMENTED drops the queue too and warns once per window with the fix", () => {
    const down = new GrpcCallError(grpcStatus.UNAVAILABLE, "connect ECONNREFUSED");
    const missing = () => new GrpcCallError(grpcStatus.UNIMPLEMENTED, "unknown service");
    const { inner, stats, lines, exporter } = setup([
      failed(down),
      failed(missing()),
      failed(missing()),
      failed(missing()),
    ]);
    exporter.export(records(4), () => {});
    assert.equal(stats.queued, 4, "an outage is worth a retry");
    // The next batch carries the queue and meets a Collector without a logs pipeline.
    exporter.export(records(1), () => {});
    assert.deepEqual(
      { refused: stats.dropped.refused, queued: stats.queued },
      { refused: 5, queued: 0 },
    );
    exporter.export(records(1), () => {});
    exporter.export(records(1), () => {});
    mock.timers.tick(60_000);
    assert.deepEqual(inner.calls, [4, 5, 1, 1], "nothing is retried");
    assert.equal(stats.dropped.refused, 7);
    const warned = lines.filter((l) => l.level === 40);
    assert.equal(warned.length, 2, JSON.stringify(warned));
    assert.match(warned[0]?.msg ?? "", /failed; they wait in the retry queue/);
    assert.match(
      warned[1]?.msg ?? "",
      /does not take quality records .*add a logs pipeline .*logs\.enabled: false/,
    );
  });
});

describe("Retry-After and the HTTP status rules", () => {
  it("reads delta-seconds and HTTP-dates, capped, and ignores what it cannot read", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("2", now), 2000);
    assert.equal(parseRetryAfter(" 0 ", now), 0);
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:03 GMT", now), 3000);
    assert.equal(parseRetryAfter("Wed, 31 Dec 2025 23:59:00 GMT", now), 0, "a past date: now");
    assert.equal(parseRetryAfter("86400", now), MAX_RETRY_AFTER_MS);
    assert.equal(parseRetryAfter("soon", now), null);
    assert.equal(parseRetryAfter("-5", now), null);
    assert.equal(parseRetryAfter(undefined, now), null);
  });

  it("retries 429, 502, 503 and 504 only; 404 is the missing-signal case", () => {
    const body = Buffer.alloc(0);
    for (const code of [429, 502, 503, 504]) {
      const error = statusError(code, { "retry-after": "7" }, body, 0);
      assert.equal(error?.retryable, true, String(code));
      assert.equal(error?.retryAfterMs, 7000, String(code));
    }
    for (const code of [400, 401, 403, 404, 405, 413, 415, 500, 501]) {
      const error = statusError(code, { "retry-after": "7" }, body, 0);
      assert.equal(error?.retryable, false, String(code));
      assert.equal(error?.retryAfterMs, null, String(code));
      assert.equal(error?.unimplemented, code === 404, String(code));
    }
    assert.equal(statusError(200, {}, body, 0), null);
    assert.equal(statusError(202, {}, body, 0), null);
    const moved = statusError(301, { location: "https://new.example/otlp/v1/metrics" }, body, 0);
    assert.match(
      moved?.message ?? "",
      /redirects are not followed; set the endpoint to https:\/\/new/,
    );
  });
});
