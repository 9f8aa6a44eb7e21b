import type { Config } from "./config/types.js";
import { EslConnection } from "./esl/connection.js";
import type { Logger } from "./log/logger.js";
import { EventCounters } from "./pipeline/counters.js";
import { LiveSummary } from "./pipeline/live-summary.js";
import { Router } from "./pipeline/router.js";
import { eventsToSubscribe } from "./pipeline/subscriptions.js";
import { type HttpServerHandle, startHttpServer } from "./server/http.js";
import { createInternalMetrics } from "./server/internal-metrics.js";
import type { AgentView, InstanceView, StorageOpCount } from "./server/source.js";

export interface AgentOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly version: string;
}

interface Instance {
  readonly connection: EslConnection;
  readonly router: Router;
}

/**
 * The running agent: one connection and one router per FreeSWITCH instance, and the operator
 * HTTP server. Instances are independent: each connects, fails and retries on its own, so one
 * instance's trouble never delays another's events.
 */
export class Agent implements AgentView {
  readonly summary = new LiveSummary();
  private readonly instanceList: Instance[];
  private readonly views: readonly InstanceView[];
  private http: HttpServerHandle | null = null;
  private stopped = false;

  constructor(private readonly options: AgentOptions) {
    const { config, logger } = options;
    const events = eventsToSubscribe(config.events);
    this.instanceList = config.freeswitchInstances.map((instance) => {
      const router = new Router(instance.name, new EventCounters(), this.summary, logger);
      const connection = new EslConnection({
        instance,
        esl: config.esl,
        events,
        logger,
        onEvent: (event) => router.handle(event),
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
    return [];
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
      { version, instances: this.instanceList.length, http: this.http.url },
      `fsagent ${version} started: ${this.instanceList.length} FreeSWITCH instance(s), HTTP on ${this.http.url}`,
    );
    for (const { connection } of this.instanceList) connection.start();
  }

  /** Says `exit` to every FreeSWITCH, then stops serving HTTP. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.instanceList.map(({ connection }) => connection.stop()));
    await this.http?.close();
    this.options.logger.info("fsagent stopped");
  }
}
