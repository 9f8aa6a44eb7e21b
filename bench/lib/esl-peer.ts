// A local TCP peer that plays FreeSWITCH's inbound event socket for the client benchmark: the
// real handshake (auth/request, auth, command replies), then, on demand, one pre-encoded stream
// of event frames written in large frame-aligned pieces, honouring back-pressure. It does not
// filter or re-encode: every client receives exactly the same bytes, whatever it subscribed to.
//
// Like FreeSWITCH, it keeps firing events when a client drops its connection: if the client
// reconnects and subscribes again, the stream continues on the new connection, and what was
// written to the old one is lost (esl-lite does this, see bench/esl-clients.ts).

import net from "node:net";
import {
  AUTH_REQUEST,
  commandReply,
  DISCONNECT_GOODBYE,
  disconnectNotice,
} from "../../src/esl/wire.js";
import type { EventStream } from "./esl-streams.js";

const LFLF = Buffer.from("\n\n");

/** One client connection. */
export class PeerSession {
  /** Every command received, first line only (the auth password masked). */
  readonly commands: string[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private authed = false;

  constructor(
    readonly socket: net.Socket,
    private readonly password: string,
    private readonly onSubscribe: (session: PeerSession, names: readonly string[]) => void,
  ) {
    socket.setNoDelay(true); // replies are tiny; the stream pieces are large anyway
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    // A client that has what it needs closes mid-stream: EPIPE/ECONNRESET are expected.
    socket.on("error", () => undefined);
    socket.write(AUTH_REQUEST);
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const end = this.pending.indexOf(LFLF);
      if (end === -1) return;
      const text = this.pending.toString("utf8", 0, end);
      this.pending = this.pending.subarray(end + 2);
      const line = (text.split("\n", 1)[0] ?? "").replace(/\r$/, "").trim();
      this.onCommand(line);
    }
  }

  private onCommand(line: string): void {
    const [verb = "", ...args] = line.split(" ");
    this.commands.push(verb === "auth" ? "auth ***" : line);
    if (!this.authed) {
      if (verb === "auth" && args.join(" ") === this.password) {
        this.authed = true;
        this.socket.write(commandReply("+OK accepted"));
      } else {
        this.socket.write(commandReply("-ERR invalid"));
        this.socket.end(disconnectNotice(DISCONNECT_GOODBYE));
      }
      return;
    }
    switch (verb) {
      case "event": {
        const [format = "plain", ...names] = args.filter((a) => a !== "");
        this.socket.write(commandReply(`+OK event listener enabled ${format}`));
        this.onSubscribe(this, names);
        return;
      }
      case "exit":
        this.socket.write(commandReply("+OK bye"));
        this.socket.end(disconnectNotice(DISCONNECT_GOODBYE));
        return;
      default:
        // filter, nixevent, noevents, log, ...: accepted, no effect on the stream.
        this.socket.write(commandReply("+OK"));
    }
  }

  /** Writes one piece; false when the socket buffer is full (wait for drained()). */
  write(piece: Buffer): boolean {
    return this.socket.write(piece);
  }

  /** Resolves on 'drain', or on 'close' (then nothing more will drain). */
  drained(): Promise<void> {
    const socket = this.socket;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off("drain", done);
        socket.off("close", done);
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

interface Waiter {
  readonly names: ReadonlySet<string>;
  readonly resolve: (session: PeerSession) => void;
}

/** A wait for a subscription; cancel() rejects it and withdraws it. */
export interface SubscriberWait {
  readonly session: Promise<PeerSession>;
  cancel(): void;
}

export interface StreamReport {
  /** Bytes handed to sockets (some may have been lost with a dropped connection). */
  readonly written: number;
  /** Connections the stream was written on: 1, plus one per reconnect of the client. */
  readonly sessions: number;
  /** Time spent waiting for the client to come back and subscribe again. */
  readonly resumeWaitMs: number;
}

/** A stream being written; stop() ends it (and closes the connection) early. */
export interface StreamRun {
  readonly done: Promise<StreamReport>;
  stop(): void;
}

export class EslPeer {
  private readonly server: net.Server;
  private readonly sessions = new Set<PeerSession>();
  private waiters: Waiter[] = [];

  constructor(private readonly password: string) {
    this.server = net.createServer((socket) => {
      const session = new PeerSession(socket, this.password, (s, names) =>
        this.onSubscribe(s, names),
      );
      this.sessions.add(session);
      socket.on("close", () => this.sessions.delete(session));
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  /**
   * Waits for the next session to subscribe (`event <format> ...`) to one of `names` or ALL.
   * Libraries send their own subscriptions first (modesl: BACKGROUND_JOB, esl-lite: CUSTOM, ...):
   * those do not count. Rejects after `timeoutMs`, or at once on cancel() (so that a later
   * client's subscription is not handed to a wait nobody awaits any more).
   */
  subscriber(names: readonly string[], timeoutMs: number): SubscriberWait {
    let cancel = (): void => undefined;
    const session = new Promise<PeerSession>((resolve, reject) => {
      const waiter: Waiter = {
        names: new Set([...names, "ALL", "all"]),
        resolve: (s) => {
          clearTimeout(timer);
          resolve(s);
        },
      };
      const withdraw = (error: Error): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(error);
      };
      const timer = setTimeout(
        () => withdraw(new Error(`no client subscribed within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      cancel = () => withdraw(new Error("wait cancelled"));
      this.waiters.push(waiter);
    });
    // A cancelled or timed-out wait nobody awaits must not become an unhandled rejection.
    session.catch(() => undefined);
    return { session, cancel };
  }

  /**
   * Writes `stream` to `first`, piece by piece, waiting for 'drain' whenever the socket buffer is
   * full (memory stays bounded; the client sets the pace). If the connection closes before the
   * end, waits up to `resumeTimeoutMs` for the client to subscribe again on a new connection and
   * continues there with the next piece, as FreeSWITCH keeps firing events meanwhile.
   */
  stream(
    first: PeerSession,
    stream: EventStream,
    names: readonly string[],
    resumeTimeoutMs: number,
  ): StreamRun {
    let stopped = false;
    let current = first;
    let wait: SubscriberWait | null = null;
    const done = (async (): Promise<StreamReport> => {
      let written = 0;
      let sessions = 1;
      let resumeWaitMs = 0;
      for (let i = 0; i < stream.pieces.length && !stopped; ) {
        if (current.closed) {
          wait = this.subscriber(names, resumeTimeoutMs);
          const since = performance.now();
          try {
            current = await wait.session;
            sessions++;
          } catch {
            break; // no reconnect, or stopped
          } finally {
            wait = null;
            resumeWaitMs += performance.now() - since;
          }
          continue;
        }
        const piece = stream.pieces[i++]!;
        written += piece.length;
        if (!current.write(piece)) await current.drained();
      }
      return { written, sessions, resumeWaitMs };
    })();
    return {
      done,
      stop: () => {
        stopped = true;
        wait?.cancel();
        current.destroy();
      },
    };
  }

  private onSubscribe(session: PeerSession, names: readonly string[]): void {
    const index = this.waiters.findIndex((w) => names.some((n) => w.names.has(n)));
    if (index === -1) return;
    const [waiter] = this.waiters.splice(index, 1);
    waiter!.resolve(session);
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
