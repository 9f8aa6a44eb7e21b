// OtlpMetricsTransport against stub Collectors on local ports: metadata, failures, deadlines,
// bounded exports in flight, reconnection.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import type { ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { pino } from "pino";
import type { ExportResult } from "../../src/export/export-result.js";
import { OtlpMetricsTransport } from "../../src/export/metric-exporter.js";
import { METRICS_EXPORT_METHOD, type OtlpTransportOptions } from "../../src/export/otlp-client.js";
import {
  decode,
  expected,
  gauge,
  legAttributes,
  point,
  request,
  response,
} from "../support/otlp-views.js";

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
