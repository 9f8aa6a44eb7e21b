import net from "node:net";
import type { EslConfig, FreeswitchInstanceConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { Backoff } from "../util/backoff.js";
import { bounded } from "../util/bounded.js";
import { type Clock, systemClock, type TimerHandle } from "../util/clock.js";
import {
  CommandQueue,
  CommandRejectedError,
  type CommandTimeoutError,
  NotConnectedError,
} from "./commands.js";
import { type EslEvent, eventFromFrame } from "./event.js";
import { ContentType, type Frame } from "./frame.js";
import { HeaderIndex } from "./headers.js";
import { FrameParser, type ProtocolError } from "./parser.js";
import { peerText } from "./peer-text.js";
import { type ConnectionState, type ConnectionStats, newConnectionStats } from "./status.js";

export interface EslConnectionOptions {
  readonly instance: FreeswitchInstanceConfig;
  readonly esl: EslConfig;
  /** Event names to subscribe to with `event plain`; never ALL. */
  readonly events: readonly string[];
  readonly logger: Logger;
  /**
   * Called synchronously for each event, in arrival order. Must not block. The event reads the
   * connection's read buffer, which the next read overwrites: keep values, or event.retain().
   */
  readonly onEvent: (event: EslEvent) => void;
  /** Called each time the connection reaches `connected` (after subscribing). */
  readonly onConnected?: () => void;
  readonly onStateChange?: (state: ConnectionState, previous: ConnectionState) => void;
  readonly clock?: Clock;
  /** Source of backoff jitter, [0, 1). */
  readonly random?: () => number;
  /** Window of the log rate limiter for repeated identical failures. */
  readonly logWindowMs?: number;
}

/** One socket read at most: Node's own read size. */
const READ_BUFFER_BYTES = 64 * 1024;

/** Reply-Text of a successful command starts with +OK; anything else is a refusal. */
function isOk(frame: Frame): boolean {
  return frame.header("Reply-Text")?.startsWith("+OK") === true;
}

function describeSocketError(error: NodeJS.ErrnoException, host: string): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return `cannot resolve host ${host}`;
    case "ECONNRESET":
      return "connection reset by peer";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    case "ETIMEDOUT":
      return "connection timed out";
    case "EPIPE":
      return "connection closed by peer";
    default:
      return error.code ?? (peerText(error.message) || "socket error");
  }
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** How a connection ended, coarse enough to key the log rate limiter (peer text is not). */
type CloseKind = "socket" | "timeout" | "auth" | "rejected" | "protocol" | "peer" | "stopped";

/**
 * One inbound Event Socket connection to one FreeSWITCH instance, kept up forever: connect,
 * authenticate, subscribe, read events, probe when idle, and on any failure reconnect with
 * exponential backoff and full jitter. It knows the protocol and nothing about calls.
 *
 * The socket is read continuously and events are handed over synchronously: FreeSWITCH kills a
 * listener that lags, so back-pressure must be handled downstream (bounded queues), never here.
 */
export class EslConnection {
  /** Events are handled one at a time: one header index serves them all (headers.ts). */
  private readonly headerIndex = new HeaderIndex();
  readonly stats: ConnectionStats;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly commands: CommandQueue;
  private readonly parser: FrameParser;
  private readonly log: RateLimitedLog;
  private readonly logger: Logger;
  private readonly address: string;

  private socket: net.Socket | null = null;
  private connectTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  private keepaliveTimer: TimerHandle | null = null;
  private probing = false;
  private stopping = false;
  private started = false;
  /** Why the current socket is being torn down, for the log line and last_error. */
  private closeReason: string | null = null;
  private closeKind: CloseKind = "peer";
  /** ms of the last byte received: liveness is judged on bytes, not whole frames. */
  private lastByteAt = 0;
  private stopPromise: Promise<void> | null = null;
  /** The disconnect notice FreeSWITCH sent before closing, if any. */
  private farewell: string | null = null;

  constructor(private readonly options: EslConnectionOptions) {
    this.stats = newConnectionStats(options.instance.name);
    this.clock = options.clock ?? systemClock;
    // Full jitter: many agents restarted together, or many instances failing together, spread their
    // reconnections instead of hammering FreeSWITCH in lockstep.
    this.backoff = new Backoff({ ...options.esl.backoff, jitter: "full" }, options.random);
    this.commands = new CommandQueue(this.clock);
    this.logger = options.logger.child({ fs_instance: options.instance.name });
    this.log = new RateLimitedLog(this.logger, options.logWindowMs ?? 60_000, this.clock);
    this.address = `${options.instance.host}:${options.instance.port}`;
    this.parser = new FrameParser(
      (frame) => this.onFrame(frame),
      (error) => this.onProtocolError(error),
      { maxFrameBytes: options.esl.maxFrameBytes, reusedChunks: true },
    );
  }

  get name(): string {
    return this.options.instance.name;
  }

  get state(): ConnectionState {
    return this.stats.state;
  }

  get connected(): boolean {
    return this.stats.state === "connected";
  }

  /** Starts connecting in the background; failures are retried forever, never thrown. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.connect();
  }

  /**
   * Says `exit` to FreeSWITCH when connected, then closes. Resolves once the socket is gone, at
   * the latest after the command timeout (capped at 2 s so shutdown stays fast).
   */
  stop(): Promise<void> {
    if (this.stopPromise === null) this.stopPromise = this.shutdown();
    return this.stopPromise;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.clearTimer("retryTimer");
    this.clearTimer("keepaliveTimer");
    const socket = this.socket;
    if (socket !== null && this.state === "connected") {
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      const deadline = Math.min(this.options.esl.commandTimeoutMs, 2000);
      this.send("exit", deadline).catch(() => undefined);
      await bounded(closed, deadline, this.clock);
    }
    this.closeReason = "stopped";
    this.closeKind = "stopped";
    this.socket?.destroy();
    this.socket = null;
    this.stats.connectedSince = null;
    const wasUp = this.state === "connected";
    this.setState("stopped");
    if (wasUp)
      this.logger.info({ address: this.address }, `disconnected from ${this.address} (stopped)`);
  }

  /** Runs `api <command>` and resolves with its output (the api/response body). */
  async api(command: string, timeoutMs = this.options.esl.commandTimeoutMs): Promise<string> {
    if (!this.connected || this.stopping)
      throw new NotConnectedError(`${this.name} is not connected`);
    const frame = await this.send(`api ${command}`, timeoutMs);
    // A refusal before the command runs (`-ERR permission denied` for a user whose allowed-api
    // lacks it) comes as a command/reply with its text in Reply-Text, not as an api/response.
    if (frame.contentType === ContentType.commandReply) {
      return peerText(frame.header("Reply-Text") ?? "-ERR no reply");
    }
    return frame.bodyText();
  }

  /** Runs `bgapi <command>`; resolves with the Job-UUID. The output arrives as BACKGROUND_JOB. */
  async bgapi(command: string, timeoutMs = this.options.esl.commandTimeoutMs): Promise<string> {
    if (!this.connected || this.stopping)
      throw new NotConnectedError(`${this.name} is not connected`);
    const frame = await this.send(`bgapi ${command}`, timeoutMs);
    if (!isOk(frame)) {
      const text = peerText(frame.header("Reply-Text") ?? "no reply text");
      throw new CommandRejectedError(`bgapi refused: ${text}`);
    }
    return frame.header("Job-UUID") ?? "";
  }

  // ---- connection lifecycle ---------------------------------------------------------------

  private connect(): void {
    if (this.stopping) return;
    this.retryTimer = null;
    this.closeReason = null;
    this.closeKind = "peer";
    this.farewell = null;
    this.parser.reset();
    this.setState("connecting");
    const { host, port } = this.options.instance;
    const socket = net.connect({
      host,
      port,
      // Reads go into one buffer per connection, handed straight to the parser: no new
      // ArrayBuffer per read (each one external memory that sets off GCs of its own at a few
      // hundred reads a second) and none of the stream machinery of 'data' events.
      onread: {
        buffer: Buffer.allocUnsafeSlow(READ_BUFFER_BYTES),
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          // Never false (which would pause the socket): FreeSWITCH drops a listener that lags.
          if (socket !== this.socket) return true;
          this.lastByteAt = this.clock.now();
          this.stats.bytesReceived += bytes;
          this.parser.push((buffer as Buffer).subarray(0, bytes));
          return true;
        },
      },
    });
    this.socket = socket;
    this.connectTimer = this.clock.setTimeout(() => {
      this.connectTimer = null;
      const ms = this.options.esl.connectTimeoutMs;
      this.abort(
        this.state === "authenticating"
          ? `connected, but no auth/request within ${ms} ms (is this an event socket port?)`
          : `connect timeout after ${ms} ms`,
        "timeout",
      );
    }, this.options.esl.connectTimeoutMs);

    socket.on("connect", () => {
      socket.setNoDelay(true);
      // TCP keepalive is a second line of defence; the `api status` probe is the real detector.
      socket.setKeepAlive(true, 15_000);
      this.setState("authenticating");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (this.closeReason === null) {
        this.closeReason = describeSocketError(error, host);
        this.closeKind = "socket";
      }
    });
    socket.on("close", () => this.onClose(socket));
  }

  /** Tears the socket down; `close` then schedules the retry. */
  private abort(reason: string, kind: CloseKind): void {
    if (this.closeReason === null) {
      this.closeReason = reason;
      this.closeKind = kind;
    }
    this.socket?.destroy();
  }

  private onClose(socket: net.Socket): void {
    if (socket !== this.socket && this.socket !== null) return;
    this.socket = null;
    this.clearTimer("connectTimer");
    this.clearTimer("keepaliveTimer");
    this.probing = false;
    this.parser.reset();
    // FreeSWITCH's own goodbye explains more than the socket error that may follow it.
    const farewell = this.farewell === null ? null : `closed by FreeSWITCH: ${this.farewell}`;
    const fromSocket = this.closeReason === null || this.closeKind === "socket";
    const useFarewell = fromSocket && farewell !== null;
    const reason = useFarewell ? farewell : (this.closeReason ?? "connection closed by FreeSWITCH");
    const kind: CloseKind = useFarewell ? "peer" : this.closeKind;
    this.commands.rejectAll(new NotConnectedError(`${this.name}: ${reason}`));
    if (this.stopping) return;

    const wasConnected = this.state === "connected";
    const upFor =
      this.stats.connectedSince === null ? 0 : this.clock.now() - this.stats.connectedSince;
    if (upFor >= this.options.esl.backoff.resetAfterMs) this.backoff.reset();
    this.stats.connectedSince = null;

    const delay = this.backoff.next();
    if (this.state !== "auth_failed" && this.state !== "rejected") {
      this.stats.lastError = reason;
      this.setState("disconnected");
    }
    const retryIn = formatDelay(delay);
    const why = (this.stats.lastError ?? reason).replace(/\.$/, "");
    if (wasConnected) {
      this.logger.warn(
        { reason, retry_in_ms: delay },
        `connection to ${this.address} lost: ${why}; reconnecting in ${retryIn}`,
      );
    } else {
      // Keyed by the kind of failure, not its text: peer-chosen text must not grow the map.
      this.log.warn(
        `${this.name}:${this.state}:${kind}`,
        { reason: this.stats.lastError, retry_in_ms: delay, state: this.state },
        `cannot connect to ${this.address}: ${why}; retrying in ${retryIn}`,
      );
    }
    this.retryTimer = this.clock.setTimeout(() => {
      this.stats.reconnects++;
      this.connect();
    }, delay);
  }

  // ---- frames ------------------------------------------------------------------------------

  private onFrame(frame: Frame): void {
    const now = this.clock.now();
    this.stats.framesReceived++;
    this.stats.lastFrameAt = now;
    switch (frame.contentType) {
      case ContentType.eventPlain:
      case ContentType.eventJson:
        this.onEventFrame(frame, now);
        return;
      case ContentType.commandReply:
      case ContentType.apiResponse:
        // Read later, by whoever awaits the command: the parser's buffer will be reused by then.
        if (!this.commands.resolveNext(frame.retain())) this.stats.framesIgnored++;
        return;
      case ContentType.authRequest:
        this.authenticate();
        return;
      case ContentType.disconnectNotice:
        this.farewell = (frame.body !== null && peerText(frame.body)) || "disconnect notice";
        return;
      case ContentType.rudeRejection:
        this.reject((frame.body !== null && peerText(frame.body)) || "access denied");
        return;
      default:
        // log/data and anything newer: not ours to handle.
        this.stats.framesIgnored++;
    }
  }

  private onEventFrame(frame: Frame, now: number): void {
    this.stats.lastEventAt = now;
    const event = eventFromFrame(frame, this.headerIndex);
    if (event === undefined) {
      this.stats.framesIgnored++;
      return;
    }
    try {
      this.options.onEvent(event);
    } catch (error) {
      // A bug in a consumer must not stop the socket from being read.
      this.log.error(
        `${this.name}:handler`,
        { event: event.name, err: error instanceof Error ? error.message : String(error) },
        "event handler failed",
      );
    }
  }

  private onProtocolError(error: ProtocolError): void {
    this.stats.protocolErrors[error.reason]++;
    this.log.error(
      `${this.name}:protocol:${error.reason}`,
      { reason: error.reason },
      `protocol error from ${this.address}: ${error.message}; resetting the connection`,
    );
    this.abort(`protocol error (${error.reason})`, "protocol");
  }

  // ---- handshake ---------------------------------------------------------------------------

  private authenticate(): void {
    if (this.state !== "authenticating") return;
    this.clearTimer("connectTimer");
    this.send(`auth ${this.options.instance.password}`, this.options.esl.commandTimeoutMs, "auth")
      .then((reply) => {
        if (isOk(reply)) return this.subscribe();
        this.stats.lastError = "authentication failed: password rejected by FreeSWITCH";
        this.setState("auth_failed");
        this.abort(this.stats.lastError, "auth");
      })
      .catch(() => undefined); // timeouts and closes are handled by the connection itself
  }

  private async subscribe(): Promise<void> {
    this.setState("subscribing");
    const names = this.options.events.join(" ");
    const reply = await this.send(`event plain ${names}`, this.options.esl.commandTimeoutMs);
    if (!isOk(reply)) {
      this.abort(
        `subscription refused: ${peerText(reply.header("Reply-Text") ?? "no reply text")}`,
        "peer",
      );
      return;
    }
    this.stats.connectedSince = this.clock.now();
    this.stats.lastError = null;
    this.log.clearPrefix(`${this.name}:`);
    this.setState("connected");
    this.logger.info(
      { address: this.address, events: this.options.events.length },
      `connected to ${this.address}`,
    );
    this.armKeepalive();
    this.callback("onConnected", () => this.options.onConnected?.());
  }

  private reject(reason: string): void {
    this.stats.lastError = `rejected by FreeSWITCH: ${reason}`;
    this.setState("rejected");
    this.abort(this.stats.lastError, "rejected");
  }

  // ---- commands ----------------------------------------------------------------------------

  /**
   * Writes a command and waits for its reply. `verb` names the command in errors and logs: the
   * arguments may hold a password.
   */
  private send(
    command: string,
    timeoutMs: number,
    verb = command.split(" ", 1)[0] ?? "",
  ): Promise<Frame> {
    const socket = this.socket;
    if (socket === null || socket.destroyed) {
      return Promise.reject(new NotConnectedError(`${this.name} is not connected`));
    }
    // A line break would end the command early and smuggle in another, whose reply would then be
    // taken for the next command's.
    if (command.includes("\n") || command.includes("\r")) {
      this.stats.commandsRejected++;
      return Promise.reject(new CommandRejectedError(`"${verb}" contains a line break`));
    }
    if (this.commands.full) {
      this.stats.commandsRejected++;
      return Promise.reject(
        new CommandRejectedError(`too many commands awaiting replies from ${this.name}`),
      );
    }
    const reply = this.commands.add(verb, timeoutMs, (error, sentAt) =>
      this.onCommandTimeout(error, sentAt),
    );
    socket.write(`${command}\n\n`);
    return reply;
  }

  /**
   * A reply that is late while other bytes keep arriving means a slow command (its reply will be
   * absorbed in order when it comes); nothing at all since the command was sent means the peer is
   * gone, and only a new connection helps.
   */
  private onCommandTimeout(error: CommandTimeoutError, sentAt: number): void {
    if (this.stopping) return;
    this.stats.commandsTimedOut++;
    if (this.lastByteAt > sentAt) {
      this.log.warn(
        `${this.name}:slow:${error.verb}`,
        { command: error.verb },
        `slow reply from ${this.address}: ${error.message}`,
      );
      return;
    }
    this.abort(`${error.message} and nothing else received`, "timeout");
  }

  // ---- keepalive ---------------------------------------------------------------------------

  /**
   * Re-arms at (last frame + idle timeout) instead of on every frame, so the hot path does not
   * touch timers. When the connection has been silent that long, `api status` probes it; a probe
   * that times out resets the connection (a half-open TCP peer is found this way).
   */
  private armKeepalive(): void {
    this.clearTimer("keepaliveTimer");
    if (this.stopping || this.state !== "connected") return;
    const idle = this.options.esl.idleTimeoutMs;
    const due = Math.max(0, this.lastByteAt + idle - this.clock.now());
    this.keepaliveTimer = this.clock.setTimeout(() => this.onKeepalive(), due);
  }

  private onKeepalive(): void {
    this.keepaliveTimer = null;
    if (this.state !== "connected" || this.probing) return;
    const idle = this.options.esl.idleTimeoutMs;
    const silentFor = this.clock.now() - this.lastByteAt;
    // A command already awaiting its reply is a probe of its own: its timeout judges the peer.
    if (silentFor < idle || this.commands.size > 0) {
      this.keepaliveTimer = this.clock.setTimeout(
        () => this.onKeepalive(),
        Math.max(idle - silentFor, idle / 4),
      );
      return;
    }
    this.probing = true;
    this.logger.debug({ silent_ms: silentFor }, "connection idle; probing with api status");
    this.send("api status", this.options.esl.commandTimeoutMs)
      .then(() => {
        this.probing = false;
        this.armKeepalive();
      })
      .catch(() => {
        this.probing = false;
      });
  }

  // ---- helpers -----------------------------------------------------------------------------

  private setState(state: ConnectionState): void {
    const previous = this.stats.state;
    if (previous === state) return;
    this.stats.state = state;
    this.logger.debug({ state, previous }, "connection state changed");
    this.callback("onStateChange", () => this.options.onStateChange?.(state, previous));
  }

  /** A consumer's callback must never break the connection or escape a socket handler. */
  private callback(name: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log.error(
        `${this.name}:callback:${name}`,
        { callback: name, err: error instanceof Error ? error.message : String(error) },
        `${name} callback failed`,
      );
    }
  }

  private clearTimer(name: "connectTimer" | "retryTimer" | "keepaliveTimer"): void {
    const timer = this[name];
    if (timer !== null) {
      this.clock.clearTimeout(timer);
      this[name] = null;
    }
  }
}
