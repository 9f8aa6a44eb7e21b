import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  STATUS_CODES,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { gunzipSync } from "node:zlib";
import { type ExportFailure, MAX_RETRY_AFTER_MS } from "./export-failure.js";
import { decodeStatusMessage } from "./otlp-decode.js";

// One OTLP/HTTP export (https://opentelemetry.io/docs/specs/otlp/#otlphttp) over node:http(s):
// a POST of the binary protobuf request to the signal's URL, and its answer turned into what
// grpc-unary.ts gives the client (otlp-client.ts), so that the encoders, the deadlines, the cap
// on exports in flight, the partial-success warning and the retry queues are the same for both
// protocols. What the specification asks of a client and where it is done:
// - Content-Type application/x-protobuf, optional Content-Encoding gzip (the caller compresses);
// - 200 (any 2xx) is a success whose body is an Export*ServiceResponse (partial_success): passed
//   on as `response`, the client reads it as it does gRPC's;
// - 429, 502, 503 and 504 are retryable, with Retry-After (seconds or an HTTP-date) to respect;
//   every other status is not (400 bad data, 401/403 credentials, 413 too large...), and its body
//   is a google.rpc.Status whose message is worth a log line;
// - 404 is a server without this signal's path (the equivalent of UNIMPLEMENTED);
// - a connection that fails (refused, reset, TLS refused) is retryable, like gRPC's UNAVAILABLE.
// Redirects are not followed: the endpoint is a setting, and it should say where to go.

/** A failed export: the HTTP status (0 when there was no answer) and the failure's kind. */
export class HttpCallError extends Error implements ExportFailure {
  readonly unimplemented: boolean;

  constructor(
    /** 0: no answer (connection failed, deadline). */
    readonly status: number,
    readonly kind: string,
    readonly retryable: boolean,
    readonly retryAfterMs: number | null,
    message: string,
  ) {
    super(message);
    this.name = "HttpCallError";
    this.unimplemented = status === 404;
  }
}

export interface HttpCallResult {
  readonly error: HttpCallError | null;
  /** The success answer's body (an Export*ServiceResponse); empty when there was none. */
  readonly response: Buffer;
  /** Whether the request body was written out, so the caller may reuse its buffer. */
  readonly requestReleased: boolean;
}

export interface HttpChannelOptions {
  /** null: Node's defaults (its CA store, no client certificate); only used for https:// URLs. */
  readonly tls: {
    readonly ca: Buffer | null;
    readonly cert: Buffer | null;
    readonly key: Buffer | null;
  } | null;
  /** Sent with every request; the protocol's own headers are set after them and win. */
  readonly headers: OutgoingHttpHeaders;
  readonly userAgent: string;
  /** The bodies given to call() are gzip-compressed (the caller compresses): say so. */
  readonly gzip?: boolean;
  /** Sockets kept open for reuse at most (exports in flight are capped by the client anyway). */
  readonly maxSockets: number;
}

/** A response larger than this is refused: an Export answer is a few hundred bytes. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export { MAX_RETRY_AFTER_MS };

/**
 * An idle kept-alive connection is closed after this: under the 5 s idle timeout of Node's and
 * many Go servers, so that an export does not meet a connection the server is closing.
 */
const IDLE_SOCKET_MS = 4_000;

const RETRYABLE = new Set([429, 502, 503, 504]);

const EMPTY = Buffer.alloc(0);

/**
 * Retry-After as milliseconds from `now`: delta-seconds or an HTTP-date (RFC 9110 §10.2.3), capped
 * at MAX_RETRY_AFTER_MS; null when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    // Every HTTP-date form starts with a day name; Date.parse alone would read "-5" as a year.
    if (!/^[A-Za-z]{3}/.test(text)) return null;
    const at = Date.parse(text);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** One line of what the server said about a refusal, from a Status protobuf or plain text. */
function refusalDetail(headers: IncomingHttpHeaders, body: Buffer): string {
  if (body.length === 0) return "";
  const type = (single(headers["content-type"]) ?? "").toLowerCase();
  let text = "";
  if (type.includes("protobuf")) text = decodeStatusMessage(body);
  else if (type.startsWith("text/") || type.includes("json")) text = body.toString("utf8");
  return text.replace(/\s+/g, " ").trim().slice(0, 200);
}

/** The error for an answer that is not a success, or null for a success. */
export function statusError(
  httpStatus: number,
  headers: IncomingHttpHeaders,
  body: Buffer,
  now: number,
): HttpCallError | null {
  if (httpStatus >= 200 && httpStatus < 300) return null;
  const detail = refusalDetail(headers, body);
  const reason = STATUS_CODES[httpStatus] ?? "";
  const retryable = RETRYABLE.has(httpStatus);
  const retryAfter = retryable ? parseRetryAfter(single(headers["retry-after"]), now) : null;
  let message = `HTTP ${httpStatus}${reason === "" ? "" : ` ${reason}`}`;
  if (httpStatus >= 300 && httpStatus < 400) {
    // Not followed: the configured endpoint should name the final URL.
    message += ` (redirects are not followed; set the endpoint to ${single(headers.location) ?? "the new URL"})`;
  }
  if (detail !== "") message += `: ${detail}`;
  return new HttpCallError(httpStatus, `HTTP ${httpStatus}`, retryable, retryAfter, message);
}

function transportError(error: Error): HttpCallError {
  const text = error.message.replace(/\s+/g, " ").trim();
  return new HttpCallError(0, "UNAVAILABLE", true, null, text === "" ? "connection failed" : text);
}

export class HttpChannel {
  private httpAgent: HttpAgent | null = null;
  private httpsAgent: HttpsAgent | null = null;
  private readonly baseHeaders: OutgoingHttpHeaders;

  constructor(private readonly options: HttpChannelOptions) {
    const userAgent = single(options.headers["user-agent"] as string | string[] | undefined);
    this.baseHeaders = {
      ...options.headers,
      "content-type": "application/x-protobuf",
      // We read only identity answers (a compressed one is still unpacked, see body()).
      "accept-encoding": "identity",
      ...(options.gzip === true ? { "content-encoding": "gzip" } : {}),
      "user-agent":
        userAgent === undefined ? options.userAgent : `${options.userAgent} ${userAgent}`,
    };
  }

  /**
   * POSTs `message` to `url`. `done` is called exactly once: with the answer, or with an
   * HttpCallError (UNAVAILABLE when no connection could be made or it broke, DEADLINE_EXCEEDED
   * after `timeoutMs`, or the server's refusal). `message` must not change until `done` reports
   * it released.
   */
  call(
    url: string,
    message: Buffer,
    timeoutMs: number,
    done: (result: HttpCallResult) => void,
  ): void {
    let request: ClientRequest | undefined;
    let released = false;
    let reported = false;
    const report = (error: HttpCallError | null, response: Buffer): void => {
      if (reported) return;
      reported = true;
      clearTimeout(deadline);
      done({ error, response, requestReleased: released });
    };
    const deadline = setTimeout(() => {
      report(
        new HttpCallError(
          0,
          "DEADLINE_EXCEEDED",
          true,
          null,
          `deadline of ${timeoutMs} ms exceeded`,
        ),
        EMPTY,
      );
      request?.destroy();
    }, timeoutMs);
    try {
      const secure = url.startsWith("https:");
      const send = secure ? httpsRequest : httpRequest;
      request = send(url, {
        method: "POST",
        agent: secure ? this.secureAgent() : this.plainAgent(),
        headers: { ...this.baseHeaders, "content-length": message.length },
      });
    } catch (error) {
      // A URL or header node:http refuses (the config validated both, so a programmatic caller).
      report(transportError(error instanceof Error ? error : new Error(String(error))), EMPTY);
      return;
    }
    const sent = request;
    sent.on("error", (error: Error) => report(transportError(error), EMPTY));
    sent.on("response", (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let received = 0;
      response.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_RESPONSE_BYTES) {
          report(
            new HttpCallError(
              response.statusCode ?? 0,
              "UNKNOWN",
              true,
              null,
              `response larger than ${MAX_RESPONSE_BYTES} bytes`,
            ),
            EMPTY,
          );
          sent.destroy();
          return;
        }
        chunks.push(chunk);
      });
      response.on("error", (error: Error) => report(transportError(error), EMPTY));
      response.on("end", () => {
        const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        const body = decoded(response.headers, raw);
        const error = statusError(response.statusCode ?? 0, response.headers, body, Date.now());
        report(error, error === null && isProtobuf(response.headers) ? body : EMPTY);
      });
    });
    // Called with an error too (the request destroyed first): then the bytes may be in flight.
    sent.end(message, () => {
      released = true;
    });
  }

  /** Drops the kept-alive connections; requests on them fail and the next call connects anew. */
  reset(): void {
    this.httpAgent?.destroy();
    this.httpsAgent?.destroy();
    this.httpAgent = null;
    this.httpsAgent = null;
  }

  close(): void {
    this.reset();
  }

  // Keep-alive agents: a connection per export would cost a TCP (and TLS) handshake each time.
  // Their idle sockets do not keep the process alive (Node unrefs them); a request in flight does.
  private plainAgent(): HttpAgent {
    this.httpAgent ??= new HttpAgent({
      keepAlive: true,
      maxSockets: this.options.maxSockets,
      timeout: IDLE_SOCKET_MS,
    });
    return this.httpAgent;
  }

  private secureAgent(): HttpsAgent {
    const tls = this.options.tls;
    this.httpsAgent ??= new HttpsAgent({
      keepAlive: true,
      maxSockets: this.options.maxSockets,
      timeout: IDLE_SOCKET_MS,
      ...(tls?.ca ? { ca: tls.ca } : {}),
      ...(tls?.cert ? { cert: tls.cert } : {}),
      ...(tls?.key ? { key: tls.key } : {}),
    });
    return this.httpsAgent;
  }
}

function isProtobuf(headers: IncomingHttpHeaders): boolean {
  return (single(headers["content-type"]) ?? "").toLowerCase().includes("protobuf");
}

/** The body as sent before any Content-Encoding gzip (we ask for identity; not all servers heed it). */
function decoded(headers: IncomingHttpHeaders, body: Buffer): Buffer {
  if ((single(headers["content-encoding"]) ?? "").toLowerCase() !== "gzip") return body;
  try {
    return gunzipSync(body, { maxOutputLength: MAX_RESPONSE_BYTES });
  } catch {
    return EMPTY;
  }
}
