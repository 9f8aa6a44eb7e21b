import type { Attributes, HrTime } from "@opentelemetry/api";
import type { DataPoint, Histogram } from "@opentelemetry/sdk-metrics";

/**
 * One explicit-bucket histogram series, cumulative: what the SDK's histogram aggregator keeps,
 * without its per-record attribute hashing (the caller holds the cell). Bucket i counts values
 * in (boundaries[i-1], boundaries[i]]; the last counts everything above the last boundary.
 */
export class HistogramCell {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;

  constructor(
    readonly attributes: Attributes,
    private readonly boundaries: readonly number[],
  ) {
    this.counts = new Array<number>(boundaries.length + 1).fill(0);
  }

  record(value: number): void {
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  get observations(): number {
    return this.count;
  }

  point(startTime: HrTime, endTime: HrTime): DataPoint<Histogram> {
    return {
      startTime,
      endTime,
      attributes: this.attributes,
      value: {
        buckets: { boundaries: [...this.boundaries], counts: [...this.counts] },
        sum: this.sum,
        count: this.count,
        min: this.min,
        max: this.max,
      },
    };
  }
}
