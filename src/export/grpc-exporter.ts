import type { Metadata } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { VERSION } from "../version.js";
import { type ExportResult, FAILED, SUCCESS } from "./export-result.js";
import { type UnaryCallResult, UnaryChannel, type UnaryChannelOptions } from "./grpc-unary.js";
import { decodePartialSuccess, MetricsRequestEncoder } from "./otlp-encode.js";

// The OTLP/gRPC metrics exporter: our encoder (otlp-encode.ts) and our unary call over HTTP/2
// (grpc-unary.ts). It replaces @opentelemetry/exporter-metrics-otlp-grpc, whose serializer cost
// most of the agent's CPU at 20,000 legs and blocked the event loop for hundreds of milliseconds
// per collection; grpc-js's Client was replaced later for the copy it makes of every request
// (see grpc-unary.ts). What the SDK exporter did that the agent relies on is kept: the deadline
// per export, failing fast while the Collector is unreachable (no wait-for-ready), no retry of
// its own (retry.ts decides what is worth re-sending), the cap on exports in flight, a fresh
// connection after repeated deadlines, and a warning on a partial success.

export const EXPORT_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/**
 * Exports in flight at most, as the SDK exporter had: beyond it an export fails at once rather
 * than holding one more encoded request (1-2 MB at MAX_POINTS_PER_REQUEST) in memory.
 */
export const MAX_CONCURRENT_EXPORTS = 30;

/**
 * Deadlines in a row after which the connection is replaced, as the SDK exporter did. A
 * connection whose peer vanished without a reset (a host gone, a NAT entry dropped) still looks
 * open, and no keepalive pings are sent, so every call would wait for its deadline; a new
 * connection is made instead.
 */
const MAX_DEADLINES_IN_A_ROW = 5;

const PARTIAL_KEY = "otlp-metrics-partial-success";

/** A request buffer larger than this is not kept for the next export (a spike's, say). */
const MAX_SPARE_BYTES = 64 * 1024 * 1024;

/** host:port from the configured endpoint (host:port, or an http(s) URL, perhaps with a path). */
export function grpcAddress(url: string): string {
  // Not URL.host: it drops a port equal to the scheme's default (https://collector:443 would
  // become "collector"), and the TLS decision is not the scheme's alone (grpcTarget).
  return url.replace(/^https?:\/\//i, "").split("/")[0] ?? url;
}

export interface GrpcMetricExporterOptions {
  /** host:port (see grpcAddress). */
  readonly address: string;
  /** null: plaintext; otherwise TLS with these files (null members: Node's defaults). */
  readonly tls: UnaryChannelOptions["tls"];
  /** Sent with every request (the configured headers, validated as gRPC metadata). */
  readonly metadata: Metadata;
  /** Each export's gRPC deadline. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** host:port for log lines. */
  readonly endpoint: string;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class GrpcMetricExporter implements PushMetricExporter {
  private readonly encoder = new MetricsRequestEncoder();
  /** Connects on the first export: an agent with nothing to export opens no connection. */
  private readonly channel: UnaryChannel;
  /** One per export in flight; resolves (never rejects) once its result was passed on. */
  private readonly inFlight = new Set<Promise<void>>();
  private deadlinesInARow = 0;
  /** A finished request's buffer, written over by the next export (see encode's scratch). */
  private spare: Buffer | undefined;
  private shutdownPromise: Promise<void> | null = null;
  private readonly limited: RateLimitedLog;

  constructor(private readonly options: GrpcMetricExporterOptions) {
    this.limited = new RateLimitedLog(options.logger);
    this.channel = new UnaryChannel({
      authority: options.address,
      tls: options.tls,
      headers: options.metadata.toHttp2Headers(),
      userAgent: `fsagent/${VERSION}`,
    });
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    if (this.shutdownPromise !== null) {
      resultCallback({ code: FAILED, error: new Error("OTLP metrics exporter is shut down") });
      return;
    }
    if (this.inFlight.size >= MAX_CONCURRENT_EXPORTS) {
      resultCallback({
        code: FAILED,
        error: new Error(`${MAX_CONCURRENT_EXPORTS} OTLP metrics exports already in flight`),
      });
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
      resultCallback({ code: FAILED, error: asError(error) });
      return;
    }
    const sent = new Promise<void>((resolve) => {
      this.channel.call(EXPORT_METHOD, request, this.options.timeoutMs, (call) => {
        // Once the stream closed nothing reads the request: its buffer serves the next export.
        // After a deadline it may still be queued on the connection, so it is not reused.
        if (call.requestReleased) this.keepSpare(request);
        try {
          resultCallback(this.settle(call));
        } finally {
          resolve();
        }
      });
    });
    this.inFlight.add(sent);
    void sent.then(() => this.inFlight.delete(sent));
  }

  /** Resolves when every export in flight has passed on its result. */
  async forceFlush(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  /**
   * Lets the exports in flight finish (each ends by its deadline at the latest), then closes the
   * channel. Bounded even if a deadline timer were never to fire.
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.timeoutMs + 1000);
        timer.unref();
      });
      await Promise.race([this.forceFlush(), bound]);
      clearTimeout(timer);
      this.channel.close();
    })();
    return this.shutdownPromise;
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

  private settle(call: UnaryCallResult): ExportResult {
    const error = call.error;
    if (error !== null) {
      if (
        error.code === status.DEADLINE_EXCEEDED &&
        ++this.deadlinesInARow > MAX_DEADLINES_IN_A_ROW
      ) {
        this.deadlinesInARow = 0;
        // Calls still on the old connection fail; the next export connects anew.
        this.channel.reset();
      }
      // The message carries the status ("14 UNAVAILABLE: connect ECONNREFUSED ...").
      return { code: FAILED, error };
    }
    this.deadlinesInARow = 0;
    if (call.response.length > 0) this.warnOnPartialSuccess(call.response);
    return { code: SUCCESS };
  }

  /**
   * A Collector that refused some points (invalid data, a processor's limit) still answers OK; the
   * SDK exporter logged it and so do we. Not a failed export: the rest was delivered, and
   * re-sending the refused points would be refused again.
   */
  private warnOnPartialSuccess(response: Buffer): void {
    let partial: ReturnType<typeof decodePartialSuccess>;
    try {
      partial = decodePartialSuccess(response);
    } catch {
      // An answer we cannot read does not undo the delivery the OK status reports.
      return;
    }
    if (partial === null) return;
    const message = partial.errorMessage.replace(/\s+/g, " ").trim().slice(0, 240);
    this.limited.warn(
      PARTIAL_KEY,
      {
        endpoint: this.options.endpoint,
        rejectedDataPoints: partial.rejectedDataPoints,
        ...(message === "" ? {} : { error: message }),
      },
      "the Collector accepted an OTLP metrics export but rejected some of its points",
    );
  }
}
