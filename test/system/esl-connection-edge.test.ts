import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import type { EslConfig } from "../../src/config/types.js";
import { CommandRejectedError, CommandTimeoutError } from "../../src/esl/commands.js";
import { EslConnection } from "../../src/esl/connection.js";
import { silentLogger } from "../../src/log/logger.js";
import type { Clock } from "../../src/util/clock.js";
import { ManualClock } from "../support/manual-clock.js";
import { waitFor } from "../support/wait.js";

// A scripted event socket peer for behaviour the simulator does not misbehave in: slow command
// replies, oversized rejection bodies, a port that never greets. It answers commands strictly in
// order, one at a time, as FreeSWITCH's listener thread does; a slow reply waits for the test to
// release it. The connection's timers run on the manual clock, so no test waits on wall time.

interface Script {
  greeting?: Buffer | null;
  /** Reply body for `api <arg>`, sent once `after` resolves (never, for one that never does); default: "+OK" at once. */
  api?: (arg: string) => { body: string; after?: Promise<void>; refused?: true };
}

interface Peer {
  port: number;
  commands: string[];
  /** Sends one HEARTBEAT event to every connected client. */
  sendEvent(): void;
}

/** A promise and the function that resolves it: a reply the test releases when it wants. */
function gate(): { promise: Promise<void>; open(): void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const NEVER = new Promise<void>(() => undefined);

const servers: net.Server[] = [];
const connections: EslConnection[] = [];
after(async () => {
  await Promise.all(connections.map((c) => c.stop()));
  for (const server of servers) server.close();
});

function frameEvent(seq: number): Buffer {
  const body = `Event-Name: HEARTBEAT\nEvent-Sequence: ${seq}\n\n`;
  return Buffer.from(`Content-Length: ${body.length}\nContent-Type: text/event-plain\n\n${body}`);
}

async function scriptedPeer(script: Script): Promise<Peer> {
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();
  let seq = 0;
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const greeting =
      script.greeting === undefined
        ? Buffer.from("Content-Type: auth/request\n\n")
        : script.greeting;
    if (greeting !== null) socket.write(greeting);
    let buffered = "";
    let busy = Promise.resolve();
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      for (let end = buffered.indexOf("\n\n"); end !== -1; end = buffered.indexOf("\n\n")) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        commands.push(line);
        busy = busy.then(() => answer(socket, line, script));
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    commands,
    sendEvent: () => {
      for (const socket of sockets) if (socket.writable) socket.write(frameEvent(seq++));
    },
  };
}

async function answer(socket: net.Socket, line: string, script: Script): Promise<void> {
  if (!socket.writable) return;
  if (line.startsWith("auth ")) {
    socket.write("Content-Type: command/reply\nReply-Text: +OK accepted\n\n");
  } else if (line.startsWith("event ")) {
    socket.write("Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n");
  } else if (line.startsWith("api ")) {
    const { body, after, refused } = script.api?.(line.slice(4)) ?? { body: "+OK" };
    if (after !== undefined) await after;
    if (refused === true) {
      // mod_event_socket's parse_command: a user whose allowed-api lacks the command gets a
      // command/reply, not an api/response.
      socket.write(`Content-Type: command/reply\nReply-Text: ${body}\n\n`);
    } else if (socket.writable) {
      socket.write(
        `Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`,
      );
    }
  } else if (line === "exit") {
    socket.end("Content-Type: command/reply\nReply-Text: +OK bye\n\n");
  }
}

const ESL: EslConfig = {
  connectTimeoutMs: 1000,
  commandTimeoutMs: 300,
  idleTimeoutMs: 30_000,
  maxFrameBytes: 16 * 1024 * 1024,
  backoff: { initialMs: 20, factor: 2, maxMs: 200, resetAfterMs: 60_000 },
};

function connect(
  port: number,
  esl: Partial<EslConfig> = {},
  clock?: Clock,
): { connection: EslConnection; reasons: Array<string | null> } {
  const reasons: Array<string | null> = [];
  const connection: EslConnection = new EslConnection({
    instance: { name: "fs1", host: "127.0.0.1", port, password: "ClueCon" },
    esl: { ...ESL, ...esl },
    events: ["HEARTBEAT"],
    logger: silentLogger(),
    ...(clock === undefined ? {} : { clock }),
    onEvent: () => undefined,
    onStateChange: (state) => {
      if (state === "disconnected" || state === "rejected")
        reasons.push(connection.stats.lastError);
    },
  });
  connections.push(connection);
  connection.start();
  return { connection, reasons };
}

describe("EslConnection edge cases against a scripted peer", () => {
  it("a slow reply while events flow fails only its caller; the late reply is absorbed in order", async () => {
    const clock = new ManualClock();
    const slowReply = gate();
    const peer = await scriptedPeer({
      api: (arg) =>
        arg === "slow"
          ? { body: "slow-reply", after: slowReply.promise }
          : { body: `${arg}-reply` },
    });
    const { connection } = connect(peer.port, {}, clock);
    await waitFor(() => connection.connected, "connected");
    const slow = connection.api("slow");
    const fast = connection.api("fast", 2000);
    slow.catch(() => undefined);
    // An event arrives 1 ms after the commands were sent: the peer is alive, only slow.
    clock.advance(1);
    const frames = connection.stats.framesReceived;
    peer.sendEvent();
    await waitFor(() => connection.stats.framesReceived === frames + 1, "the event");
    clock.advance(298);
    assert.equal(connection.stats.commandsTimedOut, 0, "still waiting at 299 ms");
    clock.advance(1);
    await assert.rejects(slow, CommandTimeoutError);
    slowReply.open();
    assert.equal(
      await fast,
      "fast-reply",
      "the slow command's late reply must not be taken for this one",
    );
    assert.equal(connection.connected, true);
    assert.equal(connection.stats.reconnects, 0);
    assert.equal(connection.stats.commandsTimedOut, 1);
  });

  it("api answers a refused command with FreeSWITCH's Reply-Text, and the next reply stays in order", async () => {
    const { port } = await scriptedPeer({
      api: (arg) =>
        arg.startsWith("sofia")
          ? { body: "-ERR permission denied", refused: true }
          : { body: `${arg}-reply` },
    });
    const { connection } = connect(port);
    await waitFor(() => connection.connected, "connected");
    const [refused, next] = await Promise.all([
      connection.api("sofia xmlstatus"),
      connection.api("status"),
    ]);
    assert.equal(refused, "-ERR permission denied");
    assert.equal(next, "status-reply");
    assert.equal(connection.connected, true);
  });

  it("a command timeout with nothing else received resets the connection", async () => {
    const clock = new ManualClock();
    const { port } = await scriptedPeer({ api: () => ({ body: "late", after: NEVER }) });
    const { connection, reasons } = connect(port, {}, clock);
    await waitFor(() => connection.connected, "connected");
    const hang = connection.api("hang");
    hang.catch(() => undefined);
    clock.advance(299);
    assert.equal(connection.stats.commandsTimedOut, 0, "still waiting at 299 ms");
    clock.advance(1);
    await assert.rejects(hang, CommandTimeoutError);
    await waitFor(() => reasons.length > 0, "a disconnect");
    assert.equal(reasons[0], '"api" got no reply within 300 ms and nothing else received');
  });

  it("does not probe while a command is already waiting for its reply", async () => {
    const clock = new ManualClock();
    const slowReply = gate();
    const { port, commands } = await scriptedPeer({
      api: (arg) =>
        arg === "slow" ? { body: "slow-reply", after: slowReply.promise } : { body: "UP" },
    });
    const { connection } = connect(port, { idleTimeoutMs: 150, commandTimeoutMs: 2000 }, clock);
    await waitFor(() => connection.connected, "connected");
    const slow = connection.api("slow");
    // 700 ms of silence, more than four idle timeouts, while `api slow` waits.
    clock.advance(700);
    slowReply.open();
    assert.equal(await slow, "slow-reply");
    // The peer answers in order: once this reply is back, it has read anything sent before.
    assert.equal(await connection.api("barrier"), "UP");
    assert.deepEqual(
      commands.filter((c) => c.startsWith("api")),
      ["api slow", "api barrier"],
      "no `api status` probe sent while `api slow` was pending",
    );
    assert.equal(connection.connected, true);
  });

  it("refuses a command with a line break instead of smuggling a second command", async () => {
    const { port, commands } = await scriptedPeer({});
    const { connection } = connect(port);
    await waitFor(() => connection.connected, "connected");
    await assert.rejects(connection.api("uuid_dump x\n\nevent plain ALL"), CommandRejectedError);
    assert.equal(connection.stats.commandsRejected, 1);
    assert.ok(!commands.some((c) => c.includes("ALL")));
    assert.equal(await connection.api("status"), "+OK");
  });

  it("keeps a huge, multi-line rejection body out of last_error: one line, capped", async () => {
    const body = `Access Denied, go away.${"x".repeat(5_000_000)}\nsecond line\n`;
    const greeting = Buffer.from(
      `Content-Type: text/rude-rejection\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`,
    );
    const { port } = await scriptedPeer({ greeting });
    const { reasons } = connect(port);
    await waitFor(() => reasons.length > 0, "a rejection");
    const reason = reasons[0] ?? "";
    assert.ok(reason.startsWith("rejected by FreeSWITCH: Access Denied, go away.xxx"));
    assert.ok(reason.length < 250, `last_error is ${reason.length} characters`);
    assert.ok(!reason.includes("\n") && !reason.includes("second line"));
  });

  it("says so when a port accepts TCP but never sends auth/request", async () => {
    const clock = new ManualClock();
    const { port } = await scriptedPeer({ greeting: null });
    const { connection, reasons } = connect(port, { connectTimeoutMs: 200 }, clock);
    await waitFor(() => connection.state === "authenticating", "the TCP connection");
    clock.advance(199);
    assert.equal(clock.nextTimerAt(), clock.now() + 1, "the connect timeout is due at 200 ms");
    clock.advance(1);
    await waitFor(() => reasons.length > 0, "a timeout");
    assert.equal(
      reasons[0],
      "connected, but no auth/request within 200 ms (is this an event socket port?)",
    );
    assert.equal(connection.connected, false);
  });
});
