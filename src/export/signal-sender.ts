import type { OpenTelemetryConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import type { BackoffPolicy } from "../util/backoff.js";
import type { Clock } from "../util/clock.js";
import type { OtlpTransportOptions } from "./otlp-client.js";
import { connectionTls, otlpHeaders, readTlsMaterial, signalTarget } from "./otlp-target.js";
import { ExportSender, type ExportSignal, type Transport } from "./sender.js";

/** What both signals' exports are given besides the config. */
export interface SignalSenderOptions {
  readonly logger: Logger;
  /** Each request's deadline, and the time one export's requests have to start. */
  readonly timeoutMs: number;
  readonly backoff?: BackoffPolicy;
  readonly clock?: Clock;
}

/**
 * The one sender of a signal for `config`, over its transport: target, TLS, headers and
 * compression exactly as the config says, the same way for metrics and quality records.
 */
export function signalSender<B, I>(
  config: OpenTelemetryConfig,
  signal: ExportSignal<B, I>,
  transport: (options: OtlpTransportOptions) => Transport<B>,
  maxItemsPerRequest: number,
  options: SignalSenderOptions,
): ExportSender<B, I> {
  const target = signalTarget(config, signal.name);
  // Only read for TLS: an http:// URL is plaintext whatever the files say (metrics.ts warns).
  const material = target.tls ? readTlsMaterial(config.tls) : undefined;
  // Headers come from opentelemetry.headers only, and compression only as
  // opentelemetry.compression says: the SDK's exporter read OTEL_EXPORTER_OTLP_[METRICS_]HEADERS
  // and _COMPRESSION by itself, behind the config's back (`fsagent check-config` showed no such
  // header); the loader maps the OTEL_* variables the agent supports (config/env.ts).
  return new ExportSender({
    signal,
    transport: transport({
      ...target.route,
      compression: config.compression,
      tls: connectionTls(target, material),
      headers: otlpHeaders(config.headers, options.logger),
      logger: options.logger,
      endpoint: target.display,
    }),
    capacity: config.retryQueueSize,
    maxItemsPerRequest,
    // Equal to the reader's export timeout, so an export the reader gave up on is also abandoned
    // on the wire instead of piling up behind a dead peer.
    timeoutMs: options.timeoutMs,
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    logger: options.logger,
    endpoint: target.display,
    secrets: Object.values(config.headers),
  });
}
