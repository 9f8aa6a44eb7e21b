// The quality-record sink (issue 8) against a real OTLP/gRPC receiver decoding the logs service
// with the official protobuf root: event name, attributes and their types, the resource, and the
// bounded retry queue through a Collector outage.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pino from "pino";
import type { OpenTelemetryConfig } from "../../src/config/types.js";
import {
  createRecordSink,
  MAX_RECORDS_PER_REQUEST,
  type RecordSink,
} from "../../src/export/records.js";
import { droppedTotal } from "../../src/export/sender.js";
import { QUALITY_RECORD_EVENT, type RecordAttributes } from "../../src/quality/record.js";
import type { OtlpReceiver } from "../support/otlp-receiver.js";
import { shareReceiver } from "../support/receiver-hooks.js";

let receiver: OtlpReceiver;
const sinks: RecordSink[] = [];

function config(overrides: Partial<OpenTelemetryConfig> = {}): OpenTelemetryConfig {
  return {
    enabled: true,
    protocol: "grpc",
    endpoint: receiver.endpoint,
    endpointExplicit: true,
    insecure: true,
    headers: { authorization: "Bearer records-secret" },
    compression: "none",
    serviceName: "fsagent",
    exportIntervalMs: 60_000,
    exportTimeoutMs: 2_000,
    retryQueueSize: 100,
    tls: { caFile: "", certFile: "", keyFile: "" },
    resourceAttributes: {},
    ...overrides,
  };
}

function sink(overrides: Partial<OpenTelemetryConfig> = {}): { sink: RecordSink; logs: string[] } {
  const logs: string[] = [];
  const logger = pino({ level: "debug", base: null }, { write: (line: string) => logs.push(line) });
  const created = createRecordSink(config(overrides), {
    logger,
    instanceId: "replica-test",
    finalFlushMs: 2000,
    retryDelayMs: { initial: 50, max: 200 },
    scheduledDelayMs: 50,
  });
  sinks.push(created);
  return { sink: created, logs };
}

function record(channelId: string, mos: number): RecordAttributes {
  return {
    fs_instance: "fs1",
    channel_id: channelId,
    correlation_id: `corr-${channelId}`,
    domain_name: "tenant-a.example",
    mos_score: mos,
    total_packets: 1500,
    inbound_reports: 3,
    hangup_cause: "NORMAL_CLEARING",
  };
}

shareReceiver(sinks, (started) => {
  receiver = started;
});

describe("quality records over OTLP logs", () => {
  it("exports one record per emit with the event name, typed attributes and the resource", async () => {
    const { sink: s, logs } = sink();
    s.emit(record("leg-1", 4.21), "leg leg-1 ended: MOS 4.21, NORMAL_CLEARING");
    s.emit(record("leg-2", 3.1), "leg leg-2 ended: MOS 3.1, NORMAL_CLEARING");
    await s.forceFlush();
    const records = receiver.logRecords();
    assert.equal(records.length, 2);
    const first = records[0]!;
    assert.equal(first.eventName, QUALITY_RECORD_EVENT);
    assert.equal(first.severityNumber, "SEVERITY_NUMBER_INFO");
    assert.equal(first.body, "leg leg-1 ended: MOS 4.21, NORMAL_CLEARING");
    assert.deepEqual(first.attributes, {
      fs_instance: "fs1",
      channel_id: "leg-1",
      correlation_id: "corr-leg-1",
      domain_name: "tenant-a.example",
      mos_score: 4.21,
      total_packets: 1500,
      inbound_reports: 3,
      hangup_cause: "NORMAL_CLEARING",
    });
    assert.equal(first.resource["service.name"], "fsagent");
    assert.equal(first.resource["service.instance.id"], "replica-test");
    assert.equal(first.scope.name, "fsagent");
    assert.equal(receiver.logRequests[0]?.metadata.authorization, "Bearer records-secret");
    assert.deepEqual(
      { emitted: s.stats.emitted, sent: s.stats.sent, dropped: droppedTotal(s.stats) },
      { emitted: 2, sent: 2, dropped: 0 },
    );
    assert.ok(!logs.join("").includes("records-secret"), "the header value is never logged");
  });

  it("reads no OTEL_EXPORTER_OTLP_* variable behind the configuration's back", async () => {
    // The SDK's logs exporter read these from the environment by itself; headers, compression
    // and the endpoint come from the configuration only.
    const names = [
      "OTEL_EXPORTER_OTLP_HEADERS",
      "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
      "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
      "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    ];
    const before = names.map((name) => process.env[name]);
    process.env.OTEL_EXPORTER_OTLP_HEADERS = "x-from-env=1";
    process.env.OTEL_EXPORTER_OTLP_LOGS_HEADERS = "x-logs-from-env=1";
    process.env.OTEL_EXPORTER_OTLP_LOGS_COMPRESSION = "gzip";
    process.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT = "http://127.0.0.1:1";
    try {
      receiver.clear();
      const { sink: s } = sink();
      s.emit(record("leg-env", 4), "leg leg-env ended");
      await s.forceFlush();
      assert.equal(receiver.logRecords().length, 1, "sent to the configured endpoint");
      const metadata = receiver.logRequests[0]?.metadata ?? {};
      assert.equal(metadata["x-from-env"], undefined);
      assert.equal(metadata["x-logs-from-env"], undefined);
      const encoding = metadata["grpc-encoding"];
      assert.ok(encoding === undefined || encoding === "identity", `grpc-encoding ${encoding}`);
      await s.shutdown();
    } finally {
      names.forEach((name, i) => {
        if (before[i] === undefined) delete process.env[name];
        else process.env[name] = before[i];
      });
    }
  });

  it("keeps the records of a Collector outage and delivers each exactly once after it", async () => {
    const { sink: s } = sink();
    receiver.behave("fail");
    for (let i = 0; i < 5; i++) s.emit(record(`out-${i}`, 4), "ended");
    await s.forceFlush();
    assert.ok(s.stats.exportErrors >= 1);
    assert.equal(s.stats.queued, 5, "waiting in the retry queue");
    // More legs end during the outage; the retry timer keeps trying with backoff.
    for (let i = 5; i < 8; i++) s.emit(record(`out-${i}`, 4), "ended");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(s.stats.sent, 0);
    receiver.behave("ok");
    await receiver.waitFor(() => s.stats.queued === 0 && s.stats.sent === 8, "delivery", 5000);
    const ids = receiver
      .logRecords()
      .map((r) => r.attributes.channel_id)
      .sort();
    assert.deepEqual(ids, [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `out-${i}`).sort());
    assert.equal(s.stats.retried, 8);
    assert.equal(droppedTotal(s.stats), 0);
  });

  it("sends a long outage's queue in requests of at most 1,000 records", async () => {
    // 18,000 records of ~250 B: one request would pass the receiver's 4 MiB limit (a
    // Collector's default), be refused, queued again and refused again for good.
    const { sink: s } = sink({ retryQueueSize: 20_000 });
    receiver.behave("fail");
    for (let i = 0; i < 18_000; i++) s.emit(record(`long-${i}`, 4), "ended");
    await s.forceFlush();
    assert.equal(s.stats.queued, 18_000);
    receiver.clear();
    receiver.behave("ok");
    await receiver.waitFor(() => s.stats.sent === 18_000, "delivery", 20_000);
    assert.equal(s.stats.queued, 0);
    assert.equal(droppedTotal(s.stats), 0);
    const sizes = receiver.logRequests.map((r) =>
      (r.body.resourceLogs ?? []).reduce(
        (n, rl) => n + (rl.scopeLogs ?? []).reduce((m, sl) => m + (sl.logRecords?.length ?? 0), 0),
        0,
      ),
    );
    assert.ok(Math.max(...sizes) <= MAX_RECORDS_PER_REQUEST, `records per request: ${sizes}`);
    assert.equal(new Set(receiver.logRecords().map((r) => r.attributes.channel_id)).size, 18_000);
    await s.shutdown();
  });

  it("bounds the queue by retry_queue_size, dropping the oldest and counting them", async () => {
    const { sink: s } = sink({ retryQueueSize: 3 });
    receiver.behave("fail");
    for (let i = 0; i < 5; i++) s.emit(record(`b-${i}`, 4), "ended");
    await s.forceFlush();
    assert.equal(s.stats.queued, 3);
    assert.deepEqual(s.stats.dropped, { notRetried: 0, queueFull: 2, refused: 0, shutdown: 0 });
    receiver.behave("ok");
    // queued counts the records until a retry delivered them; sent counts them then.
    await receiver.waitFor(() => s.stats.sent === 3, "delivery", 5000);
    assert.equal(s.stats.queued, 0);
    assert.deepEqual(
      receiver
        .logRecords()
        .map((r) => r.attributes.channel_id)
        .sort(),
      ["b-2", "b-3", "b-4"],
    );
  });

  it("shuts down within its budget when the Collector never answers, counting what is lost", async () => {
    const { sink: s } = sink();
    receiver.behave("hang");
    s.emit(record("hang-1", 4), "ended");
    const started = Date.now();
    await s.shutdown();
    const took = Date.now() - started;
    assert.ok(took < 4000, `shutdown took ${took} ms`);
    s.emit(record("after", 4), "ended");
    assert.equal(s.stats.sent, 0);
    assert.ok(s.stats.dropped.shutdown >= 1, "the record after shutdown is counted as dropped");
  });
});
