import { SeverityNumber } from "@opentelemetry/api-logs";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import type { OpenTelemetryConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { QUALITY_RECORD_EVENT, type RecordAttributes } from "../quality/record.js";
import { bounded } from "../util/bounded.js";
import type { Clock } from "../util/clock.js";
import { VERSION } from "../version.js";
import { createRecordExporter, MAX_RECORDS_PER_REQUEST } from "./log-exporter.js";
import { signalTarget } from "./otlp-target.js";
import { buildResource } from "./resource.js";
import { describeError, droppedTotal, type ExportStats, emptyExportStats } from "./sender.js";

// The per-leg quality records (issue 8) as OpenTelemetry log records over OTLP, to the same
// Collector as the metrics. The SDK's batch processor gathers them (one request per second, not
// per leg) and hands them to the export (log-exporter.ts, sender.ts): they are the data most worth
// keeping, so a failed export is not the end of them: its records wait in a bounded queue
// (opentelemetry.retry_queue_size records) and go out with the next export or on a backoff timer;
// past the bound the oldest are dropped and counted.

export { MAX_RECORDS_PER_REQUEST };

/** How much later than our deadline the batch processor gives up on an export (see below). */
const PROCESSOR_TIMEOUT_MARGIN_MS = 2000;

/** The records' export figures (sender.ts), and the records handed to the sink. */
export interface RecordStats extends ExportStats {
  /** Records handed to the sink (one per ended leg). */
  emitted: number;
}

export interface RecordSink {
  /** One record per leg, at its end. Never throws. */
  emit(attributes: RecordAttributes, body: string): void;
  forceFlush(): Promise<void>;
  /** Flushes, then stops, within the final-flush budget even if the Collector is unreachable. */
  shutdown(): Promise<void>;
  readonly stats: RecordStats;
}

export function emptyRecordStats(capacity = 0): RecordStats {
  return { ...emptyExportStats(capacity), emitted: 0 };
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

export interface RecordSinkOptions {
  readonly logger: Logger;
  readonly instanceId?: string;
  /** The final flush's budget (the agent's stop must end within 10 s). */
  readonly finalFlushMs: number;
  /** The retry timer's backoff (default 1 s doubling to 30 s); tests shorten it. */
  readonly retryDelayMs?: { readonly initial: number; readonly max: number };
  /** How often the batch processor exports; default 1 s. */
  readonly scheduledDelayMs?: number;
  /** The sender's timers and the final flush's budget; default the system clock. */
  readonly clock?: Clock;
}

export function createRecordSink(
  config: OpenTelemetryConfig,
  options: RecordSinkOptions,
): RecordSink {
  if (!config.enabled) return createNoopRecordSink();
  const target = signalTarget(config, "logs");
  const timeoutMs = Math.min(config.exportTimeoutMs, config.exportIntervalMs);
  const exporter = createRecordExporter(config, {
    logger: options.logger,
    timeoutMs,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.retryDelayMs === undefined
      ? {}
      : { backoff: { initialMs: options.retryDelayMs.initial, maxMs: options.retryDelayMs.max } }),
  });
  const sender = exporter.sender;
  // The sender's figures, and the records emitted: one object, updated in place.
  const stats: RecordStats = Object.assign(sender.stats, { emitted: 0 });
  // The processor's own queue drops silently when full; sized so that it only fills when far more
  // legs end in one second than any platform has.
  const processor = new BatchLogRecordProcessor({
    exporter,
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
        stats.dropped.shutdown++;
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
      const failuresBefore = sender.failures;
      try {
        await provider.forceFlush();
      } catch (error) {
        options.logger.debug({ error: describeError(error, []) }, "OTLP records flush failed");
      }
      // The processor exports nothing when no record was emitted, so a flush after an outage
      // would leave the queue to the retry timer; deliver it now, unless this very flush failed.
      if (sender.failures === failuresBefore) await sender.deliverQueue();
    },
    shutdown() {
      shutdownPromise ??= (async () => {
        // The processor's last export, then RecordExporter.shutdown: one last attempt at the
        // queue, whatever is left dropped (counted), the connection closed.
        await bounded(provider.shutdown(), options.finalFlushMs, options.clock);
        sender.close();
        const left = stats.emitted - stats.sent - droppedTotal(stats);
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
