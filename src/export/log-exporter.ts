import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import type { OpenTelemetryConfig } from "../config/types.js";
import { type ExportResult, FAILED, SUCCESS } from "./export-result.js";
import { OtlpClient, type OtlpTransportOptions } from "./otlp-client.js";
import { LogsRequestEncoder } from "./otlp-logs-encode.js";
import type { ExportSender, ExportSignal, Transport } from "./sender.js";
import { type SignalSenderOptions, signalSender } from "./signal-sender.js";

// The quality records' export (records.ts), from the SDK's batch processor to the wire:
//   RecordExporter (the processor's LogRecordExporter)
//   → ExportSender (sender.ts: requests, queue, retry, counters; every record is worth a retry)
//   → OtlpLogsTransport (our encoder, otlp-logs-encode.ts, and the same OTLP call as the metrics,
//     otlp-client.ts).
// It replaces @opentelemetry/exporter-logs-otlp-grpc, so that both signals share one transport and
// one behaviour (no proxy, the same deadlines, errors and retries), and so that the SDK exporter's
// own reading of OTEL_EXPORTER_OTLP_LOGS_* / _HEADERS / _COMPRESSION behind the configuration's
// back is gone.

/**
 * Records per export request at most: the batch processor's batch size, and the bound for the
 * retry queue sent with it. A record is ~1.1 KB on the wire, so a request stays near 1 MB, well
 * under a Collector's default 4 MiB limit per message; a queue of thousands sent as one request
 * after an outage would be refused, re-queued and refused again for good.
 */
export const MAX_RECORDS_PER_REQUEST = 1000;

/** Encodes a logs request and sends it in one OTLP call. */
export class OtlpLogsTransport implements Transport<ReadableLogRecord[]> {
  private readonly encoder = new LogsRequestEncoder();
  private readonly client: OtlpClient;

  constructor(options: OtlpTransportOptions) {
    this.client = new OtlpClient({ ...options, signal: "logs" });
  }

  send(
    records: ReadableLogRecord[],
    timeoutMs: number,
    done: (result: ExportResult) => void,
  ): void {
    const refusal = this.client.refusal();
    if (refusal !== null) {
      done({ code: FAILED, error: refusal });
      return;
    }
    let request: Buffer;
    try {
      request = this.encoder.encode(records);
    } catch (error) {
      done({ code: FAILED, error: error instanceof Error ? error : new Error(String(error)) });
      return;
    }
    this.client.send(request, timeoutMs, (result) => done(result));
  }

  forceFlush(): Promise<void> {
    return this.client.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.client.shutdown();
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  if (items.length === 0) return [];
  if (items.length <= size) return [items];
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The logs signal for the export sender: every record is one item, and worth a retry. */
export const logsSignal: ExportSignal<ReadableLogRecord[], ReadableLogRecord> = {
  name: "logs",
  size: (records) => records.length,
  split: chunks,
  retain: (records) => ({ items: records, lost: 0 }),
  merge: (records, queued) => (records === null ? [...queued] : queued.concat(records)),
  words: {
    failed: "OTLP log export of quality records failed; they wait in the retry queue",
    failedNoQueue:
      "OTLP log export of quality records failed; they are dropped (opentelemetry.retry_queue_size is 0)",
    refused:
      "OTLP log export of quality records refused, not retryable: they are dropped (fix what the error says)",
    what: "OTLP quality records export",
  },
};

export type RecordsSender = ExportSender<ReadableLogRecord[], ReadableLogRecord>;

/**
 * The batch processor's exporter. Its result is SUCCESS once the records are in the sender's
 * hands: sent, queued for retry, or dropped and counted, a failure logged by the sender once per
 * kind and rate-limit window. A FAILED result would only make the processor hand the error to the
 * SDK's global error handler, which logs it again, with its stack, at every failed export.
 */
export class RecordExporter implements LogRecordExporter {
  constructor(readonly sender: RecordsSender) {}

  export(records: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    this.sender.export(records, () => done({ code: SUCCESS }));
  }

  forceFlush(): Promise<void> {
    return this.sender.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.sender.shutdown();
  }
}

/** The quality records' export for `config`: transport, sender and the processor's exporter. */
export function createRecordExporter(
  config: OpenTelemetryConfig,
  options: SignalSenderOptions,
): RecordExporter {
  return new RecordExporter(
    signalSender(
      config,
      logsSignal,
      (transport) => new OtlpLogsTransport(transport),
      MAX_RECORDS_PER_REQUEST,
      options,
    ),
  );
}
