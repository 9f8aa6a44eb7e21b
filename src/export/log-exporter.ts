import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { type ExportResult, FAILED } from "./export-result.js";
import { OtlpClient, type OtlpExporterOptions } from "./otlp-client.js";
import { LogsRequestEncoder } from "./otlp-logs-encode.js";

// The OTLP logs exporter of the quality records (records.ts): our encoder (otlp-logs-encode.ts)
// and the same call as the metrics, over gRPC or OTLP/HTTP (otlp-client.ts). It replaces
// @opentelemetry/exporter-logs-otlp-grpc, so that both signals share one transport and one
// behaviour (no proxy, the same deadlines and errors), and so that the SDK exporter's own reading
// of OTEL_EXPORTER_OTLP_LOGS_* / _HEADERS / _COMPRESSION behind the configuration's back is gone.

export class OtlpLogExporter implements LogRecordExporter {
  private readonly encoder = new LogsRequestEncoder();
  private readonly client: OtlpClient;

  constructor(options: OtlpExporterOptions) {
    this.client = new OtlpClient({ ...options, signal: "logs" });
  }

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    const refusal = this.client.refusal();
    if (refusal !== null) {
      resultCallback({ code: FAILED, error: refusal });
      return;
    }
    let request: Buffer;
    try {
      request = this.encoder.encode(records);
    } catch (error) {
      resultCallback({
        code: FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
      return;
    }
    this.client.send(request, (result) => resultCallback(result));
  }

  forceFlush(): Promise<void> {
    return this.client.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.client.shutdown();
  }
}
