import { type Attributes, type HrTime, ValueType } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  type CollectionResult,
  type DataPoint,
  DataPointType,
  type MetricData,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";
import type { LegLabels, RtcpObservation } from "../quality/types.js";

// The freeswitch.rtcp.* points, aggregated by us and handed to the SDK's reader as a
// MetricProducer (the SDK's extension point for metrics it does not record itself).
//
// Why not SDK instruments: RTCP is the hot path (thousands of reports per second) and every
// series is per leg. A synchronous instrument hashes the attribute set (JSON of the sorted keys)
// and looks it up in a map on every record, three times per report: measured, that was 40 % of
// the agent's CPU. Here a report updates three numbers on the leg's own series object; the
// attribute set is built once per leg and direction; collection walks only the series that
// reported in the interval. The exported data is what the instruments produced: the last jitter
// and fraction lost of the interval as gauges, the packets lost of the interval as a monotonic
// DELTA sum, each series exported in the interval it reported in and then forgotten.

export const RTCP_METRICS = {
  jitter: {
    name: "freeswitch.rtcp.jitter",
    unit: "ms",
    valueType: ValueType.DOUBLE,
    description: "Interarrival jitter from the latest RTCP report of the leg, in milliseconds.",
  },
  fractionLost: {
    name: "freeswitch.rtcp.fraction_lost",
    unit: "1",
    valueType: ValueType.DOUBLE,
    description: "Fraction of packets lost since the previous RTCP report (0 to 1).",
  },
  // A sum, not a gauge: the value is an increment ("lost since the previous report"), and two
  // reports of one leg can fall in one export interval. A last-value gauge would export only
  // the second increment and lose the first; a sum adds them, and a backend can rate() it.
  packetsLost: {
    name: "freeswitch.rtcp.packets_lost",
    unit: "{packet}",
    valueType: ValueType.INT,
    description: "Packets lost since the previous RTCP report of the same leg and direction.",
  },
} as const;

/** One leg and direction: its attribute set and what it reported in the current interval. */
interface Series {
  readonly attributes: Attributes;
  /** Whether the series is in this interval's list (it reported since the last collection). */
  listed: boolean;
  jitterMs: number;
  fractionLost: number;
  packetsLost: number;
  hasJitter: boolean;
  hasFraction: boolean;
  hasLost: boolean;
}

interface LegSeries {
  labels: LegLabels;
  instance: string;
  inbound: Series | null;
  outbound: Series | null;
}

function blankSeries(attributes: Attributes): Series {
  return {
    attributes,
    listed: false,
    jitterMs: 0,
    fractionLost: 0,
    packetsLost: 0,
    hasJitter: false,
    hasFraction: false,
    hasLost: false,
  };
}

function newSeries(instance: string, labels: LegLabels, direction: string): Series {
  // Frozen: the exporter keeps the object in the points it encodes.
  return blankSeries(
    Object.freeze({
      fs_instance: instance,
      channel_id: labels.channelId,
      correlation_id: labels.correlationId,
      domain_name: labels.domainName,
      direction,
    }),
  );
}

/** Whether the series built for `entry` still carry these labels. */
function sameLabels(entry: LegSeries, instance: string, labels: LegLabels): boolean {
  if (entry.labels === labels && entry.instance === instance) return true;
  const old = entry.labels;
  return (
    entry.instance === instance &&
    old.correlationId === labels.correlationId &&
    old.domainName === labels.domainName
  );
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

export interface RtcpSeriesOptions {
  /** Legs whose series are kept between reports; past it the oldest is dropped (rebuilt on use). */
  readonly maxLegs: number;
  readonly scope: { readonly name: string; readonly version: string };
  /** The SDK's resource; the reader keeps its own, but a producer must name one. */
  readonly resource: Resource;
  /**
   * Series one interval may export, the SDK instruments' cardinality limit: past it, further
   * legs' reports are folded into one `otel.metric.overflow` series, as the SDK does, so a flood
   * of legs within one interval cannot grow memory without bound.
   */
  readonly cardinalityLimit: number;
  /** Wall clock in ms, for the points' start and end times. */
  readonly now?: () => number;
}

export class RtcpSeriesProducer implements MetricProducer {
  /** Channel id → the leg's series; insertion-ordered, so the first key is the oldest. */
  private readonly legs = new Map<string, LegSeries>();
  /** Series that reported since the last collection, in first-report order. */
  private reported: Series[] = [];
  private intervalStartMs: number;
  private readonly now: () => number;
  private readonly overflow = blankSeries(Object.freeze({ "otel.metric.overflow": true }));

  constructor(private readonly options: RtcpSeriesOptions) {
    this.now = options.now ?? Date.now;
    this.intervalStartMs = this.now();
  }

  /** Legs whose series are kept: bounded by maxLegs, 0 once every leg ended. */
  get size(): number {
    return this.legs.size;
  }

  /** Series waiting for the next collection. */
  get pending(): number {
    return this.reported.length;
  }

  /** Hot path: one call per RTCP report. */
  record(o: RtcpObservation): void {
    const entry = this.legEntry(o);
    let series: Series;
    if (o.direction === "inbound") {
      entry.inbound ??= newSeries(o.instance, entry.labels, "inbound");
      series = entry.inbound;
    } else {
      entry.outbound ??= newSeries(o.instance, entry.labels, "outbound");
      series = entry.outbound;
    }
    if (!series.listed && this.reported.length >= this.options.cardinalityLimit - 1) {
      series = this.overflow;
    }
    // Non-finite values are skipped: NaN would be exported as is.
    let touched = false;
    if (Number.isFinite(o.jitterMs)) {
      series.jitterMs = o.jitterMs;
      series.hasJitter = true;
      touched = true;
    }
    if (Number.isFinite(o.fractionLost)) {
      series.fractionLost = o.fractionLost;
      series.hasFraction = true;
      touched = true;
    }
    if (Number.isFinite(o.packetsLost) && o.packetsLost >= 0) {
      series.packetsLost += o.packetsLost;
      series.hasLost = true;
      touched = true;
    }
    if (touched && !series.listed) {
      series.listed = true;
      this.reported.push(series);
    }
  }

  /** Forgets the leg's series; what it reported in this interval is still exported. */
  legEnded(channelId: string): void {
    this.legs.delete(channelId);
  }

  clear(): void {
    this.legs.clear();
  }

  private legEntry(o: RtcpObservation): LegSeries {
    const labels = o.labels;
    const id = labels.channelId;
    let entry = this.legs.get(id);
    if (entry !== undefined) {
      if (sameLabels(entry, o.instance, labels)) {
        // Adopt the newer labels object, so the next call takes the identity fast path.
        entry.labels = labels;
        return entry;
      }
      // The labels changed (e.g. the leg's correlation id became known): new series. Points
      // already reported under the old ones are still exported (they stay in `reported`).
      entry.labels = labels;
      entry.instance = o.instance;
      entry.inbound = null;
      entry.outbound = null;
      return entry;
    }
    if (this.legs.size >= this.options.maxLegs) {
      const oldest = this.legs.keys().next();
      if (oldest.done !== true) this.legs.delete(oldest.value);
    }
    entry = { labels, instance: o.instance, inbound: null, outbound: null };
    this.legs.set(id, entry);
    return entry;
  }

  /** The points of every series that reported since the last call, which it then resets. */
  async collect(): Promise<CollectionResult> {
    const series = this.reported;
    this.reported = [];
    const endMs = this.now();
    const startTime = hrTime(this.intervalStartMs);
    const endTime = hrTime(endMs);
    this.intervalStartMs = endMs;

    const jitter: DataPoint<number>[] = [];
    const fraction: DataPoint<number>[] = [];
    const lost: DataPoint<number>[] = [];
    for (const s of series) {
      const { attributes } = s;
      if (s.hasJitter) jitter.push({ startTime, endTime, attributes, value: s.jitterMs });
      if (s.hasFraction) fraction.push({ startTime, endTime, attributes, value: s.fractionLost });
      if (s.hasLost) lost.push({ startTime, endTime, attributes, value: s.packetsLost });
      s.listed = false;
      s.hasJitter = false;
      s.hasFraction = false;
      s.hasLost = false;
      s.packetsLost = 0;
    }
    const metrics: MetricData[] = [];
    const delta = AggregationTemporality.DELTA;
    if (jitter.length > 0) {
      metrics.push({
        descriptor: RTCP_METRICS.jitter,
        aggregationTemporality: delta,
        dataPointType: DataPointType.GAUGE,
        dataPoints: jitter,
      });
    }
    if (fraction.length > 0) {
      metrics.push({
        descriptor: RTCP_METRICS.fractionLost,
        aggregationTemporality: delta,
        dataPointType: DataPointType.GAUGE,
        dataPoints: fraction,
      });
    }
    if (lost.length > 0) {
      metrics.push({
        descriptor: RTCP_METRICS.packetsLost,
        aggregationTemporality: delta,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: lost,
      });
    }
    return {
      resourceMetrics: {
        resource: this.options.resource,
        scopeMetrics: metrics.length === 0 ? [] : [{ scope: this.options.scope, metrics }],
      },
      errors: [],
    };
  }
}
