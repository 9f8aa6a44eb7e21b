// The OTLP logs encoder (src/export/otlp-logs-encode.ts): every request is decoded with the
// official generated protobuf root (test/support/otlp-receiver.ts), never with our own reader,
// and compared with what the log records say. Records come from the SDK's own LoggerProvider
// where possible, and are made by hand for what the agent never emits (other resources and
// scopes, structured bodies, span contexts).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HrTime } from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  type ReadableLogRecord,
  SimpleLogRecordProcessor,
} from "@opentelemetry/sdk-logs";
import fc from "fast-check";
import { LogsRequestEncoder } from "../src/export/otlp-logs-encode.js";
import {
  anyValue,
  keyValues,
  type OtlpValue,
  otlpMessages,
  type PbExportLogsServiceRequest,
} from "./support/otlp-receiver.js";

const TO_OBJECT = { longs: String, enums: String, bytes: String, defaults: false, oneofs: false };

function decode(bytes: Buffer): PbExportLogsServiceRequest {
  const type = otlpMessages.ExportLogsServiceRequest;
  return type.toObject(type.decode(bytes), TO_OBJECT);
}

function nanos(time: HrTime): string {
  return (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();
}

/** What OTLP can say of an attribute value, as the receiver helpers read it back. */
function expectedValue(value: unknown): OtlpValue {
  // An integral number goes out as int_value, which has no -0.
  if (typeof value === "number") return Object.is(value, -0) ? 0 : value;
  if (typeof value === "string" || typeof value === "boolean") return value;
  return JSON.stringify(value);
}

function expectedAttributes(attributes: Record<string, unknown>): Record<string, OtlpValue> {
  const out: Record<string, OtlpValue> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) out[key] = expectedValue(value);
  }
  return out;
}

const resource = resourceFromAttributes({ "service.name": "fsagent", "fs.replica": "r-1" });

function record(overrides: Partial<ReadableLogRecord> = {}): ReadableLogRecord {
  return {
    hrTime: [1_764_000_000, 123_456_789],
    hrTimeObserved: [1_764_000_001, 5],
    severityNumber: SeverityNumber.INFO,
    severityText: "INFO",
    body: "leg ended",
    eventName: "freeswitch.call.quality",
    attributes: { channel_id: "a-1", mos_score: 4.2, total_packets: 1500 },
    droppedAttributesCount: 0,
    resource,
    instrumentationScope: { name: "fsagent", version: "1.2.3" },
    ...overrides,
  } as ReadableLogRecord;
}

describe("OTLP logs encoder", () => {
  it("encodes what the SDK's LoggerProvider makes, field for field", async () => {
    const memory = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({
      resource,
      processors: [new SimpleLogRecordProcessor({ exporter: memory })],
    });
    const logger = provider.getLogger("fsagent", "9.9.9");
    const attributes = {
      fs_instance: "fs-1",
      channel_id: "4f3c-ünïcode-✓",
      mos_score: 4.37,
      total_packets: 2 ** 40,
      packet_loss: -3,
      inbound_ok: true,
    };
    logger.emit({
      eventName: "freeswitch.call.quality",
      severityNumber: SeverityNumber.INFO,
      severityText: "INFO",
      body: "quality record of a leg",
      attributes,
    });
    logger.emit({ severityNumber: SeverityNumber.WARN, body: "second", attributes: { n: 1 } });
    const records = memory.getFinishedLogRecords();
    assert.equal(records.length, 2);

    const request = decode(new LogsRequestEncoder().encode(records));
    assert.equal(request.resourceLogs?.length, 1);
    const rl = request.resourceLogs![0]!;
    assert.deepEqual(keyValues(rl.resource?.attributes), expectedAttributes(resource.attributes));
    assert.equal(rl.scopeLogs?.length, 1);
    const sl = rl.scopeLogs![0]!;
    assert.equal(sl.scope?.name, "fsagent");
    assert.equal(sl.scope?.version, "9.9.9");
    const [first, second] = sl.logRecords ?? [];
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(first.eventName, "freeswitch.call.quality");
    assert.equal(first.severityNumber, "SEVERITY_NUMBER_INFO");
    assert.equal(first.severityText, "INFO");
    assert.equal(anyValue(first.body), "quality record of a leg");
    assert.equal(first.timeUnixNano, nanos(records[0]!.hrTime));
    assert.equal(first.observedTimeUnixNano, nanos(records[0]!.hrTimeObserved));
    assert.deepEqual(keyValues(first.attributes), attributes);
    assert.equal(second.severityNumber, "SEVERITY_NUMBER_WARN");
    assert.equal(second.eventName, undefined);
    assert.deepEqual(keyValues(second.attributes), { n: 1 });
    await provider.shutdown();
  });

  it("groups records by resource and scope, in the order they came", () => {
    const other = resourceFromAttributes({ "service.name": "other" });
    const records = [
      record({ body: "r1 s1 a" }),
      record({ body: "r2 s1", resource: other }),
      record({ body: "r1 s2", instrumentationScope: { name: "second" } }),
      record({ body: "r1 s1 b" }),
    ];
    const request = decode(new LogsRequestEncoder().encode(records));
    const shape = (request.resourceLogs ?? []).map((rl) => ({
      service: keyValues(rl.resource?.attributes)["service.name"],
      scopes: (rl.scopeLogs ?? []).map((sl) => ({
        name: sl.scope?.name,
        bodies: (sl.logRecords ?? []).map((r) => anyValue(r.body)),
      })),
    }));
    assert.deepEqual(shape, [
      {
        service: "fsagent",
        scopes: [
          { name: "fsagent", bodies: ["r1 s1 a", "r1 s1 b"] },
          { name: "second", bodies: ["r1 s2"] },
        ],
      },
      { service: "other", scopes: [{ name: "fsagent", bodies: ["r2 s1"] }] },
    ]);
    assert.equal(new LogsRequestEncoder().encode([]).length, 0, "no records, an empty request");
  });

  it("writes bodies of every scalar kind, structured ones as JSON, and skips absent values", () => {
    const bodies: unknown[] = ["text", 42, -7, 2.5, true, { k: [1, "x"] }];
    const records = bodies.map((body) =>
      record({ body: body as ReadableLogRecord["body"], attributes: { a: null, b: { c: 1 } } }),
    );
    records.push(record({ body: undefined, severityNumber: undefined, severityText: undefined }));
    // Not an enum value: left out rather than spoiling the request.
    records.push(record({ severityNumber: -1 as SeverityNumber }));
    records.push(record({ severityNumber: 1.5 as SeverityNumber }));
    const decoded = decode(new LogsRequestEncoder().encode(records)).resourceLogs![0]!
      .scopeLogs![0]!.logRecords!;
    assert.deepEqual(
      decoded.map((r) => anyValue(r.body)),
      ["text", 42, -7, 2.5, true, '{"k":[1,"x"]}', null, "leg ended", "leg ended"],
    );
    assert.deepEqual(keyValues(decoded[0]!.attributes), { b: '{"c":1}' }, "null skipped");
    const [noBody, negative, fraction] = decoded.slice(-3);
    assert.equal(noBody?.severityNumber, undefined);
    assert.equal(noBody?.severityText, undefined);
    assert.equal(negative?.severityNumber, undefined);
    assert.equal(fraction?.severityNumber, undefined);
  });

  it("carries a valid span context, and leaves an invalid one out", () => {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const spanId = "b7ad6b7169203331";
    const records = [
      record({ spanContext: { traceId, spanId, traceFlags: 1 } }),
      record({ spanContext: { traceId: "0".repeat(32), spanId, traceFlags: 1 } }),
      record({ spanContext: { traceId, spanId: "not-hex!", traceFlags: 1 } }),
    ];
    const type = otlpMessages.ExportLogsServiceRequest;
    const decoded = type.toObject(type.decode(new LogsRequestEncoder().encode(records)), {
      ...TO_OBJECT,
      bytes: String,
    }) as PbExportLogsServiceRequest & {
      resourceLogs: { scopeLogs: { logRecords: { flags?: number }[] }[] }[];
    };
    const [valid, invalid, badSpan] = decoded.resourceLogs[0]!.scopeLogs[0]!.logRecords as (
      | (PbExportLogsServiceRequest & { flags?: number; traceId?: string; spanId?: string })
      | undefined
    )[];
    assert.equal(Buffer.from(valid?.traceId ?? "", "base64").toString("hex"), traceId);
    assert.equal(Buffer.from(valid?.spanId ?? "", "base64").toString("hex"), spanId);
    assert.equal(valid?.flags, 1);
    for (const left of [invalid, badSpan]) {
      assert.equal(left?.traceId, undefined);
      assert.equal(left?.spanId, undefined);
      assert.equal(left?.flags, undefined);
    }
  });

  it("round-trips any attributes and string bodies (fast-check)", () => {
    const value = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
    );
    const encoder = new LogsRequestEncoder();
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), value, { maxKeys: 12 }),
        fc.string({ unit: "binary" }),
        fc.tuple(
          fc.integer({ min: 0, max: 4_000_000_000 }),
          fc.integer({ min: 0, max: 999_999_999 }),
        ),
        (attributes, body, time) => {
          const input = record({ attributes, body, hrTime: time as HrTime });
          const out = decode(encoder.encode([input])).resourceLogs![0]!.scopeLogs![0]!
            .logRecords![0]!;
          // As pairs, not objects: a "__proto__" key would vanish from both plain objects.
          assert.deepEqual(
            (out.attributes ?? []).map((kv) => [kv.key, anyValue(kv.value)]),
            Object.entries(attributes).map(([key, value]) => [key, expectedValue(value)]),
          );
          assert.equal(anyValue(out.body) ?? "", body);
          assert.equal(out.timeUnixNano ?? "0", nanos(time as HrTime));
        },
      ),
      { numRuns: 300 },
    );
  });
});
