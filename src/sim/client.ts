// One inbound ESL connection, as mod_event_socket's listener: greeting, authentication, the
// command set of parse_command() (same prefixes, same order, same reply texts), and event
// delivery with FreeSWITCH's back-pressure rules (bounded queue, lost-event kill).

import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import {
  AUTH_REQUEST,
  apiResponse,
  commandReply,
  DISCONNECT_GOODBYE,
  DISCONNECT_LOST_EVENTS,
  disconnectNotice,
  rudeRejection,
} from "../esl/wire.js";
import { type ClientCommand, CommandReader } from "./command-reader.js";
import { Subscription } from "./subscription.js";

/** What a connection needs from its server. */
export interface ClientHost {
  readonly password: string;
  readonly rudeReject: boolean;
  readonly authTimeoutMs: number;
  readonly queueLimit: number;
  readonly maxLostEvents: number;
  readonly silent: boolean;
  /** Output of an API command (never empty; "-ERR <cmd> Command not found!\n" when unknown). */
  runApi(command: string, arg: string | undefined): string;
  /** Runs a command in the background and fires its BACKGROUND_JOB. */
  runBackgroundJob(jobUuid: string, command: string, arg: string | undefined): void;
  clientCommand(client: SimClient, command: ClientCommand): void;
  clientAuthenticated(client: SimClient): void;
  clientKilled(client: SimClient): void;
  clientClosed(client: SimClient): void;
  countDelivered(n: number): void;
  countDropped(n: number): void;
}

/** How long a closing socket may wait for the peer to read the notice before it is destroyed. */
const CLOSE_LINGER_MS = 5000;

function argsAfterFirstSpace(line: string, from: number): string {
  const space = line.indexOf(" ", from);
  return space === -1 ? "" : line.slice(space + 1);
}

function splitCommand(text: string): [string, string | undefined] {
  const space = text.indexOf(" ");
  return space === -1 ? [text, undefined] : [text.slice(0, space), text.slice(space + 1)];
}

export class SimClient {
  readonly subscription = new Subscription();
  private readonly reader = new CommandReader();
  private authed = false;
  private greeted = false;
  private gotCommand = false;
  private closing = false;
  private closed = false;
  private logging = false;
  private authTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;

  /** Event frames waiting while the socket does not drain (FreeSWITCH's event_queue). */
  private queue: Buffer[] = [];
  private queueHead = 0;
  private draining = false;
  /** Consecutive events that did not fit in the queue (lost_events). */
  private lost = 0;
  private lostTotal = 0;

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly host: ClientHost,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.flush());
    socket.on("error", () => {
      // Resets and broken pipes are the peer's business; 'close' follows.
    });
    socket.on("close", () => this.onClose());
  }

  get authenticated(): boolean {
    return this.authed;
  }

  get isOpen(): boolean {
    return !this.closed && !this.closing;
  }

  get queuedEvents(): number {
    return this.queue.length - this.queueHead;
  }

  get lostEvents(): number {
    return this.lostTotal;
  }

  /** Greets the peer (or rejects it) once the connection is accepted. */
  start(): void {
    if (this.host.rudeReject) {
      this.socket.write(rudeRejection());
      this.closeWith(DISCONNECT_GOODBYE);
      return;
    }
    if (!this.host.silent) this.greet();
  }

  /** Sends auth/request if the peer has not had it (a server that went silent may owe it). */
  greet(): void {
    if (this.greeted || !this.isOpen) return;
    this.greeted = true;
    this.socket.write(AUTH_REQUEST);
    this.authTimer = setTimeout(() => {
      if (!this.gotCommand && !this.host.silent) this.closeWith(DISCONNECT_GOODBYE);
    }, this.host.authTimeoutMs);
    this.authTimer.unref();
  }

  /** Delivers one event frame, queueing it while the socket is not draining. */
  deliver(frame: Buffer): void {
    if (!this.isOpen) return;
    if (this.draining) {
      if (this.queuedEvents < this.host.queueLimit) {
        this.queue.push(frame);
        this.lost = 0;
        return;
      }
      this.lost++;
      this.lostTotal++;
      this.host.countDropped(1);
      if (this.lost > this.host.maxLostEvents) {
        this.host.clientKilled(this);
        this.closeWith(DISCONNECT_LOST_EVENTS);
      }
      return;
    }
    this.host.countDelivered(1);
    if (!this.socket.write(frame)) this.draining = true;
  }

  /** Writes bytes as they are, bypassing the event queue (fault injection). */
  writeRaw(bytes: Buffer): void {
    if (this.isOpen) this.socket.write(bytes);
  }

  /** Drops the connection without a notice; `reset` sends a TCP RST instead of a FIN. */
  destroy(reset = false): void {
    this.closing = true;
    this.clearTimers();
    if (reset && typeof this.socket.resetAndDestroy === "function") this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  /** Sends a disconnect notice with `body`, then closes (kill_listener / the listener's exit). */
  closeWith(body: string): void {
    if (!this.isOpen) return;
    this.closing = true;
    this.queue = [];
    this.queueHead = 0;
    this.clearAuthTimer();
    this.socket.write(disconnectNotice(body));
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
    this.lingerTimer.unref();
  }

  private flush(): void {
    this.draining = false;
    let written = 0;
    while (this.queueHead < this.queue.length && this.isOpen) {
      const frame = this.queue[this.queueHead]!;
      this.queueHead++;
      written++;
      if (!this.socket.write(frame)) {
        this.draining = true;
        break;
      }
    }
    this.host.countDelivered(written);
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private onData(chunk: Buffer): void {
    if (this.host.silent || !this.isOpen) return;
    for (const command of this.reader.push(chunk)) {
      if (!this.isOpen) return;
      this.host.clientCommand(this, command);
      this.handle(command);
    }
  }

  private reply(text: string): void {
    this.socket.write(commandReply(text));
  }

  private handle(command: ClientCommand): void {
    if (!this.gotCommand) {
      this.gotCommand = true;
      this.clearAuthTimer();
    }
    const line = command.line;
    const lower = line.toLowerCase();

    if (lower.startsWith("exit") || line.startsWith("...")) {
      this.reply("+OK bye");
      this.closeWith(DISCONNECT_GOODBYE);
      return;
    }

    if (!this.authed) {
      if (lower.startsWith("auth ")) {
        if (line.slice(5) === this.host.password) {
          this.authed = true;
          this.reply("+OK accepted");
          this.host.clientAuthenticated(this);
        } else {
          this.reply("-ERR invalid");
          this.closeWith(DISCONNECT_GOODBYE);
        }
      } else if (lower.startsWith("userauth ")) {
        this.reply("-ERR invalid");
        this.closeWith(DISCONNECT_GOODBYE);
      } else {
        this.reply("-ERR command not found");
      }
      return;
    }

    if (lower.startsWith("filter ")) {
      this.reply(this.subscription.filter(line.slice(7)));
    } else if (lower.startsWith("api ")) {
      const [cmd, arg] = splitCommand(line.slice(4));
      this.socket.write(apiResponse(this.host.runApi(cmd, arg)));
    } else if (lower.startsWith("bgapi ")) {
      const [cmd, arg] = splitCommand(line.slice(6));
      const jobUuid = jobUuidHeader(command) ?? randomUUID();
      this.socket.write(commandReply(`+OK Job-UUID: ${jobUuid}`, [["Job-UUID", jobUuid]]));
      this.host.runBackgroundJob(jobUuid, cmd, arg);
    } else if (lower.startsWith("log")) {
      this.reply(this.log(line));
    } else if (lower.startsWith("linger") || lower.startsWith("nolinger")) {
      this.reply("-ERR not controlling a session");
    } else if (lower.startsWith("nolog")) {
      this.reply(this.logging ? "+OK no longer logging" : "-ERR not loging");
      this.logging = false;
    } else if (lower.startsWith("event")) {
      this.reply(this.subscription.event(argsAfterFirstSpace(line, 5)));
    } else if (lower.startsWith("nixevent")) {
      this.reply(this.subscription.nixevent(argsAfterFirstSpace(line, 8)));
    } else if (lower.startsWith("noevents")) {
      this.queue = [];
      this.queueHead = 0;
      this.reply(this.subscription.noevents());
    } else {
      this.reply("-ERR command not found");
    }
  }

  /** `log [level]`: accepted, though the simulator has no log lines to send. */
  private log(line: string): string {
    const level = line.slice(3).trim().split(" ")[0] || "debug";
    const levels = ["console", "alert", "crit", "err", "warning", "notice", "info", "debug"];
    const byName = levels.indexOf(level.toLowerCase());
    const n = byName >= 0 ? byName : /^[0-7]$/.test(level) ? Number(level) : -1;
    if (n < 0) return "-ERR invalid log level";
    this.logging = true;
    return `+OK log level ${level} [${n}]`;
  }

  private clearAuthTimer(): void {
    if (this.authTimer !== undefined) clearTimeout(this.authTimer);
    this.authTimer = undefined;
  }

  private clearTimers(): void {
    this.clearAuthTimer();
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queueHead = 0;
    this.clearTimers();
    this.host.clientClosed(this);
  }
}

function jobUuidHeader(command: ClientCommand): string | undefined {
  for (const [name, value] of command.headers) {
    if (name.toLowerCase() === "job-uuid" && value !== "") return value;
  }
  return undefined;
}
