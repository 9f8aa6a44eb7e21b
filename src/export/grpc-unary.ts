import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
  type OutgoingHttpHeaders,
  type SecureClientSessionOptions,
} from "node:http2";
import { type ExportFailure, MAX_RETRY_AFTER_MS } from "./export-failure.js";
import { decodeRetryDelayMs } from "./otlp-decode.js";

// One gRPC unary call at a time per stream over node:http2, for the metrics exporter's single
// method. Why not grpc-js's Client: it copies every request message into a new buffer to prefix
// it (compression-filter.js), and V8 counts that buffer as external memory against the old
// generation's limit until a GC frees it. At 20,000 legs with a 1 s export interval that copy
// (2-3 MB per export) started a full mark-compact every ~2 s and cost the agent ~3 % of a core
// (bench/README.md). Here the 5-byte gRPC prefix and the caller's buffer are written as two
// HTTP/2 DATA writes: nothing is copied in JavaScript. The logs exporter uses it too
// (otlp-client.ts), and OTLP/HTTP has its own call with the same contract (http-unary.ts).
//
// What grpc-js's channel did that this keeps: one HTTP/2 connection reused by every call and
// replaced when it fails or the server sends GOAWAY, a deadline per call sent as grpc-timeout,
// status and message from the trailers (or a trailers-only answer), HTTP errors mapped to gRPC
// codes as the gRPC spec says, the process not kept alive by an idle connection. What it adds:
// the RetryInfo of a status's details (grpc-status-details-bin), the pause the server asks for.
// What it does not need: name resolution policies, load balancing, retries, keepalive pings,
// proxies. Compression (opentelemetry.compression: gzip) is the caller's: it hands over gzip
// bytes, this labels them.

/**
 * The gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html): a fixed public
 * table, restated here so that no gRPC library is needed for seventeen numbers.
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

const STATUS_NAMES: readonly string[] = Object.keys(GrpcStatus);

/** The name of a status code ("UNAVAILABLE"); "UNKNOWN" for a number outside the table. */
export function grpcStatusName(code: number): string {
  return STATUS_NAMES[code] ?? "UNKNOWN";
}

/** A call that ended without an OK status; `code` is the gRPC status code. */
export class GrpcCallError extends Error implements ExportFailure {
  constructor(
    readonly code: GrpcStatusCode,
    readonly details: string,
    /** The pause the server asked for (RetryInfo), capped; null when it did not say. */
    private readonly retryDelayMs: number | null = null,
  ) {
    super(`${code} ${grpcStatusName(code)}: ${details}`);
    this.name = "GrpcCallError";
  }

  get kind(): string {
    return grpcStatusName(this.code);
  }

  /**
   * Everything but UNIMPLEMENTED is retried, as it always was here: UNAVAILABLE is how this file
   * reports a connection that failed, and INTERNAL/UNKNOWN how it reports a stream that broke.
   */
  get retryable(): boolean {
    return this.code !== GrpcStatus.UNIMPLEMENTED;
  }

  /** The RetryInfo of the status's details (grpc-status-details-bin), when it is retryable. */
  get retryAfterMs(): number | null {
    return this.retryable ? this.retryDelayMs : null;
  }

  get unimplemented(): boolean {
    return this.code === GrpcStatus.UNIMPLEMENTED;
  }
}

export interface UnaryCallResult {
  readonly error: GrpcCallError | null;
  /** The response message (without the gRPC prefix); empty when the server sent none. */
  readonly response: Buffer;
  /**
   * Whether the stream is closed, so the request buffer is no longer read. False only when the
   * call ended by its deadline, before the stream closed.
   */
  readonly requestReleased: boolean;
}

export interface UnaryChannelOptions {
  /** host:port (an IPv6 host in brackets). */
  readonly authority: string;
  /** null: plaintext (h2c). Otherwise TLS; null members mean Node's default (its CA store, no client certificate). */
  readonly tls: {
    readonly ca: Buffer | null;
    readonly cert: Buffer | null;
    readonly key: Buffer | null;
  } | null;
  /** Sent with every call after the protocol's own headers (which it cannot replace). */
  readonly headers: OutgoingHttpHeaders;
  readonly userAgent: string;
  /** The messages given to call() are gzip-compressed (the caller compresses): say so. */
  readonly gzip?: boolean;
}

/** A response larger than this is refused: an Export answer is a few hundred bytes. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/** The gRPC spec's mapping for an HTTP status other than 200 (http-grpc-status-mapping.md). */
function codeForHttpStatus(httpStatus: number): GrpcStatusCode {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** A stream reset without a gRPC status, as grpc-js maps it. */
function resetError(rstCode: number): GrpcCallError {
  switch (rstCode) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return new GrpcCallError(GrpcStatus.UNAVAILABLE, "stream refused by the server");
    case constants.NGHTTP2_CANCEL:
      return new GrpcCallError(GrpcStatus.CANCELLED, "call cancelled");
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, "bandwidth or memory limit exceeded");
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return new GrpcCallError(GrpcStatus.PERMISSION_DENIED, "protocol not secure enough");
    default:
      return new GrpcCallError(
        GrpcStatus.INTERNAL,
        `stream closed without a gRPC status (HTTP/2 error code ${rstCode})`,
      );
  }
}

/** grpc-timeout: at most 8 digits and a unit. */
export function grpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole < 1e8 ? `${whole}m` : `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}

/** grpc-message is percent-encoded (the gRPC HTTP/2 spec); a bad escape is shown as sent. */
function decodeMessage(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The pause a status's details ask for: grpc-status-details-bin is a google.rpc.Status in base64
 * (padded or not), whose details may hold a RetryInfo. Capped at MAX_RETRY_AFTER_MS.
 */
function retryDelay(details: string | undefined): number | null {
  if (details === undefined) return null;
  const ms = decodeRetryDelayMs(Buffer.from(details, "base64"));
  return ms === null ? null : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/** The gRPC status in `headers` (trailers, or a trailers-only answer); null when absent. */
function statusIn(headers: IncomingHttpHeaders): GrpcCallError | null | undefined {
  const raw = single(headers["grpc-status"]);
  if (raw === undefined) return undefined;
  const code = Number(raw);
  if (!Number.isInteger(code) || code < 0 || code > 16) {
    return new GrpcCallError(GrpcStatus.UNKNOWN, `invalid grpc-status ${JSON.stringify(raw)}`);
  }
  if (code === GrpcStatus.OK) return null;
  return new GrpcCallError(
    code as GrpcStatusCode,
    decodeMessage(single(headers["grpc-message"]) ?? ""),
    retryDelay(single(headers["grpc-status-details-bin"])),
  );
}

/** The single message of a unary response body (5-byte prefix + message). */
function responseMessage(body: Buffer): Buffer | GrpcCallError {
  if (body.length === 0) return EMPTY;
  if (body.length < 5) return new GrpcCallError(GrpcStatus.INTERNAL, "truncated response message");
  if (body[0] !== 0) {
    // We send no grpc-accept-encoding, so a compressed answer breaks the protocol.
    return new GrpcCallError(GrpcStatus.INTERNAL, "compressed response message not requested");
  }
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) {
    return new GrpcCallError(GrpcStatus.INTERNAL, "truncated response message");
  }
  return body.subarray(5, 5 + length);
}

export class UnaryChannel {
  private session: ClientHttp2Session | null = null;
  private readonly url: string;
  private readonly sessionOptions: SecureClientSessionOptions;
  private readonly baseHeaders: OutgoingHttpHeaders;
  /** The gRPC message prefix's compressed-flag byte. */
  private readonly compressedFlag: number;

  constructor(options: UnaryChannelOptions) {
    this.compressedFlag = options.gzip === true ? 1 : 0;
    const tls = options.tls;
    this.url = `${tls === null ? "http" : "https"}://${options.authority}`;
    this.sessionOptions = {
      // grpc-js's choice: Node's default (10 MB of queued data per connection) refuses new
      // streams while a slow Collector still holds earlier requests; MAX_CONCURRENT_EXPORTS
      // bounds what can be queued instead.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      settings: { enablePush: false },
      ...(tls?.ca ? { ca: tls.ca } : {}),
      ...(tls?.cert ? { cert: tls.cert } : {}),
      ...(tls?.key ? { key: tls.key } : {}),
    };
    const userAgent = single(options.headers["user-agent"] as string | string[] | undefined);
    this.baseHeaders = {
      ...options.headers,
      // As configured: Node would send an IPv6 host without its brackets ("::1:4317").
      [constants.HTTP2_HEADER_AUTHORITY]: options.authority,
      [constants.HTTP2_HEADER_METHOD]: "POST",
      [constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc",
      [constants.HTTP2_HEADER_TE]: "trailers",
      "grpc-accept-encoding": "identity",
      ...(options.gzip === true ? { "grpc-encoding": "gzip" } : {}),
      [constants.HTTP2_HEADER_USER_AGENT]:
        userAgent === undefined ? options.userAgent : `${options.userAgent} ${userAgent}`,
    };
  }

  /**
   * Calls `path` with `message` (serialized, without the gRPC prefix). `done` is called exactly
   * once: with the answer, or with a GrpcCallError (UNAVAILABLE when no connection could be made
   * or it broke, DEADLINE_EXCEEDED after `timeoutMs`, or the server's status). `message` must not
   * change until `done` reports it released.
   */
  call(
    path: string,
    message: Buffer,
    timeoutMs: number,
    done: (result: UnaryCallResult) => void,
  ): void {
    let stream: ClientHttp2Stream;
    let session: ClientHttp2Session;
    try {
      session = this.connect();
      stream = session.request({
        ...this.baseHeaders,
        [constants.HTTP2_HEADER_PATH]: path,
        "grpc-timeout": grpcTimeout(timeoutMs),
      });
    } catch (error) {
      // A session closing or destroyed under us (connect() makes a new one next time), or a
      // header node:http2 refuses (otlpHeaders keeps those out of the configured ones).
      const text = error instanceof Error ? error.message : String(error);
      done({
        error: new GrpcCallError(GrpcStatus.UNAVAILABLE, text),
        response: EMPTY,
        requestReleased: true,
      });
      return;
    }

    let reported = false;
    const report = (error: GrpcCallError | null, response: Buffer, released: boolean): void => {
      if (reported) return;
      reported = true;
      done({ error, response, requestReleased: released });
    };
    // Also what keeps the process alive while the call runs: the connection itself never does.
    const deadline = setTimeout(() => {
      stream.close(constants.NGHTTP2_CANCEL);
      report(
        new GrpcCallError(GrpcStatus.DEADLINE_EXCEEDED, `deadline of ${timeoutMs} ms exceeded`),
        EMPTY,
        false,
      );
    }, timeoutMs);

    let outcome: GrpcCallError | null | undefined;
    let httpError: GrpcCallError | undefined;
    let streamError: Error | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    stream.on("response", (headers: IncomingHttpHeaders & IncomingHttpStatusHeader) => {
      // A gRPC status says more than the HTTP one (a proxy's 503 may carry the server's own).
      outcome = statusIn(headers);
      if (outcome !== undefined) return;
      const httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS] ?? 0);
      if (httpStatus !== 200) {
        httpError = new GrpcCallError(codeForHttpStatus(httpStatus), `HTTP status ${httpStatus}`);
        return;
      }
      const type = single(headers[constants.HTTP2_HEADER_CONTENT_TYPE]) ?? "";
      if (!type.startsWith("application/grpc")) {
        httpError = new GrpcCallError(GrpcStatus.UNKNOWN, `content-type ${JSON.stringify(type)}`);
      }
    });
    stream.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_RESPONSE_BYTES) {
        outcome ??= new GrpcCallError(
          GrpcStatus.RESOURCE_EXHAUSTED,
          `response larger than ${MAX_RESPONSE_BYTES} bytes`,
        );
        stream.close(constants.NGHTTP2_CANCEL);
        return;
      }
      chunks.push(chunk);
    });
    stream.on("trailers", (trailers: IncomingHttpHeaders) => {
      const inTrailers = statusIn(trailers);
      if (inTrailers !== undefined && outcome === undefined) outcome = inTrailers;
    });
    stream.on("error", (error: Error) => {
      streamError = error;
    });
    // The message's write callback runs once its bytes left the socket (or will never leave
    // it); a stream can close earlier, when its connection is destroyed while the socket is still
    // writing frames that point into the message.
    let released = false;
    stream.on("close", () => {
      clearTimeout(deadline);
      if (outcome === null) {
        const answer = responseMessage(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
        if (answer instanceof GrpcCallError) report(answer, EMPTY, released);
        else report(null, answer, released);
      } else if (outcome !== undefined) {
        report(outcome, EMPTY, released);
      } else if (httpError !== undefined) {
        report(httpError, EMPTY, released);
      } else if (streamError !== undefined && !isStreamReset(streamError)) {
        // The connection failed or broke: refused, TLS refused, GOAWAY with an error. Node wraps
        // the connection's error in "The pending stream has been canceled (caused by: ...)";
        // the cause is the part worth a log line.
        const cause = streamError.cause instanceof Error ? streamError.cause : streamError;
        report(new GrpcCallError(GrpcStatus.UNAVAILABLE, cause.message), EMPTY, released);
      } else if (session.destroyed || session.closed) {
        // The connection went away under the stream (the Collector stopped, reset()).
        report(
          new GrpcCallError(GrpcStatus.UNAVAILABLE, "connection closed before the answer"),
          EMPTY,
          released,
        );
      } else {
        report(resetError(stream.rstCode ?? constants.NGHTTP2_INTERNAL_ERROR), EMPTY, released);
      }
    });

    stream.write(prefix(message.length, this.compressedFlag));
    stream.end(message, (error?: Error | null) => {
      // Called with an error too (the stream destroyed first): then the bytes may be in flight.
      if (error === undefined || error === null) released = true;
    });
  }

  /** Drops the connection; calls still on it end (they fail) and the next call connects anew. */
  reset(): void {
    const session = this.session;
    this.session = null;
    session?.destroy();
  }

  close(): void {
    this.reset();
  }

  private connect(): ClientHttp2Session {
    const current = this.session;
    if (current !== null && !current.closed && !current.destroyed) return current;
    const session = connect(this.url, this.sessionOptions);
    // Connection errors reach the streams on it (each call reports UNAVAILABLE with the reason);
    // without a listener an 'error' event would be thrown.
    session.on("error", () => this.drop(session));
    session.on("goaway", () => this.drop(session));
    session.on("close", () => this.drop(session));
    // An idle connection does not keep the process alive; a call in flight does (its deadline).
    session.unref();
    this.session = session;
    return session;
  }

  /** Forgets `session` if it is the current one (new calls connect anew); its streams go on. */
  private drop(session: ClientHttp2Session | null): void {
    if (session !== null && this.session === session) this.session = null;
  }
}

/** Node's error for a stream the peer reset: the RST_STREAM code says more (resetError). */
function isStreamReset(error: Error): boolean {
  return (error as NodeJS.ErrnoException).code === "ERR_HTTP2_STREAM_ERROR";
}

function prefix(length: number, compressed: number): Buffer {
  const bytes = Buffer.allocUnsafe(5);
  bytes[0] = compressed;
  bytes.writeUInt32BE(length, 1);
  return bytes;
}
