// The gRPC unary call over node:http2 that the metrics exporter uses (src/export/grpc-unary.ts),
// against real HTTP/2 servers: a node:http2 server that answers exactly what each test needs
// (statuses, trailers-only answers, HTTP errors, resets, a compressed message), a TCP listener
// that never speaks HTTP/2, and a child process that must exit by itself with the connection
// still open. The exporter's path through it against a grpc-js server, TLS and mutual TLS is
// tested in export-encode.test.ts, export-tls.test.ts and export-metrics.test.ts.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { status } from "@grpc/grpc-js";
import {
  GrpcCallError,
  GrpcStatus,
  grpcStatusName,
  grpcTimeout,
  type UnaryCallResult,
  UnaryChannel,
} from "../../src/export/grpc-unary.js";

const PATH = "/test.Service/Call";

interface Seen {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

type Answer = (stream: ServerHttp2Stream, seen: Seen) => void;

/** A node:http2 server whose answer each test sets; it keeps what every call sent. */
class RawServer {
  answer: Answer = (stream) => ok(stream, Buffer.alloc(0));
  readonly seen: Seen[] = [];
  /** HTTP/2 connections accepted so far. */
  connections = 0;
  private constructor(
    private readonly server: Http2Server,
    readonly port: number,
  ) {}

  static async start(): Promise<RawServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const raw = new RawServer(server, address.port);
    server.on("session", () => raw.connections++);
    server.on("stream", (stream, headers) => {
      const chunks: Buffer[] = [];
      // A stream a test resets reports it as an error on this side too.
      stream.on("error", () => {});
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const seen = { headers, body: Buffer.concat(chunks) };
        raw.seen.push(seen);
        raw.answer(stream, seen);
      });
    });
    return raw;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function framed(message: Buffer, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

function ok(stream: ServerHttp2Stream, message: Buffer): void {
  stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
  stream.end(framed(message));
}

/** A gRPC answer in the headers alone (no message, no trailers), as servers send errors. */
function trailersOnly(httpStatus: number, code: status, message: string): Answer {
  return (stream) =>
    stream.respond(
      {
        ":status": httpStatus,
        "content-type": "application/grpc",
        "grpc-status": String(code),
        "grpc-message": message,
      },
      { endStream: true },
    );
}

/** Protobuf by hand: a length-delimited field, and a varint field. */
function lenField(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | 2]), varint(bytes.length), bytes]);
}

function varintField(field: number, value: number): Buffer {
  return Buffer.concat([Buffer.from([field << 3]), varint(value)]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let n = value;
  while (n >= 0x80) {
    bytes.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/**
 * A google.rpc.Status (code 8, a message) whose details hold a RetryInfo of `seconds` and `nanos`
 * as a google.protobuf.Any (or an Any of `type`), after an optional DebugInfo-like detail.
 */
function statusDetails(
  seconds: number,
  nanos: number,
  before?: string,
  type = "type.googleapis.com/google.rpc.RetryInfo",
): Buffer {
  const duration = Buffer.concat([varintField(1, seconds), varintField(2, nanos)]);
  const retryInfo = lenField(1, duration);
  const any = (url: string, value: Buffer) =>
    lenField(3, Buffer.concat([lenField(1, Buffer.from(url)), lenField(2, value)]));
  return Buffer.concat([
    varintField(1, 8),
    lenField(2, Buffer.from("slow down")),
    ...(before === undefined
      ? []
      : [any("type.googleapis.com/google.rpc.DebugInfo", lenField(2, Buffer.from(before)))]),
    any(type, retryInfo),
  ]);
}

function channel(port: number, headers: Record<string, string> = {}): UnaryChannel {
  return new UnaryChannel({
    authority: `127.0.0.1:${port}`,
    tls: null,
    headers,
    userAgent: "fsagent/test",
  });
}

function call(
  unary: UnaryChannel,
  message: Buffer,
  timeoutMs = 2000,
): Promise<UnaryCallResult & { elapsedMs: number }> {
  const started = performance.now();
  return new Promise((resolve) =>
    unary.call(PATH, message, timeoutMs, (result) =>
      resolve({ ...result, elapsedMs: performance.now() - started }),
    ),
  );
}

function codeOf(result: UnaryCallResult): number | null {
  return result.error === null ? null : result.error.code;
}

describe("gRPC status codes", () => {
  it("are grpc-js's, name for name and number for number", () => {
    const ours = Object.entries(GrpcStatus);
    const theirs = Object.entries(status).filter(([, code]) => typeof code === "number");
    assert.deepEqual(ours, theirs);
    for (const [name, code] of ours) assert.equal(grpcStatusName(code), name);
    assert.equal(grpcStatusName(17), "UNKNOWN");
    assert.equal(new GrpcCallError(GrpcStatus.UNAVAILABLE, "down").message, "14 UNAVAILABLE: down");
  });
});

describe("gRPC unary call over HTTP/2", () => {
  let server: RawServer;
  before(async () => {
    server = await RawServer.start();
  });
  after(() => server.close());

  it("sends the prefix and the message as they are, with the protocol's headers, and returns the answer", async () => {
    server.answer = (stream) => ok(stream, Buffer.from("answer"));
    const unary = channel(server.port, { authorization: "Bearer t-1", "x-tenant": "a" });
    try {
      const message = Buffer.from("a request of some bytes");
      const result = await call(unary, message, 1500);
      assert.equal(result.error, null);
      assert.equal(result.response.toString(), "answer");
      assert.equal(result.requestReleased, true);
      const seen = server.seen.at(-1)!;
      assert.deepEqual(seen.body, framed(message));
      assert.equal(seen.headers[":method"], "POST");
      assert.equal(seen.headers[":path"], PATH);
      assert.equal(seen.headers[":authority"], `127.0.0.1:${server.port}`);
      assert.equal(seen.headers["content-type"], "application/grpc");
      assert.equal(seen.headers.te, "trailers");
      assert.equal(seen.headers["grpc-timeout"], "1500m");
      assert.equal(seen.headers["user-agent"], "fsagent/test");
      assert.equal(seen.headers.authorization, "Bearer t-1");
      assert.equal(seen.headers["x-tenant"], "a");
      // The message is not consumed or changed by the call.
      assert.equal(message.toString(), "a request of some bytes");
    } finally {
      unary.close();
    }
  });

  it("labels a gzip message: the compressed flag in the prefix and grpc-encoding gzip", async () => {
    server.answer = (stream) => ok(stream, Buffer.alloc(0));
    const unary = new UnaryChannel({
      authority: `127.0.0.1:${server.port}`,
      tls: null,
      headers: {},
      userAgent: "fsagent/test",
      gzip: true,
    });
    try {
      const message = gzipSync(Buffer.from("a request"));
      const result = await call(unary, message);
      assert.equal(result.error, null);
      const seen = server.seen.at(-1)!;
      assert.deepEqual(seen.body, framed(message, true));
      assert.equal(seen.headers["grpc-encoding"], "gzip");
      assert.equal(seen.headers["grpc-accept-encoding"], "identity");
      // Without gzip, neither.
      const plain = channel(server.port);
      await call(plain, Buffer.from("x"));
      plain.close();
      assert.equal(server.seen.at(-1)?.headers["grpc-encoding"], undefined);
      assert.equal(server.seen.at(-1)?.body[0], 0);
    } finally {
      unary.close();
    }
  });

  it("reuses one connection for successive calls", async () => {
    server.answer = (stream) => ok(stream, Buffer.alloc(0));
    const unary = channel(server.port);
    const before = server.connections;
    try {
      for (let i = 0; i < 5; i++) assert.equal((await call(unary, Buffer.from("x"))).error, null);
      assert.equal(server.connections - before, 1);
    } finally {
      unary.close();
    }
  });

  it("reads the status and the percent-encoded message of a trailers-only answer", async () => {
    server.answer = trailersOnly(200, status.RESOURCE_EXHAUSTED, "too%20many%20points%3A%2050%25");
    const unary = channel(server.port);
    try {
      const result = await call(unary, Buffer.from("x"));
      assert.ok(result.error instanceof GrpcCallError);
      assert.equal(result.error.code, status.RESOURCE_EXHAUSTED);
      assert.equal(result.error.message, "8 RESOURCE_EXHAUSTED: too many points: 50%");
    } finally {
      unary.close();
    }
  });

  it("reads a RetryInfo in grpc-status-details-bin as the pause the server asks for, capped", async () => {
    const unary = channel(server.port);
    const answer = (code: status, details: Buffer | string): Answer => {
      return (stream) =>
        stream.respond(
          {
            ":status": 200,
            "content-type": "application/grpc",
            "grpc-status": String(code),
            "grpc-message": "slow%20down",
            "grpc-status-details-bin":
              typeof details === "string" ? details : details.toString("base64").replace(/=+$/, ""),
          },
          { endStream: true },
        );
    };
    try {
      const cases: [status, Buffer | string, number | null][] = [
        [status.RESOURCE_EXHAUSTED, statusDetails(2, 500_000_000), 2500],
        [status.UNAVAILABLE, statusDetails(0, 250_000_000, "a debug note first"), 250],
        [status.UNAVAILABLE, statusDetails(3600, 0), 300_000],
        // Another detail type, or bytes that are no Status: no pause.
        [
          status.UNAVAILABLE,
          statusDetails(2, 0, undefined, "type.googleapis.com/google.rpc.DebugInfo"),
          null,
        ],
        [status.UNAVAILABLE, "%%%not base64", null],
        // UNIMPLEMENTED is never retried, whatever its details say.
        [status.UNIMPLEMENTED, statusDetails(2, 0), null],
      ];
      for (const [code, details, expected] of cases) {
        server.answer = answer(code, details);
        const result = await call(unary, Buffer.from("x"));
        assert.ok(result.error instanceof GrpcCallError);
        assert.equal(result.error.code, code);
        assert.equal(result.error.message, `${code} ${status[code]}: slow down`);
        assert.equal(result.error.retryAfterMs, expected, `${status[code]} ${String(details)}`);
      }
    } finally {
      unary.close();
    }
  });

  it("maps an HTTP error without a gRPC status as the gRPC spec says", async () => {
    const unary = channel(server.port);
    try {
      for (const [http, code] of [
        [503, status.UNAVAILABLE],
        [429, status.UNAVAILABLE],
        [401, status.UNAUTHENTICATED],
        [403, status.PERMISSION_DENIED],
        [404, status.UNIMPLEMENTED],
        [400, status.INTERNAL],
        [500, status.UNKNOWN],
      ] as const) {
        server.answer = (stream) => {
          stream.respond({ ":status": http, "content-type": "text/plain" });
          stream.end("proxy says no");
        };
        const result = await call(unary, Buffer.from("x"));
        assert.equal(codeOf(result), code, `HTTP ${http}`);
        assert.match(result.error?.message ?? "", new RegExp(`HTTP status ${http}$`));
      }
    } finally {
      unary.close();
    }
  });

  it("refuses an answer that is not gRPC, a compressed one, and a truncated one", async () => {
    const unary = channel(server.port);
    try {
      server.answer = (stream) => {
        stream.respond({ ":status": 200, "content-type": "text/html" });
        stream.end("<html>");
      };
      const html = await call(unary, Buffer.from("x"));
      assert.equal(codeOf(html), status.UNKNOWN);
      assert.match(html.error?.message ?? "", /content-type "text\/html"/);

      server.answer = (stream) => {
        stream.respond(
          { ":status": 200, "content-type": "application/grpc" },
          { waitForTrailers: true },
        );
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(framed(Buffer.from("zipped"), true));
      };
      assert.equal(codeOf(await call(unary, Buffer.from("x"))), status.INTERNAL);

      server.answer = (stream) => {
        stream.respond(
          { ":status": 200, "content-type": "application/grpc" },
          { waitForTrailers: true },
        );
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(framed(Buffer.from("cut short")).subarray(0, 8));
      };
      const truncated = await call(unary, Buffer.from("x"));
      assert.equal(codeOf(truncated), status.INTERNAL);
      assert.match(truncated.error?.message ?? "", /truncated/);
    } finally {
      unary.close();
    }
  });

  it("maps a reset stream by its code, and an answer that ends without a status", async () => {
    const unary = channel(server.port);
    try {
      for (const [rst, code, text] of [
        [constants.NGHTTP2_REFUSED_STREAM, status.UNAVAILABLE, /refused/],
        [constants.NGHTTP2_ENHANCE_YOUR_CALM, status.RESOURCE_EXHAUSTED, /limit/],
        [constants.NGHTTP2_INTERNAL_ERROR, status.INTERNAL, /HTTP\/2 error code 2/],
      ] as const) {
        server.answer = (stream) => stream.close(rst);
        const result = await call(unary, Buffer.from("x"));
        assert.equal(codeOf(result), code, `RST_STREAM ${rst}`);
        assert.match(result.error?.message ?? "", text);
      }

      server.answer = (stream) => {
        stream.respond({ ":status": 200, "content-type": "application/grpc" });
        stream.end();
      };
      const noStatus = await call(unary, Buffer.from("x"));
      assert.equal(codeOf(noStatus), status.INTERNAL, "no grpc-status is not success");
      assert.match(noStatus.error?.message ?? "", /without a gRPC status/);
    } finally {
      unary.close();
    }
  });

  it("prefers the gRPC status to the HTTP one", async () => {
    server.answer = trailersOnly(503, status.PERMISSION_DENIED, "tenant suspended");
    const unary = channel(server.port);
    try {
      const result = await call(unary, Buffer.from("x"));
      assert.equal(result.error?.message, "7 PERMISSION_DENIED: tenant suspended");
    } finally {
      unary.close();
    }
  });

  it("reports UNAVAILABLE when the connection drops before the answer", async () => {
    // The Collector's process dies mid-call: the connection goes without a GOAWAY.
    server.answer = (stream) => stream.session?.destroy();
    const unary = channel(server.port);
    try {
      const result = await call(unary, Buffer.from("x"));
      assert.equal(codeOf(result), status.UNAVAILABLE, result.error?.message);
    } finally {
      unary.close();
    }
  });

  it("sends a request far larger than the HTTP/2 windows whole", async () => {
    server.answer = (stream) => ok(stream, Buffer.alloc(0));
    const unary = channel(server.port);
    try {
      const message = Buffer.alloc(3 * 1024 * 1024);
      for (let i = 0; i < message.length; i += 4096) message[i] = i % 251;
      const result = await call(unary, message, 10_000);
      assert.equal(result.error, null);
      assert.deepEqual(server.seen.at(-1)?.body, framed(message));
    } finally {
      unary.close();
    }
  });
});

describe("gRPC unary call: no answer, no server", () => {
  let silent: Server;
  let silentPort = 0;
  const sockets: Socket[] = [];
  before(async () => {
    // Accepts TCP and never speaks HTTP/2: a hung Collector, or a host behind a dead NAT entry.
    silent = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    silentPort = address.port;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it("ends a call at its deadline as DEADLINE_EXCEEDED, without releasing the request", async () => {
    const unary = channel(silentPort);
    try {
      const result = await call(unary, Buffer.from("x"), 300);
      assert.equal(codeOf(result), status.DEADLINE_EXCEEDED);
      assert.equal(result.requestReleased, false);
      // Node's timers count from the loop's cached time: a little early by performance.now().
      assert.ok(result.elapsedMs >= 250 && result.elapsedMs < 2000, `${result.elapsedMs} ms`);
      // reset() drops the connection: the next call opens a new one.
      const before = sockets.length;
      unary.reset();
      await call(unary, Buffer.from("x"), 100);
      assert.equal(sockets.length, before + 1);
    } finally {
      unary.close();
    }
  });

  it("fails at once with UNAVAILABLE and the reason when nothing listens", async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const address = closed.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unary = channel(address.port);
    try {
      const result = await call(unary, Buffer.from("x"), 5000);
      assert.equal(codeOf(result), status.UNAVAILABLE);
      assert.match(result.error?.message ?? "", /^14 UNAVAILABLE: connect ECONNREFUSED/);
      assert.ok(result.elapsedMs < 2000, `${result.elapsedMs} ms`);
    } finally {
      unary.close();
    }
  });

  it("does not release a request its dropped connection may still be sending", async () => {
    // A server that never reads: the HTTP/2 windows stop the request after 64 KiB, the rest
    // waits in the session; reset() then drops the connection under the call.
    const stalled = createServer();
    stalled.on("stream", () => {});
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
    const address = stalled.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const unary = channel(address.port);
    try {
      const pending = call(unary, Buffer.alloc(8 * 1024 * 1024), 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      unary.reset();
      const result = await pending;
      assert.equal(codeOf(result), status.UNAVAILABLE, result.error?.message);
      assert.equal(result.requestReleased, false);
      assert.ok(result.elapsedMs < 5000, "ended by the reset, not the deadline");
    } finally {
      unary.close();
      await new Promise<void>((resolve) => stalled.close(() => resolve()));
    }
  });

  it("sends an IPv6 authority with its brackets", async (t) => {
    const v6 = createServer();
    const listening = await new Promise<boolean>((resolve) => {
      v6.once("error", () => resolve(false));
      v6.listen(0, "::1", () => resolve(true));
    });
    if (!listening) {
      t.skip("no IPv6 loopback on this machine");
      return;
    }
    let authority: string | undefined;
    v6.on("stream", (stream, headers) => {
      authority = headers[":authority"];
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": "0" },
        { endStream: true },
      );
    });
    const address = v6.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const unary = new UnaryChannel({
      authority: `[::1]:${address.port}`,
      tls: null,
      headers: {},
      userAgent: "t",
    });
    try {
      assert.equal((await call(unary, Buffer.from("x"))).error, null);
      assert.equal(authority, `[::1]:${address.port}`);
    } finally {
      unary.close();
      await new Promise<void>((resolve) => v6.close(() => resolve()));
    }
  });

  it("an idle connection does not keep the process alive; a call in flight does (its deadline)", async () => {
    const server = await RawServer.start();
    server.answer = (stream) => ok(stream, Buffer.alloc(0));
    // The child makes one answered call and one that the silent listener never answers (2 s
    // deadline), and never closes the channel: it must exit once the second call has ended.
    const script = `
      import { UnaryChannel } from "./src/export/grpc-unary.ts";
      const open = (port) => new UnaryChannel({ authority: "127.0.0.1:" + port, tls: null, headers: {}, userAgent: "t" });
      const started = Date.now();
      open(${server.port}).call("/a/b", Buffer.from("x"), 2000, (r) => console.log("answered", r.error === null));
      open(${silentPort}).call("/a/b", Buffer.from("x"), 2000, (r) => console.log("ended", r.error?.code, Date.now() - started));
    `;
    try {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", script],
        {
          cwd: new URL("../..", import.meta.url),
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      let err = "";
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`the child did not exit: ${out} ${err}`));
        }, 15_000);
        child.on("exit", (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      assert.equal(code, 0, err);
      assert.match(out, /answered true/);
      const ended = /ended (\d+) (\d+)/.exec(out);
      assert.ok(ended !== null, out);
      assert.equal(Number(ended[1]), status.DEADLINE_EXCEEDED);
      assert.ok(Number(ended[2]) >= 1900, `the call in flight kept it alive: ${ended[2]} ms`);
    } finally {
      await server.close();
    }
  });
});

describe("grpc-timeout", () => {
  it("is at most 8 digits and a unit, never 0", () => {
    assert.equal(grpcTimeout(10_000), "10000m");
    assert.equal(grpcTimeout(0), "1m");
    assert.equal(grpcTimeout(0.2), "1m");
    assert.equal(grpcTimeout(99_999_999), "99999999m");
    assert.equal(grpcTimeout(100_000_000), "100000S");
    for (const ms of [1, 5_000, 3_600_000, 1e9, 1e15]) {
      assert.match(grpcTimeout(ms), /^\d{1,8}[mS]$/);
    }
  });
});
