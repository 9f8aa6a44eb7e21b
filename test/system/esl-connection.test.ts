import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import type { EslConfig, FreeswitchInstanceConfig } from "../../src/config/types.js";
import { EslConnection } from "../../src/esl/connection.js";
import type { EslEvent } from "../../src/esl/event.js";
import { silentLogger } from "../../src/log/logger.js";
import { SimServer } from "../../src/sim/index.js";
import type { Clock } from "../../src/util/clock.js";
import { ManualClock } from "../support/manual-clock.js";
import { waitFor } from "../support/wait.js";

const FAST: EslConfig = {
  connectTimeoutMs: 1000,
  commandTimeoutMs: 1000,
  idleTimeoutMs: 30_000,
  maxFrameBytes: 16 * 1024 * 1024,
  backoff: { initialMs: 20, factor: 2, maxMs: 200, resetAfterMs: 60_000 },
};

const EVENTS = ["CHANNEL_CREATE", "CHANNEL_DESTROY", "HEARTBEAT"];

interface Harness {
  connection: EslConnection;
  events: EslEvent[];
  /** last_error at each transition to `disconnected`: reconnects clear it again quickly. */
  disconnectReasons: Array<string | null>;
}

const open: Array<{ stop(): Promise<void> }> = [];
after(async () => {
  await Promise.all(open.map((o) => o.stop()));
});

function connect(
  instance: Partial<FreeswitchInstanceConfig> & { port: number },
  esl: Partial<EslConfig> = {},
  timing: { clock?: Clock; random?: () => number } = {},
): Harness {
  const events: EslEvent[] = [];
  const disconnectReasons: Array<string | null> = [];
  const connection: EslConnection = new EslConnection({
    instance: { name: "fs1", host: "127.0.0.1", password: "ClueCon", ...instance },
    esl: { ...FAST, ...esl },
    events: EVENTS,
    logger: silentLogger(),
    ...timing,
    // Kept past the callback: retained, as the connection's read buffer is reused.
    onEvent: (event) => events.push(event.retain()),
    onStateChange: (state) => {
      if (state === "disconnected") disconnectReasons.push(connection.stats.lastError);
    },
  });
  open.push(connection);
  connection.start();
  return { connection, events, disconnectReasons };
}

async function simulator(
  options: ConstructorParameters<typeof SimServer>[0] = {},
): Promise<{ sim: SimServer; port: number }> {
  const sim = new SimServer({ heartbeatIntervalMs: 0, ...options });
  const port = await sim.listen(0);
  open.push(sim);
  return { sim, port };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("EslConnection against the simulator", () => {
  it("authenticates, subscribes to exactly the configured events and delivers them", async () => {
    const { sim, port } = await simulator({ password: "s3cret" });
    const { connection, events } = connect({ port, password: "s3cret" });
    await waitFor(() => connection.connected, "connected");
    const [client] = sim.clientInfo();
    assert.deepEqual([...(client?.subscription.events ?? [])].sort(), [...EVENTS].sort());
    assert.equal(client?.subscription.format, "plain");
    assert.equal(client?.subscription.all, false);

    sim.emitEvent("CHANNEL_ANSWER", [["Unique-ID", "not-subscribed"]]);
    sim.emitEvent("CHANNEL_CREATE", [["Unique-ID", "leg-1"]]);
    sim.heartbeat();
    await waitFor(() => events.length >= 2, "two events");
    assert.deepEqual(
      events.map((e) => e.name),
      ["CHANNEL_CREATE", "HEARTBEAT"],
    );
    assert.equal(events[0]?.get("Unique-ID"), "leg-1");
    assert.equal(connection.stats.lastError, null);
    assert.ok(connection.stats.lastEventAt !== null);
    assert.ok(connection.stats.connectedSince !== null);
  });

  it("reports a rejected password as auth_failed and keeps retrying with backoff", async () => {
    const { sim, port } = await simulator({ password: "right" });
    const { connection } = connect({ port, password: "wrong-password" });
    await waitFor(() => connection.stats.reconnects >= 3, "three retries");
    assert.equal(connection.connected, false);
    assert.match(connection.stats.lastError ?? "", /password rejected/);
    assert.ok(
      !(connection.stats.lastError ?? "").includes("wrong-password"),
      "no secret in the error",
    );
    assert.ok(["auth_failed", "connecting", "authenticating"].includes(connection.state));
    assert.equal(sim.authenticatedCount, 0);
  });

  it("reports an ACL rude rejection as rejected, with FreeSWITCH's reason", async () => {
    const { port } = await simulator({ rudeReject: true });
    const { connection } = connect({ port });
    await waitFor(() => connection.stats.lastError !== null, "an error");
    assert.equal(connection.stats.lastError, "rejected by FreeSWITCH: Access Denied, go away.");
    await waitFor(() => connection.stats.reconnects >= 2, "retries");
    assert.equal(connection.connected, false);
  });

  it("reconnects after the simulator restarts and events flow again", async () => {
    const { sim, port } = await simulator();
    const { connection, events } = connect({ port });
    await waitFor(() => connection.connected, "connected");
    await sim.restart();
    await waitFor(() => connection.stats.reconnects >= 1 && connection.connected, "reconnected");
    sim.emitEvent("CHANNEL_CREATE", [["Unique-ID", "after-restart"]]);
    await waitFor(
      () => events.some((e) => e.get("Unique-ID") === "after-restart"),
      "event after restart",
    );
    assert.equal(sim.authenticatedCount, 1);
  });

  it("detects a half-open peer with the idle probe and reconnects when it answers again", async () => {
    // Timers on the manual clock, bytes on real sockets: the probe goes out after exactly
    // idleTimeoutMs of silence and its timeout resets the connection commandTimeoutMs later.
    const clock = new ManualClock();
    const { sim, port } = await simulator();
    const { connection } = connect(
      { port },
      { idleTimeoutMs: 200, commandTimeoutMs: 200, connectTimeoutMs: 300 },
      { clock, random: () => 0.5 },
    );
    await waitFor(() => connection.connected, "connected");
    sim.goSilent();
    clock.advance(199);
    assert.equal(clock.nextTimerAt(), clock.now() + 1, "the idle check is due at 200 ms");
    clock.advance(1);
    // The probe is sent: its reply timer runs now, commandTimeoutMs long.
    assert.equal(clock.nextTimerAt(), clock.now() + 200, "the probe waits 200 ms for a reply");
    clock.advance(199);
    assert.equal(connection.stats.commandsTimedOut, 0, "the probe is still waiting at 399 ms");
    clock.advance(1);
    assert.equal(connection.stats.commandsTimedOut, 1, "the probe times out at 400 ms");
    await waitFor(() => !connection.connected, "dead connection detected");
    assert.equal(
      connection.stats.lastError,
      '"api" got no reply within 200 ms and nothing else received',
    );
    sim.resume();
    clock.advance(10); // the backoff delay: 0.5 × initialMs
    await waitFor(() => connection.connected, "reconnected after resume");
    assert.equal(connection.stats.reconnects, 1);
  });

  it("waits the backoff delay on its clock before each reconnect", async () => {
    const clock = new ManualClock();
    const { connection } = connect({ port: await closedPort() }, {}, { clock, random: () => 0.5 });
    // Full jitter at 0.5: half of min(maxMs 200, initialMs 20 · 2^n).
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      await waitFor(() => connection.state === "disconnected", "the attempt to fail");
      const due = clock.nextTimerAt();
      assert.ok(due !== undefined, "a reconnect is scheduled");
      const delay = due - clock.now();
      delays.push(delay);
      clock.advance(delay - 1);
      assert.equal(connection.stats.reconnects, attempt, "not one ms early");
      clock.advance(1);
      assert.equal(connection.stats.reconnects, attempt + 1);
    }
    assert.deepEqual(delays, [10, 20, 40, 80, 100, 100]);
    assert.equal(connection.stats.lastError, "connection refused");
  });

  it("a busy connection is never probed: events count as liveness", async () => {
    const clock = new ManualClock();
    const { sim, port } = await simulator();
    const { connection, events } = connect(
      { port },
      { idleTimeoutMs: 150, commandTimeoutMs: 500 },
      { clock },
    );
    await waitFor(() => connection.connected, "connected");
    const commands: string[] = [];
    sim.on("command", (info: { line: string }) => commands.push(info.line));
    // A heartbeat every 20 ms for 600 ms, each read before the clock moves on.
    for (let i = 1; i <= 30; i++) {
      sim.heartbeat();
      await waitFor(() => events.length === i, `heartbeat ${i}`);
      clock.advance(20);
    }
    // Anything the agent wrote meanwhile reaches the simulator before this command's reply.
    await connection.api("uuid_dump barrier");
    assert.deepEqual(commands, ["api uuid_dump barrier"], "no api status while events flow");
    assert.equal(connection.connected, true);
    // Once the events stop, the probe does come (within idleTimeoutMs + a quarter of it).
    clock.advance(150 + 150 / 4);
    await waitFor(() => commands.length === 2, "the probe after the events stopped");
    assert.equal(commands[1], "api status");
  });

  it("keeps two healthy instances flowing while a third is down", async () => {
    const a = await simulator();
    const b = await simulator();
    const down = connect({ name: "fs3", port: await closedPort() });
    const ha = connect({ name: "fs1", port: a.port });
    const hb = connect({ name: "fs2", port: b.port });
    await waitFor(() => ha.connection.connected && hb.connection.connected, "two connected");
    for (let i = 0; i < 50; i++) {
      a.sim.emitEvent("CHANNEL_CREATE", [["Unique-ID", `a-${i}`]]);
      b.sim.emitEvent("CHANNEL_CREATE", [["Unique-ID", `b-${i}`]]);
    }
    await waitFor(() => ha.events.length === 50 && hb.events.length === 50, "events on both");
    assert.equal(down.connection.connected, false);
    assert.equal(down.connection.stats.lastError, "connection refused");
    assert.ok(down.connection.stats.reconnects >= 1);
  });

  it("reports a host name that does not resolve", async () => {
    const { connection } = connect({ host: "no-such-host.invalid", port: 8021 });
    await waitFor(() => connection.stats.lastError !== null, "an error", 10_000);
    assert.equal(connection.stats.lastError, "cannot resolve host no-such-host.invalid");
  });

  it("matches api replies to their commands while events interleave", async () => {
    const { sim, port } = await simulator();
    const { connection, events } = connect({ port });
    await waitFor(() => connection.connected, "connected");
    let pumping = true;
    let sent = 0;
    const pump = (): void => {
      if (!pumping) return;
      for (let i = 0; i < 20; i++)
        sim.emitEvent("CHANNEL_CREATE", [["Unique-ID", `leg-${sent++}`]]);
      setImmediate(pump);
    };
    pump();
    const [status, channels, dump, unknown, status2] = await Promise.all([
      connection.api("status"),
      connection.api("show channels as json"),
      connection.api("uuid_dump 00000000-no-such-leg"),
      connection.api("no_such_command"),
      connection.api("status"),
    ]);
    pumping = false;
    assert.match(status, /^UP \d+ years/);
    assert.deepEqual(JSON.parse(channels), { row_count: 0 });
    assert.equal(dump, "-ERR No such channel!\n");
    assert.equal(unknown, "-ERR no_such_command Command not found!\n");
    assert.match(status2, /^UP /);
    await waitFor(() => events.length === sent, "every event delivered");
    assert.deepEqual(
      events.slice(0, 5).map((e) => e.get("Unique-ID")),
      ["leg-0", "leg-1", "leg-2", "leg-3", "leg-4"],
    );
  });

  it("resets the connection on an untrustworthy stream, counts it, and recovers", async () => {
    const { sim, port } = await simulator();
    const { connection, events, disconnectReasons } = connect({ port });
    await waitFor(() => connection.connected, "connected");
    sim.sendRaw("Content-Length: 99999999999\nContent-Type: text/event-plain\n\n");
    await waitFor(
      () => connection.stats.protocolErrors.frame_too_large === 1,
      "protocol error counted",
    );
    await waitFor(() => connection.connected && connection.stats.reconnects >= 1, "reconnected");
    sim.emitEvent("CHANNEL_CREATE", [["Unique-ID", "after-reset"]]);
    await waitFor(
      () => events.some((e) => e.get("Unique-ID") === "after-reset"),
      "event after reset",
    );
    assert.deepEqual(disconnectReasons, ["protocol error (frame_too_large)"]);
  });

  it("keeps reading when the event handler throws", async () => {
    const { sim, port } = await simulator();
    const seen: string[] = [];
    const connection = new EslConnection({
      instance: { name: "fs1", host: "127.0.0.1", port, password: "ClueCon" },
      esl: FAST,
      events: EVENTS,
      logger: silentLogger(),
      onEvent: (event) => {
        seen.push(event.get("Unique-ID") ?? "");
        if (seen.length === 1) throw new Error("consumer bug");
      },
    });
    open.push(connection);
    connection.start();
    await waitFor(() => connection.connected, "connected");
    sim.emitEvent("CHANNEL_CREATE", [["Unique-ID", "one"]]);
    sim.emitEvent("CHANNEL_CREATE", [["Unique-ID", "two"]]);
    await waitFor(() => seen.length === 2, "both events");
    assert.equal(connection.connected, true);
  });

  it("says exit on stop and ends in the stopped state", async () => {
    const { sim, port } = await simulator();
    const commands: string[] = [];
    sim.on("command", (info) => commands.push(info.line.split(" ", 1)[0] ?? ""));
    const { connection } = connect({ port });
    await waitFor(() => connection.connected, "connected");
    await connection.stop();
    assert.equal(connection.state, "stopped");
    assert.deepEqual(commands, ["auth", "event", "exit"]);
    await waitFor(() => sim.clientCount === 0, "server saw the client leave");
    await assert.rejects(connection.api("status"), /not connected/);
  });

  it("records FreeSWITCH's farewell when it kills a slow listener", async () => {
    const { sim, port } = await simulator();
    const { connection, disconnectReasons } = connect({ port });
    await waitFor(() => connection.connected, "connected");
    const framesBefore = connection.stats.framesReceived;
    sim.sendRaw(
      "Content-Type: text/disconnect-notice\nContent-Length: 39\n\nkilled listener because of lost events\n",
    );
    await waitFor(
      () => connection.stats.framesReceived === framesBefore + 1,
      "the notice to arrive before the close",
    );
    sim.closeAbruptly();
    await waitFor(() => disconnectReasons.length > 0, "a disconnect");
    assert.deepEqual(disconnectReasons, [
      "closed by FreeSWITCH: killed listener because of lost events",
    ]);
  });
});
