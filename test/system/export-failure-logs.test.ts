// What a failing OTLP export leaves in the agent's log, against a real OTLP/gRPC receiver (the
// official protobuf root behind grpc-js): one warning per kind of failure and rate-limit window,
// and never a stack trace in any line, at any level. The OpenTelemetry SDK's own reports of the
// same failures (the logs batch processor's and the metric reader's, through its global error
// handler and `diag`) used to add a line `OpenTelemetry SDK: {"stack":"GrpcCallError: ...` per
// failure. Also: a Collector without a logs pipeline (UNIMPLEMENTED) gets one warning that says
// what to change, and its records are not queued forever; gzip over gRPC.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import type { OpenTelemetryConfig } from "../../src/config/types.js";
import { createMetricsSink, type MetricsSink } from "../../src/export/metrics.js";
import { createRecordSink, type RecordSink } from "../../src/export/records.js";
import type { RecordAttributes } from "../../src/quality/record.js";
import type { QosObservation } from "../../src/quality/types.js";
import { OtlpReceiver } from "../support/otlp-receiver.js";

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

const WARN = 40;
const stoppable: { shutdown(): Promise<void> }[] = [];

function config(endpoint: string, overrides: Partial<OpenTelemetryConfig>): OpenTelemetryConfig {
  return {
    enabled: true,
    protocol: "grpc",
    endpoint,
    endpointExplicit: true,
    insecure: true,
    headers: {},
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

/** Both sinks on one logger, as in the agent (the metrics sink routes the SDK's diag into it). */
function agentSinks(endpoint: string, overrides: Partial<OpenTelemetryConfig> = {}) {
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
  const metrics: MetricsSink = createMetricsSink(config(endpoint, overrides), {
    maxLegs: 100,
    logger,
    retryDelayMs: { initial: 50, max: 100 },
  });
  const records: RecordSink = createRecordSink(config(endpoint, overrides), {
    logger,
    finalFlushMs: 1000,
    retryDelayMs: { initial: 50, max: 100 },
    scheduledDelayMs: 20,
  });
  stoppable.push(metrics, records);
  return { metrics, records, lines, raw };
}

function qos(channelId: string): QosObservation {
  return {
    instance: "fs1",
    labels: {
      channelId,
      correlationId: `c-${channelId}`,
      domainName: "pbx.example.com",
      callDirection: "inbound",
      codecName: "PCMU",
      srcIp: "198.51.100.7",
      dstIp: "203.0.113.5",
    },
    values: {
      mosScore: 4.1,
      jitterMinMs: 0,
      jitterMaxMs: 3,
      jitterAvgMs: 1,
      totalPackets: 1000,
      packetLoss: 0,
      totalBytes: 172_000,
      unreadable: [],
    },
    mosEstimate: undefined,
    rtcpIn: null,
    rtcpOut: null,
    hangup: { cause: "NORMAL_CLEARING", durationS: 10, billsec: 9 },
  };
}

function record(channelId: string): RecordAttributes {
  return { fs_instance: "fs1", channel_id: channelId, mos_score: 4.1 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A stack trace in any form: frames (raw or folded onto one line) or an exception's JSON. */
const STACK = [
  /\n\s+at /,
  / {4}at /,
  /"stack"/,
  /\\"stack\\"/,
  /\bat \S+ \((file|node):/,
  /\.js:\d+:\d+\)/,
];

function assertNoStack(raw: string[]): void {
  for (const line of raw) {
    for (const pattern of STACK) assert.doesNotMatch(line, pattern, `a stack in: ${line}`);
  }
}

/** Warnings by their message and kind. */
function warningsByKind(lines: Line[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of lines) {
    if (line.level !== WARN) continue;
    const key = `${line.msg} [${String(line.kind)}]`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

after(async () => {
  await Promise.all(stoppable.splice(0).map((s) => s.shutdown()));
});

describe("failed exports in the log", () => {
  let receiver: OtlpReceiver;

  before(async () => {
    receiver = await OtlpReceiver.start();
  });

  after(async () => {
    await Promise.all(stoppable.splice(0).map((s) => s.shutdown()));
    await receiver.close();
  });

  it("one warning per failure kind and window, no stack in any line (refused, down, deadline)", async () => {
    const { metrics, records, lines, raw } = agentSinks(receiver.endpoint, {
      exportTimeoutMs: 300,
      exportIntervalMs: 60_000,
    });
    const round = async (tag: string, count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        metrics.recordQos(qos(`${tag}-${i}`));
        records.emit(record(`${tag}-${i}`), "ended");
        await metrics.forceFlush();
        await records.forceFlush();
        // Let the batch processor's own callbacks (where the SDK reported) run.
        await sleep(30);
      }
    };
    // The Collector refuses (UNAVAILABLE from the server)...
    receiver.behave("fail");
    await round("refused", 3);
    // ... then is down (UNAVAILABLE: connection refused): the same kind, no new warning...
    await receiver.stop();
    await round("down", 3);
    // ... then accepts connections but never answers: DEADLINE_EXCEEDED, a new kind.
    await receiver.start();
    receiver.behave("hang");
    await round("hang", 2);
    assert.ok(metrics.stats.exportErrors >= 8, `metrics errors ${metrics.stats.exportErrors}`);
    assert.ok(records.stats.exportErrors >= 8, `records errors ${records.stats.exportErrors}`);

    assertNoStack(raw);
    assert.ok(
      !lines.some((l) => l.level >= WARN && /OpenTelemetry SDK/.test(l.msg)),
      `the SDK repeated a failure already logged: ${raw.filter((l) => /OpenTelemetry SDK/.test(l)).join("")}`,
    );
    const warned = warningsByKind(lines);
    assert.deepEqual(
      [...warned.entries()].sort(),
      [
        [
          "OTLP log export of quality records failed; they wait in the retry queue [DEADLINE_EXCEEDED]",
          1,
        ],
        [
          "OTLP log export of quality records failed; they wait in the retry queue [UNAVAILABLE]",
          1,
        ],
        [
          "OTLP metrics export failed; its RTCP points are dropped, its end-of-call QoS is queued for retry [DEADLINE_EXCEEDED]",
          1,
        ],
        [
          "OTLP metrics export failed; its RTCP points are dropped, its end-of-call QoS is queued for retry [UNAVAILABLE]",
          1,
        ],
      ],
      JSON.stringify(lines.filter((l) => l.level >= WARN)),
    );
    receiver.behave("ok");
  });
});

describe("a Collector without a logs pipeline (UNIMPLEMENTED)", () => {
  it("warns once with the fix, does not queue the records, and the metrics still flow", async () => {
    const metricsOnly = await OtlpReceiver.start({ services: ["metrics"] });
    try {
      const { metrics, records, lines, raw } = agentSinks(metricsOnly.endpoint);
      for (let i = 0; i < 5; i++) {
        records.emit(record(`leg-${i}`), "ended");
        await records.forceFlush();
      }
      metrics.recordQos(qos("leg-m"));
      await metrics.forceFlush();
      await sleep(300);
      assert.equal(metricsOnly.points("freeswitch.qos.mos_score").length, 1);
      assert.deepEqual(
        { queued: records.stats.queued, dropped: records.stats.dropped },
        { queued: 0, dropped: { notRetried: 0, queueFull: 0, refused: 5, shutdown: 0 } },
      );
      assert.equal(records.stats.exportErrors, 5, "each batch tried once, none retried");
      const warned = lines.filter((l) => l.level === WARN);
      assert.equal(warned.length, 1, JSON.stringify(warned));
      const warning = warned[0]!;
      assert.equal(warning.kind, "UNIMPLEMENTED");
      assert.match(
        warning.msg,
        /^the OTLP server at 127\.0\.0\.1:\d+ does not take quality records/,
      );
      assert.match(
        warning.msg,
        /add a logs pipeline with an otlp receiver to the Collector's service\.pipelines/,
      );
      assert.match(warning.msg, /logs\.enabled: false \(FSAGENT_LOGS_ENABLED=false\)/);
      assertNoStack(raw);
    } finally {
      await Promise.all(stoppable.splice(0).map((s) => s.shutdown()));
      await metricsOnly.close();
    }
  });
});

describe("gzip over gRPC", () => {
  it("compressed requests of both signals decode in a grpc-js server (as in a Collector)", async () => {
    const receiver = await OtlpReceiver.start();
    try {
      const { metrics, records } = agentSinks(receiver.endpoint, { compression: "gzip" });
      metrics.recordQos(qos("leg-gz"));
      records.emit(record("leg-gz"), "ended");
      await metrics.forceFlush();
      await records.forceFlush();
      assert.deepEqual(receiver.decodeErrors, []);
      assert.equal(receiver.points("freeswitch.qos.mos_score").length, 1);
      assert.equal(receiver.logRecords().length, 1);
      // grpc-js hides grpc-encoding from the handler; the message's compressed flag and the
      // header are checked on the raw HTTP/2 stream in export-grpc-unary.test.ts.
    } finally {
      await Promise.all(stoppable.splice(0).map((s) => s.shutdown()));
      await receiver.close();
    }
  });
});
