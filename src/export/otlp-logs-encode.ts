import type { Attributes } from "@opentelemetry/api";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import {
  anyValueSize,
  attributeSetBound,
  I64,
  KeyFields,
  LEN,
  scalar,
  tag,
  VARINT,
  Writer,
  writeAnyValue,
  writeAttributeSet,
} from "./otlp-encode.js";

// ExportLogsServiceRequest protobuf bytes from the SDK's log records, for the quality records
// (records.ts). Field numbers are those of opentelemetry-proto v1 (logs.proto, common.proto,
// resource.proto, collector/logs/v1/logs_service.proto). The wire primitives and the attribute
// encoding are the metrics encoder's (otlp-encode.ts). One record per ended leg: a request holds
// at most MAX_RECORDS_PER_REQUEST (log-exporter.ts), so each message is built in its own buffer and
// wrapped in its parent's, simpler than the metrics encoder's exact two-pass sizing.

const REQUEST_RESOURCE_LOGS = tag(1, LEN);
const RL_RESOURCE = tag(1, LEN);
const RL_SCOPE_LOGS = tag(2, LEN);
const RL_SCHEMA_URL = tag(3, LEN);
const RESOURCE_ATTRIBUTES = tag(1, LEN);
const SL_SCOPE = tag(1, LEN);
const SL_LOG_RECORDS = tag(2, LEN);
const SL_SCHEMA_URL = tag(3, LEN);
const SCOPE_NAME = tag(1, LEN);
const SCOPE_VERSION = tag(2, LEN);
const LR_TIME = tag(1, I64);
const LR_SEVERITY_NUMBER = tag(2, VARINT);
const LR_SEVERITY_TEXT = tag(3, LEN);
const LR_BODY = tag(5, LEN);
const LR_ATTRIBUTES = tag(6, LEN);
const LR_DROPPED = tag(7, VARINT);
const LR_FLAGS = tag(8, 5); // fixed32
const LR_TRACE_ID = tag(9, LEN);
const LR_SPAN_ID = tag(10, LEN);
const LR_OBSERVED_TIME = tag(11, I64);
const LR_EVENT_NAME = tag(12, LEN);

/** Bytes a string field can take at most: tag, a 5-byte length, 3 bytes per UTF-16 unit. */
function stringBound(value: string): number {
  return 6 + 3 * value.length;
}

/** `field` as a length-delimited field around `body`. */
function wrap(fieldTag: number, body: Buffer): Buffer {
  const w = new Writer(Buffer.allocUnsafe(6));
  w.byte(fieldTag);
  w.varint(body.length);
  return Buffer.concat([w.buf.subarray(0, w.pos), body]);
}

/** A trace or span id given as hex, as bytes; null when it is not one (or is all zeros). */
function idBytes(hex: string, bytes: number): Buffer | null {
  if (hex.length !== 2 * bytes || !/^[0-9a-f]+$/i.test(hex) || /^0+$/.test(hex)) return null;
  return Buffer.from(hex, "hex");
}

export class LogsRequestEncoder {
  private readonly keyFields = new KeyFields();

  /**
   * The request's bytes: records grouped by resource and then by instrumentation scope, each
   * group in the order its first record came.
   */
  encode(records: readonly ReadableLogRecord[]): Buffer {
    const resources = new Map<ReadableLogRecord["resource"], Map<string, ReadableLogRecord[]>>();
    for (const record of records) {
      let scopes = resources.get(record.resource);
      if (scopes === undefined) {
        scopes = new Map();
        resources.set(record.resource, scopes);
      }
      const { name, version, schemaUrl } = record.instrumentationScope;
      const key = `${name}\n${version ?? ""}\n${schemaUrl ?? ""}`;
      const group = scopes.get(key);
      if (group === undefined) scopes.set(key, [record]);
      else group.push(record);
    }
    const parts: Buffer[] = [];
    for (const [resource, scopes] of resources) {
      const body: Buffer[] = [wrap(RL_RESOURCE, this.resource(resource.attributes))];
      for (const group of scopes.values()) body.push(wrap(RL_SCOPE_LOGS, this.scopeLogs(group)));
      if (resource.schemaUrl !== undefined && resource.schemaUrl !== "") {
        body.push(this.stringOnly(RL_SCHEMA_URL, resource.schemaUrl));
      }
      parts.push(wrap(REQUEST_RESOURCE_LOGS, Buffer.concat(body)));
    }
    return Buffer.concat(parts);
  }

  private resource(attributes: Attributes): Buffer {
    return this.attributes(attributes, RESOURCE_ATTRIBUTES);
  }

  private scopeLogs(records: readonly ReadableLogRecord[]): Buffer {
    const { name, version, schemaUrl } = records[0]!.instrumentationScope;
    const scope = new Writer(Buffer.allocUnsafe(stringBound(name) + stringBound(version ?? "")));
    scope.optionalString(SCOPE_NAME, name);
    scope.optionalString(SCOPE_VERSION, version);
    const body: Buffer[] = [wrap(SL_SCOPE, scope.buf.subarray(0, scope.pos))];
    for (const record of records) body.push(wrap(SL_LOG_RECORDS, this.logRecord(record)));
    if (schemaUrl !== undefined && schemaUrl !== "") {
      body.push(this.stringOnly(SL_SCHEMA_URL, schemaUrl));
    }
    return Buffer.concat(body);
  }

  private logRecord(record: ReadableLogRecord): Buffer {
    const attributes = this.attributes(record.attributes, LR_ATTRIBUTES);
    // A structured body (a map or an array) would go out as its JSON text: the agent's records
    // have a string body, and a readable value beats a dropped one.
    const body = record.body === undefined || record.body === null ? null : scalar(record.body);
    const bodyUtf8 = typeof body === "string" ? Buffer.byteLength(body, "utf8") : 0;
    const bodySize = body === null ? 0 : anyValueSize(body, bodyUtf8);
    const bound =
      2 * 9 + // the two timestamps
      11 + // severity number
      stringBound(record.severityText ?? "") +
      (body === null ? 0 : 6 + bodySize) +
      stringBound(record.eventName ?? "") +
      6 + // dropped attributes count
      (2 + 16) + // trace id
      (2 + 8) + // span id
      5; // flags
    const w = new Writer(Buffer.allocUnsafe(bound));
    w.byte(LR_TIME);
    w.hrTime(record.hrTime);
    w.byte(LR_OBSERVED_TIME);
    w.hrTime(record.hrTimeObserved);
    const severity = record.severityNumber;
    // An enum: a value outside it (negative, fractional) cannot be one varint byte sequence the
    // Collector would read back, and would spoil the whole request.
    if (
      severity !== undefined &&
      Number.isInteger(severity) &&
      severity > 0 &&
      severity < 2 ** 31
    ) {
      w.byte(LR_SEVERITY_NUMBER);
      w.varint(severity);
    }
    w.optionalString(LR_SEVERITY_TEXT, record.severityText);
    if (body !== null) {
      w.byte(LR_BODY);
      w.varint(bodySize);
      writeAnyValue(w, body, bodyUtf8);
    }
    if (record.droppedAttributesCount > 0) {
      w.byte(LR_DROPPED);
      w.varint(record.droppedAttributesCount);
    }
    const span = record.spanContext;
    if (span !== undefined) {
      const traceId = idBytes(span.traceId, 16);
      const spanId = idBytes(span.spanId, 8);
      if (traceId !== null && spanId !== null) {
        w.byte(LR_FLAGS);
        const flags = span.traceFlags >>> 0;
        w.byte(flags & 0xff);
        w.byte((flags >>> 8) & 0xff);
        w.byte((flags >>> 16) & 0xff);
        w.byte(flags >>> 24);
        w.byte(LR_TRACE_ID);
        w.varint(16);
        w.bytes(traceId);
        w.byte(LR_SPAN_ID);
        w.varint(8);
        w.bytes(spanId);
      }
    }
    w.optionalString(LR_EVENT_NAME, record.eventName);
    return Buffer.concat([w.buf.subarray(0, w.pos), attributes]);
  }

  /** The set as repeated KeyValue fields of tag `kvTag`. */
  private attributes(attributes: Readonly<Record<string, unknown>>, kvTag: number): Buffer {
    const w = new Writer(Buffer.allocUnsafe(attributeSetBound(attributes).bound));
    writeAttributeSet(w, attributes, kvTag, this.keyFields);
    return w.buf.subarray(0, w.pos);
  }

  private stringOnly(fieldTag: number, value: string): Buffer {
    const w = new Writer(Buffer.allocUnsafe(stringBound(value)));
    w.optionalString(fieldTag, value);
    return w.buf.subarray(0, w.pos);
  }
}
