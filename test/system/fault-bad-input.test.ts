import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventFrame, type Headers, plainEventBody } from "../../src/esl/wire.js";
import type { HealthBody } from "../../src/server/health.js";
import { SimServer } from "../../src/sim/index.js";
import { CliProcess, killAllChildren, tempDir } from "../support/child.js";
import { closedPort, httpRequest, pollUntil } from "../support/net.js";

// Issue 4, fault 4: bad input on one FreeSWITCH connection. ONE agent process (the built
// dist/cli.js) talks over real TCP to two simulators; fs1 is abused in sequence, fs2 carries
// ordinary traffic the whole time and must never notice.

/** One series of the Prometheus text exposition: metric name, labels, value. */
interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function parseExposition(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    // Label values here are fixed identifiers (instance names, reasons), never escaped quotes.
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) {
      labels[pair[1] ?? ""] = pair[2] ?? "";
    }
    out.push({ name: match[1] ?? "", labels, value: Number(match[3]) });
  }
  return out;
}

/** The value of the series with exactly `labels`; 0 when absent (a counter not yet created). */
function seriesValue(
  series: readonly Series[],
  name: string,
  labels: Record<string, string>,
): number {
  const wanted = Object.entries(labels);
  const hit = series.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === wanted.length &&
      wanted.every(([k, v]) => s.labels[k] === v),
  );
  return hit?.value ?? 0;
}

let cwd = "";
let removeCwd = (): void => undefined;
let agent: CliProcess | undefined;
let url = "";
const sims: SimServer[] = [];
let fs1: SimServer;
let fs2: SimServer;

async function scrape(): Promise<Series[]> {
  const reply = await httpRequest(`${url}/metrics`);
  assert.equal(reply.status, 200);
  return parseExposition(reply.body);
}

async function health(): Promise<HealthBody> {
  const reply = await httpRequest(`${url}/health`);
  return JSON.parse(reply.body) as HealthBody;
}

/** Polls /metrics until `accept` holds; the agent must be alive for every poll. */
function metricsUntil(accept: (s: Series[]) => boolean, what: string, timeoutMs = 5000) {
  return pollUntil(
    async () => {
      if (agent?.running !== true) throw new Error(`the agent exited:\n${String(agent)}`);
      return scrape();
    },
    accept,
    what,
    timeoutMs,
  );
}

/**
 * Waits until fs1 has reconnected past `before` reconnects and is subscribed again, and until
 * the simulator sees an authenticated client, so the next sendRaw reaches the new connection.
 */
async function fs1ReconnectedAfter(before: number, what: string): Promise<number> {
  const h = await pollUntil(
    health,
    (b) => {
      const c = b.connections.fs1;
      return c !== undefined && c.state === "connected" && c.reconnects > before;
    },
    `fs1 to reconnect after ${what}`,
    5000,
  );
  await pollUntil(
    () => Promise.resolve(fs1.authenticatedCount),
    (n) => n >= 1,
    "the simulator to see the new client",
  );
  return h.connections.fs1?.reconnects ?? 0;
}

async function fs1Reconnects(): Promise<number> {
  return (await health()).connections.fs1?.reconnects ?? 0;
}

/** A plain event as FreeSWITCH frames it (outer envelope + url-encoded header body). */
function event(headers: Headers, body?: string): Buffer {
  return eventFrame(plainEventBody(headers, body));
}

function heartbeat(seq: number, body?: string): Buffer {
  return event(
    [
      ["Event-Name", "HEARTBEAT"],
      ["Core-UUID", "6f4c2a3e-0000-4000-8000-000000000001"],
      ["Event-Sequence", String(seq)],
    ],
    body,
  );
}

function protocolErrors(s: Series[], instance: string, reason: string): number {
  return seriesValue(s, "fsagent_esl_protocol_errors_total", { fs_instance: instance, reason });
}

function received(s: Series[], instance: string, event: string): number {
  return seriesValue(s, "fsagent_events_received_total", { fs_instance: instance, event });
}

function unusable(s: Series[], instance: string, reason: string): number {
  return seriesValue(s, "fsagent_events_unusable_total", { fs_instance: instance, reason });
}

before(async () => {
  const temp = tempDir();
  cwd = temp.dir;
  removeCwd = temp.remove;
  // Heartbeats off: every HEARTBEAT the agent counts is one this test sent.
  fs1 = new SimServer({ heartbeatIntervalMs: 0 });
  fs2 = new SimServer({ heartbeatIntervalMs: 0 });
  sims.push(fs1, fs2);
  const port1 = await fs1.listen(0);
  const port2 = await fs2.listen(0);
  // Nothing listens there: exports fail (counted), which is irrelevant to this test, and no
  // Collector on the developer's machine receives test data.
  const otlpPort = await closedPort();
  agent = new CliProcess([], {
    cwd,
    env: {
      FSAGENT_FREESWITCH_INSTANCES: JSON.stringify([
        { name: "fs1", host: "127.0.0.1", port: port1, password: "ClueCon" },
        { name: "fs2", host: "127.0.0.1", port: port2, password: "ClueCon" },
      ]),
      FSAGENT_HTTP_HOST: "127.0.0.1",
      FSAGENT_HTTP_PORT: "0",
      FSAGENT_OTEL_ENDPOINT: `127.0.0.1:${otlpPort}`,
      FSAGENT_OTEL_EXPORT_INTERVAL: "60s",
      // Fast reconnects keep nine resets inside a few seconds.
      FSAGENT_ESL_BACKOFF_INITIAL: "20ms",
      FSAGENT_ESL_BACKOFF_MAX: "100ms",
      FSAGENT_LOG_LEVEL: "info",
    },
  });
  url = await agent.jsonHttpUrl();
  await pollUntil(
    health,
    (b) => b.connections.fs1?.state === "connected" && b.connections.fs2?.state === "connected",
    "both instances connected",
  );
  await pollUntil(
    () => Promise.resolve(fs1.authenticatedCount + fs2.authenticatedCount),
    (n) => n === 2,
    "both simulators to see an authenticated client",
  );
});

after(async () => {
  await agent?.kill();
  await killAllChildren();
  await Promise.all(sims.map((s) => s.stop()));
  removeCwd();
});

describe("fault 4: bad input on one instance", () => {
  it("survives every kind of bad input on fs1, counts it by reason, and fs2 keeps flowing", async () => {
    // fs2's steady traffic for the whole abuse: a HEARTBEAT every 20 ms through the
    // simulator's normal publish path (subscription and all).
    let fs2Sent = 0;
    const fs2Traffic = setInterval(() => {
      fs2.heartbeat();
      fs2Sent++;
    }, 20);
    try {
      let reconnects = await fs1Reconnects();
      assert.equal(reconnects, 0, "fs1 has not reconnected before the abuse");

      // 1. Garbage bytes ending in a blank line: a header block that is no header block.
      fs1.sendRaw(Buffer.from([0x00, 0xff, 0xfe, 0x47, 0x41, 0x52, 0x42, 0x0a, 0x21, 0x0a, 0x0a]));
      await metricsUntil(
        (s) => protocolErrors(s, "fs1", "malformed_header") === 1,
        "malformed_header for garbage",
      );
      reconnects = await fs1ReconnectedAfter(reconnects, "garbage");

      // 2. Garbage without any line break: buffered only up to the 64 KiB header limit.
      fs1.sendRaw(Buffer.alloc(70 * 1024, 0x5a));
      await metricsUntil(
        (s) => protocolErrors(s, "fs1", "header_too_large") === 1,
        "header_too_large for 70 KiB of garbage without a blank line",
      );
      reconnects = await fs1ReconnectedAfter(reconnects, "oversized garbage");

      // 3. A length far beyond the 16 MiB frame limit: refused before any body is buffered.
      fs1.sendRaw("Content-Length: 99999999999\nContent-Type: text/event-plain\n\n");
      await metricsUntil(
        (s) => protocolErrors(s, "fs1", "frame_too_large") === 1,
        "frame_too_large for Content-Length 99999999999",
      );
      reconnects = await fs1ReconnectedAfter(reconnects, "Content-Length 99999999999");

      // 4 and 5. A negative and a non-numeric length: the frame boundaries are lost either way.
      fs1.sendRaw("Content-Length: -5\nContent-Type: text/event-plain\n\n");
      await metricsUntil(
        (s) => protocolErrors(s, "fs1", "bad_content_length") === 1,
        "bad_content_length for -5",
      );
      reconnects = await fs1ReconnectedAfter(reconnects, "Content-Length -5");
      fs1.sendRaw("Content-Length: abc\nContent-Type: text/event-plain\n\n");
      await metricsUntil(
        (s) => protocolErrors(s, "fs1", "bad_content_length") === 2,
        "bad_content_length for abc",
      );
      reconnects = await fs1ReconnectedAfter(reconnects, "Content-Length abc");

      // 6. Half a frame, then the peer vanishes: a lost connection, not a protocol error, and
      // the half frame must not survive into the next connection's stream.
      const whole = heartbeat(1);
      fs1.sendRaw(whole.subarray(0, Math.floor(whole.length / 2)));
      // Give the half frame time to reach the agent's parser before the close.
      await new Promise((resolve) => setTimeout(resolve, 100));
      fs1.closeAbruptly();
      reconnects = await fs1ReconnectedAfter(reconnects, "a frame truncated by a close");

      let s = await scrape();
      assert.equal(received(s, "fs1", "HEARTBEAT"), 0, "the truncated HEARTBEAT was not counted");
      for (const [reason, count] of [
        ["malformed_header", 1],
        ["header_too_large", 1],
        ["frame_too_large", 1],
        ["bad_content_length", 2],
      ] as const) {
        assert.equal(protocolErrors(s, "fs1", reason), count, `fs1 ${reason}`);
      }

      // 7 and 8. Well-framed events the pipeline cannot use: counted, no reset.
      fs1.sendRaw(
        event([
          ["Core-UUID", "6f4c2a3e-0000-4000-8000-000000000001"],
          ["Event-Sequence", "2"],
        ]),
      );
      fs1.sendRaw(
        event([
          ["Event-Name", "CHANNEL_ANSWER"],
          ["Core-UUID", "6f4c2a3e-0000-4000-8000-000000000001"],
          ["Event-Sequence", "3"],
        ]),
      );
      await metricsUntil(
        (m) =>
          unusable(m, "fs1", "missing_event_name") === 1 &&
          unusable(m, "fs1", "missing_unique_id") === 1,
        "missing_event_name and missing_unique_id",
      );

      // 9. 10,000 events in one TCP write.
      const burst = Buffer.concat(Array.from({ length: 10_000 }, (_, i) => heartbeat(100 + i)));
      fs1.sendRaw(burst);
      await metricsUntil(
        (m) => received(m, "fs1", "HEARTBEAT") === 10_000,
        "10,000 HEARTBEATs from one write",
        10_000,
      );

      // 10. One 5 MiB event (under the default 16 MiB frame limit): received whole.
      const big = heartbeat(20_000, "x".repeat(5 * 1024 * 1024));
      assert.ok(big.length > 5 * 1024 * 1024);
      fs1.sendRaw(big);
      await metricsUntil(
        (m) => received(m, "fs1", "HEARTBEAT") === 10_001,
        "the 5 MiB event",
        10_000,
      );

      // None of the well-framed input (7-10) reset the connection.
      assert.equal(await fs1Reconnects(), reconnects, "well-framed events caused no reconnect");
      assert.ok(reconnects >= 6, `fs1 reconnected after each of the 6 resets (${reconnects})`);

      s = await scrape();
      assert.equal(
        seriesValue(s, "fsagent_esl_reconnects_total", { fs_instance: "fs1" }),
        reconnects,
      );
      assert.equal(unusable(s, "fs1", "missing_event_name"), 1);
      assert.equal(unusable(s, "fs1", "missing_unique_id"), 1);
      assert.equal(received(s, "fs1", "CHANNEL_ANSWER"), 1);
      assert.equal(seriesValue(s, "fsagent_fs_connections", { fs_instance: "fs1" }), 1);
    } finally {
      clearInterval(fs2Traffic);
    }

    // fs2: every HEARTBEAT it was sent arrived, no reset, no protocol error.
    const final = await metricsUntil(
      (m) => received(m, "fs2", "HEARTBEAT") === fs2Sent,
      `all ${fs2Sent} fs2 HEARTBEATs`,
    );
    assert.ok(fs2Sent >= 5, `fs2 traffic ran during the abuse (${fs2Sent} events)`);
    assert.equal(seriesValue(final, "fsagent_esl_reconnects_total", { fs_instance: "fs2" }), 0);
    for (const reason of [
      "malformed_header",
      "header_too_large",
      "frame_too_large",
      "bad_content_length",
    ]) {
      assert.equal(protocolErrors(final, "fs2", reason), 0, `fs2 ${reason}`);
    }
    assert.equal(seriesValue(final, "fsagent_fs_connections", { fs_instance: "fs2" }), 1);
    const h = await health();
    assert.equal(h.connections.fs2?.reconnects, 0);
    assert.equal(h.connections.fs1?.state, "connected");
    assert.equal(agent?.running, true, "the agent is still running");
  });
});
