import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import type { Attributes } from "@opentelemetry/api";
import {
  AggregationTemporality,
  InstrumentType,
  type PushMetricExporter,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import { ConfigError } from "../config/errors.js";
import { signalUrl } from "../config/otlp-endpoints.js";
import type { OpenTelemetryConfig, OtlpTlsConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { someAttributes } from "./column-points.js";
import { type ExportFailure, failureOf } from "./export-failure.js";
import { type ExportResult, FAILED, SUCCESS } from "./export-result.js";
import { grpcAddress, OtlpMetricExporter } from "./metric-exporter.js";
import type { OtlpRoute } from "./otlp-client.js";
import type { RetryStats } from "./retry.js";

/** Longest lastError kept: enough for a gRPC status line, not for a stack. */
const MAX_ERROR = 240;

/** Where and how to reach the Collector, derived once from the config. */
export interface GrpcTarget {
  /** The endpoint as configured: host:port or an http(s) URL (grpcAddress makes it host:port). */
  readonly url: string;
  readonly tls: boolean;
  /** host:port only (no scheme, path or user info): safe for logs. */
  readonly display: string;
}

/** Whether any opentelemetry.tls file is set (a CA, or a client certificate and key). */
export function tlsFilesConfigured(tls: OtlpTlsConfig | undefined): boolean {
  return tls !== undefined && (tls.caFile !== "" || tls.certFile !== "" || tls.keyFile !== "");
}

/**
 * Plaintext or TLS. A scheme decides by itself, whatever `insecure` says: `http://` is plaintext
 * and `https://` is TLS, as OTEL_EXPORTER_OTLP_ENDPOINT is specified (a URL that names its scheme
 * means it). A bare host:port is TLS when any opentelemetry.tls file is configured (nobody
 * configures a CA or a client certificate for a plaintext connection, so the files are the more
 * deliberate setting and `insecure: true` is more likely a leftover default), and otherwise
 * follows `insecure` (true = plaintext, false = TLS, see channelCredentials).
 */
export function grpcTarget(endpoint: string, insecure: boolean, tls?: OtlpTlsConfig): GrpcTarget {
  const scheme = /^(https?):\/\//i.exec(endpoint)?.[1]?.toLowerCase();
  const useTls = scheme === undefined ? !insecure || tlsFilesConfigured(tls) : scheme === "https";
  let display = endpoint;
  try {
    display = new URL(scheme === undefined ? `http://${endpoint}` : endpoint).host;
  } catch {
    // The config validated the endpoint; if URL still disagrees, the raw text is the best we have.
  }
  return { url: endpoint, tls: useTls, display };
}

/** Where one signal's exports go for `config`, over its protocol, and how to name it in logs. */
export interface SignalTarget extends GrpcTarget {
  readonly route: OtlpRoute;
}

/**
 * The target of `signal`'s exports. gRPC: the endpoint (both signals), TLS as grpcTarget decides.
 * OTLP/HTTP: the signal's URL (the loader's signalEndpoints, else the endpoint + /v1/<signal>),
 * TLS by its scheme, and `display` is that URL: its path is the first thing to check when the
 * server answers 404, and the endpoint syntax admits no user info or query to leak.
 */
export function signalTarget(
  config: OpenTelemetryConfig,
  signal: "metrics" | "logs",
): SignalTarget {
  if (config.protocol !== "http/protobuf") {
    const target = grpcTarget(config.endpoint, config.insecure, config.tls);
    return { ...target, route: { protocol: "grpc", address: grpcAddress(target.url) } };
  }
  const url = config.signalEndpoints?.[signal] ?? signalUrl(config.endpoint, signal);
  return {
    ...grpcTarget(url, config.insecure, config.tls),
    display: url,
    route: { protocol: "http/protobuf", url },
  };
}

/** The PEM contents of the configured TLS files; null where a file is not set. */
export interface TlsMaterial {
  readonly ca: Buffer | null;
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
}

/**
 * A TLS file that cannot be read or used; its message is one line and quotes no file content. A
 * ConfigError, so the CLI exits 2 with the line, as for any other bad setting.
 */
export class OtlpTlsError extends ConfigError {}

function readPem(setting: string, path: string): Buffer | null {
  if (path === "") return null;
  try {
    return readFileSync(path);
  } catch (error) {
    // The code (ENOENT, EACCES) says enough; Node's message would repeat the path.
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new OtlpTlsError(`opentelemetry.tls.${setting}: cannot read ${path} (${code})`);
  }
}

/**
 * Reads the configured TLS files once, at sink creation: a file replaced later (a renewed
 * certificate) takes effect at the next start. The loader has already checked that they are
 * readable and that cert_file and key_file come together; this repeats both checks because a file
 * can vanish between the two, and a programmatic caller skips the loader. The PEM is parsed here
 * too, so a bad file or a key that does not match its certificate fails the start with one line
 * instead of failing every export with a handshake error.
 */
export function readTlsMaterial(tls: OtlpTlsConfig): TlsMaterial {
  if ((tls.certFile === "") !== (tls.keyFile === "")) {
    throw new OtlpTlsError("opentelemetry.tls: cert_file and key_file must be set together");
  }
  const material: TlsMaterial = {
    ca: readPem("ca_file", tls.caFile),
    cert: readPem("cert_file", tls.certFile),
    key: readPem("key_file", tls.keyFile),
  };
  if (material.ca !== null) {
    const ca = material.ca;
    // createSecureContext({ ca }) silently skips anything that is not a certificate, which would
    // leave a TLS connection that trusts nothing; X509Certificate insists on one (the first of a
    // bundle).
    checkPem(() => new X509Certificate(ca), `ca_file ${tls.caFile}`);
  }
  if (material.cert !== null && material.key !== null) {
    const pair = { cert: material.cert, key: material.key };
    checkPem(() => createSecureContext(pair), `cert_file/key_file ${tls.certFile}`);
  }
  return material;
}

function checkPem(parse: () => void, what: string): void {
  try {
    parse();
  } catch (error) {
    // OpenSSL's reason ("no start line", "key values mismatch") never quotes the PEM itself.
    const reason = error instanceof Error ? error.message.replace(/\s+/g, " ") : "invalid";
    throw new OtlpTlsError(`opentelemetry.tls.${what}: not usable: ${reason}`);
  }
}

/**
 * The connection's TLS settings for the gRPC call: null for plaintext. Without a CA file, Node's
 * default CA store (its bundled Mozilla roots plus NODE_EXTRA_CA_CERTS; Node 20 does not read the
 * OS trust store). A caFile replaces the defaults (as a Collector's own ca_file does), so a
 * private CA does not also trust every public one.
 */
export function connectionTls(target: GrpcTarget, material?: TlsMaterial): TlsMaterial | null {
  if (!target.tls) return null;
  return material ?? { ca: null, cert: null, key: null };
}

/**
 * Header names a configured header cannot take: HTTP/2 forbids the connection-specific ones
 * (node:http2 would refuse every request), and the gRPC protocol's own would be overridden or
 * would contradict what the exporter sends.
 */
const RESERVED_HEADER =
  /^(connection|keep-alive|proxy-connection|transfer-encoding|upgrade|http2-settings|host|te|content-type|content-length|content-encoding|accept-encoding|grpc-.*)$/;

/** A gRPC metadata key (the gRPC over HTTP/2 spec's Header-Name, lowercase). */
const HEADER_NAME = /^[0-9a-z_.-]+$/;
/** A gRPC ASCII metadata value: printable ASCII (a CR or LF would be header injection). */
const HEADER_VALUE = /^[\x20-\x7e]*$/;

/**
 * The configured headers as sent with every export: names lowercased (gRPC metadata and HTTP/2
 * header names are), each checked against the gRPC metadata rules, which are the stricter of the
 * two protocols'. Values are secrets (API keys, bearer tokens): a header that does not pass is
 * skipped and reported by name only.
 */
export function otlpHeaders(
  headers: Readonly<Record<string, string>>,
  logger: Logger,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (RESERVED_HEADER.test(key)) {
      logger.warn(
        { header: name },
        "OTLP header skipped: HTTP or the OTLP protocol reserves this name",
      );
      continue;
    }
    if (key.endsWith("-bin")) {
      // Binary metadata needs a Buffer; a text setting cannot say which bytes are meant.
      logger.warn(
        { header: name },
        "OTLP header skipped: binary (-bin) gRPC metadata is not supported",
      );
      continue;
    }
    if (!HEADER_NAME.test(key) || !HEADER_VALUE.test(value)) {
      logger.warn({ header: name }, "OTLP header skipped: gRPC refuses its name or value");
      continue;
    }
    out[key] = value;
  }
  return out;
}

/** Makes an error one short line and removes any configured header value from it. */
export function describeError(error: unknown, secrets: readonly string[]): string {
  let text = error instanceof Error ? error.message : String(error);
  for (const secret of secrets) {
    // Very short values ("1", "on") are not credentials, and blanking every occurrence of them
    // would make the message unreadable.
    if (secret.length >= 4) text = text.split(secret).join("[redacted]");
  }
  text = text.replace(/\s+/g, " ").trim();
  if (text === "") text = "unknown error";
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR)}…` : text;
}

/**
 * What to change when the server has no service or path for a signal (gRPC UNIMPLEMENTED, HTTP
 * 404): it will not change by itself, so the warning says what would.
 */
export function unimplementedMessage(signal: "metrics" | "logs", endpoint: string): string {
  const what = signal === "metrics" ? "metrics" : "quality records (OTLP logs)";
  const disable =
    signal === "metrics"
      ? "or point opentelemetry.endpoint at a server that takes OTLP metrics"
      : "or set logs.enabled: false (FSAGENT_LOGS_ENABLED=false) to stop sending them";
  return (
    `the OTLP server at ${endpoint} does not take ${what} (gRPC UNIMPLEMENTED / HTTP 404): ` +
    `add a ${signal} pipeline with an otlp receiver to the Collector's service.pipelines, check the ` +
    `endpoint's path (over HTTP /v1/${signal} is appended to it), ${disable}; they are dropped until then, not retried`
  );
}

export interface ExportStats extends RetryStats {
  /** Exports completed, successful or not (fsagent_exports_total). */
  exports: number;
  /** Exports that failed: Collector unreachable, refused, or timed out (fsagent_export_errors_total). */
  exportErrors: number;
  /** The latest failure, one line without secrets; null until the first one. */
  lastError: string | null;
}

const FAILURE_KEY = "otlp-metrics-export";
const OVERFLOW_KEY = "otlp-metrics-overflow";
/** The attribute of the series the SDK folds attribute sets beyond the cardinality limit into. */
const OVERFLOW_ATTRIBUTE = "otel.metric.overflow";

function isOverflow(attributes: Attributes): boolean {
  return attributes[OVERFLOW_ATTRIBUTE] === true;
}

export interface CountingExporterOptions {
  readonly stats: ExportStats;
  readonly logger: Logger;
  /** host:port, for log lines. */
  readonly endpoint: string;
  /** Header values: removed from any error text before it is kept or logged. */
  readonly secrets: readonly string[];
  /** The reader's cardinality limit, for the overflow warning. */
  readonly cardinalityLimit: number;
  /** Whether a retry queue keeps the QoS of failed exports (only changes the warning's words). */
  readonly retrying?: boolean;
}

/**
 * Wraps the OTLP exporter to count and log what it does, and to choose DELTA temporality.
 *
 * The SDK's periodic reader only passes a failure to its global error handler (a diag.error with
 * a stack each interval); this wrapper is where the agent learns about it: it counts it, keeps a
 * one-line lastError, logs a rate-limited warning, and one info line when exports work again.
 */
export class CountingExporter implements PushMetricExporter {
  private readonly stats: ExportStats;
  private readonly logger: Logger;
  private readonly limited: RateLimitedLog;
  private failuresInARow = 0;

  constructor(
    private readonly inner: PushMetricExporter,
    private readonly options: CountingExporterOptions,
  ) {
    this.stats = options.stats;
    this.logger = options.logger;
    this.limited = new RateLimitedLog(options.logger);
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.warnOnOverflow(metrics);
    let settled = false;
    const finish = (result: ExportResult): void => {
      if (settled) return;
      settled = true;
      this.account(result);
      resultCallback(result);
    };
    try {
      this.inner.export(metrics, finish);
    } catch (error) {
      // The reader would report a throw the same way as a failure; make it one.
      finish({ code: FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  /**
   * DELTA for the gauges: they are the per-leg QoS series. Under DELTA the SDK exports an
   * attribute set in the collection it was recorded in and drops it afterwards; under CUMULATIVE
   * it keeps every set it ever saw and re-exports it each interval, so a gauge of a call that
   * ended hours ago would still be exported with its last value (SPEC §4). CUMULATIVE for the
   * histograms and counters: they are the bounded aggregates, which backends such as Prometheus
   * expect cumulative. (The per-leg RTCP series are not SDK instruments: see rtcp-series.ts.)
   */
  selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return type === InstrumentType.GAUGE
      ? AggregationTemporality.DELTA
      : AggregationTemporality.CUMULATIVE;
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  /**
   * Past the cardinality limit the SDK folds new attribute sets into one series marked
   * otel.metric.overflow, silently: those legs' values are merged into a meaningless aggregate.
   * One pass over the points per export (cheap next to serializing them) makes it visible.
   */
  private warnOnOverflow(metrics: ResourceMetrics): void {
    let names: string[] | null = null;
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (someAttributes(metric, isOverflow)) {
          names ??= [];
          names.push(metric.descriptor.name);
        }
      }
    }
    if (names === null) return;
    this.limited.warn(
      OVERFLOW_KEY,
      { metrics: names, cardinalityLimit: this.options.cardinalityLimit },
      "more series in one export interval than the cardinality limit: the excess legs are merged " +
        "into one otel.metric.overflow series (raise storage.max_legs)",
    );
  }

  private account(result: ExportResult): void {
    this.stats.exports++;
    if (result.code === SUCCESS) {
      if (this.failuresInARow > 0) {
        const failed = this.failuresInARow;
        this.failuresInARow = 0;
        this.limited.clearPrefix(`${FAILURE_KEY}:`);
        this.logger.info(
          { endpoint: this.options.endpoint, failedExports: failed },
          `OTLP metrics export works again after ${failed} failed export(s)`,
        );
      }
      return;
    }
    this.failuresInARow++;
    this.stats.exportErrors++;
    const error = describeError(result.error ?? "export failed", this.options.secrets);
    this.stats.lastError = error;
    const failure = failureOf(result.error);
    // One warning per kind of failure and rate-limit window: an outage that turns into refusals
    // (a Collector restarting with a bad config) shows both, a steady outage shows one.
    this.limited.warn(
      `${FAILURE_KEY}:${failure.kind}`,
      {
        endpoint: this.options.endpoint,
        kind: failure.kind,
        error,
        exportErrors: this.stats.exportErrors,
        ...(failure.retryAfterMs === null ? {} : { retryAfterMs: failure.retryAfterMs }),
      },
      this.failureMessage(failure),
    );
  }

  private failureMessage(failure: ExportFailure): string {
    if (failure.unimplemented) return unimplementedMessage("metrics", this.options.endpoint);
    if (!failure.retryable) {
      return "OTLP metrics export refused, not retryable: its points are dropped (fix what the error says)";
    }
    return this.options.retrying === true
      ? "OTLP metrics export failed; its RTCP points are dropped, its end-of-call QoS is queued for retry"
      : "OTLP metrics export failed; the points of that interval are dropped (no retry)";
  }
}

/** The real OTLP/gRPC exporter for `config`, already wrapped in a CountingExporter. */
export function createOtlpExporter(
  config: OpenTelemetryConfig,
  options: {
    readonly stats: ExportStats;
    readonly logger: Logger;
    readonly timeoutMs: number;
    readonly cardinalityLimit: number;
    readonly retrying?: boolean;
  },
): CountingExporter {
  const target = signalTarget(config, "metrics");
  // Only read for TLS: an http:// URL is plaintext whatever the files say (metrics.ts warns).
  const material = target.tls ? readTlsMaterial(config.tls) : undefined;
  // Our exporter, not the SDK's OTLPMetricExporter (see grpc-exporter.ts for why). That one also
  // read OTEL_EXPORTER_OTLP_[METRICS_]HEADERS and _COMPRESSION from the environment by itself,
  // behind the config's back (`fsagent check-config` showed no such header, and the config
  // tests assert that OTEL_EXPORTER_OTLP_HEADERS is ignored); the other variables it read were
  // overridden by what we passed. That reading is gone: the config loader maps the OTEL_*
  // variables the agent supports (config/env.ts), and headers come from opentelemetry.headers.
  // Compression only as opentelemetry.compression says (OTEL_EXPORTER_OTLP_COMPRESSION is mapped
  // to it by the loader).
  const inner = new OtlpMetricExporter({
    ...target.route,
    compression: config.compression,
    tls: connectionTls(target, material),
    headers: otlpHeaders(config.headers, options.logger),
    // The gRPC deadline of one export. Equal to the reader's export timeout, so an export the
    // reader gave up on is also abandoned on the wire instead of piling up behind a dead peer.
    timeoutMs: options.timeoutMs,
    logger: options.logger,
    endpoint: target.display,
  });
  return new CountingExporter(inner, {
    stats: options.stats,
    logger: options.logger,
    endpoint: target.display,
    secrets: Object.values(config.headers),
    cardinalityLimit: options.cardinalityLimit,
    retrying: options.retrying === true,
  });
}
