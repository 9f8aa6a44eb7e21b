import type {
  DataPoint,
  GaugeMetricData,
  InstrumentType,
  MetricData,
  PushMetricExporter,
  ResourceMetrics,
  ScopeMetrics,
  SumMetricData,
} from "@opentelemetry/sdk-metrics";
import { AggregationTemporality, DataPointType } from "@opentelemetry/sdk-metrics";
import { type BackoffPolicy, backoffDelay } from "../util/backoff.js";
import { type Clock, systemClock } from "../util/clock.js";
import type { BatchTarget } from "./batches.js";
import { pointCount } from "./column-points.js";
import { failureOf } from "./export-failure.js";
import { type ExportResult, FAILED, SUCCESS, wrappedTemporality } from "./export-result.js";

// The bounded retry queue for end-of-call QoS (SPEC §4, issue 4 item 6). The SDK's OTLP exporter
// does not retry: a failed export loses its points. A leg's QoS is recorded once, at its end, so
// losing it loses the call's quality for good; RTCP gauges are re-reported every few seconds
// while the call lasts, so those are only counted. The queue holds QoS data points as the SDK
// made them (attributes, value, start and end time): DELTA gauges, so re-sending one later with
// its original timestamps is exactly the point that would have arrived.

export const QOS_PREFIX = "freeswitch.qos.";
export const RTCP_PREFIX = "freeswitch.rtcp.";

/** First retry-timer delay after a failure, and its ceiling under exponential backoff. */
export const RETRY_INITIAL_MS = 1000;
export const RETRY_MAX_MS = 30_000;

export interface RetryStats {
  /** QoS points delivered by an export after an earlier one carrying them failed. */
  qosPointsRetried: number;
  /**
   * QoS points given up: queue overflow (the oldest go first), queue disabled, shutdown, or a
   * request the server refused for good (not retryable).
   */
  qosPointsDropped: number;
  /** RTCP points of failed exports: not kept, the next report of the leg replaces them. */
  rtcpPointsDropped: number;
  /** QoS points waiting for delivery now, including those in an export not yet answered. */
  retryQueued: number;
}

type NumberMetric = GaugeMetricData | SumMetricData;
type Scope = ScopeMetrics["scope"];
type Resource = ResourceMetrics["resource"];

/** One queued point with what is needed to rebuild its metric in a later request. */
interface Entry {
  readonly scope: Scope;
  /** The metric it came in, without its points: descriptor and type fields only. */
  readonly metric: NumberMetric;
  readonly point: DataPoint<number>;
}

export interface RetryingExporterOptions {
  readonly stats: RetryStats;
  /** Points kept at most (0 disables the queue: QoS of a failed export is dropped, counted). */
  readonly capacity: number;
  /** Points per request (MAX_POINTS_PER_REQUEST): queued points never push a request past it. */
  readonly maxPointsPerRequest: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** For Retry-After; the timers are setTimeout's (tests mock both). */
  readonly clock?: Clock;
}

function isNumberMetric(metric: MetricData): metric is NumberMetric {
  return metric.dataPointType === DataPointType.GAUGE || metric.dataPointType === DataPointType.SUM;
}

function requestPoints(metrics: ResourceMetrics): number {
  let n = 0;
  for (const scope of metrics.scopeMetrics) {
    for (const metric of scope.metrics) n += pointCount(metric);
  }
  return n;
}

function sameScope(a: Scope, b: Scope): boolean {
  return a.name === b.name && a.version === b.version && a.schemaUrl === b.schemaUrl;
}

/**
 * `metrics` with `entries` appended: to the same metric of the same scope when the request has
 * it (OTLP allows several points of one series with different timestamps), else as a new metric
 * or scope. New arrays throughout: the SDK's objects are left as they were.
 */
function mergeEntries(
  resource: Resource,
  base: readonly ScopeMetrics[],
  entries: readonly Entry[],
): ResourceMetrics {
  // Grouped first, so that each metric is copied once whatever the number of points.
  const groups = new Map<
    string,
    { scope: Scope; metric: NumberMetric; points: DataPoint<number>[] }
  >();
  for (const entry of entries) {
    const s = entry.scope;
    const key = `${s.name}\u0000${s.version ?? ""}\u0000${s.schemaUrl ?? ""}\u0000${entry.metric.descriptor.name}`;
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, { scope: s, metric: entry.metric, points: [entry.point] });
    } else {
      group.points.push(entry.point);
    }
  }
  const scopes: ScopeMetrics[] = base.map((s) => ({ scope: s.scope, metrics: [...s.metrics] }));
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

/**
 * Sits between the periodic reader and the counting OTLP exporter. On a failed export it keeps
 * the request's QoS points (bounded; the oldest are dropped first and counted) and counts its
 * RTCP points as dropped. Queued points ride along in the next export request, and a retry timer
 * (exponential backoff, unref'd) delivers them when no export happens: the SDK sends nothing for
 * an empty collection, so an idle agent would otherwise keep its queue forever. A point leaves
 * the queue only when an export carrying it succeeds.
 */
export class RetryingExporter implements BatchTarget {
  private readonly stats: RetryStats;
  private readonly capacity: number;
  private readonly maxPoints: number;
  /** The retry timer's backoff: no jitter, doubling from initialDelayMs to maxDelayMs. */
  private readonly backoff: BackoffPolicy;
  /** Oldest first. Points taken into an export are out of it until the export settles. */
  private queue: Entry[] = [];
  private inFlight = 0;
  private resource: Resource | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Failed exports since the last success: the backoff's step. */
  private attempt = 0;
  private closed = false;
  /** Queue deliveries awaiting their export result. */
  private readonly sending = new Set<Promise<boolean>>();
  private failed = 0;
  /** Until when (clock ms) a server's Retry-After holds the queue back; 0: no hold. */
  private notBefore = 0;
  /** When the retry timer fires (clock ms), while there is one. */
  private timerDue = 0;
  private readonly clock: Clock;

  constructor(
    private readonly inner: PushMetricExporter,
    options: RetryingExporterOptions,
  ) {
    this.stats = options.stats;
    this.capacity = Math.max(0, Math.floor(options.capacity));
    this.maxPoints = options.maxPointsPerRequest;
    this.backoff = {
      initialMs: options.initialDelayMs ?? RETRY_INITIAL_MS,
      maxMs: options.maxDelayMs ?? RETRY_MAX_MS,
    };
    this.clock = options.clock ?? systemClock;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.resource = metrics.resource;
    // While the server's Retry-After runs, fresh data still goes (the server decides what it
    // takes), but the queue waits for its time.
    const room = this.holding() ? 0 : this.maxPoints - requestPoints(metrics);
    const taken = this.take(room);
    const outgoing =
      taken.length === 0 ? metrics : mergeEntries(metrics.resource, metrics.scopeMetrics, taken);
    this.send(outgoing, taken, metrics, resultCallback);
  }

  /**
   * A request the batching layer did not send (the export's time was up): its points are
   * accounted as a failed request's are, but it is no export and no failure of the Collector's.
   */
  unsent(metrics: ResourceMetrics): void {
    this.resource = metrics.resource;
    this.keepLost(metrics);
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return wrappedTemporality(this.inner, instrumentType);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  /** The reader calls this after its final flush: one last attempt at the queue, then close. */
  async shutdown(): Promise<void> {
    this.stopTimer();
    await this.deliverQueue();
    await this.inner.shutdown();
  }

  /** Failed exports so far: lets forceFlush() skip a queue attempt right after a failure. */
  get failures(): number {
    return this.failed;
  }

  /** Points still queued (in flight included). */
  get queued(): number {
    return this.queue.length + this.inFlight;
  }

  /**
   * Sends the queue in requests of at most maxPointsPerRequest, until it is empty or an export
   * fails. Deliveries already in flight (the retry timer's) are waited for too, so a caller that
   * awaits this knows every queued point was delivered or failed. Never rejects.
   */
  async deliverQueue(): Promise<void> {
    for (;;) {
      if (this.queue.length > 0 && this.resource !== null) {
        if (!(await this.sendQueued())) return;
      } else if (this.sending.size > 0) {
        await Promise.all(this.sending);
      } else {
        return;
      }
    }
  }

  /**
   * Gives up what is still queued (counted as dropped) and stops the timer. Exports still in
   * flight settle later: delivered ones count as retried, failed ones as dropped.
   */
  close(): void {
    this.closed = true;
    this.stopTimer();
    this.stats.qosPointsDropped += this.queue.length;
    this.queue = [];
    this.updateQueued();
  }

  private sendQueued(): Promise<boolean> {
    const resource = this.resource;
    const taken = this.take(this.maxPoints);
    if (resource === null || taken.length === 0) return Promise.resolve(true);
    const sent = new Promise<boolean>((resolve) => {
      this.send(mergeEntries(resource, [], taken), taken, null, (result) =>
        resolve(result.code === SUCCESS),
      );
    });
    this.sending.add(sent);
    sent.then(() => this.sending.delete(sent));
    return sent;
  }

  private send(
    outgoing: ResourceMetrics,
    taken: Entry[],
    fresh: ResourceMetrics | null,
    resultCallback: (result: ExportResult) => void,
  ): void {
    let settled = false;
    const finish = (result: ExportResult): void => {
      if (settled) return;
      settled = true;
      this.settle(taken, fresh, result);
      resultCallback(result);
    };
    try {
      this.inner.export(outgoing, finish);
    } catch (error) {
      finish({ code: FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  private settle(taken: Entry[], fresh: ResourceMetrics | null, result: ExportResult): void {
    this.inFlight -= taken.length;
    if (result.code === SUCCESS) {
      this.stats.qosPointsRetried += taken.length;
      this.attempt = 0;
      this.updateQueued();
      // More than one request's worth may be left: keep draining without waiting for traffic.
      if (this.queue.length > 0) this.schedule(0);
      return;
    }
    this.failed++;
    const failure = failureOf(result.error);
    if (!failure.retryable) {
      // Refused for good (bad data, no metrics service there): sending it again would be refused
      // again, so the points are given up, counted; the warning is the counting exporter's.
      this.stats.qosPointsDropped += taken.length;
      this.dropFresh(fresh);
      this.updateQueued();
      return;
    }
    if (this.closed) {
      this.stats.qosPointsDropped += taken.length;
    } else {
      // Back in front: they are older than anything queued since they were taken.
      this.queue = taken.concat(this.queue);
    }
    if (failure.retryAfterMs !== null) this.holdFor(failure.retryAfterMs);
    // A timer already waiting keeps its time; the next one after a failure waits twice as long.
    if (this.keepLost(fresh)) this.attempt++;
  }

  /**
   * The server asked for a pause (Retry-After): no queued point goes out before it ends, neither
   * with the next export nor by the timer, which is moved to its end if it was due earlier.
   */
  private holdFor(ms: number): void {
    this.notBefore = Math.max(this.notBefore, this.clock.now() + ms);
    const wait = this.notBefore - this.clock.now();
    if (this.timer !== null && this.timerDue >= this.notBefore) return;
    this.stopTimer();
    this.schedule(Math.max(wait, this.delayMs()));
  }

  /** Counts a refused request's points as dropped: QoS and RTCP alike, cumulative ones aside. */
  private dropFresh(fresh: ResourceMetrics | null): void {
    if (fresh === null) return;
    for (const scope of fresh.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.aggregationTemporality === AggregationTemporality.CUMULATIVE) continue;
        const name = metric.descriptor.name;
        if (name.startsWith(RTCP_PREFIX)) this.stats.rtcpPointsDropped += pointCount(metric);
        else if (name.startsWith(QOS_PREFIX)) this.stats.qosPointsDropped += pointCount(metric);
      }
    }
  }

  /**
   * Keeps what a request that did not arrive carried (`fresh`: its QoS queued, its RTCP counted
   * as dropped), within the capacity, and schedules a retry. Whether a retry is scheduled.
   */
  private keepLost(fresh: ResourceMetrics | null): boolean {
    if (fresh !== null) this.keepFresh(fresh);
    this.trim();
    this.updateQueued();
    if (this.queue.length === 0) return false;
    this.schedule(this.delayMs());
    return true;
  }

  /** Queues the QoS points of a failed request and counts its RTCP points as dropped. */
  private keepFresh(metrics: ResourceMetrics): void {
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        const name = metric.descriptor.name;
        // A cumulative point (the aggregates) loses nothing when its export fails: the next
        // export carries the same totals and more. Neither queued nor counted as dropped.
        if (metric.aggregationTemporality === AggregationTemporality.CUMULATIVE) continue;
        if (name.startsWith(RTCP_PREFIX)) {
          this.stats.rtcpPointsDropped += pointCount(metric);
        } else if (name.startsWith(QOS_PREFIX)) {
          if (this.closed || this.capacity === 0 || !isNumberMetric(metric)) {
            this.stats.qosPointsDropped += pointCount(metric);
            continue;
          }
          // A copy without the points: an entry holding the SDK's object would keep that
          // collection's whole point array alive after trim() dropped most of it, and memory
          // must stay bounded by the queue size.
          const template: NumberMetric = { ...metric, dataPoints: [] };
          for (const point of metric.dataPoints) {
            this.queue.push({ scope: scope.scope, metric: template, point });
          }
        }
      }
    }
  }

  /** Drops the oldest queued points until queue and in-flight fit the capacity. */
  private trim(): void {
    const excess = Math.min(this.queue.length, this.queue.length + this.inFlight - this.capacity);
    if (excess <= 0) return;
    this.queue = this.queue.slice(excess);
    this.stats.qosPointsDropped += excess;
  }

  private take(max: number): Entry[] {
    if (max <= 0 || this.queue.length === 0) return [];
    const taken = this.queue.slice(0, max);
    this.queue = this.queue.slice(taken.length);
    this.inFlight += taken.length;
    return taken;
  }

  /** Whether a Retry-After still holds the queue back. */
  private holding(): boolean {
    return this.clock.now() < this.notBefore;
  }

  /** The retry timer's next delay. */
  private delayMs(): number {
    return backoffDelay(this.attempt, this.backoff);
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null || this.closed) return;
    this.timerDue = this.clock.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.queue.length === 0 || this.closed) return;
      if (this.holding()) {
        this.schedule(this.notBefore - this.clock.now());
        return;
      }
      void this.sendQueued();
    }, delayMs);
    // A retry must not keep the process alive; shutdown() makes the last attempt itself.
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private updateQueued(): void {
    this.stats.retryQueued = this.queue.length + this.inFlight;
  }
}
