import type { WebConfig } from "../server/web-config/parse.js";
// The validated, immutable configuration every other module receives. Only src/config/ reads
// files and process.env; everything else gets one of these. Durations are milliseconds.

export interface FreeswitchInstanceConfig {
  /** Unique; exported as the fs_instance label. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly password: string;
}

export interface BackoffConfig {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
  /** A connection that stayed up this long resets the backoff to initialMs. */
  readonly resetAfterMs: number;
}

export interface EslConfig {
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** Silence after which the keepalive probes the connection with `api status`. */
  readonly idleTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly backoff: BackoffConfig;
}

export interface RedisConfig {
  readonly host: string;
  readonly port: number;
  readonly password: string;
  readonly db: number;
  /** Prepended to every key, so several agents (or other apps) can share one Redis. */
  readonly keyPrefix: string;
  /** Redis 6 ACL user; "" = the default user. */
  readonly username: string;
  /** TLS to Redis (trusting Node's bundled CA roots, or caFile). */
  readonly tls: boolean;
  /** A CA certificate (PEM) to trust for Redis TLS; "" = the default trust store. */
  readonly caFile: string;
}

/** TLS material for the OTLP connection; each "" = not set. Read at start-up. */
export interface OtlpTlsConfig {
  /** A CA certificate (PEM) to trust instead of the default store (e.g. a private CA). */
  readonly caFile: string;
  /** A client certificate (PEM) and its key, for a Collector that requires mutual TLS. */
  readonly certFile: string;
  readonly keyFile: string;
}

export interface StorageConfig {
  readonly type: "memory" | "redis";
  /** Legs tracked at most; past it the least recently updated leg is evicted (and counted). */
  readonly maxLegs: number;
  /** A leg not updated for this long is forgotten (its DESTROY was missed); also the Redis TTL. */
  readonly legTtlMs: number;
  readonly redis: RedisConfig;
}

/** How the OTLP exports travel: gRPC, or HTTP POSTs of binary protobuf (OTLP/HTTP). */
export const OTLP_PROTOCOLS = ["grpc", "http/protobuf"] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

export const OTLP_COMPRESSIONS = ["none", "gzip"] as const;
export type OtlpCompression = (typeof OTLP_COMPRESSIONS)[number];

/** The full URL each signal is POSTed to over OTLP/HTTP. */
export interface OtlpSignalEndpoints {
  readonly metrics: string;
  readonly logs: string;
}

export interface OpenTelemetryConfig {
  /**
   * false: no OTLP export of any kind, metrics or quality records (opentelemetry.enabled: false,
   * FSAGENT_OTEL_ENABLED=false, OTEL_SDK_DISABLED=true, or an empty endpoint in the file).
   */
  readonly enabled: boolean;
  readonly protocol: OtlpProtocol;
  /**
   * gRPC: host:port or URL of the Collector's OTLP/gRPC endpoint. HTTP: the base URL, to which
   * /v1/metrics and /v1/logs are appended (unless signalEndpoints says otherwise).
   */
  readonly endpoint: string;
  /**
   * http/protobuf only: the URL each signal is POSTed to, as the loader worked it out
   * (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is a full URL used as it is). Absent: `endpoint` +
   * /v1/metrics and /v1/logs. A caller that changes `endpoint` must drop it.
   */
  readonly signalEndpoints?: OtlpSignalEndpoints;
  /**
   * True when the endpoint came from the file or the environment rather than the default. The
   * demo exports only when it is true, so that it does not dial a Collector nobody asked for.
   */
  readonly endpointExplicit: boolean;
  readonly insecure: boolean;
  readonly headers: Readonly<Record<string, string>>;
  /** Request body compression, for either protocol. */
  readonly compression: OtlpCompression;
  readonly serviceName: string;
  readonly exportIntervalMs: number;
  /** How long one export may take before it is abandoned; at most exportIntervalMs. */
  readonly exportTimeoutMs: number;
  /**
   * End-of-call QoS data points kept through a Collector outage (the oldest dropped first when
   * full); 0 disables the queue.
   */
  readonly retryQueueSize: number;
  readonly tls: OtlpTlsConfig;
  /** Parsed OTEL_RESOURCE_ATTRIBUTES. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
}

export interface HttpConfig {
  readonly host: string;
  readonly port: number;
  /** The status page (/) and /api/status; false answers them 404. */
  readonly ui: boolean;
  /** The exporter-toolkit web config file (TLS, basic auth, headers); "" = none. */
  readonly webConfigFile: string;
  /** Paths answered without credentials when basic auth is on (orchestrator probes). */
  readonly authExempt: readonly string[];
  /** The web config file as read and checked at start-up; null without one. */
  readonly web: WebConfig | null;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LoggingConfig {
  readonly level: LogLevel;
  readonly format: "json" | "text";
}

export interface EventsConfig {
  readonly rtcp: boolean;
  readonly qos: boolean;
}

export interface MetricsConfig {
  /** false: no series with channel_id/correlation_id, only the aggregates (and the records). */
  readonly perLeg: boolean;
}

export interface LogsConfig {
  /** The per-leg quality records (OTLP log records); events.qos false stops them too. */
  readonly enabled: boolean;
}

/** Several replicas sharing the FreeSWITCH instances through Redis leases (docs/replicas.md). */
export interface HaConfig {
  readonly enabled: boolean;
  /** A lease not renewed for this long expires; renewed every third of it. */
  readonly leaseTtlMs: number;
  /**
   * A holder whose connection has failed this long hands the lease to a live replica that has
   * not failed to reach the instance (docs/replicas.md).
   */
  readonly unreachableReleaseAfterMs: number;
  /** This replica's name in leases and /health, and its service.instance.id; "" = <hostname>-<pid>. */
  readonly replicaId: string;
}

/** FreeSWITCH's own health figures (docs/metrics.md, "FreeSWITCH servers"). */
export interface HealthConfig {
  /** How often mod_sofia's profiles, gateways and registrations are read; 0: never. */
  readonly pollIntervalMs: number;
}

/**
 * Look-ups (`uuid_dump`) of legs the agent has no state for, per FreeSWITCH instance, and the
 * events that wait for a leg's state meanwhile (docs/architecture.md, "The leg tracker").
 */
export interface LookupsConfig {
  /** Look-ups sent per second at most; 0 = no limit. */
  readonly ratePerSecond: number;
  /** A leg FreeSWITCH said it does not have is not looked up again (its reports dropped) for this long. */
  readonly notFoundTtlMs: number;
  /** Bytes of events waiting for their leg's state at once. */
  readonly maxWaitingBytes: number;
}

export interface Config {
  readonly freeswitchInstances: readonly FreeswitchInstanceConfig[];
  readonly esl: EslConfig;
  readonly storage: StorageConfig;
  readonly opentelemetry: OpenTelemetryConfig;
  readonly http: HttpConfig;
  readonly logging: LoggingConfig;
  readonly events: EventsConfig;
  readonly metrics: MetricsConfig;
  readonly logs: LogsConfig;
  readonly ha: HaConfig;
  readonly health: HealthConfig;
  readonly lookups: LookupsConfig;
  /** Where the file came from, or null when env alone configured the agent. */
  readonly source: string | null;
}
