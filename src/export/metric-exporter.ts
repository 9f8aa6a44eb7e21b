import type { Attributes } from "@opentelemetry/api";
import {
  AggregationTemporality,
  InstrumentType,
  type PushMetricExporter,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import type { OpenTelemetryConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { someAttributes } from "./column-points.js";
import { type ExportResult, FAILED, SUCCESS } from "./export-result.js";
import { metricsSignal, type QueuedPoint } from "./metric-batches.js";
import { OtlpClient, type OtlpTransportOptions } from "./otlp-client.js";
import { MetricsRequestEncoder } from "./otlp-encode.js";
import type { ExportSender, Transport } from "./sender.js";
import { type SignalSenderOptions, signalSender } from "./signal-sender.js";

// The metrics export, from the SDK's periodic reader to the wire:
//   MetricExporter (the reader's PushMetricExporter: temporality, cardinality warning)
//   → ExportSender (sender.ts: requests, queue, retry, counters; metric-batches.ts says what a
//     metrics request is and which of its points are retried)
//   → OtlpMetricsTransport (our encoder, otlp-encode.ts, and one OTLP call, otlp-client.ts).
// The encoder and the call replace @opentelemetry/exporter-metrics-otlp-grpc, whose serializer
// cost most of the agent's CPU at 20,000 legs and blocked the event loop for hundreds of
// milliseconds per collection; grpc-js's Client was replaced later for the copy it makes of every
// request (see grpc-unary.ts).

/**
 * Data points per export request. A Collector's OTLP receiver refuses requests above 4 MiB by
 * default (gRPC max_recv_msg_size), and one interval of a busy agent holds far more: 2,000 legs
 * make 26,000 points, about 5.5 MB in one request. Measured, a per-leg point encodes to 180-260
 * bytes with typical labels (allow 400 for long ones), so 4,000 points stay near 1-1.6 MB.
 */
export const MAX_POINTS_PER_REQUEST = 4000;

/** A request buffer larger than this is not kept for the next export (a spike's, say). */
const MAX_SPARE_BYTES = 64 * 1024 * 1024;

const OVERFLOW_KEY = "otlp-metrics-overflow";
/** The attribute of the series the SDK folds attribute sets beyond the cardinality limit into. */
const OVERFLOW_ATTRIBUTE = "otel.metric.overflow";

function isOverflow(attributes: Attributes): boolean {
  return attributes[OVERFLOW_ATTRIBUTE] === true;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Encodes a metrics request and sends it in one OTLP call. */
export class OtlpMetricsTransport implements Transport<ResourceMetrics> {
  private readonly encoder = new MetricsRequestEncoder();
  private readonly client: OtlpClient;
  /** A finished request's buffer, written over by the next export (see encode's scratch). */
  private spare: Buffer | undefined;

  constructor(options: OtlpTransportOptions) {
    this.client = new OtlpClient({ ...options, signal: "metrics" });
  }

  send(metrics: ResourceMetrics, timeoutMs: number, done: (result: ExportResult) => void): void {
    const refusal = this.client.refusal();
    if (refusal !== null) {
      done({ code: FAILED, error: refusal });
      return;
    }
    let request: Buffer;
    // Taken while this request uses it: exports in flight at once never share a buffer.
    const scratch = this.spare;
    this.spare = undefined;
    try {
      request = this.encoder.encode(metrics, scratch);
    } catch (error) {
      this.spare = scratch;
      done({ code: FAILED, error: asError(error) });
      return;
    }
    this.client.send(request, timeoutMs, (result, requestReleased) => {
      // Once its write is done nothing reads the request: its buffer serves the next export.
      if (requestReleased) this.keepSpare(request);
      done(result);
    });
  }

  /** Resolves when every export in flight has passed on its result. */
  forceFlush(): Promise<void> {
    return this.client.forceFlush();
  }

  /** Lets the exports in flight finish (bounded), then closes the connection. */
  shutdown(): Promise<void> {
    return this.client.shutdown();
  }

  /**
   * Keeps the larger of the spare and `request`'s whole buffer, up to MAX_SPARE_BYTES. The
   * encoder allocates outside Node's shared pool, so the whole ArrayBuffer is this request's.
   */
  private keepSpare(request: Buffer): void {
    const whole = Buffer.from(
      request.buffer,
      request.byteOffset,
      request.buffer.byteLength - request.byteOffset,
    );
    if (whole.length > MAX_SPARE_BYTES) return;
    if (this.spare === undefined || this.spare.length < whole.length) this.spare = whole;
  }
}

export type MetricsSender = ExportSender<ResourceMetrics, QueuedPoint>;

/**
 * The periodic reader's exporter: hands each collection to the sender and answers SUCCESS once
 * its points are accounted for (sent, queued, or dropped and counted; a failure is logged by the
 * sender, once per kind and window). A FAILED answer would only make the reader pass the error to
 * the SDK's global error handler, a second report of what the sender already said.
 */
export class MetricExporter implements PushMetricExporter {
  private readonly limited: RateLimitedLog;

  constructor(
    readonly sender: MetricsSender,
    private readonly options: { readonly logger: Logger; readonly cardinalityLimit: number },
  ) {
    this.limited = new RateLimitedLog(options.logger);
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.warnOnOverflow(metrics);
    this.sender.export(metrics, () => resultCallback({ code: SUCCESS }));
  }

  /**
   * DELTA for the gauges: they are the per-leg QoS series. Under DELTA the SDK exports an
   * attribute set in the collection it was recorded in and drops it afterwards; under CUMULATIVE
   * it keeps every set it ever saw and re-exports it each interval, so a gauge of a call that
   * ended hours ago would still be exported with its last value (SPEC §4). CUMULATIVE for the
   * histograms and counters: they are the bounded aggregates, which backends such as Prometheus
   * expect cumulative. (The per-leg RTCP series are not SDK instruments: see rtcp-series.ts.)
   */
  selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return type === InstrumentType.GAUGE
      ? AggregationTemporality.DELTA
      : AggregationTemporality.CUMULATIVE;
  }

  forceFlush(): Promise<void> {
    return this.sender.forceFlush();
  }

  /** The reader calls this after its final export: one last attempt at the queue, then close. */
  shutdown(): Promise<void> {
    return this.sender.shutdown();
  }

  /**
   * Past the cardinality limit the SDK folds new attribute sets into one series marked
   * otel.metric.overflow, silently: those legs' values are merged into a meaningless aggregate.
   * One pass over the points per export (cheap next to serializing them) makes it visible.
   */
  private warnOnOverflow(metrics: ResourceMetrics): void {
    let names: string[] | null = null;
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (someAttributes(metric, isOverflow)) {
          names ??= [];
          names.push(metric.descriptor.name);
        }
      }
    }
    if (names === null) return;
    this.limited.warn(
      OVERFLOW_KEY,
      { metrics: names, cardinalityLimit: this.options.cardinalityLimit },
      "more series in one export interval than the cardinality limit: the excess legs are merged " +
        "into one otel.metric.overflow series (raise storage.max_legs)",
    );
  }
}

/** The metrics export for `config`: transport, sender and the reader's exporter. */
export function createMetricExporter(
  config: OpenTelemetryConfig,
  options: SignalSenderOptions & { readonly cardinalityLimit: number },
): MetricExporter {
  const sender = signalSender(
    config,
    metricsSignal,
    (transport) => new OtlpMetricsTransport(transport),
    MAX_POINTS_PER_REQUEST,
    options,
  );
  return new MetricExporter(sender, {
    logger: options.logger,
    cardinalityLimit: options.cardinalityLimit,
  });
}
