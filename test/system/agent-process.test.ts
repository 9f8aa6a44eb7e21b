import assert from "node:assert/strict";
import { type AddressInfo, createServer } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import type { HealthBody } from "../../src/server/health.js";
import { SimServer, type SimServerOptions } from "../../src/sim/index.js";
import { CliProcess, killAllChildren, tempDir } from "../support/child.js";
import { closedPort, httpRequest, pollUntil } from "../support/net.js";
import { sleep } from "../support/wait.js";

// The built agent (node dist/cli.js) as a real process, configured by environment only, talking
// over real TCP to simulators that live in this test process.

let cwd = "";
let removeCwd = (): void => undefined;
/** Everything a test started; afterEach stops it whatever happened. */
const running: Array<{ stop(): Promise<void> }> = [];

before(() => {
  const temp = tempDir();
  cwd = temp.dir;
  removeCwd = temp.remove;
});

afterEach(async () => {
  const all = running.splice(0);
  await Promise.all(all.map((r) => r.stop()));
});

after(async () => {
  await killAllChildren();
  removeCwd();
});

interface InstanceSpec {
  readonly name: string;
  readonly port: number;
  readonly password?: string;
}

/** FSAGENT_* for the given instances, HTTP on 127.0.0.1 with a free port, plus `extra`. */
function agentEnv(
  instances: readonly InstanceSpec[],
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    FSAGENT_FREESWITCH_INSTANCES: JSON.stringify(
      instances.map((i) => ({ host: "127.0.0.1", password: "ClueCon", ...i })),
    ),
    FSAGENT_HTTP_HOST: "127.0.0.1",
    FSAGENT_HTTP_PORT: "0",
    ...extra,
  };
}

function spawnFsagent(args: readonly string[], env: Record<string, string>): CliProcess {
  const agent = new CliProcess(args, { cwd, env });
  running.push({ stop: () => agent.kill() });
  return agent;
}

/** Starts the agent (JSON logs) and resolves with it and its HTTP base URL. */
async function startAgent(
  instances: readonly InstanceSpec[],
  extra: Record<string, string> = {},
): Promise<{ agent: CliProcess; url: string }> {
  const agent = spawnFsagent([], agentEnv(instances, extra));
  const url = await agent.jsonHttpUrl();
  return { agent, url };
}

async function startSim(
  options: SimServerOptions = {},
  port = 0,
): Promise<{ sim: SimServer; port: number }> {
  const sim = new SimServer({ heartbeatIntervalMs: 0, ...options });
  const bound = await sim.listen(port);
  running.push(sim);
  return { sim, port: bound };
}

async function health(url: string): Promise<{ status: number; body: HealthBody }> {
  const reply = await httpRequest(`${url}/health`);
  return { status: reply.status, body: JSON.parse(reply.body) as HealthBody };
}

async function metrics(url: string): Promise<string> {
  const reply = await httpRequest(`${url}/metrics`);
  assert.equal(reply.status, 200);
  return reply.body;
}

/** The value of one series in Prometheus text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)\{([^}]*)\} (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = (match[2] ?? "").split(",");
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) {
      return Number(match[3]);
    }
  }
  return undefined;
}

function waitForState(url: string, instance: string, state: string, timeoutMs = 5000) {
  return pollUntil(
    () => health(url),
    (h) => h.body.connections[instance]?.state === state,
    `${instance} in state ${state}`,
    timeoutMs,
  );
}

const FAST_BACKOFF = {
  FSAGENT_ESL_BACKOFF_INITIAL: "20ms",
  FSAGENT_ESL_BACKOFF_MAX: "100ms",
};

describe("agent connected to a simulator", () => {
  it("reports healthy, ready, the connection and the events it received", async () => {
    const password = "Conn-Pw-Rr72Xk";
    const { sim, port } = await startSim({ password });
    const { agent, url } = await startAgent([{ name: "fs1", port, password }]);

    await waitForState(url, "fs1", "connected");
    sim.heartbeat();
    const { status, body } = await pollUntil(
      () => health(url),
      (h) => h.body.connections.fs1?.last_event !== undefined,
      "last_event after a HEARTBEAT",
    );
    assert.equal(status, 200);
    assert.equal(body.status, "healthy");
    const fs1 = body.connections.fs1;
    assert.equal(fs1?.connected, true);
    assert.equal(fs1?.state, "connected");
    assert.equal(fs1?.last_error, undefined);
    assert.equal(fs1?.reconnects, 0);
    const lastEvent = Date.parse(fs1?.last_event ?? "");
    assert.ok(Math.abs(Date.now() - lastEvent) < 10_000, `last_event ${fs1?.last_event}`);
    assert.match(fs1?.last_event ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const ready = await httpRequest(`${url}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.body), { ready: true });

    const text = await metrics(url);
    assert.match(text, /^fsagent_fs_connections\{fs_instance="fs1"\} 1$/m);
    assert.equal(
      sample(text, "fsagent_events_received_total", { fs_instance: "fs1", event: "HEARTBEAT" }),
      1,
    );
    assert.equal(
      sample(text, "fsagent_events_processed_total", { fs_instance: "fs1", event: "HEARTBEAT" }),
      1,
    );

    // The subscription is the agent's, not ALL.
    const [client] = sim.clientInfo();
    assert.equal(client?.subscription.all, false);
    assert.ok(client?.subscription.events.includes("HEARTBEAT"));

    // Logs: JSON, the startup line and "connected to", and never the password.
    const logs = agent.jsonLines();
    assert.ok(logs.some((l) => String(l.msg).startsWith("connected to 127.0.0.1:")));
    assert.ok(!logs.some((l) => l.level === 20), "no debug lines at the default level");
    assert.ok(!agent.stdout.includes(password) && !agent.stderr.includes(password));
    assert.ok(!text.includes(password));
  });

  it("answers a non-GET request with 405", async () => {
    const { port } = await startSim();
    const { url } = await startAgent([{ name: "fs1", port }]);
    const reply = await httpRequest(`${url}/health`, "POST");
    assert.equal(reply.status, 405);
    assert.equal(reply.headers.allow, "GET, HEAD");
    const del = await httpRequest(`${url}/metrics`, "DELETE");
    assert.equal(del.status, 405);
  });
});

describe("agent that cannot bind its HTTP port", () => {
  it("exits 1 (a runtime failure, not a config error) with one line on stderr", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    running.push({ stop: () => new Promise<void>((resolve) => blocker.close(() => resolve())) });
    const { port } = blocker.address() as AddressInfo;
    const agent = spawnFsagent(
      [],
      agentEnv([{ name: "fs1", port: await closedPort() }], { FSAGENT_HTTP_PORT: String(port) }),
    );
    const exit = await agent.waitForExit(5000);
    assert.deepEqual(exit, { code: 1, signal: null }, agent.toString());
    assert.equal(
      agent.stderr,
      `fsagent: cannot listen on 127.0.0.1:${port}: address already in use\n`,
    );
    assert.ok(!/^\s+at /m.test(agent.stdout + agent.stderr), "no stack trace");
  });
});

describe("agent without a reachable FreeSWITCH", () => {
  it("starts anyway, says why it is not ready, and connects once FreeSWITCH appears", async () => {
    const port = await closedPort();
    const { url } = await startAgent([{ name: "fs1", port }], FAST_BACKOFF);

    const { status, body } = await pollUntil(
      () => health(url),
      (h) => h.body.connections.fs1?.last_error !== undefined,
      "a last_error for fs1",
    );
    assert.equal(status, 200, "/health is a liveness probe: 200 while the agent works");
    assert.equal(body.status, "unhealthy");
    assert.equal(body.connections.fs1?.connected, false);
    assert.equal(body.connections.fs1?.last_error, "connection refused");
    assert.equal(body.connections.fs1?.last_event, undefined);
    const notReady = await httpRequest(`${url}/ready`);
    assert.equal(notReady.status, 503);
    assert.deepEqual(JSON.parse(notReady.body), { ready: false });
    assert.match(await metrics(url), /^fsagent_fs_connections\{fs_instance="fs1"\} 0$/m);

    // FreeSWITCH comes up on that port: the agent connects by itself.
    await startSim({}, port);
    await pollUntil(
      () => httpRequest(`${url}/ready`),
      (r) => r.status === 200,
      "/ready 200 after FreeSWITCH came up",
    );
    const after = await health(url);
    assert.equal(after.body.status, "healthy");
    assert.equal(after.body.connections.fs1?.last_error, undefined, "last_error cleared");
    assert.ok((after.body.connections.fs1?.reconnects ?? 0) >= 1);
  });

  it("is degraded with one instance up and one down", async () => {
    const { port: up } = await startSim();
    const down = await closedPort();
    const { url } = await startAgent(
      [
        { name: "fs1", port: up },
        { name: "fs2", port: down },
      ],
      FAST_BACKOFF,
    );
    const { body } = await pollUntil(
      () => health(url),
      (h) =>
        h.body.connections.fs1?.connected === true &&
        h.body.connections.fs2?.last_error !== undefined,
      "fs1 up and fs2 failing",
    );
    assert.equal(body.status, "degraded");
    assert.equal(body.connections.fs2?.connected, false);
    assert.equal(body.connections.fs2?.last_error, "connection refused");
    assert.equal((await httpRequest(`${url}/ready`)).status, 200, "one connection is enough");
    const text = await metrics(url);
    assert.match(text, /^fsagent_fs_connections\{fs_instance="fs1"\} 1$/m);
    assert.match(text, /^fsagent_fs_connections\{fs_instance="fs2"\} 0$/m);
  });

  it("reports a wrong password as auth_failed and never shows the password", async () => {
    const wrong = "Wrong-Pw-Hq58Zt";
    const right = "Right-Pw-Lm33Vc";
    const { port } = await startSim({ password: right });
    // Debug level: the most the agent ever logs must not hold the password either.
    const { agent, url } = await startAgent([{ name: "fs1", port, password: wrong }], {
      FSAGENT_LOG_LEVEL: "debug",
    });
    const { body } = await waitForState(url, "fs1", "auth_failed");
    assert.equal(body.status, "unhealthy");
    assert.equal(body.connections.fs1?.connected, false);
    assert.match(body.connections.fs1?.last_error ?? "", /password rejected/);
    assert.equal((await httpRequest(`${url}/ready`)).status, 503);
    const text = await metrics(url);
    assert.match(text, /^fsagent_fs_connection_state\{fs_instance="fs1",state="auth_failed"\} 1$/m);

    await agent.waitForLine(/password rejected/, "the auth failure in the log");
    const healthText = (await httpRequest(`${url}/health`)).body;
    for (const secret of [wrong, right]) {
      assert.ok(!agent.stdout.includes(secret), `log leaks ${secret}`);
      assert.ok(!agent.stderr.includes(secret), `stderr leaks ${secret}`);
      assert.ok(!healthText.includes(secret), `/health leaks ${secret}`);
      assert.ok(!text.includes(secret), `/metrics leaks ${secret}`);
    }
  });
});

describe("logging", () => {
  it("rate-limits a failure that repeats on every retry", async () => {
    const port = await closedPort();
    const { agent, url } = await startAgent([{ name: "fs1", port }], {
      FSAGENT_ESL_BACKOFF_INITIAL: "10ms",
      FSAGENT_ESL_BACKOFF_MAX: "50ms",
    });
    await sleep(2000);
    const reconnects = sample(await metrics(url), "fsagent_esl_reconnects_total", {
      fs_instance: "fs1",
    });
    assert.ok((reconnects ?? 0) >= 20, `expected many retries, got ${reconnects}`);
    const failures = agent.lines().filter((l) => /connection refused|cannot connect/.test(l));
    assert.ok(failures.length >= 1, "the failure is logged");
    assert.ok(
      failures.length <= 3,
      `${failures.length} log lines for ${reconnects} retries:\n${failures.join("\n")}`,
    );
    // The one line says what is wrong, where, and for which instance.
    const first = JSON.parse(failures[0] ?? "{}") as Record<string, unknown>;
    assert.equal(first.level, 40);
    assert.equal(first.fs_instance, "fs1");
    assert.equal(first.reason, "connection refused");
    assert.match(String(first.msg), new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`));
  });

  it("json format: one JSON object per line", async () => {
    const port = await closedPort();
    const { agent } = await startAgent([{ name: "fs1", port }], { FSAGENT_LOG_FORMAT: "json" });
    await agent.waitForLine(/connection refused/, "the connection failure");
    const lines = agent.lines();
    assert.ok(lines.length >= 2);
    for (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      assert.equal(typeof parsed.level, "number", line);
      assert.equal(typeof parsed.time, "number", line);
      assert.equal(typeof parsed.msg, "string", line);
      assert.equal(parsed.service, "fsagent", line);
    }
  });

  it("text format: human-readable lines, not JSON, no colour codes when piped", async () => {
    const port = await closedPort();
    const agent = spawnFsagent(
      [],
      agentEnv([{ name: "fs1", port }], { FSAGENT_LOG_FORMAT: "text" }),
    );
    const started = await agent.waitForLine(/started/, "the startup line");
    assert.match(started, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: fsagent \S+ started: 1 FreeSWITCH/);
    const url = /HTTP on (http:\/\/[^\s"]+)/.exec(started)?.[1] ?? "";
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await httpRequest(`${url}/health`)).status, 200);
    await agent.waitForLine(/WARN: cannot connect/, "the connection failure");
    for (const line of agent.lines()) {
      assert.throws(() => JSON.parse(line), `a JSON line in text mode: ${line}`);
      assert.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] (DEBUG|INFO|WARN|ERROR|FATAL): /);
      assert.ok(!line.includes("\u001b["), `colour codes on a pipe: ${JSON.stringify(line)}`);
    }
  });

  it("debug level adds connection detail that info does not show", async () => {
    const { sim, port } = await startSim();
    const { agent, url } = await startAgent([{ name: "fs1", port }], {
      FSAGENT_LOG_LEVEL: "debug",
    });
    await waitForState(url, "fs1", "connected");
    sim.heartbeat();
    await pollUntil(
      () => health(url),
      (h) => h.body.connections.fs1?.last_event !== undefined,
      "the HEARTBEAT",
    );
    const debug = agent.jsonLines().filter((l) => l.level === 20);
    const states = debug
      .filter((l) => l.msg === "connection state changed")
      .map((l) => `${l.previous}->${l.state}`);
    assert.deepEqual(states, [
      "disconnected->connecting",
      "connecting->authenticating",
      "authenticating->subscribing",
      "subscribing->connected",
    ]);
    assert.ok(debug.every((l) => l.fs_instance === "fs1"));
  });

  it("debug level logs each event received", async () => {
    const { sim, port } = await startSim();
    const { agent, url } = await startAgent([{ name: "fs1", port }], {
      FSAGENT_LOG_LEVEL: "debug",
    });
    await waitForState(url, "fs1", "connected");
    sim.heartbeat();
    await pollUntil(
      () => health(url),
      (h) => h.body.connections.fs1?.last_event !== undefined,
      "the HEARTBEAT",
    );
    await sleep(100);
    const debug = agent.jsonLines().filter((l) => l.level === 20);
    assert.ok(
      debug.some((l) => JSON.stringify(l).includes("HEARTBEAT")),
      "no debug line about the HEARTBEAT event",
    );
  });
});

describe("signals", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} while connected: says exit to FreeSWITCH and exits 0`, async () => {
      const { sim, port } = await startSim();
      const commands: string[] = [];
      sim.on("command", ({ line }) => commands.push(line));
      const { agent, url } = await startAgent([{ name: "fs1", port }]);
      await waitForState(url, "fs1", "connected");
      const disconnected = new Promise<void>((resolve) =>
        sim.once("disconnected", () => resolve()),
      );

      const sentAt = Date.now();
      agent.signal(signal);
      const exit = await agent.waitForExit(10_000);
      assert.deepEqual(exit, { code: 0, signal: null }, agent.toString());
      assert.ok(Date.now() - sentAt < 10_000);
      await disconnected;
      assert.equal(commands.at(-1), "exit", `commands: ${commands.join(" | ")}`);
      assert.ok(commands.some((c) => c.startsWith("event plain ")));
      const messages = agent.jsonLines().map((l) => l.msg);
      assert.ok(messages.includes(`${signal} received: shutting down`));
      assert.equal(messages.at(-1), "fsagent stopped");
      assert.equal(agent.stderr, "");
    });
  }

  it("a FreeSWITCH that no longer answers delays shutdown by at most the 2 s exit cap", async () => {
    const { sim, port } = await startSim();
    const { agent, url } = await startAgent([{ name: "fs1", port }]);
    await waitForState(url, "fs1", "connected");
    sim.goSilent();
    const sentAt = Date.now();
    agent.signal("SIGTERM");
    const exit = await agent.waitForExit(10_000);
    const took = Date.now() - sentAt;
    assert.deepEqual(exit, { code: 0, signal: null }, agent.toString());
    assert.ok(took >= 1500, `exited after ${took} ms: did it wait for the exit reply at all?`);
    assert.ok(took < 5000, `exited after ${took} ms`);
  });

  it("a second signal during a slow shutdown exits at once with a non-zero code", async () => {
    const { sim, port } = await startSim();
    const { agent, url } = await startAgent([{ name: "fs1", port }]);
    await waitForState(url, "fs1", "connected");
    sim.goSilent(); // `exit` gets no reply: the shutdown waits up to 2 s
    agent.signal("SIGTERM");
    await agent.waitForLine(/SIGTERM received: shutting down/, "the first signal's log line");
    const secondAt = Date.now();
    agent.signal("SIGINT");
    const exit = await agent.waitForExit(5000);
    const took = Date.now() - secondAt;
    assert.notEqual(exit.code, 0, agent.toString());
    assert.equal(exit.code, 1);
    assert.ok(took < 1000, `exited ${took} ms after the second signal`);
    assert.ok(agent.jsonLines().some((l) => l.msg === "second SIGINT: exiting now"));
    assert.ok(!agent.jsonLines().some((l) => l.msg === "fsagent stopped"));
  });
});

describe("fsagent demo", () => {
  it("serves health for its embedded simulator, prints a summary, stops on SIGINT", async () => {
    const demo = spawnFsagent(["demo"], { FSAGENT_HTTP_PORT: "0" });
    const line = await demo.waitForLine(/^\s+health\s+http:\/\//, "the health URL line");
    const healthUrl = /(http:\/\/\S+\/health)/.exec(line)?.[1] ?? "";
    assert.match(healthUrl, /^http:\/\/127\.0\.0\.1:\d+\/health$/, "a browsable address");

    const body = await pollUntil(
      async () => JSON.parse((await httpRequest(healthUrl)).body) as HealthBody,
      (h) => h.connections["demo-fs"]?.connected === true,
      "the demo instance connected",
    );
    assert.equal(body.status, "healthy");
    assert.deepEqual(Object.keys(body.connections), ["demo-fs"]);

    // The status page's URL comes first: it is the way to watch the demo.
    const urls = demo.lines().filter((l) => /^\s+\w+\s+http:\/\//.test(l));
    assert.match(urls[0] ?? "", /^\s+status\s+http:\/\/127\.0\.0\.1:\d+\/\s/, urls.join("\n"));
    const pageUrl = /(http:\/\/\S+\/)\s/.exec(urls[0] ?? "")?.[1] ?? "";
    assert.equal(pageUrl, healthUrl.replace(/health$/, ""));
    const page = await httpRequest(pageUrl);
    assert.equal(page.status, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    const status = JSON.parse((await httpRequest(`${pageUrl}api/status`)).body) as {
      schema: number;
      instances: { name: string }[];
    };
    assert.equal(status.schema, 2);
    assert.deepEqual(
      status.instances.map((i) => i.name),
      ["demo-fs"],
    );

    const summary = await demo.waitForLine(
      /^\d\d:\d\d:\d\d {2}demo-fs connected \| \d+ active legs \| [\d.]+ events\/s \| /,
      "a summary line",
      7000,
    );
    assert.match(summary, /\| (RTCP \d+ reports|RTCP none yet)/);

    demo.signal("SIGINT");
    const exit = await demo.waitForExit(10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, demo.toString());
  });

  it("without a Collector exports nothing of any kind, and shows both report directions", async () => {
    // Whatever listens on the default endpoint must never hear from the demo.
    let dialled = 0;
    const collector = createServer((socket) => {
      dialled++;
      socket.destroy();
    });
    const listening = await new Promise<boolean>((resolve) => {
      collector.once("error", () => resolve(false));
      collector.listen(4317, "127.0.0.1", () => resolve(true));
    });
    try {
      const demo = spawnFsagent(["demo"], { FSAGENT_HTTP_PORT: "0" });
      const line = await demo.waitForLine(/^\s+health\s+http:\/\//, "the health URL line");
      const base = (/(http:\/\/\S+)\/health/.exec(line)?.[1] ?? "").replace(/\/$/, "");
      assert.ok(demo.lines().some((l) => /^\s+OTLP\s+off: nothing is exported/.test(l)));
      // The demo's first calls end after 20 s: their quality records are where it used to fail.
      const ended = await demo.waitForLine(/\d+ legs? ended, MOS avg/, "a leg to end", 45_000);
      assert.doesNotMatch(ended, /\b1 legs\b/);
      const metrics = (await httpRequest(`${base}/metrics`)).body;
      const value = (series: string) =>
        Number(new RegExp(`^${series} (\\S+)$`, "m").exec(metrics)?.[1] ?? "0");
      assert.ok(value('fsagent_qos_messages_generated_total{fs_instance="demo-fs"}') >= 1);
      for (const series of [
        'fsagent_export_errors_total{signal="logs"}',
        'fsagent_export_items_sent_total{signal="logs"}',
        'fsagent_export_items_dropped_total{signal="logs",reason="refused"}',
        'fsagent_export_items_dropped_total{signal="logs",reason="shutdown"}',
        'fsagent_exports_total{signal="metrics"}',
        'fsagent_export_errors_total{signal="metrics"}',
      ]) {
        assert.match(metrics, new RegExp(`^${series} `, "m"), `${series} is exported`);
        assert.equal(value(series), 0, `${series}\n${metrics}`);
      }
      const output = demo.stdout + demo.stderr;
      assert.doesNotMatch(output, /export[^\n]*fail|ECONNREFUSED|UNAVAILABLE/i, output);
      if (listening) assert.equal(dialled, 0, "nothing connected to localhost:4317");
      // The simulator sends SEND reports too (fire_rtcp_events): "out" values on the page.
      const status = JSON.parse((await httpRequest(`${base}/api/status`)).body) as {
        active_legs: { outbound: { reports: number } }[];
      };
      assert.ok(
        status.active_legs.some((l) => l.outbound.reports > 0),
        "outbound reports",
      );
      demo.signal("SIGINT");
      assert.deepEqual(await demo.waitForExit(10_000), { code: 0, signal: null });
    } finally {
      collector.close();
    }
  });
});
