import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { setImmediate } from "node:timers/promises";
import { pino } from "pino";
import { Registry } from "prom-client";
import {
  CONNECTION_STATES,
  type ConnectionStats,
  newConnectionStats,
} from "../../src/esl/status.js";
import { silentLogger } from "../../src/log/logger.js";
import { bump, EventCounters } from "../../src/pipeline/counters.js";
import { healthBody } from "../../src/server/health.js";
import { type HttpServerHandle, startHttpServer } from "../../src/server/http.js";
import { createInternalMetrics } from "../../src/server/internal-metrics.js";
import type {
  AgentView,
  ExportView,
  InstanceView,
  LegStoreView,
  RecordsView,
  StorageOpCount,
} from "../../src/server/source.js";
import type { Clock } from "../../src/util/clock.js";
import { ManualClock } from "../support/manual-clock.js";

// A view the tests mutate between requests, as the connections and the pipeline would.
class FakeAgent implements AgentView {
  list: InstanceView[] = [];
  storage: StorageOpCount[] = [];
  legs: LegStoreView = { legs: 0, evicted: 0, expired: 0 };
  exports: ExportView = {
    exports: 0,
    exportErrors: 0,
    sent: 0,
    retried: 0,
    dropped: { notRetried: 0, queueFull: 0, refused: 0, shutdown: 0 },
    queued: 0,
    capacity: 0,
  };

  add(name: string): { stats: ConnectionStats; events: EventCounters } {
    const instance = { stats: newConnectionStats(name), events: new EventCounters() };
    this.list.push(instance);
    return instance;
  }
  instances(): readonly InstanceView[] {
    return this.list;
  }
  storageOperations(): readonly StorageOpCount[] {
    return this.storage;
  }
  legStore(): LegStoreView {
    return this.legs;
  }
  exporter(): ExportView {
    return this.exports;
  }
  recordStats: RecordsView = {
    emitted: 0,
    exports: 0,
    exportErrors: 0,
    sent: 0,
    retried: 0,
    dropped: { notRetried: 0, queueFull: 0, refused: 0, shutdown: 0 },
    queued: 0,
    capacity: 0,
  };
  records(): RecordsView {
    return this.recordStats;
  }
}

async function start(
  agent: AgentView,
  registry: Registry = new Registry(),
  logger = silentLogger(),
  clock?: Clock,
): Promise<HttpServerHandle> {
  return startHttpServer({ host: "127.0.0.1", port: 0, view: agent, registry, logger, clock });
}

/** Awaits `promise`; a fail-safe (not a timing assertion): rejects if it takes over 10 s. */
async function failAfter<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within 10 s`)), 10_000);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

interface RawResponse {
  head: string;
  status: number;
  body: string;
}

/** One request over a fresh socket, read until the server closes it: shows exactly what is sent. */
function raw(port: number, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const head = split === -1 ? text : text.slice(0, split);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? "0");
      resolve({ head, status, body: split === -1 ? "" : text.slice(split + 4) });
    });
    socket.write(request);
  });
}

// --- a small Prometheus text-format parser, so tests check series and values, not substrings ---

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
}

function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === "TYPE" ? types : help).set(meta[2]!, meta[3]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const labelText = m[2] ?? "";
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    let consumed = 0;
    for (let l = labelRe.exec(labelText); l !== null; l = labelRe.exec(labelText)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      consumed = labelRe.lastIndex;
    }
    assert.equal(consumed, labelText.length, `unparseable labels: ${line}`);
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, help, samples };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The value of the one series with exactly these labels; undefined when absent. */
function sampleValue(
  exp: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = exp.samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  assert.ok(found.length <= 1, `duplicate series ${name}${JSON.stringify(labels)}`);
  return found[0]?.value;
}

function seriesOf(exp: Exposition, name: string): Sample[] {
  return exp.samples.filter((s) => s.name === name);
}

async function scrape(base: string): Promise<Exposition> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  return parseExposition(await res.text());
}

// -------------------------------------------------------------------------------------------------

describe("/health and /ready", () => {
  const agent = new FakeAgent();
  let server: HttpServerHandle;
  before(async () => {
    server = await start(agent);
  });
  after(() => server.close());

  test("zero instances: unhealthy, not ready", async () => {
    agent.list = [];
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "unhealthy", connections: {} });
    const ready = await fetch(`${server.url}/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { ready: false });
  });

  test("status follows the connection states; ready flips", async () => {
    agent.list = [];
    const fs1 = agent.add("fs1");
    const fs2 = agent.add("fs2");

    const get = async () => {
      const h = await fetch(`${server.url}/health`);
      assert.equal(h.status, 200, "liveness is 200 whatever the connections");
      const r = await fetch(`${server.url}/ready`);
      return { health: (await h.json()) as { status: string }, ready: r.status };
    };

    let got = await get();
    assert.equal(got.health.status, "unhealthy");
    assert.equal(got.ready, 503);

    fs1.stats.state = "connected";
    got = await get();
    assert.equal(got.health.status, "degraded");
    assert.equal(got.ready, 200);

    fs2.stats.state = "connected";
    got = await get();
    assert.equal(got.health.status, "healthy");
    assert.equal(got.ready, 200);

    fs1.stats.state = "auth_failed";
    fs2.stats.state = "subscribing";
    got = await get();
    assert.equal(got.health.status, "unhealthy");
    assert.equal(got.ready, 503);
  });

  test("body has exactly the documented shape, timestamps in ISO-8601 UTC", async () => {
    agent.list = [];
    const fs1 = agent.add("fs1");
    const fs2 = agent.add("fs2");
    const lastEvent = Date.UTC(2024, 4, 17, 9, 30, 5, 123);
    fs1.stats.state = "connected";
    fs1.stats.lastEventAt = lastEvent;
    fs1.stats.lastFrameAt = lastEvent + 10;
    fs2.stats.state = "auth_failed";
    fs2.stats.lastError = "password rejected";
    fs2.stats.reconnects = 3;

    const res = await fetch(`${server.url}/health?x=1`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-store");
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), {
      status: "degraded",
      connections: {
        fs1: {
          connected: true,
          state: "connected",
          last_event: "2024-05-17T09:30:05.123Z",
          reconnects: 0,
        },
        fs2: {
          connected: false,
          state: "auth_failed",
          last_error: "password rejected",
          reconnects: 3,
        },
      },
    });
    // Key order as documented, so humans reading the probe output see the same layout.
    assert.deepEqual(Object.keys(JSON.parse(text).connections.fs1), [
      "connected",
      "state",
      "last_event",
      "reconnects",
    ]);
  });

  test("ready body and headers", async () => {
    agent.list = [];
    agent.add("fs1").stats.state = "connected";
    const res = await fetch(`${server.url}/ready?probe`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.deepEqual(await res.json(), { ready: true });
  });

  test("an instance named __proto__ is an ordinary key", () => {
    const weird = new FakeAgent();
    weird.add("__proto__").stats.state = "connected";
    const body = JSON.parse(JSON.stringify(healthBody(weird)));
    assert.equal(body.status, "healthy");
    assert.equal(Object.keys(body.connections).length, 1);
  });
});

describe("methods, paths, errors", () => {
  const agent = new FakeAgent();
  const lines: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
  let server: HttpServerHandle;
  before(async () => {
    agent.add("fs1").stats.state = "connected";
    server = await start(agent, createInternalMetrics(agent), logger);
  });
  after(() => server.close());

  for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
    test(`${method} on a known path is 405 with Allow`, async () => {
      for (const path of ["/health", "/ready", "/metrics"]) {
        const res = await fetch(`${server.url}${path}`, { method });
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.equal(res.headers.get("allow"), "GET, HEAD");
        await res.arrayBuffer();
      }
    });
  }

  test("unknown paths are 404", async () => {
    for (const path of ["/", "/healthz", "/health/extra", "/metrics.txt", "//health"]) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
      assert.deepEqual(await res.json(), { error: "not found" });
    }
  });

  test("HEAD sends GET's headers and no body", async () => {
    for (const path of ["/health", "/ready", "/metrics"]) {
      const get = await fetch(`${server.url}${path}`);
      const getBody = Buffer.from(await get.arrayBuffer());
      const head = await raw(
        server.port,
        `HEAD ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(head.status, get.status, path);
      assert.equal(head.body, "", `${path}: no body bytes after the headers`);
      const headers = new Map(
        head.head
          .split("\r\n")
          .slice(1)
          .map((l) => [
            l.slice(0, l.indexOf(":")).toLowerCase(),
            l.slice(l.indexOf(":") + 1).trim(),
          ]),
      );
      assert.equal(headers.get("content-type"), get.headers.get("content-type"), path);
      assert.equal(headers.get("cache-control"), "no-store", path);
      if (path !== "/metrics") {
        // /metrics changes between two scrapes (process metrics), so only its type is compared.
        assert.equal(Number(headers.get("content-length")), getBody.length, path);
      }
    }
  });

  test("a failing view gives a one-line 500, is logged, and the server keeps serving", async () => {
    const broken: AgentView = {
      instances: () => {
        throw new Error("boom");
      },
      storageOperations: () => [],
      legStore: () => ({ legs: 0, evicted: 0, expired: 0 }),
      exporter: () => ({
        exports: 0,
        exportErrors: 0,
        sent: 0,
        retried: 0,
        dropped: { notRetried: 0, queueFull: 0, refused: 0, shutdown: 0 },
        queued: 0,
        capacity: 0,
      }),
    };
    const failing = await start(broken, new Registry(), logger);
    try {
      const res = await fetch(`${failing.url}/health`);
      assert.equal(res.status, 500);
      const text = await res.text();
      assert.ok(!text.includes("\n"));
      assert.deepEqual(JSON.parse(text), { error: "internal error" });
      assert.ok(lines.some((l) => l.includes("http request failed") && l.includes("boom")));
      const metrics = await fetch(`${failing.url}/metrics`);
      assert.equal(metrics.status, 200);
      await metrics.arrayBuffer();
    } finally {
      await failing.close();
    }
  });

  test("oversized request headers get 431 from Node", async () => {
    const res = await raw(
      server.port,
      `GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`,
    );
    assert.equal(res.status, 431);
  });

  test("listening on a taken port is a one-line error", async () => {
    await assert.rejects(
      startHttpServer({
        host: "127.0.0.1",
        port: server.port,
        view: agent,
        registry: new Registry(),
        logger: silentLogger(),
      }),
      (err: Error) => {
        assert.equal(
          err.message,
          `cannot listen on 127.0.0.1:${server.port}: address already in use`,
        );
        return true;
      },
    );
  });
});

describe("lifecycle", () => {
  test("port 0 binds an ephemeral port reported on the handle", async () => {
    const server = await start(new FakeAgent());
    try {
      assert.ok(server.port > 0);
      assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    } finally {
      await server.close();
    }
  });

  test("close() is prompt with a keep-alive client connected, and idempotent", async () => {
    // On the manual clock, which never moves here: close() must not wait for its grace period.
    const clock = new ManualClock();
    const server = await start(new FakeAgent(), new Registry(), silentLogger(), clock);
    const socket = connect(server.port, "127.0.0.1");
    const socketClosed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    const answered = new Promise<void>((resolve) => socket.once("data", () => resolve()));
    socket.write("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n");
    await answered;

    await failAfter(Promise.all([server.close(), server.close(), socketClosed]), "close()");
    assert.equal(clock.pendingTimers, 0, "the grace timer is cleared once closed");
    await assert.rejects(fetch(`${server.url}/health`));
  });

  test("close() gives a request still running the grace period, then cuts it", async () => {
    const clock = new ManualClock();
    let running: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      running = resolve;
    });
    // A scrape that never finishes: /metrics awaits the registry.
    const registry = new (class extends Registry {
      override metrics(): Promise<string> {
        running();
        return new Promise<string>(() => undefined);
      }
    })();
    const server = await start(new FakeAgent(), registry, silentLogger(), clock);
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    let socketGone = false;
    const socketClosed = new Promise<void>((resolve) =>
      socket.on("close", () => {
        socketGone = true;
        resolve();
      }),
    );
    socket.write("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await failAfter(started, "the request to reach its handler");

    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    clock.advance(999);
    await setImmediate();
    assert.equal(clock.pendingTimers, 1, "the grace timer is still running at 999 ms");
    assert.equal(closed, false);
    assert.equal(socketGone, false);
    clock.advance(1);
    await failAfter(Promise.all([closing, socketClosed]), "the cut at 1000 ms");
    assert.equal(clock.pendingTimers, 0);
  });

  test("close() cuts a client that sent half a request, at the end of the grace period", async () => {
    const clock = new ManualClock();
    const server = await start(new FakeAgent(), new Registry(), silentLogger(), clock);
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    let socketGone = false;
    const socketClosed = new Promise<void>((resolve) =>
      socket.on("close", () => {
        socketGone = true;
        resolve();
      }),
    );
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write("GET /health HTTP/1.1\r\nHost: loc");
    // The server has to read the partial request (making the connection active, not idle):
    // a round trip of another connection to the same server gets behind it.
    await fetch(`${server.url}/health`);
    const closing = server.close();
    clock.advance(999);
    await setImmediate();
    assert.equal(socketGone, false, "still within the grace period at 999 ms");
    clock.advance(1);
    await failAfter(Promise.all([closing, socketClosed]), "the cut at 1000 ms");
  });
});

describe("/metrics", () => {
  const agent = new FakeAgent();
  const registry = createInternalMetrics(agent, { version: "1.2.3" });
  let server: HttpServerHandle;
  before(async () => {
    server = await start(agent, registry);
  });
  after(() => server.close());

  test("content type is the registry's", async () => {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), registry.contentType);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    await res.arrayBuffer();
  });

  test("default process and Node metrics are present", async () => {
    const exp = await scrape(server.url);
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_version_info",
    ]) {
      assert.ok(seriesOf(exp, name).length > 0, `${name} missing`);
    }
  });

  test("every fsagent metric has its type, help, labels and current value", async () => {
    agent.list = [];
    agent.storage = [];
    const fs1 = agent.add("fs1");
    const fs2 = agent.add("fs2");

    let exp = await scrape(server.url);
    assert.equal(sampleValue(exp, "fsagent_fs_connections", { fs_instance: "fs1" }), 0);
    assert.equal(
      sampleValue(exp, "fsagent_rtcp_messages_processed_total", { fs_instance: "fs1" }),
      0,
    );
    assert.equal(seriesOf(exp, "fsagent_events_received_total").length, 0);
    assert.equal(seriesOf(exp, "fsagent_storage_operations_total").length, 0);
    assert.equal(seriesOf(exp, "fsagent_fs_last_event_timestamp_seconds").length, 0);

    fs1.stats.state = "connected";
    fs1.stats.lastEventAt = 1_700_000_000_250;
    fs1.stats.reconnects = 2;
    fs1.stats.commandsTimedOut = 1;
    fs1.stats.commandsRejected = 2;
    fs1.stats.framesReceived = 40;
    fs1.stats.framesIgnored = 3;
    fs1.stats.bytesReceived = 123_456;
    fs1.stats.protocolErrors.frame_too_large = 4;
    fs2.stats.state = "rejected";
    for (let n = 0; n < 5; n++) bump(fs1.events.received, "RECV_RTCP_MESSAGE");
    bump(fs1.events.received, "HEARTBEAT");
    for (let n = 0; n < 4; n++) bump(fs1.events.processed, "RECV_RTCP_MESSAGE");
    bump(fs1.events.unusable, "missing_unique_id");
    bump(fs2.events.received, "CHANNEL_CREATE");
    fs1.events.rtcpProcessed = 4;
    fs1.events.qosGenerated = 7;
    fs1.events.extraReportBlocks = 3;
    bump(fs1.events.dropped, "pending_full");
    bump(fs1.events.lookups, "found");
    bump(fs1.events.lookups, "found");
    bump(fs1.events.lookups, "rate_limited");
    bump(fs1.events.partialLabels, "first");
    fs1.events.legsReconciled = 8;
    bump(fs1.events.qosUnreadable, "in_mos");
    bump(fs1.events.healthUnreadable, "sofia_xmlstatus_gateway");
    bump(fs1.events.healthFailed, "status");
    bump(fs1.events.healthFailed, "status");
    agent.legs = { legs: 42, evicted: 5, expired: 6 };
    agent.exports = {
      exports: 9,
      exportErrors: 2,
      sent: 1200,
      retried: 14,
      dropped: { notRetried: 21, queueFull: 3, refused: 1, shutdown: 0 },
      queued: 7,
      capacity: 10_000,
    };
    agent.recordStats = {
      emitted: 40,
      exports: 12,
      exportErrors: 3,
      sent: 33,
      retried: 5,
      dropped: { notRetried: 0, queueFull: 0, refused: 2, shutdown: 1 },
      queued: 4,
      capacity: 100,
    };
    agent.storage = [
      { operation: "get", status: "ok", count: 10 },
      { operation: "set", status: "error", count: 2 },
    ];

    exp = await scrape(server.url);
    const fs1L = { fs_instance: "fs1" };
    const fs2L = { fs_instance: "fs2" };

    const expectations: Array<[string, Record<string, string>, number]> = [
      ["fsagent_events_received_total", { ...fs1L, event: "RECV_RTCP_MESSAGE" }, 5],
      ["fsagent_events_received_total", { ...fs1L, event: "HEARTBEAT" }, 1],
      ["fsagent_events_received_total", { ...fs2L, event: "CHANNEL_CREATE" }, 1],
      ["fsagent_events_processed_total", { ...fs1L, event: "RECV_RTCP_MESSAGE" }, 4],
      ["fsagent_events_unusable_total", { ...fs1L, reason: "missing_unique_id" }, 1],
      ["fsagent_rtcp_messages_processed_total", fs1L, 4],
      ["fsagent_rtcp_messages_processed_total", fs2L, 0],
      ["fsagent_qos_messages_generated_total", fs1L, 7],
      ["fsagent_qos_variables_unreadable_total", { ...fs1L, variable: "in_mos" }, 1],
      ["fsagent_server_health_unreadable_total", { ...fs1L, source: "sofia_xmlstatus_gateway" }, 1],
      ["fsagent_server_health_command_failures_total", { ...fs1L, source: "status" }, 2],
      ["fsagent_storage_operations_total", { operation: "get", status: "ok" }, 10],
      ["fsagent_storage_operations_total", { operation: "set", status: "error" }, 2],
      ["fsagent_fs_connections", fs1L, 1],
      ["fsagent_fs_connections", fs2L, 0],
      ["fsagent_fs_connection_state", { ...fs1L, state: "connected" }, 1],
      ["fsagent_fs_connection_state", { ...fs2L, state: "rejected" }, 1],
      ["fsagent_fs_connection_state", { ...fs2L, state: "connected" }, 0],
      ["fsagent_esl_reconnects_total", fs1L, 2],
      ["fsagent_esl_protocol_errors_total", { ...fs1L, reason: "frame_too_large" }, 4],
      ["fsagent_esl_protocol_errors_total", { ...fs1L, reason: "bad_content_length" }, 0],
      ["fsagent_esl_commands_timed_out_total", fs1L, 1],
      ["fsagent_esl_commands_rejected_total", fs1L, 2],
      ["fsagent_esl_frames_received_total", fs1L, 40],
      ["fsagent_esl_frames_ignored_total", fs1L, 3],
      ["fsagent_esl_bytes_received_total", fs1L, 123_456],
      ["fsagent_esl_bytes_received_total", fs2L, 0],
      ["fsagent_fs_last_event_timestamp_seconds", fs1L, 1_700_000_000.25],
      ["fsagent_build_info", { version: "1.2.3", node_version: process.version }, 1],
      ["fsagent_rtcp_extra_report_blocks_total", fs1L, 3],
      ["fsagent_events_dropped_total", { ...fs1L, reason: "pending_full" }, 1],
      ["fsagent_leg_lookups_total", { ...fs1L, result: "found" }, 2],
      ["fsagent_leg_lookups_total", { ...fs1L, result: "rate_limited" }, 1],
      ["fsagent_legs_partial_labels_total", { ...fs1L, stage: "first" }, 1],
      ["fsagent_legs_reconciled_total", fs1L, 8],
      ["fsagent_legs_reconciled_total", fs2L, 0],
      ["fsagent_legs_active", {}, 42],
      ["fsagent_legs_evicted_total", {}, 5],
      ["fsagent_legs_expired_total", {}, 6],
      ["fsagent_exports_total", { signal: "metrics" }, 9],
      ["fsagent_exports_total", { signal: "logs" }, 12],
      ["fsagent_export_errors_total", { signal: "metrics" }, 2],
      ["fsagent_export_errors_total", { signal: "logs" }, 3],
      ["fsagent_export_items_sent_total", { signal: "metrics" }, 1200],
      ["fsagent_export_items_sent_total", { signal: "logs" }, 33],
      ["fsagent_export_items_retried_total", { signal: "metrics" }, 14],
      ["fsagent_export_items_retried_total", { signal: "logs" }, 5],
      ["fsagent_export_items_dropped_total", { signal: "metrics", reason: "not_retried" }, 21],
      ["fsagent_export_items_dropped_total", { signal: "metrics", reason: "queue_full" }, 3],
      ["fsagent_export_items_dropped_total", { signal: "metrics", reason: "refused" }, 1],
      ["fsagent_export_items_dropped_total", { signal: "metrics", reason: "shutdown" }, 0],
      ["fsagent_export_items_dropped_total", { signal: "logs", reason: "not_retried" }, 0],
      ["fsagent_export_items_dropped_total", { signal: "logs", reason: "queue_full" }, 0],
      ["fsagent_export_items_dropped_total", { signal: "logs", reason: "refused" }, 2],
      ["fsagent_export_items_dropped_total", { signal: "logs", reason: "shutdown" }, 1],
      ["fsagent_export_queue_items", { signal: "metrics" }, 7],
      ["fsagent_export_queue_items", { signal: "logs" }, 4],
      ["fsagent_export_queue_capacity", { signal: "metrics" }, 10_000],
      ["fsagent_export_queue_capacity", { signal: "logs" }, 100],
    ];
    for (const [name, labels, value] of expectations) {
      assert.equal(sampleValue(exp, name, labels), value, `${name}${JSON.stringify(labels)}`);
    }
    // Only instances whose last event is known get a timestamp series.
    assert.equal(sampleValue(exp, "fsagent_fs_last_event_timestamp_seconds", fs2L), undefined);

    // Every state is exported per instance, exactly one of them at 1.
    for (const name of ["fs1", "fs2"]) {
      const states = seriesOf(exp, "fsagent_fs_connection_state").filter(
        (s) => s.labels.fs_instance === name,
      );
      assert.deepEqual(states.map((s) => s.labels.state).sort(), [...CONNECTION_STATES].sort());
      assert.equal(states.filter((s) => s.value === 1).length, 1);
    }
    // Every protocol error reason is exported, zeros included.
    const reasons = seriesOf(exp, "fsagent_esl_protocol_errors_total")
      .filter((s) => s.labels.fs_instance === "fs2")
      .map((s) => s.labels.reason)
      .sort();
    assert.deepEqual(reasons, Object.keys(fs2.stats.protocolErrors).sort());

    // Types, help, and naming rules for all of our metrics.
    const ours = [...exp.types.keys()].filter((n) => n.startsWith("fsagent_"));
    const expectedTypes: Record<string, string> = {
      fsagent_fs_connections: "gauge",
      fsagent_fs_connection_state: "gauge",
      fsagent_fs_last_event_timestamp_seconds: "gauge",
      fsagent_build_info: "gauge",
      fsagent_legs_active: "gauge",
      fsagent_export_queue_items: "gauge",
      fsagent_export_queue_capacity: "gauge",
    };
    const allNames = new Set(expectations.map(([n]) => n));
    allNames.add("fsagent_events_unusable_total");
    assert.deepEqual(ours.sort(), [...allNames].sort());
    for (const name of ours) {
      const type = exp.types.get(name);
      assert.equal(type, expectedTypes[name] ?? "counter", name);
      assert.equal(type === "counter", name.endsWith("_total"), `${name}: _total iff counter`);
      assert.ok((exp.help.get(name) ?? "").length > 10, `${name} has help`);
    }
    for (const s of exp.samples.filter((x) => x.name.startsWith("fsagent_"))) {
      assert.ok(!("instance" in s.labels), `${s.name} must not use the instance label`);
    }
  });

  test("values follow the live counters and vanished instances disappear", async () => {
    agent.list = [];
    const fs1 = agent.add("fs1");
    fs1.stats.state = "connected";
    bump(fs1.events.received, "HEARTBEAT");
    let exp = await scrape(server.url);
    const heartbeat = { fs_instance: "fs1", event: "HEARTBEAT" };
    assert.equal(sampleValue(exp, "fsagent_events_received_total", heartbeat), 1);

    bump(fs1.events.received, "HEARTBEAT");
    bump(fs1.events.received, "HEARTBEAT");
    fs1.stats.state = "disconnected";
    exp = await scrape(server.url);
    assert.equal(sampleValue(exp, "fsagent_events_received_total", heartbeat), 3);
    assert.equal(sampleValue(exp, "fsagent_fs_connections", { fs_instance: "fs1" }), 0);
    assert.equal(
      sampleValue(exp, "fsagent_fs_connection_state", {
        fs_instance: "fs1",
        state: "disconnected",
      }),
      1,
    );

    agent.list = [];
    exp = await scrape(server.url);
    assert.equal(
      exp.samples.filter((s) => s.labels.fs_instance === "fs1").length,
      0,
      "no series left for an instance no longer in the view",
    );
  });

  test("label values with quotes and backslashes survive escaping", async () => {
    agent.list = [];
    const odd = agent.add('fs"1\\x');
    bump(odd.events.unusable, "bad\nreason");
    const exp = await scrape(server.url);
    assert.equal(sampleValue(exp, "fsagent_fs_connections", { fs_instance: 'fs"1\\x' }), 0);
    assert.equal(
      sampleValue(exp, "fsagent_events_unusable_total", {
        fs_instance: 'fs"1\\x',
        reason: "bad\nreason",
      }),
      1,
    );
  });

  test("two registries in one process do not collide", async () => {
    const a = new FakeAgent();
    const b = new FakeAgent();
    a.add("fsA").stats.state = "connected";
    b.add("fsB");
    const ra = parseExposition(await createInternalMetrics(a).metrics());
    const rb = parseExposition(await createInternalMetrics(b).metrics());
    assert.equal(sampleValue(ra, "fsagent_fs_connections", { fs_instance: "fsA" }), 1);
    assert.equal(sampleValue(ra, "fsagent_fs_connections", { fs_instance: "fsB" }), undefined);
    assert.equal(sampleValue(rb, "fsagent_fs_connections", { fs_instance: "fsB" }), 0);
    assert.equal(
      sampleValue(ra, "fsagent_build_info", { version: "unknown", node_version: process.version }),
      1,
    );
  });
});
