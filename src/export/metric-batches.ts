import type {
  DataPoint,
  GaugeMetricData,
  MetricData,
  ResourceMetrics,
  ScopeMetrics,
  SumMetricData,
} from "@opentelemetry/sdk-metrics";
import { AggregationTemporality, DataPointType } from "@opentelemetry/sdk-metrics";
import { pointCount, slicePoints } from "./column-points.js";
import type { ExportSignal } from "./sender.js";

// What a metrics request is to the export sender (sender.ts): its points are the items; a
// collection is cut into requests of at most MAX_POINTS_PER_REQUEST points, slicing the per-leg
// columns as views (column-points.ts) where the SDK's own splitter would build every point as an
// object; and of a request that was not delivered, only the end-of-call QoS points are worth a
// retry. A leg's QoS is recorded once, at its end, so losing it loses the call's quality for
// good; its RTCP gauges are re-reported every few seconds while the call lasts, so those are only
// counted as dropped; the cumulative aggregates lose nothing (the next export carries the same
// totals and more). A queued QoS point is kept as the SDK made it (attributes, value, start and
// end time): a DELTA gauge, so re-sending it later with its original timestamps is exactly the
// point that would have arrived.

export const QOS_PREFIX = "freeswitch.qos.";
export const RTCP_PREFIX = "freeswitch.rtcp.";

type NumberMetric = GaugeMetricData | SumMetricData;
type Scope = ScopeMetrics["scope"];
type Resource = ResourceMetrics["resource"];

/** One queued QoS point with what is needed to rebuild its metric in a later request. */
export interface QueuedPoint {
  readonly resource: Resource;
  readonly scope: Scope;
  /** The metric it came in, without its points: descriptor and type fields only. */
  readonly metric: NumberMetric;
  readonly point: DataPoint<number>;
}

function isNumberMetric(metric: MetricData): metric is NumberMetric {
  return metric.dataPointType === DataPointType.GAUGE || metric.dataPointType === DataPointType.SUM;
}

/** Data points in a request. */
export function requestPoints(metrics: ResourceMetrics): number {
  let n = 0;
  for (const scope of metrics.scopeMetrics) {
    for (const metric of scope.metrics) n += pointCount(metric);
  }
  return n;
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

/**
 * What of an undelivered request is worth a retry: its QoS points (a copy of each metric without
 * its points goes with them: an entry holding the SDK's object would keep that collection's whole
 * point array alive after the queue's bound dropped most of it), and how many RTCP points it
 * loses. Cumulative points are neither: the next export carries their totals.
 */
export function retainQos(metrics: ResourceMetrics): { items: QueuedPoint[]; lost: number } {
  const items: QueuedPoint[] = [];
  let lost = 0;
  for (const scope of metrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.aggregationTemporality === AggregationTemporality.CUMULATIVE) continue;
      const name = metric.descriptor.name;
      if (name.startsWith(RTCP_PREFIX)) {
        lost += pointCount(metric);
      } else if (name.startsWith(QOS_PREFIX)) {
        if (!isNumberMetric(metric)) {
          lost += pointCount(metric);
          continue;
        }
        const template: NumberMetric = { ...metric, dataPoints: [] };
        for (const point of metric.dataPoints) {
          items.push({ resource: metrics.resource, scope: scope.scope, metric: template, point });
        }
      }
    }
  }
  return { items, lost };
}

function sameScope(a: Scope, b: Scope): boolean {
  return a.name === b.name && a.version === b.version && a.schemaUrl === b.schemaUrl;
}

/**
 * `base` with the queued points appended: to the same metric of the same scope when it has it
 * (OTLP allows several points of one series with different timestamps), else as a new metric or
 * scope. New arrays throughout: the SDK's objects are left as they were. `base` null: a request
 * of the queued points alone (they carry their resource).
 */
export function mergeQueued(
  base: ResourceMetrics | null,
  queued: readonly QueuedPoint[],
): ResourceMetrics {
  const resource = base?.resource ?? queued[0]?.resource;
  if (resource === undefined) throw new Error("a request needs a resource");
  // Grouped first, so that each metric is copied once whatever the number of points.
  const groups = new Map<
    string,
    { scope: Scope; metric: NumberMetric; points: DataPoint<number>[] }
  >();
  for (const entry of queued) {
    const s = entry.scope;
    const key = `${s.name}\u0000${s.version ?? ""}\u0000${s.schemaUrl ?? ""}\u0000${entry.metric.descriptor.name}`;
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, { scope: s, metric: entry.metric, points: [entry.point] });
    } else {
      group.points.push(entry.point);
    }
  }
  const scopes: ScopeMetrics[] = (base?.scopeMetrics ?? []).map((s) => ({
    scope: s.scope,
    metrics: [...s.metrics],
  }));
  for (const { scope: entryScope, metric, points } of groups.values()) {
    let scope = scopes.find((s) => sameScope(s.scope, entryScope));
    if (scope === undefined) {
      scope = { scope: entryScope, metrics: [] };
      scopes.push(scope);
    }
    const name = metric.descriptor.name;
    const index = scope.metrics.findIndex((m) => m.descriptor.name === name);
    const found = index >= 0 ? scope.metrics[index] : undefined;
    if (
      found !== undefined &&
      isNumberMetric(found) &&
      found.dataPointType === metric.dataPointType
    ) {
      scope.metrics[index] = { ...found, dataPoints: [...found.dataPoints, ...points] };
    } else {
      scope.metrics.push({ ...metric, dataPoints: points });
    }
  }
  return { resource, scopeMetrics: scopes };
}

/** The metrics signal for the export sender. */
export const metricsSignal: ExportSignal<ResourceMetrics, QueuedPoint> = {
  name: "metrics",
  size: requestPoints,
  split: splitRequests,
  retain: retainQos,
  merge: mergeQueued,
  words: {
    failed:
      "OTLP metrics export failed; its RTCP points are dropped, its end-of-call QoS is queued for retry",
    failedNoQueue: "OTLP metrics export failed; the points of that interval are dropped (no retry)",
    refused:
      "OTLP metrics export refused, not retryable: its points are dropped (fix what the error says)",
    what: "OTLP metrics export",
  },
};
