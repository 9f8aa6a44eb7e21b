import type {
  EslConfig,
  EventsConfig,
  FreeswitchInstanceConfig,
  HealthConfig,
  LookupsConfig,
} from "../config/types.js";
import { NotConnectedError } from "../esl/commands.js";
import { EslConnection } from "../esl/connection.js";
import { ServerPoller } from "../fs-health/poller.js";
import { ServerHealth } from "../fs-health/server-health.js";
import { InstanceStats } from "../ha/instance-stats.js";
import type { Reachability } from "../ha/unreachable.js";
import { LegTracker } from "../legs/leg-tracker.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import type { Fence } from "../state/fence.js";
import type { LegStore } from "../state/store.js";
import { bounded } from "../util/bounded.js";
import { type Clock, systemClock } from "../util/clock.js";
import { bump, EventCounters } from "./counters.js";
import type { LiveSummary } from "./live-summary.js";
import type { QualitySinks } from "./quality-sinks.js";
import { Router } from "./router.js";

/** How long a release waits for legs whose state is being fetched. */
export const SETTLE_WAIT_MS = 1_500;

export interface MonitoredInstanceOptions {
  readonly config: FreeswitchInstanceConfig;
  readonly esl: EslConfig;
  readonly events: EventsConfig;
  /** FreeSWITCH's own figures: how often mod_sofia is polled. */
  readonly health: HealthConfig;
  /** Look-ups of unknown legs: their rate, "no such channel" answers, the events that wait. */
  readonly lookups: LookupsConfig;
  /** Event names to subscribe to. */
  readonly subscriptions: readonly string[];
  readonly store: LegStore;
  readonly sinks: QualitySinks;
  readonly summary: LiveSummary;
  readonly logger: Logger;
  /**
   * HA: whether this replica holds the instance's lease now. Events read after the lease is gone
   * (a pause longer than the lease left them in the socket) are another replica's to report.
   */
  readonly owned: () => boolean;
  /** HA: the fence the instance's leg writes carry (leg-tracker.ts); absent without HA. */
  readonly fence?: () => Fence;
  /** Times the connection, the legs' first-seen times and the release wait (default the system clock). */
  readonly clock?: Clock;
}

/**
 * One FreeSWITCH instance as the agent monitors it: its connection (made and dropped as HA
 * leases come and go; for good without HA) feeding its router, and its legs. Only the current
 * connection feeds the router, and reconnecting reconciles the legs with FreeSWITCH's list.
 */
export class MonitoredInstance {
  readonly name: string;
  readonly counters = new EventCounters();
  readonly legs: LegTracker;
  readonly router: Router;
  /** What FreeSWITCH says of itself (HEARTBEAT, `status`, mod_sofia), while connected. */
  readonly server: ServerHealth;
  private readonly poller: ServerPoller;
  /** Connection figures across the connections the instance had (monotonic under HA). */
  readonly stats: InstanceStats;
  private connection: EslConnection | null = null;
  /** A disconnect (and, with HA, the hand-over of the legs) in progress; a connect waits for it. */
  private busy: Promise<void> | null = null;
  private stopped = false;
  private readonly clock: Clock;
  /** Since when the current connection has been trying without success (HA, unreachable.ts). */
  private failingSince: number | null = null;

  constructor(private readonly options: MonitoredInstanceOptions) {
    const { config, store, sinks, logger } = options;
    this.clock = options.clock ?? systemClock;
    this.name = config.name;
    this.stats = new InstanceStats(config.name);
    this.legs = new LegTracker({
      instance: config.name,
      store,
      counters: this.counters,
      sinks,
      logger,
      clock: this.clock,
      limits: options.lookups,
      ...(options.fence === undefined ? {} : { fence: options.fence }),
      // Look-ups and listings go through the current connection, which feeds the router.
      api: (command) => this.api(command),
    });
    // An answer fsagent cannot read is logged once per source and ten minutes (and counted).
    const oddAnswers = new RateLimitedLog(logger, 600_000, this.clock);
    this.server = new ServerHealth(config.name, this.clock, (source, answer) => {
      bump(this.counters.healthUnreadable, source);
      oddAnswers.warn(
        `${config.name}:health-unreadable:${source}`,
        { fs_instance: config.name, source, answer: answer.slice(0, 120) },
        "FreeSWITCH sent health figures fsagent cannot read; they are not exported",
      );
    });
    this.poller = new ServerPoller({
      health: this.server,
      api: (command) => this.api(command),
      pollIntervalMs: options.health.pollIntervalMs,
      clock: this.clock,
      logger,
      failed: (source) => bump(this.counters.healthFailed, source),
    });
    this.router = new Router({
      server: this.server,
      instance: config.name,
      counters: this.counters,
      legs: this.legs,
      sinks,
      summary: options.summary,
      events: options.events,
      logger,
    });
  }

  /** Whether the current connection has been failing, and why: a holder that cannot reach it. */
  reachability(): Reachability {
    return {
      failingSince: this.connection === null ? null : this.failingSince,
      error: this.stats.lastError,
    };
  }

  /** The connection that exists now, if any. */
  get current(): EslConnection | null {
    return this.connection;
  }

  /** Connects (once a previous disconnect is over); nothing when already connected or stopped. */
  connect(): void {
    if (this.stopped || this.connection !== null) return;
    if (this.busy !== null) {
      void this.busy.then(() => {
        if (this.options.owned()) this.connect();
      });
      return;
    }
    this.open().start();
  }

  /** No connection from now on: says `exit` to FreeSWITCH and waits for the close. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.disconnect(false);
  }

  /**
   * HA: the instance is no longer this replica's. Disconnect; once the tracker has settled, a
   * graceful hand-over also runs `flush` (the pending leg state and QoS claims reach Redis, so the
   * next owner reads them); then the legs leave this replica's memory, so that taking the
   * instance back later reads fresh state from Redis. Never rejects.
   */
  release(graceful: boolean, flush: () => Promise<void>): Promise<void> {
    const previous = this.busy ?? Promise.resolve();
    const task = previous
      .then(async () => {
        await this.disconnect(!graceful);
        await bounded(this.legs.settle(), SETTLE_WAIT_MS, this.clock);
        if (graceful) await flush();
        // Taken back meanwhile (a new connection exists): its legs are in use again.
        if (this.connection === null) this.legs.handOver();
      })
      .catch((error: unknown) => {
        this.options.logger.error(
          { fs_instance: this.name, err: error instanceof Error ? error.message : String(error) },
          "HA: releasing an instance failed",
        );
      })
      .finally(() => {
        if (this.busy === task) this.busy = null;
      });
    this.busy = task;
    return task;
  }

  /** A new connection for the instance, feeding its router (not started). */
  private open(): EslConnection {
    const { config, esl, subscriptions, logger } = this.options;
    const connection: EslConnection = new EslConnection({
      instance: config,
      esl,
      events: subscriptions,
      logger,
      clock: this.clock,
      onEvent: (event) => {
        if (this.connection !== connection || !this.options.owned()) {
          bump(this.counters.dropped, "not_lease_holder");
          return;
        }
        this.router.handle(event);
      },
      // Calls that ended while the agent was disconnected sent a DESTROY nobody read: after
      // every (re)connection, drop the legs FreeSWITCH no longer has. reconcile never rejects.
      onConnected: () => {
        if (this.connection !== connection || this.stopped) return;
        void this.legs.reconcile();
        this.poller.start();
      },
      // Figures nobody can refresh are not exported: they go with the connection.
      onStateChange: (state, previous) => {
        if (this.connection !== connection) return;
        if (state === "connected") this.failingSince = null;
        if (previous === "connected" && state !== "connected") {
          this.stopHealth();
          // Failing from the moment it dropped, not from when the connection was made.
          this.failingSince = this.clock.now();
        }
      },
    });
    this.connection = connection;
    // Failing until it connects: a connection that never gets through counts from its start.
    this.failingSince = this.clock.now();
    this.stats.attach(connection.stats);
    return connection;
  }

  /** `api <command>` on the current connection; rejects while there is none. */
  private api(command: string): Promise<string> {
    const connection = this.connection;
    return connection === null
      ? Promise.reject(new NotConnectedError(`${this.name} is not connected`))
      : connection.api(command);
  }

  private stopHealth(): void {
    this.poller.stop();
    this.server.clear();
  }

  /**
   * Stops the connection. `immediate`: its events stop feeding the router at once (a lost
   * lease); otherwise events keep flowing until FreeSWITCH has answered `exit`.
   */
  private disconnect(immediate: boolean): Promise<void> {
    const connection = this.connection;
    if (connection === null) return this.busy ?? Promise.resolve();
    this.stopHealth();
    if (immediate) this.connection = null;
    return connection.stop().then(() => {
      if (this.connection === connection) this.connection = null;
      this.stats.detach();
    });
  }
}
