import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import type { PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { VERSION } from "../version.js";
import { type ExportResult, FAILED, SUCCESS } from "./export-result.js";
import { decodePartialSuccess, MetricsRequestEncoder } from "./otlp-encode.js";

// The OTLP/gRPC metrics exporter: our encoder (otlp-encode.ts) and one grpc-js Client. It replaces
// @opentelemetry/exporter-metrics-otlp-grpc, whose serializer cost most of the agent's CPU at
// 20,000 legs and blocked the event loop for hundreds of milliseconds per collection, and whose
// channel kept grpc-js's default reconnect backoff (see CHANNEL_OPTIONS). What it did that the
// agent relies on is kept: the deadline per export, failing fast while the Collector is
// unreachable (no wait-for-ready), no retry of its own (retry.ts decides what is worth
// re-sending), the cap on exports in flight, a fresh channel after repeated deadlines, and a
// warning on a partial success.

export const EXPORT_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/**
 * Reconnection within a few seconds of the Collector coming back. grpc-js's defaults (1 s growing
 * ×1.6 to 120 s) meant that after a one-minute outage the next connection attempt could be 40 s
 * away, every export failing meanwhile. The resolver's own limit (30 s between DNS lookups by
 * default) matters when the Collector comes back at another address (a container or pod
 * restarted), so it gets the same ceiling.
 */
export const CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 500,
  "grpc.max_reconnect_backoff_ms": 5000,
  "grpc.dns_min_time_between_resolutions_ms": 5000,
  "grpc.primary_user_agent": `fsagent/${VERSION}`,
  // Its own connection rather than one shared from grpc-js's process-wide pool, so that closing
  // this channel (MAX_DEADLINES_IN_A_ROW) really drops the connection it had.
  "grpc.use_local_subchannel_pool": 1,
};

/**
 * Exports in flight at most, as the SDK exporter had: beyond it an export fails at once rather
 * than holding one more encoded request (1-2 MB at MAX_POINTS_PER_REQUEST) in memory.
 */
export const MAX_CONCURRENT_EXPORTS = 30;

/**
 * Deadlines in a row after which the channel is replaced, as the SDK exporter did. A connection
 * whose peer vanished without a reset (a host gone, a NAT entry dropped) still looks open to the
 * channel, which sends no keepalive pings, so every call would wait for its deadline; a new
 * channel connects again.
 */
const MAX_DEADLINES_IN_A_ROW = 5;

const PARTIAL_KEY = "otlp-metrics-partial-success";

/** A request buffer larger than this is not kept for the next export (a spike's, say). */
const MAX_SPARE_BYTES = 64 * 1024 * 1024;

/** host:port from the configured endpoint (host:port, or an http(s) URL, perhaps with a path). */
export function grpcAddress(url: string): string {
  // Not URL.host: it drops a port equal to the scheme's default, and grpc-js would then dial 443.
  return url.replace(/^https?:\/\//i, "").split("/")[0] ?? url;
}

export interface GrpcMetricExporterOptions {
  /** host:port (see grpcAddress). */
  readonly address: string;
  readonly credentials: ChannelCredentials;
  /** Sent with every request. */
  readonly metadata: Metadata;
  /** Each export's gRPC deadline. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** host:port for log lines. */
  readonly endpoint: string;
}

function identity(bytes: Buffer): Buffer {
  return bytes;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class GrpcMetricExporter implements PushMetricExporter {
  private readonly encoder = new MetricsRequestEncoder();
  /** Made on the first export: an agent with nothing to export opens no connection. */
  private client: Client | null = null;
  /** One per export in flight; resolves (never rejects) once its result was passed on. */
  private readonly inFlight = new Set<Promise<void>>();
  private deadlinesInARow = 0;
  /** A finished request's buffer, written over by the next export (see encode's scratch). */
  private spare: Buffer | undefined;
  private shutdownPromise: Promise<void> | null = null;
  private readonly limited: RateLimitedLog;

  constructor(private readonly options: GrpcMetricExporterOptions) {
    this.limited = new RateLimitedLog(options.logger);
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
    let client: Client;
    // Taken while this request uses it: exports in flight at once never share a buffer.
    const scratch = this.spare;
    this.spare = undefined;
    try {
      request = this.encoder.encode(metrics, scratch);
      client = this.connect();
    } catch (error) {
      this.spare = scratch;
      resultCallback({ code: FAILED, error: asError(error) });
      return;
    }
    const sent = new Promise<void>((resolve) => {
      const finish = (result: ExportResult): void => {
        // grpc-js has framed (copied) the message once the call ended: the buffer is free.
        this.keepSpare(request);
        try {
          resultCallback(result);
        } finally {
          resolve();
        }
      };
      try {
        client.makeUnaryRequest<Buffer, Buffer>(
          EXPORT_METHOD,
          identity,
          identity,
          request,
          // A copy: grpc-js adds its own headers to the Metadata object of a call.
          this.options.metadata.clone(),
          { deadline: Date.now() + this.options.timeoutMs },
          (error, response) => finish(this.settle(client, error, response)),
        );
      } catch (error) {
        // grpc-js throws for a call on a closed channel; the result must still be passed on.
        finish({ code: FAILED, error: asError(error) });
      }
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
      this.client?.close();
      this.client = null;
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

  private connect(): Client {
    this.client ??= new Client(this.options.address, this.options.credentials, CHANNEL_OPTIONS);
    return this.client;
  }

  private settle(
    client: Client,
    error: ServiceError | null,
    response: Buffer | undefined,
  ): ExportResult {
    if (error !== null) {
      if (
        error.code === status.DEADLINE_EXCEEDED &&
        ++this.deadlinesInARow > MAX_DEADLINES_IN_A_ROW
      ) {
        this.deadlinesInARow = 0;
        if (this.client === client) {
          // Calls already started on it go on to their own end; the next export connects anew.
          client.close();
          this.client = null;
        }
      }
      // grpc-js's message carries the status ("14 UNAVAILABLE: No connection established ...").
      return { code: FAILED, error };
    }
    this.deadlinesInARow = 0;
    if (response !== undefined && response.length > 0) this.warnOnPartialSuccess(response);
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
