import type { PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { type ExportResult, FAILED } from "./export-result.js";
import { OtlpClient, type OtlpExporterOptions } from "./otlp-client.js";
import { MetricsRequestEncoder } from "./otlp-encode.js";

// The OTLP metrics exporter: our encoder (otlp-encode.ts) and our call over gRPC or OTLP/HTTP
// (otlp-client.ts, grpc-unary.ts, http-unary.ts). It replaces @opentelemetry/exporter-metrics-otlp-grpc,
// whose serializer cost most of the agent's CPU at 20,000 legs and blocked the event loop for
// hundreds of milliseconds per collection; grpc-js's Client was replaced later for the copy it
// makes of every request (see grpc-unary.ts).

/** A request buffer larger than this is not kept for the next export (a spike's, say). */
const MAX_SPARE_BYTES = 64 * 1024 * 1024;

/** host:port from the configured endpoint (host:port, or an http(s) URL, perhaps with a path). */
export function grpcAddress(url: string): string {
  // Not URL.host: it drops a port equal to the scheme's default (https://collector:443 would
  // become "collector"), and the TLS decision is not the scheme's alone (grpcTarget).
  return url.replace(/^https?:\/\//i, "").split("/")[0] ?? url;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class OtlpMetricExporter implements PushMetricExporter {
  private readonly encoder = new MetricsRequestEncoder();
  private readonly client: OtlpClient;
  /** A finished request's buffer, written over by the next export (see encode's scratch). */
  private spare: Buffer | undefined;

  constructor(options: OtlpExporterOptions) {
    this.client = new OtlpClient({ ...options, signal: "metrics" });
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    const refusal = this.client.refusal();
    if (refusal !== null) {
      resultCallback({ code: FAILED, error: refusal });
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
    this.client.send(request, (result, requestReleased) => {
      // Once its write is done nothing reads the request: its buffer serves the next export.
      if (requestReleased) this.keepSpare(request);
      resultCallback(result);
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
