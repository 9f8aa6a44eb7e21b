// One ESL client of the comparison (bench/esl-clients.ts), alone in a fresh process so that no
// other library's garbage, JIT state or loaded code is in its heap. Usage:
//   node --import tsx bench/esl-client-child.ts <ours|esl-lite|modesl|floor> <port> <events>
// Connects to the benchmark peer on 127.0.0.1:<port>, subscribes to RECV_RTCP_MESSAGE,
// CHANNEL_HANGUP_COMPLETE and HEARTBEAT (the end marker), and for each event delivered reads one
// header (LOOKUP) and adds its numeric value to a sum, so the lookup cannot be optimised away and
// every client can be checked against the others. At the N-th event, or at the end marker if it
// lost some, it prints one JSON line (ChildResult) and exits. A client that stops delivering is
// reported as such, never waited for forever.

import { createRequire } from "node:module";
import net from "node:net";
import { silentLogger } from "../src/log/logger.js";
import {
  type ChildResult,
  CLIENTS,
  type ClientName,
  isClientName,
  PEER_PASSWORD,
} from "./lib/esl-child-result.js";
import { END_MARKER_EVENT, HANGUP_EVENT, LOOKUP, RTCP_EVENT } from "./lib/esl-streams.js";

const SUBSCRIBE = [RTCP_EVENT, HANGUP_EVENT, END_MARKER_EVENT];
const RTCP_HEADER = LOOKUP[RTCP_EVENT]!;
const HANGUP_HEADER = LOOKUP[HANGUP_EVENT]!;
/**
 * No new event for this long once the stream has begun: the client is stuck. Events arrive
 * continuously while the stream lasts; the longest normal pause is esl-lite's ~200 ms reconnect.
 */
const STALL_MS = 3000;
/** No event at all for this long after start: the client never got going. */
const START_MS = 30_000;

class Counter {
  events = 0;
  sum = 0;
  bytes: () => number | null = () => null;
  /** Library counters worth reporting (e.g. frames it dropped), read at the end. */
  note: () => string | undefined = () => undefined;
  private firstNs = 0n;
  private done = false;
  private readonly startedAt = Date.now();
  private lastCount = 0;
  private lastProgressAt = Date.now();

  constructor(
    private readonly client: ClientName,
    private readonly target: number,
  ) {
    // Progress check once a second; unref'd so it never keeps a finished child alive.
    setInterval(() => this.check(), 1000).unref();
  }

  /** Once per delivered event, with the looked-up value. */
  add(value: string | null | undefined): void {
    if (this.events === 0) this.firstNs = process.hrtime.bigint();
    this.sum += Number(value);
    if (++this.events === this.target) this.finish();
  }

  /** The end marker: the stream is over even if fewer than N events came through. */
  end(): void {
    if (this.events > 0) this.finish();
  }

  /** Once per delivered event, for the floor, which looks nothing up. */
  addBare(): void {
    if (this.events === 0) this.firstNs = process.hrtime.bigint();
    if (++this.events === this.target) this.finish();
  }

  fail(error: string): void {
    this.report("0", Number.NaN, error);
  }

  private finish(): void {
    const endNs = process.hrtime.bigint();
    this.report(endNs.toString(), Number(endNs - this.firstNs) / 1e6);
  }

  private report(endNs: string, ms: number, error?: string): void {
    if (this.done) return;
    this.done = true;
    const note = this.note();
    const result: ChildResult = {
      client: this.client,
      events: this.events,
      ms,
      endNs,
      bytes: this.bytes(),
      sum: this.sum,
      ...(note === undefined ? {} : { note }),
      ...(error === undefined ? {} : { error }),
    };
    // Exit at once: the libraries keep sockets and timers open, and the stream may still be
    // arriving (the peer does not stop writing because we have enough).
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
  }

  private check(): void {
    const now = Date.now();
    if (this.events === 0) {
      if (now - this.startedAt > START_MS) this.fail(`no event within ${START_MS / 1000} s`);
    } else if (this.events !== this.lastCount) {
      this.lastCount = this.events;
      this.lastProgressAt = now;
    } else if (now - this.lastProgressAt > STALL_MS) {
      this.fail(`stalled after ${this.events} events (none for ${STALL_MS / 1000} s)`);
    }
  }
}

// ---- ours: the project's EslConnection, as the agent uses it ---------------------------------

async function runOurs(port: number, counter: Counter): Promise<void> {
  const { EslConnection } = await import("../src/esl/connection.js");
  const connection = new EslConnection({
    instance: { name: "bench", host: "127.0.0.1", port, password: PEER_PASSWORD },
    esl: {
      connectTimeoutMs: 5000,
      commandTimeoutMs: 5000,
      idleTimeoutMs: 60_000, // no keepalive probe during a run
      maxFrameBytes: 16 * 1024 * 1024,
      backoff: { initialMs: 100, factor: 2, maxMs: 1000, resetAfterMs: 60_000 },
    },
    events: SUBSCRIBE,
    logger: silentLogger(),
    onEvent: (event) => {
      const name = event.name;
      if (name === RTCP_EVENT) counter.add(event.get(RTCP_HEADER));
      else if (name === HANGUP_EVENT) counter.add(event.get(HANGUP_HEADER));
      else if (name === END_MARKER_EVENT) counter.end();
    },
    onStateChange: (state) => {
      if (state === "disconnected" || state === "auth_failed" || state === "rejected") {
        counter.fail(`connection ${state}: ${connection.stats.lastError ?? "no reason"}`);
      }
    },
  });
  counter.bytes = () => connection.stats.bytesReceived;
  connection.start();
}

// ---- modesl@1.2.1 (CommonJS, untyped): the narrow part of its API used here -------------------

interface ModeslEvent {
  /** Event-Name; undefined for command replies and other non-event frames. */
  readonly type: string | undefined;
  getHeader(name: string): string | null;
}

interface ModeslConnection {
  readonly socket: net.Socket | null;
  events(format: "plain" | "json" | "xml", events: string, cb?: () => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: string, listener: (event: ModeslEvent) => void): void;
}

interface ModeslModule {
  readonly Connection: new (
    host: string,
    port: number,
    password: string,
    ready: () => void,
  ) => ModeslConnection;
}

function runModesl(port: number, counter: Counter): void {
  // CommonJS without types: require() it and give it the interface above.
  const esl = createRequire(import.meta.url)("modesl") as ModeslModule;
  // The ready callback runs once `auth` is accepted; then subscribe, as its README shows.
  const conn: ModeslConnection = new esl.Connection("127.0.0.1", port, PEER_PASSWORD, () => {
    conn.events("plain", SUBSCRIBE.join(" "));
  });
  const socket = conn.socket;
  counter.bytes = () => socket?.bytesRead ?? null;
  conn.on("error", (error: Error) => counter.fail(`modesl error: ${error.message}`));
  conn.on("esl::event::**", (event: ModeslEvent) => {
    const name = event.type;
    if (name === RTCP_EVENT) counter.add(event.getHeader(RTCP_HEADER));
    else if (name === HANGUP_EVENT) counter.add(event.getHeader(HANGUP_HEADER));
    else if (name === END_MARKER_EVENT) counter.end();
  });
  conn.on("esl::end", () => counter.fail("modesl: connection ended"));
}

// ---- esl-lite@3.2.0: FreeSwitchClient with one handler per event name, as its README shows ------

async function runEslLite(port: number, counter: Counter): Promise<void> {
  const { FreeSwitchClient } = await import("esl-lite");
  const client = new FreeSwitchClient({
    host: "127.0.0.1",
    port,
    password: PEER_PASSWORD,
    logger: silentLogger(),
  });
  // `on` subscribes: esl-lite always asks for `event json`. It parses whichever of plain and json
  // the peer sends (plain values stay URL-encoded: it does not decode them).
  client.on(RTCP_EVENT, (msg) => counter.add(stringOrNull(msg.body.data[RTCP_HEADER])));
  client.on(HANGUP_EVENT, (msg) => counter.add(stringOrNull(msg.body.data[HANGUP_HEADER])));
  client.on(END_MARKER_EVENT, () => counter.end());
  // Frames it could not make sense of are counted here, not surfaced: report them.
  counter.note = () => {
    const s = client.stats;
    const dropped = {
      missingContentType: s.missingContentType,
      missingEventName: s.missingEventName,
      bodyParseErrors: s.bodyParseErrors,
      unhandled: s.unhandled,
    };
    const nonZero = Object.entries(dropped).filter(([, n]) => n > 0n);
    return nonZero.length === 0 ? undefined : nonZero.map(([k, n]) => `${k}=${n}`).join(" ");
  };
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

// ---- floor: frame boundaries only ----------------------------------------------------------

const LF = 0x0a;
const LFLF = Buffer.from("\n\n");
const CONTENT_LENGTH = Buffer.from("Content-Length: ");

/**
 * The least any client must do: find each envelope's end ("\n\n"), read its Content-Length, skip
 * the body, count the frames that have one (the events; auth/request and replies have none). No
 * header is decoded and no object is built per event.
 */
function runFloor(port: number, counter: Counter): void {
  const socket = net.connect({ host: "127.0.0.1", port });
  let bytes = 0;
  counter.bytes = () => bytes;
  let skip = 0; // body bytes of the current frame still to come
  let partial: Buffer | null = null; // an envelope cut by a chunk boundary
  socket.on("connect", () => {
    socket.setNoDelay(true);
    // Pipelined: FreeSWITCH reads the commands in order after its auth/request.
    socket.write(`auth ${PEER_PASSWORD}\n\nevent plain ${SUBSCRIBE.join(" ")}\n\n`);
  });
  socket.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
    let buf = chunk;
    let pos = 0;
    if (skip > 0) {
      pos = Math.min(skip, buf.length);
      skip -= pos;
      if (skip === 0) counter.addBare();
    }
    if (partial !== null) {
      // Rare (an envelope is ~60 of ~1,000+ bytes) and short: one copy is fine.
      buf = Buffer.concat([partial, buf.subarray(pos)]);
      pos = 0;
      partial = null;
    }
    while (pos < buf.length) {
      if (buf[pos] === LF) {
        pos++;
        continue;
      }
      const end = buf.indexOf(LFLF, pos);
      if (end === -1) {
        partial = buf.subarray(pos);
        return;
      }
      const at = buf.indexOf(CONTENT_LENGTH, pos);
      if (at === -1 || at > end) {
        pos = end + 2; // no body: auth/request or a command reply
        continue;
      }
      let length = 0;
      for (let i = at + CONTENT_LENGTH.length; i < end; i++) {
        const d = buf[i]! - 0x30;
        if (d < 0 || d > 9) break;
        length = length * 10 + d;
      }
      const bodyStart = end + 2;
      if (buf.length - bodyStart >= length) {
        pos = bodyStart + length;
        counter.addBare();
      } else {
        skip = length - (buf.length - bodyStart);
        return;
      }
    }
  });
  socket.on("error", (error) => counter.fail(`floor socket: ${error.message}`));
  socket.on("close", () => counter.fail("floor: connection closed"));
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const [client, portText, eventsText] = process.argv.slice(2);
  const port = Number(portText);
  const events = Number(eventsText);
  if (!isClientName(client) || !(port > 0) || !Number.isInteger(events) || events <= 0) {
    console.error(`usage: esl-client-child.ts <${CLIENTS.join("|")}> <port> <events>`);
    process.exit(2);
  }
  const counter = new Counter(client, events);
  process.on("uncaughtException", (error) => counter.fail(`uncaught: ${error.message}`));
  if (client === "ours") await runOurs(port, counter);
  else if (client === "modesl") runModesl(port, counter);
  else if (client === "esl-lite") await runEslLite(port, counter);
  else runFloor(port, counter);
}

main().catch((error: unknown) => {
  console.error(`esl-client-child: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
