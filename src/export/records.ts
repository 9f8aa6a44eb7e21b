import { SeverityNumber } from "@opentelemetry/api-logs";
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
} from "@opentelemetry/sdk-logs";
import type { OpenTelemetryConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { QUALITY_RECORD_EVENT, type RecordAttributes } from "../quality/record.js";
import { type BackoffPolicy, backoffDelay } from "../util/backoff.js";
import { type Clock, systemClock } from "../util/clock.js";
import { VERSION } from "../version.js";
import { failureOf } from "./export-failure.js";
import { type ExportResult, SUCCESS } from "./export-result.js";
import {
  connectionTls,
  describeError,
  otlpHeaders,
  readTlsMaterial,
  signalTarget,
  unimplementedMessage,
} from "./exporter.js";
import { OtlpLogExporter } from "./log-exporter.js";
import { buildResource } from "./resource.js";

// The per-leg quality records (issue 8) as OpenTelemetry log records over OTLP, to the same
// Collector as the metrics. They are the data most worth keeping, so a failed export is not the
// end of them: its records wait in a bounded queue (opentelemetry.retry_queue_size records) and
// go out with the next export or on a backoff timer; past the bound the oldest are dropped and
// counted. The SDK's batch processor gathers them first (one request per second, not per leg).

/**
 * Records per export request at most: the batch processor's batch size, and the bound for the
 * retry queue sent with it. A record is ~1.1 KB on the wire, so a request stays near 1 MB, well
 * under a Collector's default 4 MiB limit per message; a queue of thousands sent as one request
 * after an outage would be refused, re-queued and refused again for good.
 */
export const MAX_RECORDS_PER_REQUEST = 1000;

/** How much later than our deadline the batch processor gives up on an export (see below). */
const PROCESSOR_TIMEOUT_MARGIN_MS = 2000;

export interface RecordStats {
  /** Records handed to the sink (one per ended leg). */
  emitted: number;
  /** Records the Collector accepted. */
  exported: number;
  /** Records delivered after at least one failed export. */
  retried: number;
  /** Records given up: retry queue overflow, shutdown, or refused for good by the server. */
  dropped: number;
  /** Failed export requests. */
  exportErrors: number;
  /** Records waiting in the retry queue now. */
  queued: number;
}

export interface RecordSink {
  /** One record per leg, at its end. Never throws. */
  emit(attributes: RecordAttributes, body: string): void;
  forceFlush(): Promise<void>;
  /** Flushes, then stops, within the final-flush budget even if the Collector is unreachable. */
  shutdown(): Promise<void>;
  readonly stats: RecordStats;
}

export function emptyRecordStats(): RecordStats {
  return { emitted: 0, exported: 0, retried: 0, dropped: 0, exportErrors: 0, queued: 0 };
}

/** A sink that keeps nothing: records disabled (logs.enabled false, events.qos false) or no endpoint. */
export function createNoopRecordSink(): RecordSink {
  return {
    emit() {},
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    stats: emptyRecordStats(),
  };
}

export interface RetryingLogOptions {
  readonly capacity: number;
  readonly stats: RecordStats;
  readonly logger: Logger;
  readonly endpoint: string;
  readonly secrets: readonly string[];
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** For Retry-After and the rate limiter; the retry timer is setTimeout's (tests mock both). */
  readonly clock?: Clock;
}

/** The rate limiter's key of a failed records export; the failure's kind is appended. */
const FAILURE_KEY = "records-export";

/**
 * Keeps the records of failed exports (bounded, oldest dropped first) and sends them again with
 * the next export or, when nothing else is exported, on a doubling timer. What a failure means
 * comes from its kind (export-failure.ts): a retryable one keeps the records (and a Retry-After
 * holds the queue back for as long as the server asked); a refusal drops them, counted, since
 * the same request would be refused again; a server without a logs service (UNIMPLEMENTED, HTTP
 * 404) drops them and the queue, with one warning that says what to change.
 */
export class RetryingLogExporter implements LogRecordExporter {
  private queue: ReadableLogRecord[] = [];
  private readonly retriedRecords = new WeakSet<ReadableLogRecord>();
  private timer: NodeJS.Timeout | null = null;
  /** The retry timer's backoff: no jitter, doubling from initialDelayMs to maxDelayMs. */
  private readonly backoff: BackoffPolicy;
  /** Retry-timer attempts since the last success: the backoff's step. */
  private attempt = 0;
  private inFlight = 0;
  private closed = false;
  private readonly log: RateLimitedLog;
  private readonly clock: Clock;
  /** Until when (clock ms) a server's Retry-After holds the queue back; 0: no hold. */
  private notBefore = 0;
  private failuresInARow = 0;

  constructor(
    private readonly inner: LogRecordExporter,
    private readonly options: RetryingLogOptions,
  ) {
    this.backoff = {
      initialMs: options.initialDelayMs ?? 1000,
      maxMs: options.maxDelayMs ?? 30_000,
    };
    this.clock = options.clock ?? systemClock;
    this.log = new RateLimitedLog(options.logger, undefined, this.clock);
  }

  /**
   * The batch processor's call. Its result is SUCCESS once the records are in our hands: sent,
   * queued for retry, or dropped and counted, a failure logged here once per kind and rate-limit
   * window. A FAILED result would only make the processor hand the error to the SDK's global
   * error handler, which logs it again, with its stack, at every failed export.
   */
  export(records: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    this.exportBatch(records, () => done({ code: SUCCESS }));
  }

  private exportBatch(records: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    // While a server's Retry-After runs the queue waits; fresh records still go.
    const withQueue = this.queue.length > 0 && !this.holding();
    const batch = withQueue ? this.queue.concat(records) : records;
    if (withQueue) {
      this.queue = [];
      this.updateQueued();
    }
    if (batch.length === 0) {
      done({ code: SUCCESS });
      return;
    }
    if (batch.length <= MAX_RECORDS_PER_REQUEST) {
      this.send(batch, done);
      return;
    }
    // Requests of at most MAX_RECORDS_PER_REQUEST, all sent now; each failed one is queued again
    // on its own, and the caller hears of a failure if any had one.
    let pending = Math.ceil(batch.length / MAX_RECORDS_PER_REQUEST);
    let failure: ExportResult | null = null;
    for (let i = 0; i < batch.length; i += MAX_RECORDS_PER_REQUEST) {
      this.send(batch.slice(i, i + MAX_RECORDS_PER_REQUEST), (result) => {
        if (result.code !== SUCCESS) failure ??= result;
        if (--pending === 0) done(failure ?? result);
      });
    }
  }

  private send(batch: ReadableLogRecord[], done: (result: ExportResult) => void): void {
    const { stats } = this.options;
    this.inFlight++;
    this.inner.export(batch, (result) => {
      this.inFlight--;
      if (result.code === SUCCESS) {
        stats.exported += batch.length;
        for (const record of batch) if (this.retriedRecords.has(record)) stats.retried++;
        this.attempt = 0;
        this.recovered();
      } else {
        stats.exportErrors++;
        this.failed(batch, result);
      }
      done(result);
    });
  }

  /** Logs the failure (once per kind and window) and keeps or drops its records as it deserves. */
  private failed(batch: ReadableLogRecord[], result: ExportResult): void {
    const { stats } = this.options;
    this.failuresInARow++;
    const failure = failureOf(result.error);
    const fields = {
      endpoint: this.options.endpoint,
      kind: failure.kind,
      records: batch.length,
      error: describeError(result.error, this.options.secrets),
      ...(failure.retryAfterMs === null ? {} : { retryAfterMs: failure.retryAfterMs }),
    };
    const key = `${FAILURE_KEY}:${failure.kind}`;
    if (failure.unimplemented) {
      // It will not heal by itself: what is queued would only be refused again, so it goes too.
      stats.dropped += batch.length + this.queue.length;
      this.queue = [];
      this.updateQueued();
      this.log.warn(key, fields, unimplementedMessage("logs", this.options.endpoint));
      return;
    }
    if (!failure.retryable) {
      stats.dropped += batch.length;
      this.log.warn(
        key,
        fields,
        "OTLP log export of quality records refused, not retryable: they are dropped (fix what the error says)",
      );
      return;
    }
    this.log.warn(
      key,
      fields,
      "OTLP log export of quality records failed; they wait in the retry queue",
    );
    if (failure.retryAfterMs !== null) {
      this.notBefore = Math.max(this.notBefore, this.clock.now() + failure.retryAfterMs);
    }
    this.keep(batch);
  }

  /** After failures, one line saying exports work again (and what the rate limiter held back). */
  private recovered(): void {
    if (this.failuresInARow === 0) return;
    const failed = this.failuresInARow;
    this.failuresInARow = 0;
    this.log.clearPrefix(`${FAILURE_KEY}:`);
    this.options.logger.info(
      { endpoint: this.options.endpoint, failedExports: failed },
      `OTLP quality records export works again after ${failed} failed export(s)`,
    );
  }

  private holding(): boolean {
    return this.clock.now() < this.notBefore;
  }

  private keep(records: ReadableLogRecord[]): void {
    const { stats, capacity } = this.options;
    if (this.closed || capacity === 0) {
      stats.dropped += records.length;
      return;
    }
    for (const record of records) this.retriedRecords.add(record);
    this.queue = this.queue.concat(records);
    const excess = this.queue.length - capacity;
    if (excess > 0) {
      this.queue = this.queue.slice(excess);
      stats.dropped += excess;
    }
    this.updateQueued();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null || this.closed) return;
    // A Retry-After that ends later than the backoff decides when the queue goes again.
    const delay = Math.max(
      backoffDelay(this.attempt, this.backoff),
      this.notBefore - this.clock.now(),
    );
    this.timer = setTimeout(() => {
      this.timer = null;
      // Another export carries the queue when one is running; the timer is for idle times.
      if (this.queue.length === 0 || this.inFlight > 0 || this.holding()) {
        if (this.queue.length > 0) this.schedule();
        return;
      }
      this.attempt++;
      this.exportBatch([], () => {});
    }, delay);
    this.timer.unref();
  }

  private updateQueued(): void {
    this.options.stats.queued = this.queue.length;
  }

  /** Sends what is queued now, once; resolves when that attempt ended. */
  deliverQueue(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.exportBatch([], () => resolve()));
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.deliverQueue();
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.options.stats.dropped += this.queue.length;
    this.queue = [];
    this.updateQueued();
    await this.inner.shutdown();
  }
}

export interface RecordSinkOptions {
  readonly logger: Logger;
  readonly instanceId?: string;
  /** The final flush's budget (the agent's stop must end within 10 s). */
  readonly finalFlushMs: number;
  readonly retryDelayMs?: { readonly initial: number; readonly max: number };
  /** How often the batch processor exports; default 1 s. */
  readonly scheduledDelayMs?: number;
}

export function createRecordSink(
  config: OpenTelemetryConfig,
  options: RecordSinkOptions,
): RecordSink {
  if (!config.enabled) return createNoopRecordSink();
  const stats = emptyRecordStats();
  const target = signalTarget(config, "logs");
  const material = target.tls ? readTlsMaterial(config.tls) : undefined;
  const timeoutMs = Math.min(config.exportTimeoutMs, config.exportIntervalMs);
  const retrying = new RetryingLogExporter(
    new OtlpLogExporter({
      ...target.route,
      compression: config.compression,
      tls: connectionTls(target, material),
      headers: otlpHeaders(config.headers, options.logger),
      timeoutMs,
      logger: options.logger,
      endpoint: target.display,
    }),
    {
      capacity: config.retryQueueSize,
      stats,
      logger: options.logger,
      endpoint: target.display,
      secrets: Object.values(config.headers),
      ...(options.retryDelayMs === undefined
        ? {}
        : { initialDelayMs: options.retryDelayMs.initial, maxDelayMs: options.retryDelayMs.max }),
    },
  );
  // The processor's own queue drops silently when full; sized so that it only fills when far more
  // legs end in one second than any platform has.
  const processor = new BatchLogRecordProcessor({
    exporter: retrying,
    scheduledDelayMillis: options.scheduledDelayMs ?? 1000,
    maxExportBatchSize: MAX_RECORDS_PER_REQUEST,
    maxQueueSize: 20_000,
    // Later than our own deadline (timeoutMs, plus gzip's time before it starts): the export
    // always ends by ours, counted and logged once, never by the processor's, whose 'Timeout'
    // would go to the SDK's global error handler as a second report of the same failure.
    exportTimeoutMillis: timeoutMs + PROCESSOR_TIMEOUT_MARGIN_MS,
  });
  const provider = new LoggerProvider({
    resource: buildResource(config, options.instanceId),
    processors: [processor],
  });
  const logger = provider.getLogger("fsagent", VERSION);
  let shutdownPromise: Promise<void> | null = null;

  return {
    emit(attributes, body) {
      if (shutdownPromise !== null) {
        stats.dropped++;
        return;
      }
      stats.emitted++;
      logger.emit({
        eventName: QUALITY_RECORD_EVENT,
        severityNumber: SeverityNumber.INFO,
        severityText: "INFO",
        body,
        attributes,
      });
    },
    async forceFlush() {
      try {
        await provider.forceFlush();
      } catch (error) {
        options.logger.debug({ error: describeError(error, []) }, "OTLP records flush failed");
      }
      await retrying.deliverQueue();
    },
    shutdown() {
      shutdownPromise ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const budget = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.finalFlushMs);
        });
        await Promise.race([provider.shutdown().catch(() => {}), budget]);
        clearTimeout(timer);
        const left = stats.emitted - stats.exported - stats.dropped;
        if (left > 0) {
          options.logger.warn(
            { endpoint: target.display, records: left },
            "OTLP quality records not delivered at shutdown are dropped",
          );
        }
      })();
      return shutdownPromise;
    },
    stats,
  };
}
