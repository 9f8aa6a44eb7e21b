import { type Attributes, type HrTime, ValueType } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type MetricData,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";
import type { LegLabels, RtcpObservation } from "../quality/types.js";
import { ColumnGauge, ColumnSum, SeriesColumns } from "./column-points.js";
import { HistogramCell } from "./histogram.js";

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
  rtt: {
    name: "freeswitch.rtcp.rtt",
    unit: "ms",
    valueType: ValueType.DOUBLE,
    description:
      "Round-trip time from the latest RTCP report the leg received (LSR/DLSR, else FreeSWITCH's Rtt-Avg), in milliseconds.",
  },
  mos: {
    name: "freeswitch.rtcp.mos",
    unit: "1",
    valueType: ValueType.DOUBLE,
    description:
      "E-model MOS estimate (simplified ITU-T G.107) from the latest RTCP report's jitter, loss and RTT.",
  },
  reportJitter: {
    name: "freeswitch.rtcp.report.jitter",
    unit: "ms",
    valueType: ValueType.DOUBLE,
    description: "Jitter of every RTCP report, in milliseconds, without per-leg labels.",
  },
  reportFractionLost: {
    name: "freeswitch.rtcp.report.fraction_lost",
    unit: "1",
    valueType: ValueType.DOUBLE,
    description: "Fraction lost of every RTCP report (0 to 1), without per-leg labels.",
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

/**
 * Bucket boundaries of the report histograms, chosen for voice: jitter is fine under 20 ms and
 * bad over 50 ms (a jitter buffer rarely hides more); loss is fine under 1 %, audible at 3-5 %.
 * The 0 bucket of fraction lost holds the loss-free reports.
 */
export const REPORT_JITTER_BUCKETS_MS: readonly number[] = [
  1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300,
];
export const REPORT_FRACTION_LOST_BUCKETS: readonly number[] = [
  0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5,
];

/** One leg and direction: its attribute set and what it reported in the current interval. */
interface Series {
  readonly attributes: Attributes;
  /** Whether the series is in this interval's list (it reported since the last collection). */
  listed: boolean;
  jitterMs: number;
  fractionLost: number;
  packetsLost: number;
  rttMs: number;
  mos: number;
  hasJitter: boolean;
  hasFraction: boolean;
  hasLost: boolean;
  hasRtt: boolean;
  hasMos: boolean;
}

/** The report histograms of one aggregate label set (no per-leg labels). */
interface Aggregate {
  readonly jitter: HistogramCell;
  readonly fractionLost: HistogramCell;
}

interface LegSeries {
  labels: LegLabels;
  instance: string;
  inbound: Series | null;
  outbound: Series | null;
  aggregateIn: Aggregate | null;
  aggregateOut: Aggregate | null;
}

function blankSeries(attributes: Attributes): Series {
  return {
    attributes,
    listed: false,
    jitterMs: 0,
    fractionLost: 0,
    packetsLost: 0,
    rttMs: 0,
    mos: 0,
    hasJitter: false,
    hasFraction: false,
    hasLost: false,
    hasRtt: false,
    hasMos: false,
  };
}

function newAggregate(attributes: Attributes): Aggregate {
  return {
    jitter: new HistogramCell(attributes, REPORT_JITTER_BUCKETS_MS),
    fractionLost: new HistogramCell(attributes, REPORT_FRACTION_LOST_BUCKETS),
  };
}

function newSeries(instance: string, labels: LegLabels, direction: string): Series {
  // Not frozen, on purpose: the OTLP encoder keeps the bytes of frozen sets between exports, and
  // at two sets per active leg that cache was a quarter of the per-leg heap budget (issue 5).
  // Per-leg points reach the encoder as columns, whose row sets are encoded once per collection
  // (ColumnRowSets) whatever their frozenness. Nothing changes the object after this.
  return blankSeries({
    fs_instance: instance,
    channel_id: labels.channelId,
    correlation_id: labels.correlationId,
    domain_name: labels.domainName,
    direction,
  });
}

/** Whether the per-leg series built for `entry` still carry these labels. */
function sameSeriesLabels(entry: LegSeries, instance: string, labels: LegLabels): boolean {
  const old = entry.labels;
  return (
    entry.instance === instance &&
    old.correlationId === labels.correlationId &&
    old.domainName === labels.domainName
  );
}

/** Whether the aggregates `entry` points at still match these labels. */
function sameAggregateLabels(entry: LegSeries, instance: string, labels: LegLabels): boolean {
  const old = entry.labels;
  return (
    entry.instance === instance &&
    old.domainName === labels.domainName &&
    old.codecName === labels.codecName &&
    old.callDirection === labels.callDirection
  );
}

/** The per-leg columns of a collection (column-points.ts), in export order. */
const JITTER = 0;
const FRACTION_LOST = 1;
const PACKETS_LOST = 2;
const RTT = 3;
const MOS = 4;
const FIELDS = 5;

function gauge(
  metrics: MetricData[],
  descriptor: MetricData["descriptor"],
  columns: SeriesColumns,
  field: number,
): void {
  const count = columns.count(field);
  if (count > 0) metrics.push(new ColumnGauge(descriptor, columns, field, 0, count));
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
  /** metrics.per_leg: false exports only the aggregates (no channel_id/correlation_id series). */
  readonly perLeg: boolean;
  /** Aggregate label sets kept (they are cumulative); past it, one overflow set takes the rest. */
  readonly maxAggregates: number;
  /** Wall clock in ms, for the points' start and end times. */
  readonly now?: () => number;
  /**
   * HA: packets_lost increments are exported once the leg state holding their baseline is in
   * Redis (addDurableLoss), not when the report comes. A replica that loses the instance before
   * its write lands then never exports what the next owner, reading the older baseline, counts.
   */
  readonly lossWhenDurable?: boolean;
}

const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ "otel.metric.overflow": true });

export class RtcpSeriesProducer implements MetricProducer {
  /** Channel id → the leg's series; insertion-ordered, so the first key is the oldest. */
  private readonly legs = new Map<string, LegSeries>();
  /** Series that reported since the last collection, in first-report order. */
  private reported: Series[] = [];
  private intervalStartMs: number;
  private readonly now: () => number;
  private readonly overflow = blankSeries(OVERFLOW_ATTRIBUTES);
  /** Aggregate key → its histograms; kept for the process's life (cumulative temporality). */
  private readonly aggregates = new Map<string, Aggregate>();
  private aggregateOverflow: Aggregate | null = null;
  private readonly startMs: number;

  constructor(private readonly options: RtcpSeriesOptions) {
    this.now = options.now ?? Date.now;
    this.intervalStartMs = this.now();
    this.startMs = this.intervalStartMs;
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
    const inbound = o.direction === "inbound";
    let aggregate = inbound ? entry.aggregateIn : entry.aggregateOut;
    if (aggregate === null) {
      aggregate = this.aggregateFor(o.instance, entry.labels, o.direction);
      if (inbound) entry.aggregateIn = aggregate;
      else entry.aggregateOut = aggregate;
    }
    if (Number.isFinite(o.jitterMs)) aggregate.jitter.record(o.jitterMs);
    if (Number.isFinite(o.fractionLost)) aggregate.fractionLost.record(o.fractionLost);
    if (this.options.perLeg) this.recordSeries(entry, o, inbound);
  }

  /**
   * HA: loss whose baseline reached Redis (the Redis store's durable-loss hook), per direction.
   * A leg whose series are forgotten cannot carry it; the hook comes before legEnded().
   */
  addDurableLoss(channelId: string, inbound: number, outbound: number): void {
    if (!this.options.perLeg) return;
    const entry = this.legs.get(channelId);
    if (entry === undefined) return;
    for (const [isInbound, amount] of [
      [true, inbound],
      [false, outbound],
    ] as const) {
      if (!(amount > 0)) continue;
      const series = this.seriesOf(entry, isInbound);
      series.packetsLost += amount;
      series.hasLost = true;
      this.list(series);
    }
  }

  /** The leg's series of one direction, or the overflow series past the cardinality limit. */
  private seriesOf(entry: LegSeries, inbound: boolean): Series {
    let series: Series;
    if (inbound) {
      entry.inbound ??= newSeries(entry.instance, entry.labels, "inbound");
      series = entry.inbound;
    } else {
      entry.outbound ??= newSeries(entry.instance, entry.labels, "outbound");
      series = entry.outbound;
    }
    if (!series.listed && this.reported.length >= this.options.cardinalityLimit - 1) {
      return this.overflow;
    }
    return series;
  }

  private list(series: Series): void {
    if (series.listed) return;
    series.listed = true;
    this.reported.push(series);
  }

  private recordSeries(entry: LegSeries, o: RtcpObservation, inbound: boolean): void {
    const series = this.seriesOf(entry, inbound);
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
      if (this.options.lossWhenDurable !== true) series.packetsLost += o.packetsLost;
      series.hasLost = true;
      touched = true;
    }
    if (o.rttMs !== undefined && Number.isFinite(o.rttMs)) {
      series.rttMs = o.rttMs;
      series.hasRtt = true;
      touched = true;
    }
    if (Number.isFinite(o.mos)) {
      series.mos = o.mos;
      series.hasMos = true;
      touched = true;
    }
    if (touched) this.list(series);
  }

  private aggregateFor(instance: string, labels: LegLabels, direction: string): Aggregate {
    const key = `${instance}\n${labels.domainName}\n${direction}\n${labels.codecName}\n${labels.callDirection}`;
    let aggregate = this.aggregates.get(key);
    if (aggregate !== undefined) return aggregate;
    if (this.aggregates.size >= this.options.maxAggregates) {
      this.aggregateOverflow ??= newAggregate(OVERFLOW_ATTRIBUTES);
      return this.aggregateOverflow;
    }
    aggregate = newAggregate(
      Object.freeze({
        fs_instance: instance,
        domain_name: labels.domainName,
        direction,
        codec_name: labels.codecName,
        call_direction: labels.callDirection,
      }),
    );
    this.aggregates.set(key, aggregate);
    return aggregate;
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
      if (entry.labels !== labels) {
        // Labels may change mid-call (the correlation id or the domain becomes known, a
        // re-INVITE changes the codec). Points already reported under the old series are still
        // exported (they stay in `reported`); new ones go to new series.
        if (!sameSeriesLabels(entry, o.instance, labels)) {
          entry.inbound = null;
          entry.outbound = null;
        }
        if (!sameAggregateLabels(entry, o.instance, labels)) {
          entry.aggregateIn = null;
          entry.aggregateOut = null;
        }
        // Adopt the newer labels object, so the next call takes the identity fast path.
        entry.labels = labels;
        entry.instance = o.instance;
      }
      return entry;
    }
    if (this.legs.size >= this.options.maxLegs) {
      const oldest = this.legs.keys().next();
      if (oldest.done !== true) this.legs.delete(oldest.value);
    }
    entry = {
      labels,
      instance: o.instance,
      inbound: null,
      outbound: null,
      aggregateIn: null,
      aggregateOut: null,
    };
    this.legs.set(id, entry);
    return entry;
  }

  /** The report histograms: cumulative, so every label set is exported at every collection. */
  private histograms(metrics: MetricData[], endTime: HrTime): void {
    const cells = [...this.aggregates.values()];
    if (this.aggregateOverflow !== null) cells.push(this.aggregateOverflow);
    if (cells.length === 0) return;
    const startTime = hrTime(this.startMs);
    const cumulative = AggregationTemporality.CUMULATIVE;
    metrics.push(
      {
        descriptor: RTCP_METRICS.reportJitter,
        aggregationTemporality: cumulative,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: cells
          .filter((c) => c.jitter.observations > 0)
          .map((c) => c.jitter.point(startTime, endTime)),
      },
      {
        descriptor: RTCP_METRICS.reportFractionLost,
        aggregationTemporality: cumulative,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: cells
          .filter((c) => c.fractionLost.observations > 0)
          .map((c) => c.fractionLost.point(startTime, endTime)),
      },
    );
  }

  /**
   * The points of every series that reported since the last call, which it then resets: stored
   * by column (column-points.ts), one column per per-leg metric, no object per point.
   */
  async collect(): Promise<CollectionResult> {
    const series = this.reported;
    this.reported = [];
    const endMs = this.now();
    const startTime = hrTime(this.intervalStartMs);
    const endTime = hrTime(endMs);
    this.intervalStartMs = endMs;

    const metrics: MetricData[] = [];
    if (series.length > 0) {
      const columns = new SeriesColumns(series.length, FIELDS, startTime, endTime);
      for (const s of series) {
        const row = columns.addRow(s.attributes);
        if (s.hasJitter) columns.add(JITTER, row, s.jitterMs);
        if (s.hasFraction) columns.add(FRACTION_LOST, row, s.fractionLost);
        if (s.hasLost) columns.add(PACKETS_LOST, row, s.packetsLost);
        if (s.hasRtt) columns.add(RTT, row, s.rttMs);
        if (s.hasMos) columns.add(MOS, row, s.mos);
        s.listed = false;
        s.hasJitter = false;
        s.hasFraction = false;
        s.hasLost = false;
        s.hasRtt = false;
        s.hasMos = false;
        s.packetsLost = 0;
      }
      gauge(metrics, RTCP_METRICS.jitter, columns, JITTER);
      gauge(metrics, RTCP_METRICS.fractionLost, columns, FRACTION_LOST);
      const lost = columns.count(PACKETS_LOST);
      if (lost > 0) {
        metrics.push(new ColumnSum(RTCP_METRICS.packetsLost, columns, PACKETS_LOST, 0, lost, true));
      }
      gauge(metrics, RTCP_METRICS.rtt, columns, RTT);
      gauge(metrics, RTCP_METRICS.mos, columns, MOS);
    }
    this.histograms(metrics, endTime);
    return {
      resourceMetrics: {
        resource: this.options.resource,
        scopeMetrics: metrics.length === 0 ? [] : [{ scope: this.options.scope, metrics }],
      },
      errors: [],
    };
  }
}
