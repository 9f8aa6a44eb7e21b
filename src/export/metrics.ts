import {
  type Attributes,
  type Counter,
  type Gauge,
  type Histogram,
  ValueType,
} from "@opentelemetry/api";
import {
  MeterProvider,
  type MetricProducer,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import type { OpenTelemetryConfig } from "../config/types.js";
import type { ServerSnapshot } from "../fs-health/server-health.js";
import type { Logger } from "../log/logger.js";
import { legLabelAttributes } from "../quality/record.js";
import type { LegLabels, QosObservation, RtcpObservation } from "../quality/types.js";
import type { Clock } from "../util/clock.js";
import { VERSION } from "../version.js";
import { routeOtelDiagnostics } from "./diag.js";
import { createMetricExporter, MAX_POINTS_PER_REQUEST } from "./metric-exporter.js";
import { signalTarget, tlsFilesConfigured } from "./otlp-target.js";
import { buildResource } from "./resource.js";
import { RtcpSeriesProducer } from "./rtcp-series.js";
import { describeError, type ExportStats, emptyExportStats } from "./sender.js";
import { ServerSeriesProducer } from "./server-series.js";

// The OTLP metrics sink (SPEC §4): RTCP reports and end-of-call QoS become OpenTelemetry points,
// exported over OTLP/gRPC or OTLP/HTTP by the SDK's periodic reader. End-of-call QoS (one report per leg) goes
// through SDK instruments; RTCP (the hot path) is aggregated per leg by RtcpSeriesProducer
// (rtcp-series.ts), which the reader collects with the instruments.
//
// Memory. Every series is per leg, so the design is about forgetting:
// - the per-leg instruments (gauges) use DELTA temporality, the bounded aggregates CUMULATIVE
//   (MetricExporter.selectAggregationTemporality): under DELTA the
//   SDK exports an attribute set in the collection it was recorded in and then drops it
//   (sdk-metrics state/DeltaMetricProcessor.collect() swaps in a fresh map each collection;
//   state/TemporalMetricProcessor.buildMetrics() keeps only the last collection's map under
//   DELTA, for start times, where CUMULATIVE merges everything ever seen);
// - the cardinality limit bounds one collection's attribute sets per instrument; past it the SDK
//   folds new sets into one `otel.metric.overflow` series, so it is sized from storage.max_legs;
// - the RTCP series are exported in the interval they reported in, kept for at most 2 × max_legs
//   legs between reports, and dropped by legEnded().
// While the Collector is down each collection is exported and fails. Its RTCP points are dropped
// (counted); its end-of-call QoS points go to the export sender's retry queue, bounded by
// opentelemetry.retry_queue_size points (metric-exporter.ts, sender.ts), so memory stays at one
// interval's worth plus that bound, whatever the length of the outage.

/** The metrics export's figures (sender.ts), read-only here: items are data points. */
export type MetricsSinkStats = Readonly<Omit<ExportStats, "dropped">> & {
  readonly dropped: Readonly<ExportStats["dropped"]>;
};

export interface MetricsSink {
  /** Hot path: one call per RTCP report. Never throws. */
  recordRtcp(o: RtcpObservation): void;
  /** Once per leg, at its end. Never throws. */
  recordQos(o: QosObservation): void;
  /** Forgets the leg's cached attribute sets. Call when the leg is destroyed. */
  legEnded(channelId: string): void;
  /**
   * HA (`lossWhenDurable`): packets lost per direction whose baseline is now in Redis; exported
   * from now on. Never throws.
   */
  durableLoss(channelId: string, inbound: number, outbound: number): void;
  /** Counts a leg that ended (freeswitch.calls.completed). Never throws. */
  recordCompleted(o: CompletedLeg): void;
  /** Exports what was recorded so far. Never rejects; a failure is counted in stats. */
  forceFlush(): Promise<void>;
  /** Flushes, then stops, within config.exportTimeoutMs even if the Collector is unreachable. */
  shutdown(): Promise<void>;
  /** Live figures (the same object, updated in place). */
  readonly stats: MetricsSinkStats;
  /** Legs whose RTCP attribute sets are cached: bounded by 2 × maxLegs, 0 once all legs ended. */
  readonly cachedLegs: number;
}

export interface MetricsSinkOptions {
  /** storage.maxLegs: sizes the attribute cache and the SDK's cardinality limit. */
  readonly maxLegs: number;
  readonly logger: Logger;
  /** service.instance.id; default: one random UUID per process (see resource.ts). */
  readonly instanceId?: string;
  /** The retry timer's backoff (default ~1 s doubling to ~30 s); tests shorten it. */
  readonly retryDelayMs?: { readonly initial: number; readonly max: number };
  /** metrics.per_leg (default true): false exports no series with channel_id/correlation_id. */
  readonly perLeg?: boolean;
  /** Legs in progress per instance and domain, read at each collection (calls.active). */
  readonly activeLegs?: () => Iterable<ActiveLegs>;
  /** Each FreeSWITCH's own figures, read at each collection (freeswitch.sessions.*, sofia.*). */
  readonly servers?: () => Iterable<ServerSnapshot>;
  /** The export sender's retry timer, Retry-After and rate-limited log; default the system clock. */
  readonly clock?: Clock;
  /** HA: packets_lost follows durableLoss(), not the reports (rtcp-series.ts). */
  readonly lossWhenDurable?: boolean;
}

/** One freeswitch.calls.active point. */
export interface ActiveLegs {
  readonly instance: string;
  readonly domainName: string;
  readonly legs: number;
}

/** A leg that ended (CHANNEL_DESTROY, or found gone after a reconnection): calls.completed. */
export interface CompletedLeg {
  readonly instance: string;
  readonly labels: LegLabels;
}

/**
 * Bucket boundaries of the call MOS histograms: 3.5 is the usual "poor" line, 4.0 and above is
 * good narrowband, 4.4 is near the E-model's ceiling (4.5); below 2.5 calls are unusable.
 */
export const CALL_MOS_BUCKETS: readonly number[] = [1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4];

export const METER_NAME = "fsagent";

export { MAX_POINTS_PER_REQUEST };

/**
 * Label sets of the low-cardinality aggregates (instance × domain × direction × codec × call
 * direction). They are cumulative, so kept for the process's life: the bound is what a platform
 * with many tenants needs, and a flood of made-up domains folds into one overflow set past it.
 */
export const MAX_AGGREGATE_SETS = 2000;

/** Longest the flush at shutdown may take: the agent's whole stop must end within 10 s. */
export const MAX_FINAL_FLUSH_MS = 3_000;

/**
 * Attribute sets (series) one instrument may hold within one export interval. RTCP series are
 * per leg and direction, so up to 2 × the legs alive during the interval; QoS series are per leg
 * that ended in it. Legs are bounded by storage.max_legs, but a busy interval also sees legs
 * that ended and new ones that began, hence the margin.
 */
export function cardinalityLimit(maxLegs: number): number {
  return 2 * maxLegs + Math.max(1000, Math.ceil(maxLegs / 10));
}

/** A sink that does nothing: export disabled (`endpoint: ""`). Nothing connects. */
export function createNoopMetricsSink(): MetricsSink {
  const stats: MetricsSinkStats = emptyExportStats(0);
  return {
    recordRtcp() {},
    recordQos() {},
    legEnded() {},
    durableLoss() {},
    recordCompleted() {},
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    stats,
    cachedLegs: 0,
  };
}

/** The labels of the per-call aggregates: no per-leg label. */
function callAttributes(instance: string, labels: LegLabels): Attributes {
  return {
    fs_instance: instance,
    domain_name: labels.domainName,
    call_direction: labels.callDirection,
    codec_name: labels.codecName,
  };
}

/**
 * Not frozen: a leg's QoS is exported once, so the OTLP encoder has no reason to keep its
 * encoded set between exports (it keeps frozen sets).
 */
function qosAttributes(instance: string, labels: LegLabels): Attributes {
  return legLabelAttributes(instance, labels);
}

interface Instruments {
  readonly callMos: Histogram;
  readonly callMosEstimate: Histogram;
  readonly callsCompleted: Counter;
  readonly qosMos: Gauge;
  readonly qosJitterMin: Gauge;
  readonly qosJitterMax: Gauge;
  readonly qosJitterAvg: Gauge;
  readonly qosTotalPackets: Gauge;
  readonly qosPacketLoss: Gauge;
  readonly qosTotalBytes: Gauge;
}

function createInstruments(
  provider: MeterProvider,
  activeLegs: (() => Iterable<ActiveLegs>) | undefined,
): Instruments {
  const meter = provider.getMeter(METER_NAME, VERSION);
  const int = ValueType.INT;
  let lastActive = new Map<string, Attributes>();
  if (activeLegs !== undefined) {
    meter
      .createObservableGauge("freeswitch.calls.active", {
        unit: "{leg}",
        valueType: int,
        description: "Legs in progress, per FreeSWITCH instance and domain.",
      })
      .addCallback((result) => {
        // A domain whose last leg ended reads 0 once rather than disappearing: a backend would
        // otherwise show its last count until the series went stale.
        const now = new Map<string, Attributes>();
        for (const a of activeLegs()) {
          const attributes = { fs_instance: a.instance, domain_name: a.domainName };
          now.set(`${a.instance}\n${a.domainName}`, attributes);
          result.observe(a.legs, attributes);
        }
        for (const [key, attributes] of lastActive) {
          if (!now.has(key)) result.observe(0, attributes);
        }
        lastActive = now;
      });
  }
  const mosAdvice = { explicitBucketBoundaries: [...CALL_MOS_BUCKETS] };
  return {
    callMos: meter.createHistogram("freeswitch.call.mos", {
      unit: "1",
      description: "FreeSWITCH's end-of-call MOS of each leg that received audio.",
      advice: mosAdvice,
    }),
    callMosEstimate: meter.createHistogram("freeswitch.call.mos_estimate", {
      unit: "1",
      description: "Mean E-model MOS estimate over each leg's RTCP reports, at the leg's end.",
      advice: mosAdvice,
    }),
    callsCompleted: meter.createCounter("freeswitch.calls.completed", {
      unit: "{leg}",
      valueType: int,
      description: "Legs that ended.",
    }),
    qosMos: meter.createGauge("freeswitch.qos.mos_score", {
      unit: "1",
      description:
        "FreeSWITCH's MOS estimate of the audio the leg received, at the end of the call.",
    }),
    qosJitterMin: meter.createGauge("freeswitch.qos.jitter_min", {
      unit: "ms",
      description: "Lowest jitter FreeSWITCH measured on the leg during the call, in milliseconds.",
    }),
    qosJitterMax: meter.createGauge("freeswitch.qos.jitter_max", {
      unit: "ms",
      description:
        "Highest jitter FreeSWITCH measured on the leg during the call, in milliseconds.",
    }),
    qosJitterAvg: meter.createGauge("freeswitch.qos.jitter_avg", {
      unit: "ms",
      description: "Mean RTCP jitter of the leg over the call, in milliseconds.",
    }),
    qosTotalPackets: meter.createGauge("freeswitch.qos.total_packets", {
      unit: "{packet}",
      valueType: int,
      description: "RTP packets the leg received and sent during the call.",
    }),
    qosPacketLoss: meter.createGauge("freeswitch.qos.packet_loss", {
      unit: "{packet}",
      valueType: int,
      description: "Packets lost on the leg during the call, in both directions.",
    }),
    qosTotalBytes: meter.createGauge("freeswitch.qos.total_bytes", {
      unit: "By",
      valueType: int,
      description: "RTP bytes the leg received and sent during the call.",
    }),
  };
}

/**
 * The OTLP metrics sink for `config`; a no-op sink when `config.endpoint` is "". Creating it opens
 * no connection: the gRPC channel is made on the first export, and an idle agent exports nothing.
 */
export function createMetricsSink(
  config: OpenTelemetryConfig,
  options: MetricsSinkOptions,
): MetricsSink {
  const { logger } = options;
  if (!config.enabled) {
    logger.info(
      "OTLP export disabled (opentelemetry.enabled is false): no metrics or quality records are sent",
    );
    return createNoopMetricsSink();
  }
  routeOtelDiagnostics(logger);

  // The reader refuses a timeout above the interval; the config already forbids it, but a
  // programmatic caller could pass one.
  const intervalMs = config.exportIntervalMs;
  const timeoutMs = Math.min(config.exportTimeoutMs, intervalMs);
  const limit = cardinalityLimit(options.maxLegs);
  const exporter = createMetricExporter(config, {
    logger,
    timeoutMs,
    cardinalityLimit: limit,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.retryDelayMs === undefined
      ? {}
      : { backoff: { initialMs: options.retryDelayMs.initial, maxMs: options.retryDelayMs.max } }),
  });
  const sender = exporter.sender;
  const stats = sender.stats;
  const resource = buildResource(config, options.instanceId);
  // Bounded by twice the legs: a leg whose legEnded() was missed only costs a rebuild.
  const rtcp = new RtcpSeriesProducer({
    maxLegs: 2 * options.maxLegs,
    cardinalityLimit: limit,
    perLeg: options.perLeg ?? true,
    lossWhenDurable: options.lossWhenDurable ?? false,
    maxAggregates: MAX_AGGREGATE_SETS,
    scope: { name: METER_NAME, version: VERSION },
    resource,
  });
  const producers: MetricProducer[] = [rtcp];
  const servers = options.servers;
  if (servers !== undefined) {
    const clock = options.clock;
    producers.push(
      new ServerSeriesProducer({
        snapshots: servers,
        scope: { name: METER_NAME, version: VERSION },
        resource,
        ...(clock === undefined ? {} : { now: () => clock.now() }),
      }),
    );
  }
  const reader = new PeriodicExportingMetricReader({
    metricProducers: producers,
    // The sender cuts a collection into requests sent one after the other; each counts as one
    // export in stats.
    exporter,
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: timeoutMs,
    cardinalityLimits: { default: limit },
  });
  const provider = new MeterProvider({
    resource,
    readers: [reader],
  });
  const ins = createInstruments(provider, options.activeLegs);
  const perLeg = options.perLeg ?? true;
  const target = signalTarget(config, "metrics");
  if (!target.tls && tlsFilesConfigured(config.tls)) {
    // Only an http:// URL gets here (a bare host:port with TLS files is TLS): the scheme wins,
    // as it does over `insecure`, but a CA set for nothing is worth one line.
    logger.warn(
      { endpoint: target.display },
      "opentelemetry.tls files are ignored: the endpoint's http:// scheme means plaintext",
    );
  }
  logger.info(
    {
      endpoint: target.display,
      protocol: config.protocol,
      // The URL over OTLP/HTTP: its path matters (a 404 there is the first thing to check).
      ...(target.route.protocol === "http/protobuf" ? { url: target.route.url } : {}),
      compression: config.compression,
      tls: target.tls,
      // Paths are not secret; the key's content never leaves readTlsMaterial.
      ...(target.tls && config.tls.caFile !== "" ? { caFile: config.tls.caFile } : {}),
      ...(target.tls && config.tls.certFile !== "" ? { clientCertFile: config.tls.certFile } : {}),
      // Names only: the values are credentials.
      headers: Object.keys(config.headers),
      intervalMs,
      cardinalityLimit: limit,
      retryQueueSize: config.retryQueueSize,
    },
    "OTLP metrics export configured",
  );

  let closed = false;
  let shutdownPromise: Promise<void> | null = null;

  function recordRtcp(o: RtcpObservation): void {
    if (!closed) rtcp.record(o);
  }

  function recordQos(o: QosObservation): void {
    if (closed) return;
    const v = o.values;
    const call = callAttributes(o.instance, o.labels);
    if (v.mosScore !== undefined && Number.isFinite(v.mosScore))
      ins.callMos.record(v.mosScore, call);
    if (o.mosEstimate !== undefined && Number.isFinite(o.mosEstimate)) {
      ins.callMosEstimate.record(o.mosEstimate, call);
    }
    if (!perLeg) return;
    // Built once for the leg's seven points and not cached: QoS comes once per leg.
    const attributes = qosAttributes(o.instance, o.labels);
    // No MOS when the leg received nothing: FreeSWITCH would report 4.5, a perfect call.
    if (v.mosScore !== undefined && Number.isFinite(v.mosScore)) {
      ins.qosMos.record(v.mosScore, attributes);
    }
    gauge(ins.qosJitterMin, v.jitterMinMs, attributes);
    gauge(ins.qosJitterMax, v.jitterMaxMs, attributes);
    gauge(ins.qosJitterAvg, v.jitterAvgMs, attributes);
    gauge(ins.qosTotalPackets, v.totalPackets, attributes);
    gauge(ins.qosPacketLoss, v.packetLoss, attributes);
    gauge(ins.qosTotalBytes, v.totalBytes, attributes);
  }

  async function forceFlush(): Promise<void> {
    if (closed) return;
    const failuresBefore = sender.failures;
    try {
      await provider.forceFlush();
    } catch (error) {
      // The reader reports export failures through the exporter wrapper; anything else here is
      // the SDK's own trouble, not worth failing the caller for.
      logger.debug({ error: describeError(error, []) }, "OTLP metrics flush failed");
    }
    // The SDK exports nothing for an empty collection, so a flush after an outage would leave
    // the queue to the retry timer; deliver it now, unless this very flush just failed.
    if (sender.failures === failuresBefore) await sender.deliverQueue();
  }

  // The final flush must fit in the process's 10 s stop budget whatever export_timeout says
  // (it may be as long as export_interval): a hanging Collector must not turn SIGTERM into exit 1.
  const finalFlushMs = Math.min(timeoutMs, MAX_FINAL_FLUSH_MS);

  function shutdown(): Promise<void> {
    shutdownPromise ??= (async () => {
      closed = true;
      rtcp.clear();
      try {
        // Flushes the last interval (with queued QoS in it), makes one last attempt at what is
        // still queued (ExportSender.shutdown), then closes the connection. The SDK races
        // all of it against timeoutMillis; what is still pending afterwards ends by its own gRPC
        // deadline (the same timeout) in the background.
        await provider.shutdown({ timeoutMillis: finalFlushMs });
      } catch (error) {
        logger.warn(
          { endpoint: target.display, error: describeError(error, []) },
          `OTLP metrics: final flush did not finish within ${finalFlushMs} ms; its points are dropped`,
        );
      }
      // Whatever the last attempt did not deliver is given up (counted): nothing retries after
      // shutdown.
      const left = stats.queued;
      sender.close();
      if (left > 0) {
        logger.warn(
          { endpoint: target.display, queuedPoints: left },
          "OTLP metrics: end-of-call QoS points still queued at shutdown are dropped",
        );
      }
    })();
    return shutdownPromise;
  }

  return {
    recordRtcp,
    recordQos,
    legEnded(channelId: string): void {
      rtcp.legEnded(channelId);
    },
    durableLoss(channelId: string, inbound: number, outbound: number): void {
      rtcp.addDurableLoss(channelId, inbound, outbound);
    },
    recordCompleted(o: CompletedLeg): void {
      if (!closed) ins.callsCompleted.add(1, callAttributes(o.instance, o.labels));
    },
    forceFlush,
    shutdown,
    stats,
    get cachedLegs(): number {
      return rtcp.size;
    },
  };
}

function gauge(instrument: Gauge, value: number | undefined, attributes: Attributes): void {
  if (value !== undefined && Number.isFinite(value)) instrument.record(value, attributes);
}
