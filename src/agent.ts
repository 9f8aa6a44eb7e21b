import path from "node:path";
import type { Config } from "./config/types.js";
import type { EslConnection } from "./esl/connection.js";
import {
  type ActiveLegs,
  CALL_MOS_BUCKETS,
  createMetricsSink,
  MAX_FINAL_FLUSH_MS,
  type MetricsSink,
} from "./export/metrics.js";
import { createNoopRecordSink, createRecordSink, type RecordSink } from "./export/records.js";
import type { ServerSnapshot } from "./fs-health/server-health.js";
import { LeaseManager } from "./ha/lease-manager.js";
import { QosClaims } from "./ha/qos-claims.js";
import { resolveReplicaId } from "./ha/replica-id.js";
import type { Logger } from "./log/logger.js";
import { MonitoredInstance, SETTLE_WAIT_MS } from "./pipeline/instance.js";
import { LiveSummary } from "./pipeline/live-summary.js";
import { createQualitySinks } from "./pipeline/quality-sinks.js";
import { EndedLegs, StatusSampler } from "./pipeline/status-history.js";
import { eventsToSubscribe } from "./pipeline/subscriptions.js";
import { type HttpServerHandle, startHttpServer } from "./server/http.js";
import { createInternalMetrics } from "./server/internal-metrics.js";
import type {
  ActiveLegView,
  AgentView,
  ExportView,
  HaView,
  InstanceView,
  LegStoreView,
  RecordsView,
  StatusSnapshot,
  StorageOpCount,
} from "./server/source.js";
import type { AuthFailure } from "./server/web-config/basic-auth.js";
import { loadWebConfig } from "./server/web-config/load.js";
import { WebSecurity } from "./server/web-config/web-security.js";
import { createLegStore } from "./state/create-store.js";
import type { LegStore } from "./state/store.js";
import { bounded } from "./util/bounded.js";
import { type Clock, systemClock } from "./util/clock.js";

export interface AgentOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly version: string;
  /** Replaces the OTLP sink built from config (the demo without a Collector, tests). */
  readonly metrics?: MetricsSink;
  /** Replaces the OTLP quality-record sink built from config (tests). */
  readonly records?: RecordSink;
  /** The status page's chart interval (default 5 s; tests shorten it). */
  readonly statusSampleMs?: number;
  /** The one clock everything the agent schedules runs on (default the system clock). */
  readonly clock?: Clock;
}

/** How long start() waits for Redis before consuming events anyway. */
const STORE_READY_WAIT_MS = 5_000;

/**
 * The Redis store's write-behind delay with HA (50 ms otherwise): how stale the leg state the
 * next owner reads can be after a kill -9 (docs/replicas.md).
 */
const HA_WRITE_BEHIND_MS = 10;

/** How long a hand-over or a stop waits for pending leg state to reach Redis. */
const HA_FLUSH_WAIT_MS = 2_000;

/** How long a stop waits for end-of-call QoS claims in flight. */
const HA_CLAIMS_WAIT_MS = 1_000;

/** The status page: ended legs listed, chart interval and width (60 × 5 s = 5 minutes). */
const ENDED_LEGS_KEPT = 50;
const STATUS_SAMPLE_MS = 5_000;
const STATUS_SAMPLES_KEPT = 60;

/**
 * The running agent: one connection and one router per FreeSWITCH instance, one leg store and
 * one metrics sink shared by all, and the operator HTTP server. Instances are independent: each
 * connects, fails and retries on its own, so one instance's trouble never delays another's events.
 *
 * With `ha.enabled`, a LeaseManager decides which instances this replica consumes: an instance is
 * connected while this replica holds its lease in Redis and disconnected when the lease is lost
 * (at once) or handed over (after its pending state is written to Redis), so each FreeSWITCH
 * has one consumer among the replicas.
 */
export class Agent implements AgentView {
  readonly summary = new LiveSummary();
  readonly store: LegStore;
  readonly metrics: MetricsSink;
  readonly recordSink: RecordSink;
  /** This replica's id with HA (also its service.instance.id), else undefined. */
  readonly replicaId: string | undefined;
  private readonly lease: LeaseManager | null;
  private readonly claims: QosClaims | null;
  private readonly instanceList: MonitoredInstance[];
  private http: HttpServerHandle | null = null;
  /** http.web_config_file: TLS, basic auth and headers of the endpoints; null without one. */
  private readonly security: WebSecurity | null;
  private stopped = false;
  private readonly clock: Clock;
  private readonly startedAt: number;
  /** The status page's ended legs and chart samples (kept only with http.ui). */
  private readonly ended = new EndedLegs(ENDED_LEGS_KEPT);
  private readonly sampler: StatusSampler;

  constructor(private readonly options: AgentOptions) {
    const { config, logger } = options;
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock.now();
    const ha = config.ha.enabled;
    this.replicaId = ha ? resolveReplicaId(config.ha.replicaId) : undefined;
    this.store = createLegStore(config.storage, {
      logger,
      clock: this.clock,
      ...(ha
        ? {
            redis: {
              flushIntervalMs: HA_WRITE_BEHIND_MS,
              // Loss is exported once its baseline is in Redis (rtcp-series.ts, fence.ts).
              onDurableLoss: (uuid, inbound, outbound) =>
                this.metrics.durableLoss(uuid, inbound, outbound),
            },
          }
        : {}),
    });
    this.metrics =
      options.metrics ??
      createMetricsSink(config.opentelemetry, {
        maxLegs: config.storage.maxLegs,
        logger,
        // Each replica is its own OTLP producer: the same series must not come from two
        // producers that look like one.
        ...(this.replicaId === undefined ? {} : { instanceId: this.replicaId }),
        perLeg: config.metrics.perLeg,
        lossWhenDurable: ha,
        activeLegs: () => this.activeLegs(),
        servers: () => this.servers(),
        clock: this.clock,
      });
    this.recordSink =
      options.records ??
      (config.logs.enabled && config.events.qos
        ? createRecordSink(config.opentelemetry, {
            logger,
            clock: this.clock,
            finalFlushMs: MAX_FINAL_FLUSH_MS,
            ...(this.replicaId === undefined ? {} : { instanceId: this.replicaId }),
          })
        : createNoopRecordSink());
    this.sampler = new StatusSampler({
      intervalMs: options.statusSampleMs ?? STATUS_SAMPLE_MS,
      capacity: STATUS_SAMPLES_KEPT,
      mosBuckets: CALL_MOS_BUCKETS,
      read: () => this.sampleFigures(),
      clock: this.clock,
    });
    const webConfigFile =
      config.http.webConfigFile === "" ? null : path.resolve(config.http.webConfigFile);
    this.security =
      webConfigFile === null
        ? null
        : new WebSecurity({
            file: webConfigFile,
            // Checked by the configuration loader already; read again for the certificates.
            loaded: loadWebConfig(webConfigFile),
            exempt: config.http.authExempt,
            logger,
            clock: this.clock,
          });
    const byName = new Map<string, MonitoredInstance>();
    this.lease =
      this.replicaId === undefined
        ? null
        : new LeaseManager({
            instances: config.freeswitchInstances.map((i) => i.name),
            replicaId: this.replicaId,
            leaseTtlMs: config.ha.leaseTtlMs,
            unreachableReleaseAfterMs: config.ha.unreachableReleaseAfterMs,
            reachability: (name) =>
              byName.get(name)?.reachability() ?? { failingSince: null, error: null },
            redis: config.storage.redis,
            logger,
            clock: this.clock,
            hooks: {
              acquired: (name) => {
                if (!this.stopped) byName.get(name)?.connect();
              },
              lost: (name) => void byName.get(name)?.release(false, () => this.flushToRedis()),
              handOver: async (name) => {
                await byName.get(name)?.release(true, () => this.flushToRedis());
              },
            },
          });
    const lease = this.lease;
    this.claims =
      lease === null
        ? null
        : new QosClaims({
            claimOnce: (instance, key, ttlMs) => lease.claim(lease.fence(instance), key, ttlMs),
            keyPrefix: config.storage.redis.keyPrefix,
            leaseTtlMs: config.ha.leaseTtlMs,
            logger: logger.child({ replica_id: lease.replicaId }),
            where: lease.redisAddress,
            clock: this.clock,
          });
    const sinks = createQualitySinks({
      metrics: this.metrics,
      records: this.recordSink,
      claims: this.claims,
      statusPage: config.http.ui ? { ended: this.ended, sampler: this.sampler } : null,
      now: () => this.clock.now(),
    });
    const subscriptions = eventsToSubscribe(config.events);
    this.instanceList = config.freeswitchInstances.map((instance) => {
      const monitored = new MonitoredInstance({
        config: instance,
        esl: config.esl,
        events: config.events,
        health: config.health,
        lookups: config.lookups,
        subscriptions,
        store: this.store,
        sinks,
        summary: this.summary,
        logger,
        // Without HA every instance is this agent's for good.
        owned: lease === null ? () => true : () => lease.holds(instance.name),
        ...(lease === null ? {} : { fence: () => lease.fence(instance.name) }),
        clock: this.clock,
      });
      byName.set(instance.name, monitored);
      return monitored;
    });
  }

  instances(): readonly InstanceView[] {
    const lease = this.lease;
    return this.instanceList.map(({ name, stats, counters, server }) =>
      lease === null
        ? { stats, events: counters, server: server.snapshot() }
        : {
            stats,
            events: counters,
            server: server.snapshot(),
            owned: lease.holds(name),
            owner: lease.ownerOf(name),
            note: lease.noteOf(name),
          },
    );
  }

  storageOperations(): readonly StorageOpCount[] {
    return this.store.operations();
  }

  legStore(): LegStoreView {
    return { legs: this.store.size, evicted: this.store.evicted, expired: this.store.expired };
  }

  records(): RecordsView {
    return this.recordSink.stats;
  }

  exporter(): ExportView {
    return this.metrics.stats;
  }

  status(): StatusSnapshot {
    const instances = this.instanceList;
    return {
      version: this.options.version,
      startedAt: this.startedAt,
      now: this.clock.now(),
      *activeLegs(): Iterable<ActiveLegView> {
        for (const { name: instance, legs } of instances) {
          for (const { leg, since } of legs.activeLegs()) {
            yield { instance, labels: leg.labels, since, rtcpIn: leg.rtcpIn, rtcpOut: leg.rtcpOut };
          }
        }
      },
      endedLegs: this.ended.list(),
      samples: this.sampler.samples(),
      sampleIntervalMs: this.sampler.intervalMs,
      mosBuckets: CALL_MOS_BUCKETS,
    };
  }

  httpAuthFailures(): Readonly<Record<AuthFailure, number>> | undefined {
    // With a web config file, even one without users yet: a reload may add them.
    return this.security?.failures;
  }

  ha(): HaView | undefined {
    const { lease, claims } = this;
    if (lease === null || claims === null) return undefined;
    const { stats } = lease;
    return {
      replicaId: lease.replicaId,
      redisReachable: lease.redisReachable,
      replicas: lease.replicas,
      fairShare: lease.fairShare,
      leasesHeld: lease.leasesHeld,
      acquisitions: stats.acquisitions,
      losses: stats.losses,
      handovers: stats.handovers,
      unreachableReleases: stats.unreachableReleases,
      redisErrors: stats.redisErrors,
      qosClaims: claims.stats,
      fencedWrites: this.store.fencedWrites,
    };
  }

  /** The connections that exist now (with HA: those of the instances this replica holds). */
  get connections(): readonly EslConnection[] {
    return this.instanceList.flatMap(({ current }) => (current === null ? [] : [current]));
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
      ui: config.http.ui,
      view: this,
      registry,
      logger,
      clock: this.clock,
      ...(this.security === null ? {} : { security: this.security }),
    });
    if (config.http.ui && !this.stopped) this.sampler.start();
    const ha =
      this.replicaId === undefined
        ? ""
        : `, HA replica ${this.replicaId} (connects to the instances whose lease it holds)`;
    logger.info(
      {
        version,
        instances: this.instanceList.length,
        http: this.http.url,
        storage: this.store.kind,
        ...(this.replicaId === undefined ? {} : { replica_id: this.replicaId }),
      },
      `fsagent ${version} started: ${this.instanceList.length} FreeSWITCH instance(s), HTTP on ${this.http.url}${ha}`,
    );
    // Consume events only once the durable copy can be read: otherwise the first report of every
    // leg after a restart would miss its baseline and count the whole cumulative loss again.
    if (!(await this.store.ready(STORE_READY_WAIT_MS))) {
      logger.warn(
        { storage: this.store.kind, waited_ms: STORE_READY_WAIT_MS },
        "state store not reachable yet: starting without it; legs already in progress restart their loss baselines",
      );
    }
    if (this.stopped) return;
    if (this.lease !== null) this.lease.start();
    else for (const instance of this.instanceList) instance.connect();
  }

  /**
   * Says `exit` to every FreeSWITCH (no new events), then writes what is pending: leg state to
   * the store and the last points to the Collector, and finally stops serving HTTP. With HA the
   * leases are released once the leg state is in Redis, so the replicas taking over read it.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.sampler.stop();
    this.lease?.freeze();
    await Promise.all(this.instanceList.map((instance) => instance.stop()));
    // Events waiting for a leg's state (a Redis read, a look-up the closed connection just
    // failed) are processed now, bounded, so they reach the store and the exporter below.
    await bounded(
      Promise.all(this.instanceList.map(({ legs }) => legs.settle())),
      SETTLE_WAIT_MS,
      this.clock,
    );
    if (this.lease !== null) {
      await this.flushToRedis();
      await this.lease.stop();
    }
    await Promise.all([this.store.close(), this.metrics.shutdown(), this.recordSink.shutdown()]);
    await this.http?.close();
    this.options.logger.info("fsagent stopped");
  }

  /** HA: the QoS claims in flight and the pending leg state reach Redis (bounded). */
  private async flushToRedis(): Promise<void> {
    if (this.claims !== null) await bounded(this.claims.settle(), HA_CLAIMS_WAIT_MS, this.clock);
    await bounded(this.store.flush(), HA_FLUSH_WAIT_MS, this.clock);
  }

  /** The status charts' figures: events read so far (all instances) and the legs in progress. */
  private sampleFigures(): { events: number; activeLegs: number } {
    let events = 0;
    let activeLegs = 0;
    for (const instance of this.instanceList) {
      for (const count of instance.counters.received.values()) events += count;
      activeLegs += instance.legs.activeLegCount();
    }
    return { events, activeLegs };
  }

  /** Each FreeSWITCH's own figures (empty while its connection is down). */
  *servers(): Iterable<ServerSnapshot> {
    for (const instance of this.instanceList) yield instance.server.snapshot();
  }

  /** freeswitch.calls.active: the legs each instance holds, per domain. */
  private *activeLegs(): Iterable<ActiveLegs> {
    for (const { name: instance, legs } of this.instanceList) {
      for (const [domainName, count] of legs.activeByDomain()) {
        yield { instance, domainName, legs: count };
      }
    }
  }
}
