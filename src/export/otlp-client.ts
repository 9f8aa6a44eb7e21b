import { gzip } from "node:zlib";
import type { OtlpCompression } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { bounded } from "../util/bounded.js";
import { VERSION } from "../version.js";
import type { TransportError } from "./export-failure.js";
import { type ExportResult, FAILED, SUCCESS } from "./export-result.js";
import { UnaryChannel, type UnaryChannelOptions } from "./grpc-unary.js";
import { HttpChannel } from "./http-unary.js";
import { decodePartialSuccess } from "./otlp-decode.js";

// One OTLP Export (metrics or logs), over gRPC (our unary call, grpc-unary.ts) or OTLP/HTTP
// (http-unary.ts), with what the SDK's exporters did that the agent relies on: the deadline the
// sender gives each export, failing fast while the Collector is unreachable (no wait-for-ready),
// no retry of its own (the export sender, sender.ts, decides what is worth re-sending, from the
// failure's kind: export-failure.ts), the cap on exports in flight, a fresh connection after
// repeated deadlines, gzip when configured, and a warning on a partial success. The transports
// (metric-exporter.ts, log-exporter.ts) encode; this sends.

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

/** Where an export goes: a gRPC host:port, or the URL an OTLP/HTTP request is POSTed to. */
export type OtlpRoute =
  | { readonly protocol?: "grpc" /** host:port (see grpcAddress). */; readonly address: string }
  | { readonly protocol: "http/protobuf"; readonly url: string };

export type OtlpClientOptions = OtlpRoute & {
  readonly signal: keyof typeof SIGNALS;
  /** null: plaintext (gRPC; OTLP/HTTP follows the URL's scheme); otherwise TLS with these files (null members: Node's defaults). */
  readonly tls: UnaryChannelOptions["tls"];
  /** Sent with every request: the configured headers, lowercase names (see otlpHeaders). */
  readonly headers: Readonly<Record<string, string>>;
  readonly logger: Logger;
  /** host:port for log lines. */
  readonly endpoint: string;
  /** Default none. */
  readonly compression?: OtlpCompression;
};

/** What a transport built on the client is given: the client's options but the signal. */
export type OtlpTransportOptions = OtlpRoute & Omit<OtlpClientOptions, "signal" | keyof OtlpRoute>;

/** The one call both transports make; the HTTP one is given a URL, the gRPC one a method path. */
interface Transport {
  call(
    target: string,
    message: Buffer,
    timeoutMs: number,
    done: (result: {
      readonly error: TransportError | null;
      readonly response: Buffer;
      readonly requestReleased: boolean;
    }) => void,
  ): void;
  reset(): void;
  close(): void;
}

export class OtlpClient {
  /** Connects on the first export: an agent with nothing to export opens no connection. */
  private readonly channel: Transport;
  /** The gRPC method path, or the OTLP/HTTP URL. */
  private readonly target: string;
  private readonly gzip: boolean;
  /** One per export in flight; resolves (never rejects) once its result was passed on. */
  private readonly inFlight = new Set<Promise<void>>();
  private deadlinesInARow = 0;
  /** The longest deadline a call was given: bounds the wait for calls in flight at shutdown. */
  private longestTimeoutMs = 0;
  private shutdownPromise: Promise<void> | null = null;
  private readonly limited: RateLimitedLog;

  constructor(private readonly options: OtlpClientOptions) {
    this.limited = new RateLimitedLog(options.logger);
    this.gzip = options.compression === "gzip";
    const common = {
      tls: options.tls,
      headers: options.headers,
      userAgent: `fsagent/${VERSION}`,
      gzip: this.gzip,
    };
    if (options.protocol === "http/protobuf") {
      this.target = options.url;
      this.channel = new HttpChannel({ ...common, maxSockets: MAX_CONCURRENT_EXPORTS });
    } else {
      this.target = options.signal === "metrics" ? METRICS_EXPORT_METHOD : LOGS_EXPORT_METHOD;
      this.channel = new UnaryChannel({ ...common, authority: options.address });
    }
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
   * Sends one encoded request, abandoned after `timeoutMs`. `done` gets the result once, and
   * whether the request's buffer is free again (false after a deadline: it may still be queued on
   * the connection).
   */
  send(
    request: Buffer,
    timeoutMs: number,
    done: (result: ExportResult, requestReleased: boolean) => void,
  ): void {
    this.longestTimeoutMs = Math.max(this.longestTimeoutMs, timeoutMs);
    const sent = new Promise<void>((resolve) => {
      const call = (message: Buffer, compressed: boolean): void =>
        this.channel.call(this.target, message, timeoutMs, (answer) => {
          try {
            // Once compressed, the caller's buffer is not read again.
            done(this.settle(answer), compressed || answer.requestReleased);
          } finally {
            resolve();
          }
        });
      if (!this.gzip) {
        call(request, false);
        return;
      }
      // On libuv's thread pool: a 1-2 MB request is milliseconds of CPU the event loop keeps.
      gzip(request, (error, compressed) => {
        if (error === null) {
          call(compressed, true);
          return;
        }
        try {
          done({ code: FAILED, error }, true);
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
      await bounded(this.forceFlush(), this.longestTimeoutMs + 1000);
      this.channel.close();
    })();
    return this.shutdownPromise;
  }

  private settle(call: {
    readonly error: TransportError | null;
    readonly response: Buffer;
  }): ExportResult {
    const error = call.error;
    if (error !== null) {
      if (error.kind === "DEADLINE_EXCEEDED" && ++this.deadlinesInARow > MAX_DEADLINES_IN_A_ROW) {
        this.deadlinesInARow = 0;
        // Calls still on the old connection fail; the next export connects anew.
        this.channel.reset();
      }
      // The message carries the status ("14 UNAVAILABLE: connect ECONNREFUSED ...", "HTTP 503
      // Service Unavailable: ..."); the error says what kind of failure it is (export-failure.ts).
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
