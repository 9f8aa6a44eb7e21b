// How the two retry queues (retry.ts for the metrics' end-of-call QoS, records.ts for the quality
// records) act on what a failed export says of itself (export-failure.ts), with node:test's mock
// timers instead of sleeps: a Retry-After holds the queue back exactly as long as the server
// asked (fresh data still goes), a refusal is dropped and not retried, and an UNIMPLEMENTED drops
// the queue with one warning naming the fix. The inner exporter is a script here, because time is
// what is under test; the same paths run against real servers in export-http.test.ts and
// export-unimplemented.test.ts. Also: Retry-After parsing and the HTTP status rules.

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
  InstrumentType,
  type MetricData,
  type PushMetricExporter,
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
import { emptyRecordStats, RetryingLogExporter } from "../src/export/records.js";
import { RetryingExporter, type RetryStats } from "../src/export/retry.js";

const SUCCESS = { code: 0 } as const;

function failed(error: Error): ExportResult {
  return { code: 1, error };
}

function unavailable(retryAfterMs: number | null): HttpCallError {
  return new HttpCallError(503, "HTTP 503", true, retryAfterMs, "HTTP 503 Service Unavailable");
}

// ---------------------------------------------------------------------------------------------
// A scripted inner exporter: answers each export with the next scripted result (then success),
// at once, and keeps what it was given.

class ScriptedMetrics implements PushMetricExporter {
  readonly calls: ResourceMetrics[] = [];
  constructor(private readonly script: ExportResult[]) {}
  export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    this.calls.push(metrics);
    done(this.script.shift() ?? SUCCESS);
  }
  selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return type === InstrumentType.GAUGE
      ? AggregationTemporality.DELTA
      : AggregationTemporality.CUMULATIVE;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

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

function retryStats(): RetryStats {
  return { qosPointsRetried: 0, qosPointsDropped: 0, rtcpPointsDropped: 0, retryQueued: 0 };
}

function exportOnce(exporter: RetryingExporter, request: ResourceMetrics): ExportResult[] {
  const results: ExportResult[] = [];
  exporter.export(request, (r) => results.push(r));
  return results;
}

beforeEach(() => {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
});

afterEach(() => {
  mock.timers.reset();
});

describe("metrics retry queue and the failure's kind", () => {
  it("waits the Retry-After before sending the queue again, while fresh exports still go", () => {
    const inner = new ScriptedMetrics([failed(unavailable(5000))]);
    const stats = retryStats();
    const retry = new RetryingExporter(inner, {
      stats,
      capacity: 100,
      maxPointsPerRequest: 1000,
      initialDelayMs: 100,
      maxDelayMs: 1000,
    });
    exportOnce(retry, metrics(gauge("freeswitch.qos.mos_score", ["a", "b"])));
    assert.equal(stats.retryQueued, 2);
    // A fresh export during the hold carries its own points, not the queue's.
    exportOnce(retry, metrics(gauge("freeswitch.qos.mos_score", ["c"])));
    assert.equal(inner.calls.length, 2);
    assert.deepEqual(qosChannels(inner.calls[1]), ["c"]);
    // The backoff alone (100 ms) would have retried long ago.
    mock.timers.tick(4999);
    assert.equal(inner.calls.length, 2, "nothing before the server's time");
    mock.timers.tick(1);
    assert.equal(inner.calls.length, 3);
    assert.deepEqual(qosChannels(inner.calls[2]), ["a", "b"]);
    assert.equal(stats.retryQueued, 0);
    assert.equal(stats.qosPointsRetried, 2);
  });

  it("without a Retry-After, retries on the backoff", () => {
    const inner = new ScriptedMetrics([failed(unavailable(null))]);
    const stats = retryStats();
    const retry = new RetryingExporter(inner, {
      stats,
      capacity: 100,
      maxPointsPerRequest: 1000,
      initialDelayMs: 100,
      maxDelayMs: 1000,
    });
    exportOnce(retry, metrics(gauge("freeswitch.qos.mos_score", ["a"])));
    mock.timers.tick(100);
    assert.equal(inner.calls.length, 2);
    assert.equal(stats.qosPointsRetried, 1);
  });

  it("drops a refused request's points at once, counted, and never sends them again", () => {
    const refused = new HttpCallError(400, "HTTP 400", false, null, "HTTP 400 Bad Request");
    const inner = new ScriptedMetrics([failed(refused)]);
    const stats = retryStats();
    const retry = new RetryingExporter(inner, {
      stats,
      capacity: 100,
      maxPointsPerRequest: 1000,
      initialDelayMs: 100,
      maxDelayMs: 1000,
    });
    exportOnce(
      retry,
      metrics(
        gauge("freeswitch.qos.mos_score", ["a", "b"]),
        gauge("freeswitch.rtcp.jitter", ["a"]),
      ),
    );
    mock.timers.tick(60_000);
    assert.equal(inner.calls.length, 1);
    assert.deepEqual(stats, {
      qosPointsRetried: 0,
      qosPointsDropped: 2,
      rtcpPointsDropped: 1,
      retryQueued: 0,
    });
  });
});

describe("quality-record retry queue and the failure's kind", () => {
  class ScriptedLogs {
    readonly calls: number[] = [];
    constructor(private readonly script: ExportResult[]) {}
    export(records: ReadableLogRecord[], done: (result: ExportResult) => void): void {
      this.calls.push(records.length);
      done(this.script.shift() ?? SUCCESS);
    }
    forceFlush(): Promise<void> {
      return Promise.resolve();
    }
    shutdown(): Promise<void> {
      return Promise.resolve();
    }
  }

  function records(n: number): ReadableLogRecord[] {
    return Array.from({ length: n }, () => ({}) as ReadableLogRecord);
  }

  function setup(script: ExportResult[]) {
    const inner = new ScriptedLogs(script);
    const stats = emptyRecordStats();
    const lines: { level: number; msg: string }[] = [];
    const logger = pino(
      { level: "info", base: null },
      { write: (t: string) => lines.push(JSON.parse(t)) },
    );
    const retry = new RetryingLogExporter(inner, {
      capacity: 100,
      stats,
      logger,
      endpoint: "collector:4317",
      secrets: [],
      initialDelayMs: 100,
      maxDelayMs: 1000,
    });
    return { inner, stats, lines, retry };
  }

  it("waits the Retry-After, and tells the batch processor the records are in hand", () => {
    const { inner, stats, retry } = setup([failed(unavailable(3000))]);
    const results: ExportResult[] = [];
    retry.export(records(2), (r) => results.push(r));
    // SUCCESS to the processor: it would pass a FAILED result to the SDK's global error handler.
    assert.deepEqual(results, [{ code: 0 }]);
    assert.equal(stats.queued, 2);
    retry.export(records(1), () => {});
    assert.deepEqual(inner.calls, [2, 1], "fresh records go during the hold, without the queue");
    mock.timers.tick(2999);
    assert.deepEqual(inner.calls, [2, 1]);
    // The timer fired at the backoff and found the hold; it goes at the end of it.
    mock.timers.tick(1);
    assert.deepEqual(inner.calls, [2, 1, 2]);
    assert.equal(stats.queued, 0);
    assert.equal(stats.retried, 2);
  });

  it("drops a refusal, counted, without a retry", () => {
    const refused = new HttpCallError(413, "HTTP 413", false, null, "HTTP 413 Payload Too Large");
    const { inner, stats, lines, retry } = setup([failed(refused)]);
    retry.export(records(3), () => {});
    mock.timers.tick(60_000);
    assert.deepEqual(inner.calls, [3]);
    assert.deepEqual({ dropped: stats.dropped, queued: stats.queued }, { dropped: 3, queued: 0 });
    assert.equal(lines.filter((l) => l.level === 40).length, 1);
  });

  it("on UNIMPLEMENTED drops the queue too and warns once per window with the fix", () => {
    const down = new GrpcCallError(grpcStatus.UNAVAILABLE, "connect ECONNREFUSED");
    const missing = () => new GrpcCallError(grpcStatus.UNIMPLEMENTED, "unknown service");
    const { inner, stats, lines, retry } = setup([
      failed(down),
      failed(missing()),
      failed(missing()),
      failed(missing()),
    ]);
    retry.export(records(4), () => {});
    assert.equal(stats.queued, 4, "an outage is worth a retry");
    // The next batch carries the queue and meets a Collector without a logs pipeline.
    retry.export(records(1), () => {});
    assert.deepEqual({ dropped: stats.dropped, queued: stats.queued }, { dropped: 5, queued: 0 });
    retry.export(records(1), () => {});
    retry.export(records(1), () => {});
    mock.timers.tick(60_000);
    assert.deepEqual(inner.calls, [4, 5, 1, 1], "nothing is retried");
    assert.equal(stats.dropped, 7);
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
