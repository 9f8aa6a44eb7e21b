import type { Config, FreeswitchInstanceConfig } from "./config/types.js";
import { NotConnectedError } from "./esl/commands.js";
import { EslConnection } from "./esl/connection.js";
import {
  type ActiveLegs,
  CALL_MOS_BUCKETS,
  createMetricsSink,
  MAX_FINAL_FLUSH_MS,
  type MetricsSink,
} from "./export/metrics.js";
import { createNoopRecordSink, createRecordSink, type RecordSink } from "./export/records.js";
import { InstanceStats } from "./ha/instance-stats.js";
import { LeaseManager } from "./ha/lease-manager.js";
import { resolveReplicaId } from "./ha/replica-id.js";
import { LegTracker } from "./legs/leg-tracker.js";
import type { Logger } from "./log/logger.js";
import { EventCounters } from "./pipeline/counters.js";
import { LiveSummary } from "./pipeline/live-summary.js";
import { type QualitySinks, Router } from "./pipeline/router.js";
import { EndedLegs, StatusSampler } from "./pipeline/status-history.js";
import { eventsToSubscribe } from "./pipeline/subscriptions.js";
import { qualityRecordBody, recordOf } from "./quality/record.js";
import type { QosObservation } from "./quality/types.js";
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
import { createLegStore } from "./state/create-store.js";
import type { LegStore } from "./state/store.js";

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
}

/** How long stop() waits for legs whose state is being fetched. */
const SETTLE_WAIT_MS = 1_500;

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

interface Instance {
  readonly config: FreeswitchInstanceConfig;
  readonly router: Router;
  readonly legs: LegTracker;
  readonly stats: InstanceStats;
  readonly view: InstanceView;
  /** The connection feeding the router; with HA only while this replica holds the lease. */
  connection: EslConnection | null;
  /** A disconnect (and, with HA, the hand-over of the legs) in progress; a connect waits for it. */
  busy: Promise<void> | null;
}

/** Resolves once `promise` settles or after `ms`, whichever is first. Never rejects. */
function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}

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
  private readonly instanceList: Instance[];
  private readonly events: readonly string[];
  private http: HttpServerHandle | null = null;
  private stopped = false;
  private readonly startedAt = Date.now();
  /** The status page's ended legs and chart samples (kept only with http.ui). */
  private readonly ended = new EndedLegs(ENDED_LEGS_KEPT);
  private readonly sampler: StatusSampler;

  constructor(private readonly options: AgentOptions) {
    const { config, logger } = options;
    const ha = config.ha.enabled;
    this.replicaId = ha ? resolveReplicaId(config.ha.replicaId) : undefined;
    this.store = createLegStore(config.storage, {
      logger,
      ...(ha ? { redis: { flushIntervalMs: HA_WRITE_BEHIND_MS } } : {}),
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
        activeLegs: () => this.activeLegs(),
      });
    this.recordSink =
      options.records ??
      (config.logs.enabled && config.events.qos
        ? createRecordSink(config.opentelemetry, {
            logger,
            finalFlushMs: MAX_FINAL_FLUSH_MS,
            ...(this.replicaId === undefined ? {} : { instanceId: this.replicaId }),
          })
        : createNoopRecordSink());
    const sinks: QualitySinks = {
      rtcp: (o) => this.metrics.recordRtcp(o),
      qos: (o) => this.reportQos(o),
      legEnded: (uuid) => this.metrics.legEnded(uuid),
      legCompleted: (instance, labels) => this.metrics.recordCompleted({ instance, labels }),
    };
    this.events = eventsToSubscribe(config.events);
    const byName = new Map<string, Instance>();
    this.lease =
      this.replicaId === undefined
        ? null
        : new LeaseManager({
            instances: config.freeswitchInstances.map((i) => i.name),
            replicaId: this.replicaId,
            leaseTtlMs: config.ha.leaseTtlMs,
            redis: config.storage.redis,
            logger,
            hooks: {
              acquired: (name) => {
                const slot = byName.get(name);
                if (slot !== undefined) this.connect(slot);
              },
              lost: (name) => {
                const slot = byName.get(name);
                if (slot !== undefined) void this.release(slot, false);
              },
              handOver: async (name) => {
                const slot = byName.get(name);
                if (slot !== undefined) await this.release(slot, true);
              },
            },
          });
    const lease = this.lease;
    this.instanceList = config.freeswitchInstances.map((instance) => {
      const stats = new InstanceStats(instance.name);
      // The tracker looks legs up through the current connection, which feeds the router.
      let slot: Instance | undefined;
      const counters = new EventCounters();
      const legs = new LegTracker({
        instance: instance.name,
        store: this.store,
        counters,
        sinks,
        logger,
        api: (command) => {
          const connection = slot?.connection ?? null;
          return connection === null
            ? Promise.reject(new NotConnectedError(`${instance.name} is not connected`))
            : connection.api(command);
        },
      });
      const router = new Router({
        instance: instance.name,
        counters,
        legs,
        sinks,
        summary: this.summary,
        events: config.events,
        logger,
      });
      const name = instance.name;
      const view: InstanceView =
        lease === null
          ? { stats, events: router.counters }
          : {
              stats,
              events: router.counters,
              get owned() {
                return lease.holds(name);
              },
              get owner() {
                return lease.ownerOf(name);
              },
            };
      slot = { config: instance, router, legs, stats, view, connection: null, busy: null };
      byName.set(name, slot);
      // Without HA every instance is this agent's for good: its connection exists from now on.
      if (lease === null) this.open(slot);
      return slot;
    });
    this.sampler = new StatusSampler({
      intervalMs: options.statusSampleMs ?? STATUS_SAMPLE_MS,
      capacity: STATUS_SAMPLES_KEPT,
      mosBuckets: CALL_MOS_BUCKETS,
      read: () => this.sampleFigures(),
    });
  }

  instances(): readonly InstanceView[] {
    return this.instanceList.map((slot) => slot.view);
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
    const slots = this.instanceList;
    return {
      version: this.options.version,
      startedAt: this.startedAt,
      now: Date.now(),
      *activeLegs(): Iterable<ActiveLegView> {
        for (const slot of slots) {
          const instance = slot.config.name;
          for (const { leg, since } of slot.legs.activeLegs()) {
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

  ha(): HaView | undefined {
    const lease = this.lease;
    if (lease === null) return undefined;
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
      redisErrors: stats.redisErrors,
      qosClaims: stats.qosClaims,
    };
  }

  /** The connections that exist now (with HA: those of the instances this replica holds). */
  get connections(): readonly EslConnection[] {
    return this.instanceList.flatMap((slot) => (slot.connection === null ? [] : [slot.connection]));
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
    else for (const slot of this.instanceList) slot.connection?.start();
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
    await Promise.all(this.instanceList.map((slot) => this.disconnect(slot, false)));
    // Events waiting for a leg's state (a Redis read, a look-up the closed connection just
    // failed) are processed now, bounded, so they reach the store and the exporter below.
    await bounded(Promise.all(this.instanceList.map(({ legs }) => legs.settle())), SETTLE_WAIT_MS);
    if (this.lease !== null) {
      await bounded(this.lease.settleClaims(), HA_CLAIMS_WAIT_MS);
      await bounded(this.store.flush(), HA_FLUSH_WAIT_MS);
      await this.lease.stop();
    }
    await Promise.all([this.store.close(), this.metrics.shutdown(), this.recordSink.shutdown()]);
    await this.http?.close();
    this.options.logger.info("fsagent stopped");
  }

  // ---- connections, made and dropped as leases come and go --------------------------------

  /** A new connection for the instance, feeding its router (not started). */
  private open(slot: Instance): EslConnection {
    const { config, logger } = this.options;
    const lease = this.lease;
    const name = slot.config.name;
    const connection: EslConnection = new EslConnection({
      instance: slot.config,
      esl: config.esl,
      events: this.events,
      logger,
      onEvent: (event) => {
        // Only the current connection feeds the router, and with HA only while the lease is
        // held: after a pause longer than the lease, events still buffered in the socket are
        // another replica's to report.
        if (slot.connection !== connection || (lease !== null && !lease.holds(name))) {
          EventCounters.bump(slot.router.counters.dropped, "not_lease_holder");
          return;
        }
        slot.router.handle(event);
      },
      // Calls that ended while the agent was disconnected sent a DESTROY nobody read: after
      // every (re)connection, drop the legs FreeSWITCH no longer has. reconcile never rejects.
      onConnected: () => {
        if (slot.connection === connection && !this.stopped) {
          void slot.legs.reconcile();
        }
      },
    });
    slot.connection = connection;
    slot.stats.attach(connection.stats);
    return connection;
  }

  /** This replica took the instance's lease: connect (once a previous disconnect is over). */
  private connect(slot: Instance): void {
    if (this.stopped || slot.connection !== null) return;
    if (slot.busy !== null) {
      void slot.busy.then(() => {
        if (this.lease?.holds(slot.config.name) === true) this.connect(slot);
      });
      return;
    }
    this.open(slot).start();
  }

  /**
   * Stops the instance's connection. `immediate`: its events stop feeding the router at once
   * (a lost lease); otherwise events keep flowing until FreeSWITCH has answered `exit`.
   */
  private disconnect(slot: Instance, immediate: boolean): Promise<void> {
    const connection = slot.connection;
    if (connection === null) return slot.busy ?? Promise.resolve();
    if (immediate) slot.connection = null;
    return connection.stop().then(() => {
      if (slot.connection === connection) slot.connection = null;
      slot.stats.detach();
    });
  }

  /**
   * HA: the instance is no longer this replica's. Disconnect; once the router has settled, a
   * graceful hand-over also writes the pending leg state (the next owner reads it); then the
   * instance's legs leave this replica's memory, so that taking the instance back later reads
   * fresh state from Redis. Never rejects.
   */
  private release(slot: Instance, graceful: boolean): Promise<void> {
    const previous = slot.busy ?? Promise.resolve();
    const task = previous
      .then(async () => {
        await this.disconnect(slot, !graceful);
        await bounded(slot.legs.settle(), SETTLE_WAIT_MS);
        if (graceful && this.lease !== null) {
          await bounded(this.lease.settleClaims(), HA_CLAIMS_WAIT_MS);
          await bounded(this.store.flush(), HA_FLUSH_WAIT_MS);
        }
        // Taken back meanwhile (a new connection exists): its legs are in use again.
        if (slot.connection === null) slot.legs.handOver();
      })
      .catch((error: unknown) => {
        this.options.logger.error(
          {
            fs_instance: slot.config.name,
            err: error instanceof Error ? error.message : String(error),
          },
          "HA: releasing an instance failed",
        );
      })
      .finally(() => {
        if (slot.busy === task) slot.busy = null;
      });
    slot.busy = task;
    return task;
  }

  /** With HA an end-of-call report is exported only by the replica that claims it in Redis. */
  private reportQos(observation: QosObservation): void {
    const lease = this.lease;
    if (lease === null) {
      this.exportQos(observation);
      return;
    }
    void lease.claimQos(observation.labels.channelId).then((first) => {
      if (first) this.exportQos(observation);
    });
  }

  /** A leg's end: its QoS points, its quality record, and the status page's ended legs. */
  private exportQos(observation: QosObservation): void {
    this.metrics.recordQos(observation);
    const attributes = recordOf(observation);
    this.recordSink.emit(attributes, qualityRecordBody(attributes));
    if (!this.options.config.http.ui) return;
    const { values } = observation;
    this.ended.add({
      instance: observation.instance,
      labels: observation.labels,
      mos: values.mosScore,
      mosEstimate: observation.mosEstimate,
      jitterAvgMs: values.jitterAvgMs,
      packetLoss: values.packetLoss,
      hangupCause: observation.hangup.cause,
      durationS: observation.hangup.durationS,
      endedAt: Date.now(),
    });
    if (values.mosScore !== undefined) this.sampler.endedMos(values.mosScore);
  }

  /** The status charts' figures: events read so far (all instances) and the legs in progress. */
  private sampleFigures(): { events: number; activeLegs: number } {
    let events = 0;
    let activeLegs = 0;
    for (const slot of this.instanceList) {
      for (const count of slot.router.counters.received.values()) events += count;
      activeLegs += slot.legs.activeLegCount();
    }
    return { events, activeLegs };
  }

  /** freeswitch.calls.active: the legs each router holds, per domain. */
  private *activeLegs(): Iterable<ActiveLegs> {
    for (const slot of this.instanceList) {
      for (const [domainName, legs] of slot.legs.activeByDomain()) {
        yield { instance: slot.config.name, domainName, legs };
      }
    }
  }
}
