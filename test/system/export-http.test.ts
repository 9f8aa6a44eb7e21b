// OTLP over HTTP (opentelemetry.protocol: http/protobuf) against a real node:http(s) server that
// decodes every request with the official protobuf definitions (support/otlp-http-receiver.ts):
// the metrics and quality-record sinks deliver to /v1/metrics and /v1/logs with the OTLP/HTTP
// headers, gzip when asked, read a partial success, drop a refusal (400) without retrying it,
// wait as long as a 429/503's Retry-After asks, keep what an outage would lose and deliver it
// once the server is back, and speak TLS with a private CA and mutual TLS. The same retry queues
// serve gRPC; their timing under Retry-After is pinned without sleeps in export-retry-after.test.ts.

import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { after, before, beforeEach, describe, it } from "node:test";
import pino from "pino";
import type { OpenTelemetryConfig } from "../../src/config/types.js";
import { createMetricsSink, type MetricsSink } from "../../src/export/metrics.js";
import { createRecordSink, type RecordSink } from "../../src/export/records.js";
import { droppedTotal } from "../../src/export/sender.js";
import type { RecordAttributes } from "../../src/quality/record.js";
import type { LegLabels, QosObservation, RtcpObservation } from "../../src/quality/types.js";
import { OtlpHttpReceiver, statusBody } from "../support/otlp-http-receiver.js";
import { makePki, type Pki } from "../support/pki.js";

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

const WARN = 40;
const SECRET = "Bearer http-s3cr3t-token";

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

let receiver: OtlpHttpReceiver;
const stoppable: { shutdown(): Promise<void> }[] = [];

function config(overrides: Partial<OpenTelemetryConfig> = {}): OpenTelemetryConfig {
  return {
    enabled: true,
    protocol: "http/protobuf",
    endpoint: receiver.url,
    endpointExplicit: true,
    insecure: true,
    headers: { authorization: SECRET, "x-tenant": "acme" },
    compression: "none",
    serviceName: "fsagent",
    // forceFlush() drives the exports.
    exportIntervalMs: 60_000,
    exportTimeoutMs: 2_000,
    retryQueueSize: 100,
    tls: { caFile: "", certFile: "", keyFile: "" },
    resourceAttributes: {},
    ...overrides,
  };
}

function metricsSink(overrides: Partial<OpenTelemetryConfig> = {}) {
  const log = captureLogger();
  const sink: MetricsSink = createMetricsSink(config(overrides), {
    maxLegs: 100,
    logger: log.logger,
    retryDelayMs: { initial: 50, max: 200 },
  });
  stoppable.push(sink);
  return { sink, ...log };
}

function recordSink(overrides: Partial<OpenTelemetryConfig> = {}) {
  const log = captureLogger();
  const sink: RecordSink = createRecordSink(config(overrides), {
    logger: log.logger,
    instanceId: "replica-http",
    finalFlushMs: 2000,
    retryDelayMs: { initial: 50, max: 200 },
    scheduledDelayMs: 50,
  });
  stoppable.push(sink);
  return { sink, ...log };
}

function labels(channelId: string): LegLabels {
  return {
    channelId,
    correlationId: `call-${channelId}@pbx.example.com`,
    domainName: "pbx.example.com",
    callDirection: "inbound",
    codecName: "PCMU",
    srcIp: "198.51.100.7",
    dstIp: "203.0.113.5",
  };
}

function rtcp(channelId: string, jitterMs: number): RtcpObservation {
  return {
    instance: "fs1",
    labels: labels(channelId),
    direction: "inbound",
    jitterMs,
    fractionLost: 0,
    packetsLost: 0,
    rttMs: undefined,
    mos: 4.3,
  };
}

function qos(channelId: string, mos: number): QosObservation {
  return {
    instance: "fs1",
    labels: labels(channelId),
    values: {
      mosScore: mos,
      jitterMinMs: 0,
      jitterMaxMs: 4,
      jitterAvgMs: 1,
      totalPackets: 1500,
      packetLoss: 0,
      totalBytes: 258_000,
      unreadable: [],
    },
    mosEstimate: undefined,
    rtcpIn: null,
    rtcpOut: null,
    hangup: { cause: "NORMAL_CLEARING", durationS: 30, billsec: 21 },
  };
}

function record(channelId: string): RecordAttributes {
  return {
    fs_instance: "fs1",
    channel_id: channelId,
    correlation_id: `corr-${channelId}`,
    mos_score: 4.2,
    hangup_cause: "NORMAL_CLEARING",
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function warnings(lines: Line[]): Line[] {
  return lines.filter((l) => l.level === WARN);
}

function assertNoSecret(raw: string[]): void {
  const text = raw.join("");
  assert.ok(!text.includes("s3cr3t"), "a header value reached the log");
}

before(async () => {
  receiver = await OtlpHttpReceiver.start();
});

after(async () => {
  await Promise.all(stoppable.splice(0).map((s) => s.shutdown()));
  await receiver.close();
});

beforeEach(async () => {
  await Promise.all(stoppable.splice(0).map((s) => s.shutdown()));
  await receiver.start();
  receiver.answer = () => ({ status: 200 });
  receiver.clear();
});

describe("OTLP/HTTP: delivery", () => {
  it("POSTs metrics to /v1/metrics as application/x-protobuf with the configured headers", async () => {
    const { sink, raw } = metricsSink();
    sink.recordRtcp(rtcp("leg-1", 12.5));
    sink.recordQos(qos("leg-1", 4.1));
    await sink.forceFlush();
    assert.deepEqual(receiver.decodeErrors, []);
    const seen = receiver.requests("metrics");
    assert.equal(seen.length, 1);
    const request = seen[0]!;
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/v1/metrics");
    assert.equal(request.headers["content-type"], "application/x-protobuf");
    assert.equal(request.headers.authorization, SECRET);
    assert.equal(request.headers["x-tenant"], "acme");
    assert.match(request.headers["user-agent"] ?? "", /^fsagent\//);
    assert.equal(request.headers["content-encoding"], undefined);
    const jitter = receiver.points("freeswitch.rtcp.jitter");
    assert.equal(jitter.length, 1);
    assert.equal(jitter[0]?.value, 12.5);
    assert.equal(jitter[0]?.attributes.channel_id, "leg-1");
    assert.equal(receiver.points("freeswitch.qos.mos_score")[0]?.value, 4.1);
    assert.equal(sink.stats.exports, 1);
    assert.equal(sink.stats.exportErrors, 0);
    assertNoSecret(raw);
  });

  it("POSTs quality records to /v1/logs, under the base URL's own path", async () => {
    receiver.clear();
    const { sink } = recordSink({ endpoint: `${receiver.url}/otlp/` });
    sink.emit(record("leg-r1"), "leg leg-r1 ended");
    sink.emit(record("leg-r2"), "leg leg-r2 ended");
    await sink.forceFlush();
    const seen = receiver.requests("logs");
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.path, "/otlp/v1/logs");
    assert.equal(seen[0]?.headers["content-type"], "application/x-protobuf");
    const records = receiver.logRecords();
    assert.deepEqual(
      records.map((r) => r.attributes.channel_id),
      ["leg-r1", "leg-r2"],
    );
    assert.equal(records[0]?.eventName, "freeswitch.call.quality");
    assert.equal(records[0]?.body, "leg leg-r1 ended");
    assert.equal(records[0]?.resource["service.instance.id"], "replica-http");
    assert.equal(sink.stats.sent, 2);
  });

  it("gzips both signals when compression is gzip", async () => {
    const metrics = metricsSink({ compression: "gzip" });
    const records = recordSink({ compression: "gzip" });
    // Enough repetition for gzip to show: 40 legs with near-identical labels.
    for (let i = 0; i < 40; i++) metrics.sink.recordRtcp(rtcp(`leg-gz-${i}`, i));
    records.sink.emit(record("leg-gz"), "ended");
    await metrics.sink.forceFlush();
    await records.sink.forceFlush();
    assert.deepEqual(receiver.decodeErrors, []);
    for (const signal of ["metrics", "logs"] as const) {
      const seen = receiver.requests(signal);
      assert.equal(seen.length, 1, signal);
      assert.equal(seen[0]?.headers["content-encoding"], "gzip", signal);
    }
    const request = receiver.requests("metrics")[0]!;
    assert.ok(request.wireBytes < request.body.length / 2, "compressed on the wire");
    assert.equal(receiver.points("freeswitch.rtcp.jitter").length, 40);
    assert.equal(receiver.logRecords().length, 1);
  });

  it("reads a partial success and warns once, the export still a success", async () => {
    receiver.answer = () => ({
      status: 200,
      partialSuccess: { rejected: 2, errorMessage: "2 points\nout of range" },
    });
    const { sink, lines } = metricsSink();
    for (let i = 0; i < 3; i++) {
      sink.recordRtcp(rtcp(`leg-p${i}`, 3));
      await sink.forceFlush();
    }
    assert.equal(sink.stats.exportErrors, 0);
    const warned = warnings(lines);
    assert.equal(warned.length, 1, JSON.stringify(lines));
    assert.equal(warned[0]?.rejectedDataPoints, 2);
    assert.equal(warned[0]?.error, "2 points out of range");

    const records = recordSink();
    records.sink.emit(record("leg-p"), "ended");
    await records.sink.forceFlush();
    const recordWarnings = warnings(records.lines);
    assert.equal(recordWarnings.length, 1);
    assert.equal(recordWarnings[0]?.rejectedLogRecords, 2);
    assert.equal(records.sink.stats.sent, 1);
  });
});

describe("OTLP/HTTP: refusals and outages", () => {
  it("a 400 is not retried: the points and records are dropped, counted, with the server's reason", async () => {
    receiver.answer = () => ({
      status: 400,
      body: statusBody('invalid metric name\n"x"'),
    });
    const metrics = metricsSink();
    metrics.sink.recordRtcp(rtcp("leg-bad", 2));
    metrics.sink.recordQos(qos("leg-bad", 4));
    await metrics.sink.forceFlush();
    const records = recordSink();
    records.sink.emit(record("leg-bad"), "ended");
    await records.sink.forceFlush();
    // Time for any retry timer (50 ms doubling) to have fired several times.
    await sleep(400);
    assert.equal(receiver.requests("metrics").length, 1, "the metrics request was not sent again");
    assert.equal(receiver.requests("logs").length, 1, "the records request was not sent again");
    const m = metrics.sink.stats;
    assert.equal(m.exportErrors, 1);
    assert.equal(m.queued, 0);
    // The leg's 7 QoS points and its 4 per-leg RTCP points, all refused for good.
    assert.deepEqual(m.dropped, { notRetried: 0, queueFull: 0, refused: 11, shutdown: 0 });
    assert.equal(m.sent, 0);
    assert.match(m.lastError ?? "", /^HTTP 400 Bad Request: invalid metric name "x"$/);
    const r = records.sink.stats;
    assert.deepEqual(
      { errors: r.exportErrors, dropped: r.dropped, queued: r.queued, sent: r.sent },
      {
        errors: 1,
        dropped: { notRetried: 0, queueFull: 0, refused: 1, shutdown: 0 },
        queued: 0,
        sent: 0,
      },
    );
    const mw = warnings(metrics.lines);
    assert.equal(mw.length, 1);
    assert.match(mw[0]?.msg ?? "", /refused, not retryable/);
    assert.equal(mw[0]?.kind, "HTTP 400");
    const rw = warnings(records.lines);
    assert.equal(rw.length, 1);
    assert.match(rw[0]?.msg ?? "", /refused, not retryable: they are dropped/);
    assertNoSecret([...metrics.raw, ...records.raw]);
  });

  for (const status of [429, 503]) {
    it(`a ${status} with Retry-After: 1 is retried, not before a second has passed`, async () => {
      let refuse = true;
      receiver.answer = () =>
        refuse ? { status, headers: { "retry-after": "1" } } : { status: 200 };
      const records = recordSink();
      const metrics = metricsSink();
      records.sink.emit(record(`leg-${status}`), "ended");
      metrics.sink.recordQos(qos(`leg-${status}`, 4));
      await records.sink.forceFlush();
      await metrics.sink.forceFlush();
      const refusedAt = Math.max(...receiver.seen.map((s) => s.receivedAt));
      assert.equal(records.sink.stats.queued, 1);
      assert.ok(metrics.sink.stats.queued > 0);
      refuse = false;
      // Without the Retry-After, the retry timers (50 ms) would resend within ~100 ms.
      await receiver.waitFor(
        () => records.sink.stats.sent === 1 && metrics.sink.stats.queued === 0,
        "the retries",
        5000,
      );
      const accepted = receiver.seen.filter((s) => s.status === 200);
      assert.equal(accepted.length, 2, "one retry per signal");
      for (const retry of accepted) {
        // Loose: the server's clock and ours are one clock; 1 s less a timer's slack.
        assert.ok(
          retry.receivedAt - refusedAt >= 950,
          `${retry.signal} retried after ${retry.receivedAt - refusedAt} ms`,
        );
      }
      assert.equal(records.sink.stats.retried, 1);
      assert.equal(droppedTotal(metrics.sink.stats), 0);
      assert.equal(droppedTotal(records.sink.stats), 0);
      const retryAfter = warnings(records.lines)[0]?.retryAfterMs;
      assert.equal(retryAfter, 1000);
    });
  }

  it("keeps both signals through an outage (connection refused) and delivers them once when it is back", async () => {
    const metrics = metricsSink();
    const records = recordSink();
    await receiver.stop();
    metrics.sink.recordQos(qos("leg-out", 3.9));
    records.sink.emit(record("leg-out"), "ended");
    await metrics.sink.forceFlush();
    await records.sink.forceFlush();
    assert.equal(metrics.sink.stats.exportErrors, 1);
    assert.match(metrics.sink.stats.lastError ?? "", /ECONNREFUSED/);
    assert.ok(metrics.sink.stats.queued > 0);
    assert.equal(records.sink.stats.queued, 1);
    const mw = warnings(metrics.lines);
    assert.equal(mw[0]?.kind, "UNAVAILABLE");
    await receiver.start();
    await receiver.waitFor(
      () => metrics.sink.stats.queued === 0 && records.sink.stats.sent === 1,
      "delivery after the outage",
      5000,
    );
    assert.equal(receiver.points("freeswitch.qos.mos_score").length, 1, "delivered once");
    assert.equal(receiver.logRecords().length, 1);
    assert.equal(records.sink.stats.retried, 1);
    assert.ok(
      metrics.lines.some((l) => /works again/.test(l.msg)),
      "one line when exports work again",
    );
  });

  it("abandons an export at its deadline and keeps its records", async () => {
    receiver.answer = () => "hang";
    const records = recordSink({ exportTimeoutMs: 300 });
    records.sink.emit(record("leg-slow"), "ended");
    const started = Date.now();
    await records.sink.forceFlush();
    assert.ok(Date.now() - started < 2000);
    assert.equal(records.sink.stats.exportErrors >= 1, true);
    assert.equal(warnings(records.lines)[0]?.kind, "DEADLINE_EXCEEDED");
    receiver.release();
    receiver.answer = () => ({ status: 200 });
    await receiver.waitFor(() => records.sink.stats.sent === 1, "the retry", 5000);
  });
});

describe("OTLP/HTTP: a server that does not take the signal (404)", () => {
  it("warns once with what to change and stops keeping the quality records", async () => {
    receiver.answer = (seen) => (seen.signal === "logs" ? { status: 404 } : { status: 200 });
    const records = recordSink();
    for (let i = 0; i < 4; i++) {
      records.sink.emit(record(`leg-404-${i}`), "ended");
      await records.sink.forceFlush();
    }
    await sleep(300);
    const r = records.sink.stats;
    assert.equal(r.queued, 0, "nothing waits for a path that does not exist");
    assert.deepEqual(r.dropped, { notRetried: 0, queueFull: 0, refused: 4, shutdown: 0 });
    assert.equal(receiver.requests("logs").length, 4, "each batch tried once, none retried");
    const warned = warnings(records.lines);
    assert.equal(warned.length, 1, JSON.stringify(warned));
    assert.match(warned[0]?.msg ?? "", /does not take quality records/);
    assert.match(warned[0]?.msg ?? "", /logs pipeline/);
    assert.match(warned[0]?.msg ?? "", /logs\.enabled: false/);
    assert.match(warned[0]?.msg ?? "", /\/v1\/logs/);
    assert.equal(warned[0]?.endpoint, `${receiver.url}/v1/logs`);
  });
});

describe("OTLP/HTTP over TLS", () => {
  let pki: Pki;
  let tls: OtlpHttpReceiver;
  let mtls: OtlpHttpReceiver;

  before(async () => {
    pki = makePki();
    const server = { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) };
    tls = await OtlpHttpReceiver.start({ tls: server });
    mtls = await OtlpHttpReceiver.start({
      tls: { ...server, clientCa: readFileSync(pki.caCert) },
    });
  });

  after(async () => {
    await Promise.all(stoppable.splice(0).map((s) => s.shutdown()));
    await tls?.close();
    await mtls?.close();
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  });

  it("trusts a private CA from tls.ca_file (https://)", async () => {
    const records = recordSink({
      endpoint: tls.url,
      tls: { caFile: pki.caCert, certFile: "", keyFile: "" },
    });
    records.sink.emit(record("leg-tls"), "ended");
    await records.sink.forceFlush();
    assert.equal(tls.logRecords().length, 1);
    assert.equal(records.sink.stats.exportErrors, 0);
  });

  it("refuses a server its default roots do not vouch for, counted, without a stack", async () => {
    const metrics = metricsSink({ endpoint: tls.url });
    metrics.sink.recordRtcp(rtcp("leg-untrusted", 1));
    await metrics.sink.forceFlush();
    assert.equal(metrics.sink.stats.exportErrors, 1);
    assert.match(metrics.sink.stats.lastError ?? "", /certificate/i);
    assert.equal(tls.points().length, 0);
    for (const line of metrics.raw) assert.ok(!line.includes("    at "), line);
  });

  it("presents the client certificate to a server that requires one (mutual TLS)", async () => {
    const metrics = metricsSink({
      endpoint: mtls.url,
      tls: { caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey },
    });
    metrics.sink.recordRtcp(rtcp("leg-mtls", 2));
    await metrics.sink.forceFlush();
    assert.equal(metrics.sink.stats.exportErrors, 0, metrics.sink.stats.lastError ?? "");
    assert.equal(mtls.points("freeswitch.rtcp.jitter").length, 1);
  });

  it("is refused by that server without one", async () => {
    const metrics = metricsSink({
      endpoint: mtls.url,
      tls: { caFile: pki.caCert, certFile: "", keyFile: "" },
    });
    metrics.sink.recordRtcp(rtcp("leg-no-cert", 2));
    await metrics.sink.forceFlush();
    assert.equal(metrics.sink.stats.exportErrors, 1);
    assert.equal(
      mtls.points("freeswitch.rtcp.jitter").filter((p) => p.attributes.channel_id === "leg-no-cert")
        .length,
      0,
    );
  });
});
