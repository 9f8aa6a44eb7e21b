import type { Attributes, HrTime } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type GaugeMetricData,
  type MetricData,
  type MetricDescriptor,
  type SumMetricData,
} from "@opentelemetry/sdk-metrics";

// One collection's per-leg points, stored by column instead of as DataPoint objects.
//
// Why (issue 5): 20,000 legs make ~100,000 points per collection, which the reader exports in
// ~25 requests one after the other. As SDK DataPoint objects they all stayed alive across those
// round trips, so each collection promoted ~10 MB of them into the old generation and set off
// mark-compacts: that was most of the agent's CPU at 4,000 reports/s. Here a collection is a
// few typed arrays (outside the JS heap) and one array of attribute-set references, however
// many points it holds; a metric is a range of one column.
//
// The metrics below still satisfy the SDK's MetricData interface: reading `dataPoints` builds the
// DataPoint objects (once per metric), so any generic consumer and the tests see ordinary
// points. The export path (metric-batches.ts, otlp-encode.ts, metric-exporter.ts) reads the columns
// through the helpers at the end of this file and never builds them.

/** The points of one collection: `fields` columns of values over `rows` series. */
export class SeriesColumns {
  /** Each row's attribute set (the series'); shared by the row's points in every column. */
  readonly attributes: Attributes[] = [];
  /** Column k's i-th point's value is values[k * rows + i], its row rowOf[k * rows + i]. */
  private readonly values: Float64Array;
  private readonly rowOf: Int32Array;
  private readonly counts: Int32Array;

  constructor(
    readonly rows: number,
    readonly fields: number,
    readonly startTime: HrTime,
    readonly endTime: HrTime,
  ) {
    this.values = new Float64Array(rows * fields);
    this.rowOf = new Int32Array(rows * fields);
    this.counts = new Int32Array(fields);
  }

  /** Adds a row (a series); its points are then added with `add`. Returns its index. */
  addRow(attributes: Attributes): number {
    if (this.attributes.length >= this.rows) throw new Error("SeriesColumns: more rows than sized");
    return this.attributes.push(attributes) - 1;
  }

  /** Appends the point `value` of row `row` to column `field`. */
  add(field: number, row: number, value: number): void {
    const i = this.counts[field]!;
    this.values[field * this.rows + i] = value;
    this.rowOf[field * this.rows + i] = row;
    this.counts[field] = i + 1;
  }

  /** Points in column `field`. */
  count(field: number): number {
    return this.counts[field]!;
  }

  /** The i-th point of column `field`: its value. */
  value(field: number, i: number): number {
    return this.values[field * this.rows + i]!;
  }

  /** The i-th point of column `field`: its row (index into `attributes`). */
  row(field: number, i: number): number {
    return this.rowOf[field * this.rows + i]!;
  }
}

/** Points [from, to) of one column, as a gauge or a sum. */
abstract class ColumnMetric {
  readonly aggregationTemporality = AggregationTemporality.DELTA;
  private built: DataPoint<number>[] | null = null;

  constructor(
    readonly descriptor: MetricDescriptor,
    readonly columns: SeriesColumns,
    readonly field: number,
    readonly from: number,
    readonly to: number,
  ) {}

  /** The points as SDK DataPoints, built on first use (generic consumers, tests). */
  get dataPoints(): DataPoint<number>[] {
    if (this.built === null) {
      const { columns, field } = this;
      const { startTime, endTime } = columns;
      const points: DataPoint<number>[] = [];
      for (let i = this.from; i < this.to; i++) {
        const attributes = columns.attributes[columns.row(field, i)]!;
        points.push({ startTime, endTime, attributes, value: columns.value(field, i) });
      }
      this.built = points;
    }
    return this.built;
  }

  get size(): number {
    return this.to - this.from;
  }

  /** Points [from, to) of this metric's range, as a metric of the same kind. */
  abstract slice(from: number, to: number): ColumnGauge | ColumnSum;
}

export class ColumnGauge extends ColumnMetric implements GaugeMetricData {
  readonly dataPointType = DataPointType.GAUGE;

  slice(from: number, to: number): ColumnGauge {
    return new ColumnGauge(
      this.descriptor,
      this.columns,
      this.field,
      this.from + from,
      this.from + to,
    );
  }
}

export class ColumnSum extends ColumnMetric implements SumMetricData {
  readonly dataPointType = DataPointType.SUM;

  constructor(
    descriptor: MetricDescriptor,
    columns: SeriesColumns,
    field: number,
    from: number,
    to: number,
    readonly isMonotonic: boolean,
  ) {
    super(descriptor, columns, field, from, to);
  }

  slice(from: number, to: number): ColumnSum {
    return new ColumnSum(
      this.descriptor,
      this.columns,
      this.field,
      this.from + from,
      this.from + to,
      this.isMonotonic,
    );
  }
}

/** A metric whose points are a column range. */
export type ColumnMetricData = ColumnGauge | ColumnSum;

export function isColumnMetric(metric: MetricData): metric is ColumnMetricData {
  return metric instanceof ColumnMetric;
}

/** Points in `metric`, without building them. */
export function pointCount(metric: MetricData): number {
  return isColumnMetric(metric) ? metric.size : metric.dataPoints.length;
}

/**
 * Points [from, to) of `metric` as a metric of the same kind: a view for a column metric, a
 * copy of the array slice otherwise (the SDK's objects are left as they were).
 */
export function slicePoints(metric: MetricData, from: number, to: number): MetricData {
  if (isColumnMetric(metric)) return metric.slice(from, to);
  switch (metric.dataPointType) {
    case DataPointType.GAUGE:
      return { ...metric, dataPoints: metric.dataPoints.slice(from, to) };
    case DataPointType.SUM:
      return { ...metric, dataPoints: metric.dataPoints.slice(from, to) };
    case DataPointType.HISTOGRAM:
      return { ...metric, dataPoints: metric.dataPoints.slice(from, to) };
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      return { ...metric, dataPoints: metric.dataPoints.slice(from, to) };
  }
}

/** Whether any point of `metric` has an attribute set for which `test` holds. */
export function someAttributes(
  metric: MetricData,
  test: (attributes: Attributes) => boolean,
): boolean {
  if (isColumnMetric(metric)) {
    const { columns, field } = metric;
    for (let i = metric.from; i < metric.to; i++) {
      if (test(columns.attributes[columns.row(field, i)]!)) return true;
    }
    return false;
  }
  for (const point of metric.dataPoints) if (test(point.attributes)) return true;
  return false;
}
