// A real OTLP/gRPC receiver for tests: what an OpenTelemetry Collector looks like to the agent.
//
//   const receiver = await OtlpReceiver.start();          // 127.0.0.1, a free port
//   const sink = createMetricsSink({ ...otel, endpoint: receiver.endpoint, insecure: true }, ...);
//   ... record ...; await sink.forceFlush();
//   receiver.points("freeswitch.rtcp.jitter")               // [{ value, attributes, kind, ... }]
//   await receiver.waitFor(() => receiver.points("x").length > 0, "a point of x");
//   receiver.behave("fail") / behave("hang") / behave("ok") // UNAVAILABLE / never answer / normal
//   await receiver.stop(); await receiver.start();        // an outage, same port
//   receiver.clear(); await receiver.close();
//
// It serves the two OTLP services the agent uses:
//   opentelemetry.proto.collector.metrics.v1.MetricsService/Export (metrics, issue 3)
//   opentelemetry.proto.collector.logs.v1.LogsService/Export       (log records, issue 8)
// and decodes every request with the official generated protobuf root shipped by
// @opentelemetry/otlp-transformer@0.212.0 (build/src/generated/root.js; the last generation that
// ships one, and it knows LogRecord.event_name), not with hand-written
// decoding and not with the exporter's own serializer: a field the exporter encodes wrongly
// shows up here as it would in a real Collector. Requests are kept decoded (protobufjs
// toObject with longs as strings, enums as their names) in `metricRequests` / `logRequests`,
// with the gRPC metadata (headers) they came with.
//
// Plaintext by default (the exporter must be configured `insecure: true` or with an http://
// URL). With `tls: { key, cert }` it serves TLS instead (the exporter needs `insecure: false` or
// an https:// URL, and a CA that signed `cert`); `tls.clientCa` makes it require a client
// certificate signed by that CA (mutual TLS), as a Collector with `client_ca_file` does.

import { createRequire } from "node:module";
import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";

// ---------------------------------------------------------------------------------------------
// A typed facade over the untyped generated root. Only the fields the helpers read are declared;
// everything is optional because protobufjs omits fields at their default value.

/** protobufjs toObject() options (the subset we use). */
interface ConversionOptions {
  longs: StringConstructor;
  enums: StringConstructor;
  bytes: StringConstructor;
  defaults: boolean;
  oneofs: boolean;
}

/** One generated message class (static protobufjs code), as far as the helpers use it. */
export interface MessageType<T> {
  decode(buffer: Uint8Array): object;
  toObject(message: object, options: ConversionOptions): T;
  /** From a plain object shaped like toObject()'s output (longs may be strings). */
  fromObject(object: object): object;
  create(properties?: object): object;
  encode(message: object): { finish(): Uint8Array };
}

export interface PbAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  /** int64, as a decimal string. */
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
  kvlistValue?: { values?: PbKeyValue[] };
  /** base64. */
  bytesValue?: string;
}

export interface PbKeyValue {
  key?: string;
  value?: PbAnyValue;
}

export interface PbResource {
  attributes?: PbKeyValue[];
}

export interface PbScope {
  name?: string;
  version?: string;
  attributes?: PbKeyValue[];
}

export interface PbNumberDataPoint {
  attributes?: PbKeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  asDouble?: number;
  /** int64, as a decimal string. */
  asInt?: string;
}

export interface PbMetric {
  name?: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: PbNumberDataPoint[] };
  sum?: {
    dataPoints?: PbNumberDataPoint[];
    /** e.g. "AGGREGATION_TEMPORALITY_DELTA". */
    aggregationTemporality?: string;
    isMonotonic?: boolean;
  };
  histogram?: {
    dataPoints?: PbHistogramDataPoint[];
    aggregationTemporality?: string;
  };
  /** Which of gauge / sum / histogram / exponentialHistogram / summary is set. */
  data?: string;
}

export interface PbHistogramDataPoint {
  attributes?: PbKeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  /** uint64, as a decimal string. */
  count?: string;
  sum?: number;
  /** uint64s, as decimal strings. */
  bucketCounts?: string[];
  explicitBounds?: number[];
  min?: number;
  max?: number;
}

export interface PbExportMetricsServiceRequest {
  resourceMetrics?: {
    resource?: PbResource;
    scopeMetrics?: { scope?: PbScope; metrics?: PbMetric[] }[];
  }[];
}

export interface PbLogRecord {
  /** LogRecord.event_name (field 12, OTLP 1.5). */
  eventName?: string;
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  /** e.g. "SEVERITY_NUMBER_INFO". */
  severityNumber?: string;
  severityText?: string;
  body?: PbAnyValue;
  attributes?: PbKeyValue[];
  /** base64. */
  traceId?: string;
  spanId?: string;
}

export interface PbExportLogsServiceRequest {
  resourceLogs?: {
    resource?: PbResource;
    scopeLogs?: { scope?: PbScope; logRecords?: PbLogRecord[] }[];
  }[];
}

interface OtlpRoot {
  opentelemetry: {
    proto: {
      collector: {
        metrics: {
          v1: {
            ExportMetricsServiceRequest: MessageType<PbExportMetricsServiceRequest>;
            ExportMetricsServiceResponse: MessageType<object>;
          };
        };
        logs: {
          v1: {
            ExportLogsServiceRequest: MessageType<PbExportLogsServiceRequest>;
            ExportLogsServiceResponse: MessageType<object>;
          };
        };
      };
    };
  };
}

// The 0.57.2 package has no "exports" map, so its generated root can be required by path; the
// package's own version is pinned as a devDependency for exactly this file.
const requireFromTransformer = createRequire(
  createRequire(import.meta.url).resolve("@opentelemetry/otlp-transformer/package.json"),
);
const root = requireFromTransformer("./build/src/generated/root.js") as OtlpRoot;
const metricsV1 = root.opentelemetry.proto.collector.metrics.v1;
const logsV1 = root.opentelemetry.proto.collector.logs.v1;

/** The official message types, for tests that need to build or decode a request themselves. */
export const otlpMessages = {
  ExportMetricsServiceRequest: metricsV1.ExportMetricsServiceRequest,
  ExportLogsServiceRequest: logsV1.ExportLogsServiceRequest,
  ExportMetricsServiceResponse: metricsV1.ExportMetricsServiceResponse,
  ExportLogsServiceResponse: logsV1.ExportLogsServiceResponse,
} as const;

/** toObject() options of every decoded request here (longs as strings, enums as names). */
export const TO_OBJECT: ConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: true,
};

// ---------------------------------------------------------------------------------------------
// What the helpers return.

/** A JS view of an OTLP AnyValue: int64 becomes a number (exact up to 2^53), bytes base64. */
export type OtlpValue =
  | string
  | number
  | boolean
  | null
  | OtlpValue[]
  | { [key: string]: OtlpValue };

export interface HistogramPoint {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly temporality: "delta" | "cumulative" | "unspecified" | null;
  readonly attributes: Readonly<Record<string, string>>;
  readonly count: number;
  readonly sum: number;
  readonly bounds: readonly number[];
  readonly bucketCounts: readonly number[];
  readonly min: number | null;
  readonly max: number | null;
  readonly startTimeUnixNano: string;
  readonly timeUnixNano: string;
  readonly request: number;
}

export interface MetricPoint {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly kind: "gauge" | "sum";
  /** Sums only; gauges carry no temporality in OTLP. */
  readonly temporality: "delta" | "cumulative" | "unspecified" | null;
  /** Sums only. */
  readonly monotonic: boolean | null;
  readonly value: number;
  /** "int" when the point was encoded as_int, "double" for as_double. */
  readonly valueType: "int" | "double";
  /** Point attributes, values as strings (a non-string value is JSON-encoded). */
  readonly attributes: Readonly<Record<string, string>>;
  readonly resource: Readonly<Record<string, string>>;
  readonly scope: { readonly name: string; readonly version: string };
  readonly startTimeUnixNano: string;
  readonly timeUnixNano: string;
  /** Index of the request in `metricRequests` that carried it. */
  readonly request: number;
}

export interface LogRecordView {
  readonly eventName: string;
  readonly body: OtlpValue;
  readonly severityNumber: string;
  readonly severityText: string;
  readonly attributes: Readonly<Record<string, OtlpValue>>;
  readonly resource: Readonly<Record<string, string>>;
  readonly scope: { readonly name: string; readonly version: string };
  readonly timeUnixNano: string;
  readonly observedTimeUnixNano: string;
  /** Index of the request in `logRequests` that carried it. */
  readonly request: number;
}

export interface ReceivedRequest<T> {
  readonly body: T;
  /** gRPC metadata as received (keys lowercase; -bin values base64). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly receivedAt: number;
  /** Encoded size in bytes (a Collector refuses more than 4 MiB by default; so does this one). */
  readonly bytes: number;
}

/** PEM material for a TLS receiver. */
export interface ReceiverTls {
  /** The server's private key and certificate (chain). */
  readonly key: Buffer | string;
  readonly cert: Buffer | string;
  /** When set, a client certificate signed by this CA is required (mutual TLS). */
  readonly clientCa?: Buffer | string;
}

/** ok: accept; fail: answer UNAVAILABLE (a Collector in trouble); hang: never answer. */
export type ReceiverBehaviour = "ok" | "fail" | "hang";

export function anyValue(value: PbAnyValue | undefined): OtlpValue {
  if (value === undefined) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.bytesValue !== undefined) return value.bytesValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValue);
  if (value.kvlistValue !== undefined) return keyValues(value.kvlistValue.values);
  return null;
}

export function keyValues(list: PbKeyValue[] | undefined): Record<string, OtlpValue> {
  const out: Record<string, OtlpValue> = {};
  for (const kv of list ?? []) out[kv.key ?? ""] = anyValue(kv.value);
  return out;
}

export function stringAttributes(list: PbKeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(keyValues(list))) {
    out[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

function temporalityOf(name: string | undefined): "delta" | "cumulative" | "unspecified" {
  if (name === "AGGREGATION_TEMPORALITY_DELTA") return "delta";
  if (name === "AGGREGATION_TEMPORALITY_CUMULATIVE") return "cumulative";
  return "unspecified";
}

function metadataRecord(metadata: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    out[key] = typeof value === "string" ? value : value.toString("base64");
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// grpc-js method definitions with the official message types doing the (de)serialization of
// responses; requests stay Buffers until the handler decodes them, so a decode failure becomes
// an INVALID_ARGUMENT answer and an entry in `decodeErrors` instead of a crash.
function serviceDefinition(path: string, response: MessageType<object>): ServiceDefinition {
  const empty = Buffer.from(response.encode(response.create({})).finish());
  return {
    Export: {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: (value: Buffer) => value,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: () => empty,
      responseDeserialize: (bytes: Buffer) => bytes,
    },
  };
}

const METRICS_SERVICE = serviceDefinition(
  "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
  metricsV1.ExportMetricsServiceResponse,
);
const LOGS_SERVICE = serviceDefinition(
  "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
  logsV1.ExportLogsServiceResponse,
);

type Call = ServerUnaryCall<Buffer, Buffer>;
type Reply = sendUnaryData<Buffer>;

export class OtlpReceiver {
  /** Accepted metrics requests, in arrival order. */
  readonly metricRequests: ReceivedRequest<PbExportMetricsServiceRequest>[] = [];
  /** Accepted logs requests, in arrival order. */
  readonly logRequests: ReceivedRequest<PbExportLogsServiceRequest>[] = [];
  /** Requests answered with an error because of `behave("fail")`, per service. */
  readonly rejected = { metrics: 0, logs: 0 };
  /** Requests that did not decode: should stay empty. */
  readonly decodeErrors: string[] = [];

  private server: Server | null = null;
  private mode: ReceiverBehaviour = "ok";
  /** Calls held by `behave("hang")`; dropped (the client sees its deadline) on stop(). */
  private held: Reply[] = [];

  private constructor(
    readonly host: string,
    private boundPort: number,
    private readonly tls: ReceiverTls | null,
    private readonly services: readonly ("metrics" | "logs")[],
  ) {}

  /** Starts a receiver on host (127.0.0.1) and port (0 = any free one), plaintext unless `tls`. */
  static async start(
    options: {
      host?: string;
      port?: number;
      tls?: ReceiverTls;
      /** The services served (default both): a Collector without a logs pipeline serves metrics only. */
      services?: readonly ("metrics" | "logs")[];
    } = {},
  ): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(
      options.host ?? "127.0.0.1",
      options.port ?? 0,
      options.tls ?? null,
      options.services ?? ["metrics", "logs"],
    );
    await receiver.start();
    return receiver;
  }

  get port(): number {
    return this.boundPort;
  }

  /** host:port, as the agent's opentelemetry.endpoint (insecure: true, or false when TLS). */
  get endpoint(): string {
    return `${this.host}:${this.boundPort}`;
  }

  get running(): boolean {
    return this.server !== null;
  }

  /** How the receiver answers from now on. */
  behave(mode: ReceiverBehaviour): void {
    this.mode = mode;
    if (mode !== "hang") this.releaseHeld();
  }

  /**
   * (Re)starts listening, on the same port after the first start. Idempotent. A restart right
   * after stop() may find the port still closing; it retries briefly.
   */
  async start(): Promise<void> {
    if (this.server !== null) return;
    const server = new Server();
    // A method not added is answered UNIMPLEMENTED by grpc-js, as by a Collector without that
    // signal's pipeline.
    if (this.services.includes("metrics")) {
      server.addService(METRICS_SERVICE, {
        Export: (call: Call, reply: Reply) => this.onMetrics(call, reply),
      });
    }
    if (this.services.includes("logs")) {
      server.addService(LOGS_SERVICE, {
        Export: (call: Call, reply: Reply) => this.onLogs(call, reply),
      });
    }
    for (let attempt = 0; ; attempt++) {
      try {
        this.boundPort = await new Promise<number>((resolve, reject) => {
          server.bindAsync(`${this.host}:${this.boundPort}`, this.credentials(), (error, port) =>
            error === null ? resolve(port) : reject(error),
          );
        });
        break;
      } catch (error) {
        if (attempt >= 50) throw error;
        await sleep(20);
      }
    }
    this.server = server;
  }

  /** Whether it serves TLS (and then whether it requires a client certificate). */
  get servesTls(): boolean {
    return this.tls !== null;
  }

  private credentials(): ServerCredentials {
    if (this.tls === null) return ServerCredentials.createInsecure();
    const { key, cert, clientCa } = this.tls;
    // checkClientCertificate=true makes grpc-js (Node's requestCert + rejectUnauthorized) refuse
    // a handshake without a certificate signed by rootCerts.
    return ServerCredentials.createSsl(
      clientCa === undefined ? null : Buffer.from(clientCa),
      [{ private_key: Buffer.from(key), cert_chain: Buffer.from(cert) }],
      clientCa !== undefined,
    );
  }

  /** Stops listening and drops open connections at once (a Collector crash). The port is kept. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    this.held = [];
    server.forceShutdown();
    // Let the closing listener and sessions settle before a test restarts on the same port.
    await sleep(10);
  }

  /** Stops for good. */
  async close(): Promise<void> {
    await this.stop();
  }

  /** Forgets every received request and counter (not the behaviour). */
  clear(): void {
    this.metricRequests.length = 0;
    this.logRequests.length = 0;
    this.rejected.metrics = 0;
    this.rejected.logs = 0;
    this.decodeErrors.length = 0;
  }

  /**
   * Every gauge and sum data point received, in order, optionally only those of one metric name.
   * Histograms and summaries are not flattened (read `metricRequests` for those).
   */
  points(name?: string): MetricPoint[] {
    return metricPoints(this.metricRequests, name);
  }

  /** Every histogram data point received, in order, optionally only those of one metric name. */
  histogramPoints(name?: string): HistogramPoint[] {
    const out: HistogramPoint[] = [];
    this.metricRequests.forEach((request, index) => {
      for (const rm of request.body.resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
          for (const metric of sm.metrics ?? []) {
            if (metric.histogram === undefined) continue;
            if (name !== undefined && metric.name !== name) continue;
            const temporality = temporalityOf(metric.histogram.aggregationTemporality);
            for (const dp of metric.histogram.dataPoints ?? []) {
              out.push({
                name: metric.name ?? "",
                unit: metric.unit ?? "",
                description: metric.description ?? "",
                temporality,
                attributes: stringAttributes(dp.attributes),
                count: Number(dp.count ?? 0),
                sum: dp.sum ?? 0,
                bounds: dp.explicitBounds ?? [],
                bucketCounts: (dp.bucketCounts ?? []).map(Number),
                min: dp.min ?? null,
                max: dp.max ?? null,
                startTimeUnixNano: dp.startTimeUnixNano ?? "",
                timeUnixNano: dp.timeUnixNano ?? "",
                request: index,
              });
            }
          }
        }
      }
    });
    return out;
  }

  /** The distinct metric names received, sorted. */
  metricNames(): string[] {
    const names = new Set<string>();
    for (const request of this.metricRequests) {
      for (const rm of request.body.resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
          for (const metric of sm.metrics ?? []) names.add(metric.name ?? "");
        }
      }
    }
    return [...names].sort();
  }

  /** Every log record received, in order. */
  logRecords(): LogRecordView[] {
    return logRecordViews(this.logRequests);
  }

  /** Polls `predicate` (every 10 ms) until it holds; rejects naming `what` after `timeoutMs`. */
  async waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      }
      await sleep(10);
    }
  }

  private onMetrics(call: Call, reply: Reply): void {
    if (this.refuse("metrics", reply)) return;
    let body: PbExportMetricsServiceRequest;
    try {
      const type = metricsV1.ExportMetricsServiceRequest;
      body = type.toObject(type.decode(call.request), TO_OBJECT);
    } catch (error) {
      this.decodeFailed(error, reply);
      return;
    }
    this.metricRequests.push({
      body,
      metadata: metadataRecord(call.metadata),
      receivedAt: Date.now(),
      bytes: call.request.length,
    });
    reply(null, Buffer.alloc(0));
  }

  private onLogs(call: Call, reply: Reply): void {
    if (this.refuse("logs", reply)) return;
    let body: PbExportLogsServiceRequest;
    try {
      const type = logsV1.ExportLogsServiceRequest;
      body = type.toObject(type.decode(call.request), TO_OBJECT);
    } catch (error) {
      this.decodeFailed(error, reply);
      return;
    }
    this.logRequests.push({
      body,
      metadata: metadataRecord(call.metadata),
      receivedAt: Date.now(),
      bytes: call.request.length,
    });
    reply(null, Buffer.alloc(0));
  }

  /** Applies the fail / hang behaviours; true when the call was handled that way. */
  private refuse(service: "metrics" | "logs", reply: Reply): boolean {
    if (this.mode === "fail") {
      this.rejected[service]++;
      reply({ code: status.UNAVAILABLE, details: "test receiver told to fail" });
      return true;
    }
    if (this.mode === "hang") {
      this.held.push(reply);
      return true;
    }
    return false;
  }

  private decodeFailed(error: unknown, reply: Reply): void {
    const message = error instanceof Error ? error.message : String(error);
    this.decodeErrors.push(message);
    reply({ code: status.INVALID_ARGUMENT, details: `undecodable request: ${message}` });
  }

  private releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const reply of held) reply({ code: status.UNAVAILABLE, details: "released by the test" });
  }
}

/**
 * Every gauge and sum data point of `requests`, in order, optionally only those of one metric
 * name. Histograms and summaries are not flattened.
 */
export function metricPoints(
  requests: readonly ReceivedRequest<PbExportMetricsServiceRequest>[],
  name?: string,
): MetricPoint[] {
  const out: MetricPoint[] = [];
  requests.forEach((request, index) => {
    for (const rm of request.body.resourceMetrics ?? []) {
      const resource = stringAttributes(rm.resource?.attributes);
      for (const sm of rm.scopeMetrics ?? []) {
        const scope = { name: sm.scope?.name ?? "", version: sm.scope?.version ?? "" };
        for (const metric of sm.metrics ?? []) {
          if (name !== undefined && metric.name !== name) continue;
          const common = {
            name: metric.name ?? "",
            unit: metric.unit ?? "",
            description: metric.description ?? "",
            resource,
            scope,
            request: index,
          };
          if (metric.gauge !== undefined) {
            for (const dp of metric.gauge.dataPoints ?? []) {
              out.push({
                ...common,
                ...pointValue(dp),
                kind: "gauge",
                temporality: null,
                monotonic: null,
              });
            }
          } else if (metric.sum !== undefined) {
            const temporality = temporalityOf(metric.sum.aggregationTemporality);
            const monotonic = metric.sum.isMonotonic ?? false;
            for (const dp of metric.sum.dataPoints ?? []) {
              out.push({ ...common, ...pointValue(dp), kind: "sum", temporality, monotonic });
            }
          }
        }
      }
    }
  });
  return out;
}

/** Every log record of `requests`, in order. */
export function logRecordViews(
  requests: readonly ReceivedRequest<PbExportLogsServiceRequest>[],
): LogRecordView[] {
  const out: LogRecordView[] = [];
  requests.forEach((request, index) => {
    for (const rl of request.body.resourceLogs ?? []) {
      const resource = stringAttributes(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        const scope = { name: sl.scope?.name ?? "", version: sl.scope?.version ?? "" };
        for (const record of sl.logRecords ?? []) {
          out.push({
            eventName: record.eventName ?? "",
            body: anyValue(record.body),
            severityNumber: record.severityNumber ?? "SEVERITY_NUMBER_UNSPECIFIED",
            severityText: record.severityText ?? "",
            attributes: keyValues(record.attributes),
            resource,
            scope,
            timeUnixNano: record.timeUnixNano ?? "0",
            observedTimeUnixNano: record.observedTimeUnixNano ?? "0",
            request: index,
          });
        }
      }
    }
  });
  return out;
}

function pointValue(dp: PbNumberDataPoint): {
  value: number;
  valueType: "int" | "double";
  attributes: Record<string, string>;
  startTimeUnixNano: string;
  timeUnixNano: string;
} {
  const isInt = dp.asInt !== undefined;
  return {
    value: isInt ? Number(dp.asInt) : (dp.asDouble ?? 0),
    valueType: isInt ? "int" : "double",
    attributes: stringAttributes(dp.attributes),
    startTimeUnixNano: dp.startTimeUnixNano ?? "0",
    timeUnixNano: dp.timeUnixNano ?? "0",
  };
}
