import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import type { EslConfig } from "../src/config/types.js";
import { CommandRejectedError, CommandTimeoutError } from "../src/esl/commands.js";
import { EslConnection } from "../src/esl/connection.js";
import { silentLogger } from "../src/log/logger.js";
import { waitFor } from "./support/wait.js";

// A scripted event socket peer for behaviour the simulator does not misbehave in: slow command
// replies, oversized rejection bodies, a port that never greets. It answers commands strictly in
// order, one at a time, as FreeSWITCH's listener thread does.

interface Script {
  greeting?: Buffer | null;
  /** Reply body for `api <arg>` and how long it takes; default: immediate "+OK". */
  api?: (arg: string) => { body: string; delayMs: number };
  /** Send an event every N ms while connected. */
  eventEveryMs?: number;
}

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

async function scriptedPeer(script: Script): Promise<{ port: number; commands: string[] }> {
  const commands: string[] = [];
  const server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    const greeting =
      script.greeting === undefined
        ? Buffer.from("Content-Type: auth/request\n\n")
        : script.greeting;
    if (greeting !== null) socket.write(greeting);
    let buffered = "";
    let busy = Promise.resolve();
    let seq = 0;
    const ticker =
      script.eventEveryMs === undefined
        ? null
        : setInterval(
            () => socket.writable && socket.write(frameEvent(seq++)),
            script.eventEveryMs,
          );
    socket.on("close", () => ticker !== null && clearInterval(ticker));
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
  return { port: (server.address() as net.AddressInfo).port, commands };
}

async function answer(socket: net.Socket, line: string, script: Script): Promise<void> {
  if (!socket.writable) return;
  if (line.startsWith("auth ")) {
    socket.write("Content-Type: command/reply\nReply-Text: +OK accepted\n\n");
  } else if (line.startsWith("event ")) {
    socket.write("Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n");
  } else if (line.startsWith("api ")) {
    const { body, delayMs } = script.api?.(line.slice(4)) ?? { body: "+OK", delayMs: 0 };
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (socket.writable) {
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
): { connection: EslConnection; reasons: Array<string | null> } {
  const reasons: Array<string | null> = [];
  const connection: EslConnection = new EslConnection({
    instance: { name: "fs1", host: "127.0.0.1", port, password: "ClueCon" },
    esl: { ...ESL, ...esl },
    events: ["HEARTBEAT"],
    logger: silentLogger(),
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
    const { port } = await scriptedPeer({
      eventEveryMs: 20,
      api: (arg) =>
        arg === "slow"
          ? { body: "slow-reply", delayMs: 600 }
          : { body: `${arg}-reply`, delayMs: 0 },
    });
    const { connection } = connect(port);
    await waitFor(() => connection.connected, "connected");
    const slow = connection.api("slow");
    const fast = connection.api("fast", 2000);
    await assert.rejects(slow, CommandTimeoutError);
    assert.equal(
      await fast,
      "fast-reply",
      "the slow command's late reply must not be taken for this one",
    );
    assert.equal(connection.connected, true);
    assert.equal(connection.stats.reconnects, 0);
    assert.equal(connection.stats.commandsTimedOut, 1);
  });

  it("a command timeout with nothing else received resets the connection", async () => {
    const { port } = await scriptedPeer({ api: () => ({ body: "late", delayMs: 5000 }) });
    const { connection, reasons } = connect(port);
    await waitFor(() => connection.connected, "connected");
    await assert.rejects(connection.api("hang"), CommandTimeoutError);
    await waitFor(() => reasons.length > 0, "a disconnect");
    assert.equal(reasons[0], '"api" got no reply within 300 ms and nothing else received');
  });

  it("does not probe while a command is already waiting for its reply", async () => {
    const { port, commands } = await scriptedPeer({
      api: (arg) =>
        arg === "slow" ? { body: "slow-reply", delayMs: 700 } : { body: "UP", delayMs: 0 },
    });
    const { connection } = connect(port, { idleTimeoutMs: 150, commandTimeoutMs: 2000 });
    await waitFor(() => connection.connected, "connected");
    assert.equal(await connection.api("slow"), "slow-reply");
    assert.deepEqual(
      commands.filter((c) => c.startsWith("api")),
      ["api slow"],
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
    const { port } = await scriptedPeer({ greeting: null });
    const { connection, reasons } = connect(port, { connectTimeoutMs: 200 });
    await waitFor(() => reasons.length > 0, "a timeout");
    assert.equal(
      reasons[0],
      "connected, but no auth/request within 200 ms (is this an event socket port?)",
    );
    assert.equal(connection.connected, false);
  });
});
