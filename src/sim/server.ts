// A FreeSWITCH mod_event_socket stand-in: accepts inbound ESL connections, answers commands,
// publishes events to the listeners that asked for them, fires HEARTBEAT, and can misbehave on
// purpose (abrupt close, silence, garbage) for reliability tests.

import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { type Logger, silentLogger } from "../log/logger.js";
import { type Clock, systemClock } from "../util/clock.js";
import { executeApi } from "./api.js";
import { ChannelRegistry } from "./channels.js";
import { type ClientHost, SimClient } from "./client.js";
import type { ClientCommand } from "./command-reader.js";
import {
  backgroundJobEvent,
  type CallingSite,
  EventFactory,
  type HeaderList,
  type SimEvent,
} from "./events.js";
import { heartbeatFor, SESSIONS_PER_SECOND_LIMIT } from "./heartbeat.js";
import { OutgoingEvent } from "./outgoing.js";
import { SimSofia } from "./sofia.js";
import type { SubscriptionInfo } from "./subscription.js";

export interface SimServerOptions {
  /** ESL password (default ClueCon). */
  password?: string;
  /** Reject every client as an ACL deny would (text/rude-rejection, disconnect notice, close). */
  rudeReject?: boolean;
  /** Disconnect a client that sends no command within this time (default 25 s). */
  authTimeoutMs?: number;
  /** Events queued per listener while its socket does not drain (default 100000, MAX_QUEUE_LEN). */
  queueLimit?: number;
  /** More consecutive lost events than this kill the listener (default 500, MAX_MISSED). */
  maxLostEvents?: number;
  /** HEARTBEAT period; 0 disables (default 20000). */
  heartbeatIntervalMs?: number;
  hostname?: string;
  switchname?: string;
  coreUuid?: string;
  ipv4?: string;
  ipv6?: string;
  /** Max-Sessions in HEARTBEAT and `status`. */
  maxSessions?: number;
  /** switch.conf `sessions-per-second` (default 200, the test bed's; FreeSWITCH's own is 30). */
  sessionsPerSecond?: number;
  /** False: mod_sofia's profiles without gateways (and no registration). Default true. */
  gateways?: boolean;
  /** Shared with a call generator; the server creates an empty one otherwise. */
  channels?: ChannelRegistry;
  /** Shared with a call generator, so that Event-Sequence runs across all events. */
  factory?: EventFactory;
  clock?: Clock;
  logger?: Logger;
}

export interface SimServerStats {
  connectionsAccepted: number;
  commandsReceived: number;
  eventsPublished: number;
  /** Event frames written to sockets. */
  eventsDelivered: number;
  /** Events lost because a listener's queue was full. */
  eventsDropped: number;
  /** Events published while the server was silent. */
  eventsSuppressed: number;
  listenersKilled: number;
}

export interface SimClientInfo {
  readonly id: number;
  readonly authenticated: boolean;
  readonly queuedEvents: number;
  readonly lostEvents: number;
  readonly subscription: SubscriptionInfo;
}

export interface SimCommandInfo {
  readonly clientId: number;
  readonly line: string;
}

export interface SimServerEvents {
  command: [SimCommandInfo];
  authenticated: [number];
  killed: [number];
  disconnected: [number];
}

export class SimServer extends EventEmitter<SimServerEvents> {
  readonly factory: EventFactory;
  readonly channels: ChannelRegistry;
  readonly stats: SimServerStats = {
    connectionsAccepted: 0,
    commandsReceived: 0,
    eventsPublished: 0,
    eventsDelivered: 0,
    eventsDropped: 0,
    eventsSuppressed: 0,
    listenersKilled: 0,
  };

  private readonly password: string;
  private readonly rudeReject: boolean;
  private readonly authTimeoutMs: number;
  private readonly queueLimit: number;
  private readonly maxLostEvents: number;
  private readonly heartbeatIntervalMs: number;
  /** Max-Sessions in HEARTBEAT and `status`. */
  readonly maxSessions: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly startedAtMs: number;
  private readonly sessionsPerSecond: number;
  private readonly sofia: SimSofia;
  private readonly clients = new Set<SimClient>();
  private readonly host: ClientHost;
  private server: Server | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private nextClientId = 1;
  private silent = false;
  private boundPort: number | undefined;
  private boundHost = "127.0.0.1";

  constructor(options: SimServerOptions = {}) {
    super();
    this.password = options.password ?? "ClueCon";
    this.rudeReject = options.rudeReject ?? false;
    this.authTimeoutMs = options.authTimeoutMs ?? 25_000;
    this.queueLimit = options.queueLimit ?? 100_000;
    this.maxLostEvents = options.maxLostEvents ?? 500;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 20_000;
    this.maxSessions = options.maxSessions ?? 1000;
    this.sessionsPerSecond = options.sessionsPerSecond ?? SESSIONS_PER_SECOND_LIMIT;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    this.channels = options.channels ?? new ChannelRegistry();
    const factoryOptions: ConstructorParameters<typeof EventFactory>[0] = {};
    if (options.coreUuid !== undefined) factoryOptions.coreUuid = options.coreUuid;
    if (options.hostname !== undefined) factoryOptions.hostname = options.hostname;
    if (options.switchname !== undefined) factoryOptions.switchname = options.switchname;
    if (options.ipv4 !== undefined) factoryOptions.ipv4 = options.ipv4;
    if (options.ipv6 !== undefined) factoryOptions.ipv6 = options.ipv6;
    this.factory = options.factory ?? new EventFactory(factoryOptions);
    this.sofia = new SimSofia({
      ip: this.factory.ipv4,
      switchname: this.factory.switchname,
      gateways: options.gateways ?? true,
    });
    this.startedAtMs = this.clock.now();
    this.host = this.makeHost();
  }

  /** The bound port while listening. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Open client sockets. */
  get clientCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.isOpen) n++;
    return n;
  }

  get authenticatedCount(): number {
    let n = 0;
    for (const c of this.clients) if (c.isOpen && c.authenticated) n++;
    return n;
  }

  get isSilent(): boolean {
    return this.silent;
  }

  /** Starts accepting connections; resolves with the bound port. */
  async listen(port = 0, host = "127.0.0.1"): Promise<number> {
    if (this.server !== undefined) throw new Error("SimServer is already listening");
    const server = createServer((socket) => this.accept(socket));
    server.on("error", (err) => this.logger.debug({ err }, "sim server error"));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once("error", onError);
      server.listen(port, host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    this.server = server;
    const address = server.address();
    this.boundPort = typeof address === "object" && address !== null ? address.port : port;
    this.boundHost = host;
    if (this.heartbeatIntervalMs > 0) {
      this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatIntervalMs);
      this.heartbeatTimer.unref();
    }
    this.logger.debug({ port: this.boundPort, host }, "sim server listening");
    return this.boundPort;
  }

  /** Stops listening and drops every connection (no notice). Idempotent. */
  async stop(): Promise<void> {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    const server = this.server;
    this.server = undefined;
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    if (server !== undefined) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** Stops, then listens again on the same port and address. */
  async restart(): Promise<number> {
    const port = this.boundPort ?? 0;
    const host = this.boundHost;
    await this.stop();
    return this.listen(port, host);
  }

  /** Delivers `event` to every authenticated listener that subscribed to it and passes its filters. */
  publish(event: SimEvent): void {
    this.stats.eventsPublished++;
    if (this.silent) {
      this.stats.eventsSuppressed++;
      return;
    }
    let out: OutgoingEvent | undefined;
    for (const client of this.clients) {
      if (!client.authenticated || !client.isOpen || !client.subscription.wants(event)) continue;
      out ??= new OutgoingEvent(event);
      client.deliver(out.frame(client.subscription.format));
    }
  }

  /** Builds an event (standard block + `headers`) with the server's factory and publishes it. */
  emitEvent(
    name: string,
    headers: HeaderList,
    options: { body?: string; subclass?: string; site?: CallingSite; timeMs?: number } = {},
  ): SimEvent {
    const { timeMs, ...rest } = options;
    const event = this.factory.create(name, timeMs ?? this.clock.now(), headers, rest);
    this.publish(event);
    return event;
  }

  /** Fires a HEARTBEAT now (the timer calls this every heartbeatIntervalMs). */
  heartbeat(): SimEvent {
    const now = this.clock.now();
    const event = heartbeatFor(
      this.factory,
      this.channels,
      now,
      this.startedAtMs,
      this.maxSessions,
      this.sessionsPerSecond,
    );
    this.publish(event);
    return event;
  }

  // ----- fault injection ------------------------------------------------------------------

  /** Destroys every client socket without a notice (`reset`: RST instead of FIN). */
  closeAbruptly(reset = false): void {
    for (const c of this.clients) c.destroy(reset);
  }

  /** Stops sending and answering anything while keeping sockets open: a half-open peer. */
  goSilent(): void {
    this.silent = true;
  }

  /** Ends silence; clients that connected meanwhile get their auth/request now. */
  resume(): void {
    this.silent = false;
    for (const c of this.clients) c.greet();
  }

  /** Writes `bytes` verbatim to every authenticated client. */
  sendRaw(bytes: Buffer | string): void {
    const buf = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
    for (const c of this.clients) if (c.authenticated) c.writeRaw(buf);
  }

  /** Connected clients and what they subscribed to (for tests and the demo). */
  clientInfo(): SimClientInfo[] {
    const out: SimClientInfo[] = [];
    for (const c of this.clients) {
      if (!c.isOpen) continue;
      out.push({
        id: c.id,
        authenticated: c.authenticated,
        queuedEvents: c.queuedEvents,
        lostEvents: c.lostEvents,
        subscription: c.subscription.info(),
      });
    }
    return out;
  }

  private accept(socket: Socket): void {
    this.stats.connectionsAccepted++;
    const client = new SimClient(this.nextClientId++, socket, this.host);
    this.clients.add(client);
    this.logger.debug({ client: client.id, remote: socket.remoteAddress }, "sim client connected");
    client.start();
  }

  /** What a client's `api <command> [arg]` gets back (api_exec in mod_event_socket.c). */
  answerApi(command: string, arg: string | undefined): string {
    const output = this.runApi(command, arg);
    // api_exec() answers an empty result with "-ERR no reply\n" (bgapi's body stays empty).
    return output === "" ? "-ERR no reply\n" : output;
  }

  private runApi(command: string, arg: string | undefined): string {
    const output = executeApi(command, arg, {
      channels: this.channels,
      factory: this.factory,
      now: () => this.clock.now(),
      startedAtMs: this.startedAtMs,
      maxSessions: this.maxSessions,
      sessionsPerSecond: this.sessionsPerSecond,
      sofia: this.sofia,
    });
    if (output === undefined) return `-ERR ${command} Command not found!\n`;
    return output;
  }

  private makeHost(): ClientHost {
    const server = this;
    return {
      get password() {
        return server.password;
      },
      get rudeReject() {
        return server.rudeReject;
      },
      get authTimeoutMs() {
        return server.authTimeoutMs;
      },
      get queueLimit() {
        return server.queueLimit;
      },
      get maxLostEvents() {
        return server.maxLostEvents;
      },
      get silent() {
        return server.silent;
      },
      runApi(command, arg) {
        return server.answerApi(command, arg);
      },
      runBackgroundJob(jobUuid, command, arg) {
        const output = server.runApi(command, arg);
        setImmediate(() => {
          server.publish(
            backgroundJobEvent(server.factory, server.clock.now(), jobUuid, command, arg, output),
          );
        });
      },
      clientCommand(client: SimClient, command: ClientCommand) {
        server.stats.commandsReceived++;
        server.emit("command", { clientId: client.id, line: command.line });
      },
      clientAuthenticated(client) {
        server.emit("authenticated", client.id);
      },
      clientKilled(client) {
        server.stats.listenersKilled++;
        server.logger.debug({ client: client.id }, "sim listener killed: lost events");
        server.emit("killed", client.id);
      },
      clientClosed(client) {
        server.clients.delete(client);
        server.emit("disconnected", client.id);
      },
      countDelivered(n) {
        server.stats.eventsDelivered += n;
      },
      countDropped(n) {
        server.stats.eventsDropped += n;
      },
    };
  }
}
