import { type Metadata, status } from "@grpc/grpc-js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { VERSION } from "../version.js";
import { type ExportResult, FAILED, SUCCESS } from "./export-result.js";
import { type UnaryCallResult, UnaryChannel, type UnaryChannelOptions } from "./grpc-unary.js";
import { decodePartialSuccess } from "./otlp-encode.js";

// One OTLP/gRPC Export method (metrics or logs) over our unary call (grpc-unary.ts), with what
// the SDK's exporters did that the agent relies on: the deadline per export, failing fast while
// the Collector is unreachable (no wait-for-ready), no retry of its own (the callers' retry
// queues decide what is worth re-sending), the cap on exports in flight, a fresh connection after
// repeated deadlines, and a warning on a partial success. The callers encode; this sends.

export const METRICS_EXPORT_METHOD =
  "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
export const LOGS_EXPORT_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/**
 * Exports in flight at most, as the SDK exporters had: beyond it an export fails at once rather
 * than holding one more encoded request (1-2 MB of metrics at MAX_POINTS_PER_REQUEST) in memory.
 */
export const MAX_CONCURRENT_EXPORTS = 30;

/**
 * Deadlines in a row after which the connection is replaced, as the SDK exporters did. A
 * connection whose peer vanished without a reset (a host gone, a NAT entry dropped) still looks
 * open, and no keepalive pings are sent, so every call would wait for its deadline; a new
 * connection is made instead.
 */
const MAX_DEADLINES_IN_A_ROW = 5;

/** What a signal's log lines call it and its items. */
const SIGNALS = {
  metrics: { items: "points", rejectedField: "rejectedDataPoints" },
  logs: { items: "records", rejectedField: "rejectedLogRecords" },
} as const;

export interface OtlpGrpcClientOptions {
  readonly signal: keyof typeof SIGNALS;
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

/** What an exporter built on the client is given: the client's options but the signal. */
export type OtlpExporterOptions = Omit<OtlpGrpcClientOptions, "signal">;

export class OtlpGrpcClient {
  /** Connects on the first export: an agent with nothing to export opens no connection. */
  private readonly channel: UnaryChannel;
  private readonly method: string;
  /** One per export in flight; resolves (never rejects) once its result was passed on. */
  private readonly inFlight = new Set<Promise<void>>();
  private deadlinesInARow = 0;
  private shutdownPromise: Promise<void> | null = null;
  private readonly limited: RateLimitedLog;

  constructor(private readonly options: OtlpGrpcClientOptions) {
    this.limited = new RateLimitedLog(options.logger);
    this.method = options.signal === "metrics" ? METRICS_EXPORT_METHOD : LOGS_EXPORT_METHOD;
    this.channel = new UnaryChannel({
      authority: options.address,
      tls: options.tls,
      headers: options.metadata.toHttp2Headers(),
      userAgent: `fsagent/${VERSION}`,
    });
  }

  /** Why an export cannot start now (shut down, too many in flight); null when it can. */
  refusal(): Error | null {
    if (this.shutdownPromise !== null) {
      return new Error(`OTLP ${this.options.signal} exporter is shut down`);
    }
    if (this.inFlight.size >= MAX_CONCURRENT_EXPORTS) {
      return new Error(
        `${MAX_CONCURRENT_EXPORTS} OTLP ${this.options.signal} exports already in flight`,
      );
    }
    return null;
  }

  /**
   * Sends one encoded request. `done` gets the result once, and whether the request's buffer
   * is free again (false after a deadline: it may still be queued on the connection).
   */
  send(request: Buffer, done: (result: ExportResult, requestReleased: boolean) => void): void {
    const sent = new Promise<void>((resolve) => {
      this.channel.call(this.method, request, this.options.timeoutMs, (call) => {
        try {
          done(this.settle(call), call.requestReleased);
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
   * connection. Bounded even if a deadline timer were never to fire.
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
   * A Collector that refused some items (invalid data, a processor's limit) still answers OK;
   * the SDK exporters logged it and so do we. Not a failed export: the rest was delivered, and
   * re-sending the refused items would be refused again. Metrics and logs answer with the same
   * field numbers (rejected count 1, error_message 2).
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
    const { items, rejectedField } = SIGNALS[this.options.signal];
    const message = partial.errorMessage.replace(/\s+/g, " ").trim().slice(0, 240);
    this.limited.warn(
      `otlp-${this.options.signal}-partial-success`,
      {
        endpoint: this.options.endpoint,
        [rejectedField]: partial.rejectedDataPoints,
        ...(message === "" ? {} : { error: message }),
      },
      `the Collector accepted an OTLP ${this.options.signal} export but rejected some of its ${items}`,
    );
  }
}
