// A real OTLP/HTTP receiver for tests: what a Collector's otlphttp receiver, Prometheus's OTLP
// endpoint or a vendor's gateway looks like to the agent over HTTP.
//
//   const receiver = await OtlpHttpReceiver.start();        // http://127.0.0.1:<free port>
//   ... sink with { protocol: "http/protobuf", endpoint: receiver.url } ...
//   receiver.points("freeswitch.rtcp.jitter"); receiver.logRecords()
//   receiver.answer = (seen) => ({ status: 503, headers: { "retry-after": "1" } });
//   await receiver.stop(); await receiver.start();           // an outage, same port
//
// A plain node:http (or node:https, with `tls`) server. It takes POSTs to <path>/v1/metrics and
// <path>/v1/logs, un-gzips a Content-Encoding: gzip body, and decodes it with the OFFICIAL
// generated protobuf root (the same as otlp-receiver.ts's, from @opentelemetry/otlp-transformer),
// so a field the exporter encodes wrongly shows up as it would in a real server. A success is
// answered with the official Export*ServiceResponse, partial_success included when asked.
// Every request, answered how it was, is kept in `seen`, decoded or not.

import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { gunzipSync } from "node:zlib";
import {
  type LogRecordView,
  logRecordViews,
  type MetricPoint,
  metricPoints,
  otlpMessages,
  type PbExportLogsServiceRequest,
  type PbExportMetricsServiceRequest,
  type ReceivedRequest,
  type ReceiverTls,
  TO_OBJECT,
} from "./otlp-receiver.js";

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  /** "metrics" or "logs" by the path's end; null for any other path. */
  readonly signal: "metrics" | "logs" | null;
  readonly headers: Readonly<Record<string, string>>;
  /** The body as decompressed (gzip), undecoded. */
  readonly body: Buffer;
  /** Bytes on the wire (before decompression). */
  readonly wireBytes: number;
  readonly receivedAt: number;
  /** The status it was answered with (0: held or dropped). */
  status: number;
}

/** What to answer; "hang" never answers, "drop" closes the connection without an answer. */
export type HttpReply =
  | {
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: Buffer;
      /** On a 200: the partial_success to put in the Export*ServiceResponse. */
      readonly partialSuccess?: { readonly rejected: number; readonly errorMessage: string };
    }
  | "hang"
  | "drop";

/** A google.rpc.Status with only its message (field 2), as OTLP/HTTP servers answer a refusal. */
export function statusBody(message: string): Buffer {
  const text = Buffer.from(message, "utf8");
  const length: number[] = [];
  let n = text.length;
  do {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([0x12, ...length]), text]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function headerRecord(message: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(message.headers)) {
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

export class OtlpHttpReceiver {
  /** Decoded metrics requests that were answered 2xx, in arrival order. */
  readonly metricRequests: ReceivedRequest<PbExportMetricsServiceRequest>[] = [];
  /** Decoded logs requests that were answered 2xx, in arrival order. */
  readonly logRequests: ReceivedRequest<PbExportLogsServiceRequest>[] = [];
  /** Every request, whatever it was answered. */
  readonly seen: SeenRequest[] = [];
  /** Bodies that did not decode: should stay empty. */
  readonly decodeErrors: string[] = [];
  /** How to answer; the default accepts. Consulted after the body is read and decoded. */
  answer: (seen: SeenRequest) => HttpReply = () => ({ status: 200 });

  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private held: ServerResponse[] = [];

  private constructor(
    readonly host: string,
    private boundPort: number,
    private readonly tls: ReceiverTls | null,
  ) {}

  static async start(
    options: { host?: string; port?: number; tls?: ReceiverTls } = {},
  ): Promise<OtlpHttpReceiver> {
    const receiver = new OtlpHttpReceiver(
      options.host ?? "127.0.0.1",
      options.port ?? 0,
      options.tls ?? null,
    );
    await receiver.start();
    return receiver;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The base URL (the agent appends /v1/metrics and /v1/logs). */
  get url(): string {
    return `${this.tls === null ? "http" : "https"}://${this.host}:${this.boundPort}`;
  }

  /** (Re)starts listening, on the same port after the first start. Idempotent. */
  async start(): Promise<void> {
    if (this.server !== null) return;
    const handler = (request: IncomingMessage, response: ServerResponse): void =>
      this.onRequest(request, response);
    const server =
      this.tls === null
        ? createHttpServer(handler)
        : createHttpsServer(
            {
              key: this.tls.key,
              cert: this.tls.cert,
              ...(this.tls.clientCa === undefined
                ? {}
                : { ca: this.tls.clientCa, requestCert: true, rejectUnauthorized: true }),
            },
            handler,
          );
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    // A refused handshake (mutual TLS without a certificate) is the client's problem to report.
    server.on("tlsClientError", () => {});
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(this.boundPort, this.host, () => {
            server.off("error", reject);
            resolve();
          });
        });
        break;
      } catch (error) {
        if (attempt >= 50) throw error;
        await sleep(20);
      }
    }
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    this.boundPort = address.port;
    this.server = server;
  }

  /** Stops listening and drops every connection at once (a server crash). The port is kept. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    this.held = [];
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.stop();
  }

  /** Answers every held request with `reply` (after answer = () => "hang"). */
  release(status = 503): void {
    const held = this.held;
    this.held = [];
    for (const response of held) {
      if (!response.writableEnded) response.writeHead(status).end();
    }
  }

  clear(): void {
    this.metricRequests.length = 0;
    this.logRequests.length = 0;
    this.seen.length = 0;
    this.decodeErrors.length = 0;
  }

  points(name?: string): MetricPoint[] {
    return metricPoints(this.metricRequests, name);
  }

  logRecords(): LogRecordView[] {
    return logRecordViews(this.logRequests);
  }

  /** The requests of one signal, whatever they were answered. */
  requests(signal: "metrics" | "logs"): SeenRequest[] {
    return this.seen.filter((s) => s.signal === signal);
  }

  async waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(10);
    }
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const raw = Buffer.concat(chunks);
      const headers = headerRecord(request);
      const path = request.url ?? "";
      const signal = path.endsWith("/v1/metrics")
        ? "metrics"
        : path.endsWith("/v1/logs")
          ? "logs"
          : null;
      let body = raw;
      if (headers["content-encoding"] === "gzip") {
        try {
          body = gunzipSync(raw);
        } catch (error) {
          this.decodeErrors.push(`gunzip: ${String(error)}`);
        }
      }
      const seen: SeenRequest = {
        method: request.method ?? "",
        path,
        signal,
        headers,
        body,
        wireBytes: raw.length,
        receivedAt: Date.now(),
        status: 0,
      };
      this.seen.push(seen);
      const reply = signal === null ? { status: 404 } : this.answer(seen);
      if (reply === "hang") {
        this.held.push(response);
        return;
      }
      if (reply === "drop") {
        request.socket.destroy();
        return;
      }
      seen.status = reply.status;
      const ok = reply.status >= 200 && reply.status < 300;
      if (ok && signal !== null && !this.accept(signal, seen)) {
        seen.status = 400;
        response.writeHead(400, { "content-type": "application/x-protobuf" });
        response.end(statusBody("undecodable request"));
        return;
      }
      let out = reply.body;
      if (ok && out === undefined && signal !== null)
        out = this.success(signal, reply.partialSuccess);
      response.writeHead(reply.status, {
        "content-type": "application/x-protobuf",
        ...(reply.headers ?? {}),
      });
      response.end(out ?? Buffer.alloc(0));
    });
  }

  /** Decodes and keeps an accepted request; false when it does not decode. */
  private accept(signal: "metrics" | "logs", seen: SeenRequest): boolean {
    const common = { metadata: seen.headers, receivedAt: seen.receivedAt, bytes: seen.body.length };
    try {
      if (signal === "metrics") {
        const type = otlpMessages.ExportMetricsServiceRequest;
        this.metricRequests.push({
          body: type.toObject(type.decode(seen.body), TO_OBJECT),
          ...common,
        });
      } else {
        const type = otlpMessages.ExportLogsServiceRequest;
        this.logRequests.push({
          body: type.toObject(type.decode(seen.body), TO_OBJECT),
          ...common,
        });
      }
      return true;
    } catch (error) {
      this.decodeErrors.push(error instanceof Error ? error.message : String(error));
      return false;
    }
  }

  private success(
    signal: "metrics" | "logs",
    partial: { readonly rejected: number; readonly errorMessage: string } | undefined,
  ): Buffer {
    const type =
      signal === "metrics"
        ? otlpMessages.ExportMetricsServiceResponse
        : otlpMessages.ExportLogsServiceResponse;
    const rejectedField = signal === "metrics" ? "rejectedDataPoints" : "rejectedLogRecords";
    const message =
      partial === undefined
        ? type.create({})
        : type.fromObject({
            partialSuccess: {
              [rejectedField]: String(partial.rejected),
              errorMessage: partial.errorMessage,
            },
          });
    return Buffer.from(type.encode(message).finish());
  }
}
