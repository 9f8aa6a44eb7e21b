import type {
  AggregationTemporality,
  InstrumentType,
  MetricData,
  PushMetricExporter,
  ResourceMetrics,
  ScopeMetrics,
} from "@opentelemetry/sdk-metrics";
import { pointCount, slicePoints } from "./column-points.js";
import { type ExportResult, FAILED, SUCCESS, wrappedTemporality } from "./export-result.js";

// One collection → requests of at most MAX_POINTS_PER_REQUEST points, sent one after the other.
//
// The SDK's reader can split a collection too (maxExportBatchSize), but its splitter slices
// `dataPoints` arrays, which would build every point of the per-leg columns (column-points.ts)
// as an object. This one slices columns as views. It also accounts for what it does not send:
// requests still unsent when the export's time is up are handed to the retry layer as failed
// (their RTCP points counted as dropped, their QoS queued), where the SDK's reader stopped
// without a word and the points vanished from every counter.

/** The exporter each request goes to (the retry layer). */
export interface BatchTarget extends PushMetricExporter {
  /** A request never sent, to be accounted as a failed export's points are. */
  unsent(metrics: ResourceMetrics): void;
}

/**
 * `metrics` cut into requests of at most `maxPoints` points, in order. A metric's points may be
 * spread over consecutive requests; a metric without points goes with the request it falls in.
 */
export function splitRequests(metrics: ResourceMetrics, maxPoints: number): ResourceMetrics[] {
  if (!Number.isInteger(maxPoints) || maxPoints <= 0) {
    throw new Error(`points per request must be a positive integer, not ${maxPoints}`);
  }
  const requests: ResourceMetrics[] = [];
  let scopes: ScopeMetrics[] = [];
  let points = 0;
  const flush = (): void => {
    if (scopes.length > 0) requests.push({ resource: metrics.resource, scopeMetrics: scopes });
    scopes = [];
    points = 0;
  };
  for (const scope of metrics.scopeMetrics) {
    let current: MetricData[] | null = null;
    const add = (metric: MetricData): void => {
      if (current === null) {
        current = [];
        scopes.push({ scope: scope.scope, metrics: current });
      }
      current.push(metric);
    };
    for (const metric of scope.metrics) {
      const n = pointCount(metric);
      if (n === 0) {
        add(metric);
        continue;
      }
      let offset = 0;
      while (offset < n) {
        const take = Math.min(maxPoints - points, n - offset);
        add(offset === 0 && take === n ? metric : slicePoints(metric, offset, offset + take));
        offset += take;
        points += take;
        if (points === maxPoints) {
          flush();
          current = null;
        }
      }
    }
  }
  flush();
  return requests;
}

export interface BatchingExporterOptions {
  readonly maxPointsPerRequest: number;
  /**
   * Time for all the requests of one export (the reader's export timeout): a request not yet
   * started when it is up is not sent, but accounted (BatchTarget.unsent).
   */
  readonly timeoutMs: number;
  readonly now?: () => number;
}

export class BatchingExporter implements PushMetricExporter {
  private readonly now: () => number;

  constructor(
    private readonly inner: BatchTarget,
    private readonly options: BatchingExporterOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Sends the requests one after the other; the result is the first failure, else success. */
  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    const requests = splitRequests(metrics, this.options.maxPointsPerRequest);
    const deadline = this.now() + this.options.timeoutMs;
    let failure: ExportResult | null = null;
    let next = 0;
    const sendNext = (): void => {
      if (next < requests.length && this.now() >= deadline) {
        for (; next < requests.length; next++) this.inner.unsent(requests[next]!);
        failure ??= {
          code: FAILED,
          error: new Error("export timed out before all its requests were sent"),
        };
      }
      const request = requests[next++];
      if (request === undefined) {
        resultCallback(failure ?? { code: SUCCESS });
        return;
      }
      let settled = false;
      const settle = (result: ExportResult): void => {
        if (settled) return;
        settled = true;
        if (result.code !== SUCCESS) failure ??= result;
        sendNext();
      };
      try {
        this.inner.export(request, settle);
      } catch (error) {
        settle({ code: FAILED, error: error instanceof Error ? error : new Error(String(error)) });
      }
    };
    sendNext();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return wrappedTemporality(this.inner, instrumentType);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
