import type { Config } from "./config/types.js";
import { NotConnectedError } from "./esl/commands.js";
import { EslConnection } from "./esl/connection.js";
import { createMetricsSink, type MetricsSink } from "./export/metrics.js";
import type { Logger } from "./log/logger.js";
import { EventCounters } from "./pipeline/counters.js";
import { LiveSummary } from "./pipeline/live-summary.js";
import { type QualitySinks, Router } from "./pipeline/router.js";
import { eventsToSubscribe } from "./pipeline/subscriptions.js";
import { type HttpServerHandle, startHttpServer } from "./server/http.js";
import { createInternalMetrics } from "./server/internal-metrics.js";
import type {
  AgentView,
  ExportView,
  InstanceView,
  LegStoreView,
  StorageOpCount,
} from "./server/source.js";
import { createLegStore } from "./state/create-store.js";
import type { LegStore } from "./state/store.js";

export interface AgentOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly version: string;
  /** Replaces the OTLP sink built from config (the demo without a Collector, tests). */
  readonly metrics?: MetricsSink;
}

/** How long stop() waits for legs whose state is being fetched. */
const SETTLE_WAIT_MS = 1_500;

/** How long start() waits for Redis before consuming events anyway. */
const STORE_READY_WAIT_MS = 5_000;

interface Instance {
  readonly connection: EslConnection;
  readonly router: Router;
}

/**
 * `uuid_dump <uuid> json` for a leg the agent never saw. FreeSWITCH answers `-ERR No such
 * channel!` for a leg that is gone; anything that is not a JSON object counts as unknown.
 */
async function lookupLeg(
  connection: EslConnection,
  uuid: string,
): Promise<Record<string, unknown> | undefined> {
  const output = await connection.api(`uuid_dump ${uuid} json`);
  if (!output.startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(output);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The running agent: one connection and one router per FreeSWITCH instance, one leg store and
 * one metrics sink shared by all, and the operator HTTP server. Instances are independent: each
 * connects, fails and retries on its own, so one instance's trouble never delays another's events.
 */
export class Agent implements AgentView {
  readonly summary = new LiveSummary();
  readonly store: LegStore;
  readonly metrics: MetricsSink;
  private readonly instanceList: Instance[];
  private readonly views: readonly InstanceView[];
  private http: HttpServerHandle | null = null;
  private stopped = false;

  constructor(private readonly options: AgentOptions) {
    const { config, logger } = options;
    this.store = createLegStore(config.storage, { logger });
    this.metrics =
      options.metrics ??
      createMetricsSink(config.opentelemetry, { maxLegs: config.storage.maxLegs, logger });
    const sinks: QualitySinks = {
      rtcp: (o) => this.metrics.recordRtcp(o),
      qos: (o) => this.metrics.recordQos(o),
      legEnded: (uuid) => this.metrics.legEnded(uuid),
    };
    const events = eventsToSubscribe(config.events);
    this.instanceList = config.freeswitchInstances.map((instance) => {
      // The router looks legs up through the connection, which delivers events to the router.
      let connection: EslConnection | undefined;
      const router = new Router({
        instance: instance.name,
        counters: new EventCounters(),
        store: this.store,
        sinks,
        summary: this.summary,
        events: config.events,
        logger,
        lookup: (uuid) =>
          connection === undefined
            ? Promise.reject(new NotConnectedError(`${instance.name} is not connected`))
            : lookupLeg(connection, uuid),
      });
      connection = new EslConnection({
        instance,
        esl: config.esl,
        events,
        logger,
        onEvent: (event) => router.handle(event),
        // Calls that ended while the agent was disconnected sent a DESTROY nobody read: after
        // every (re)connection, drop the legs FreeSWITCH no longer has. reconcile never rejects.
        onConnected: () => {
          const current = connection;
          if (current !== undefined && !this.stopped) {
            void router.reconcile((command) => current.api(command));
          }
        },
      });
      return { connection, router };
    });
    this.views = this.instanceList.map(({ connection, router }) => ({
      stats: connection.stats,
      events: router.counters,
    }));
  }

  instances(): readonly InstanceView[] {
    return this.views;
  }

  storageOperations(): readonly StorageOpCount[] {
    return this.store.operations();
  }

  legStore(): LegStoreView {
    return { legs: this.store.size, evicted: this.store.evicted, expired: this.store.expired };
  }

  exporter(): ExportView {
    return this.metrics.stats;
  }

  get connections(): readonly EslConnection[] {
    return this.instanceList.map((i) => i.connection);
  }

  /** The HTTP server's base URL once started. */
  get url(): string | undefined {
    return this.http?.url;
  }

  /**
   * Serves HTTP first, then connects: the agent is up (and says why it is not ready) even when
   * no FreeSWITCH is reachable. Rejects only when the HTTP port cannot be bound.
   */
  async start(): Promise<void> {
    const { config, logger, version } = this.options;
    const registry = createInternalMetrics(this, { version });
    this.http = await startHttpServer({
      host: config.http.host,
      port: config.http.port,
      view: this,
      registry,
      logger,
    });
    logger.info(
      {
        version,
        instances: this.instanceList.length,
        http: this.http.url,
        storage: this.store.kind,
      },
      `fsagent ${version} started: ${this.instanceList.length} FreeSWITCH instance(s), HTTP on ${this.http.url}`,
    );
    // Consume events only once the durable copy can be read: otherwise the first report of every
    // leg after a restart would miss its baseline and count the whole cumulative loss again.
    if (!(await this.store.ready(STORE_READY_WAIT_MS))) {
      logger.warn(
        { storage: this.store.kind, waited_ms: STORE_READY_WAIT_MS },
        "state store not reachable yet: starting without it; legs already in progress restart their loss baselines",
      );
    }
    for (const { connection } of this.instanceList) connection.start();
  }

  /**
   * Says `exit` to every FreeSWITCH (no new events), then writes what is pending: leg state to
   * the store and the last points to the Collector, and finally stops serving HTTP.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.instanceList.map(({ connection }) => connection.stop()));
    // Events waiting for a leg's state (a Redis read, a look-up the closed connection just
    // failed) are processed now, bounded, so they reach the store and the exporter below.
    const settled = Promise.all(this.instanceList.map(({ router }) => router.settle()));
    await Promise.race([
      settled,
      new Promise((resolve) => setTimeout(resolve, SETTLE_WAIT_MS).unref()),
    ]);
    await Promise.all([this.store.close(), this.metrics.shutdown()]);
    await this.http?.close();
    this.options.logger.info("fsagent stopped");
  }
}
