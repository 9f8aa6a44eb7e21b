import type { Path } from "./paths.js";

export type Env = Readonly<Record<string, string | undefined>>;

/** How an FSAGENT_* variable's text becomes a value in the configuration tree. */
export type EnvFormat = "text" | "json-array" | "pairs";

export interface EnvBinding {
  readonly name: string;
  /** The YAML key the variable overrides. */
  readonly path: Path;
  readonly format: EnvFormat;
  /** Its value must never appear in an error message. */
  readonly secret: boolean;
}

function bind(name: string, path: Path, format: EnvFormat = "text", secret = false): EnvBinding {
  return { name, path, format, secret };
}

/** Every FSAGENT_* variable, each overriding one key of the file. */
export const ENV_BINDINGS: readonly EnvBinding[] = [
  bind("FSAGENT_FREESWITCH_INSTANCES", ["freeswitch_instances"], "json-array", true),
  bind("FSAGENT_STORAGE_TYPE", ["storage", "type"]),
  bind("FSAGENT_STORAGE_MAX_LEGS", ["storage", "max_legs"]),
  bind("FSAGENT_STORAGE_LEG_TTL", ["storage", "leg_ttl"]),
  bind("FSAGENT_REDIS_HOST", ["storage", "redis", "host"]),
  bind("FSAGENT_REDIS_PORT", ["storage", "redis", "port"]),
  bind("FSAGENT_REDIS_PASSWORD", ["storage", "redis", "password"], "text", true),
  bind("FSAGENT_REDIS_DB", ["storage", "redis", "db"]),
  bind("FSAGENT_REDIS_KEY_PREFIX", ["storage", "redis", "key_prefix"]),
  bind("FSAGENT_REDIS_USERNAME", ["storage", "redis", "username"]),
  bind("FSAGENT_REDIS_TLS", ["storage", "redis", "tls"]),
  bind("FSAGENT_REDIS_CA_FILE", ["storage", "redis", "ca_file"]),
  bind("FSAGENT_OTEL_ENABLED", ["opentelemetry", "enabled"]),
  bind("FSAGENT_OTEL_PROTOCOL", ["opentelemetry", "protocol"]),
  bind("FSAGENT_OTEL_ENDPOINT", ["opentelemetry", "endpoint"]),
  bind("FSAGENT_OTEL_INSECURE", ["opentelemetry", "insecure"]),
  // Replaces the file's headers as a whole, so that a header can be removed, not only added.
  bind("FSAGENT_OTEL_HEADERS", ["opentelemetry", "headers"], "pairs", true),
  bind("FSAGENT_OTEL_COMPRESSION", ["opentelemetry", "compression"]),
  bind("FSAGENT_OTEL_EXPORT_INTERVAL", ["opentelemetry", "export_interval"]),
  bind("FSAGENT_OTEL_EXPORT_TIMEOUT", ["opentelemetry", "export_timeout"]),
  bind("FSAGENT_OTEL_RETRY_QUEUE_SIZE", ["opentelemetry", "retry_queue_size"]),
  bind("FSAGENT_OTEL_CA_FILE", ["opentelemetry", "tls", "ca_file"]),
  bind("FSAGENT_OTEL_CERT_FILE", ["opentelemetry", "tls", "cert_file"]),
  bind("FSAGENT_OTEL_KEY_FILE", ["opentelemetry", "tls", "key_file"]),
  bind("FSAGENT_HTTP_HOST", ["http", "host"]),
  bind("FSAGENT_HTTP_PORT", ["http", "port"]),
  bind("FSAGENT_HTTP_UI", ["http", "ui"]),
  bind("FSAGENT_HTTP_WEB_CONFIG_FILE", ["http", "web_config_file"]),
  bind("FSAGENT_HTTP_AUTH_EXEMPT", ["http", "auth_exempt"]),
  bind("FSAGENT_LOG_LEVEL", ["logging", "level"]),
  bind("FSAGENT_LOG_FORMAT", ["logging", "format"]),
  bind("FSAGENT_EVENTS_RTCP", ["events", "rtcp"]),
  bind("FSAGENT_EVENTS_QOS", ["events", "qos"]),
  bind("FSAGENT_METRICS_PER_LEG", ["metrics", "per_leg"]),
  bind("FSAGENT_LOGS_ENABLED", ["logs", "enabled"]),
  bind("FSAGENT_HEALTH_POLL_INTERVAL", ["health", "poll_interval"]),
  bind("FSAGENT_ESL_CONNECT_TIMEOUT", ["esl", "connect_timeout"]),
  bind("FSAGENT_ESL_COMMAND_TIMEOUT", ["esl", "command_timeout"]),
  bind("FSAGENT_ESL_IDLE_TIMEOUT", ["esl", "idle_timeout"]),
  bind("FSAGENT_ESL_MAX_FRAME_BYTES", ["esl", "max_frame_bytes"]),
  bind("FSAGENT_ESL_BACKOFF_INITIAL", ["esl", "backoff", "initial"]),
  bind("FSAGENT_ESL_BACKOFF_FACTOR", ["esl", "backoff", "factor"]),
  bind("FSAGENT_ESL_BACKOFF_MAX", ["esl", "backoff", "max"]),
  bind("FSAGENT_ESL_BACKOFF_RESET_AFTER", ["esl", "backoff", "reset_after"]),
  bind("FSAGENT_LOOKUPS_RATE", ["lookups", "rate"]),
  bind("FSAGENT_LOOKUPS_NOT_FOUND_TTL", ["lookups", "not_found_ttl"]),
  bind("FSAGENT_LOOKUPS_MAX_WAITING_BYTES", ["lookups", "max_waiting_bytes"]),
  bind("FSAGENT_HA_ENABLED", ["ha", "enabled"]),
  bind("FSAGENT_HA_LEASE_TTL", ["ha", "lease_ttl"]),
  bind("FSAGENT_HA_UNREACHABLE_RELEASE_AFTER", ["ha", "unreachable_release_after"]),
  bind("FSAGENT_HA_REPLICA_ID", ["ha", "replica_id"]),
];

/** The standard OpenTelemetry variables the agent honours (and only these). */
export const OTEL_ENV = {
  serviceName: "OTEL_SERVICE_NAME",
  resourceAttributes: "OTEL_RESOURCE_ATTRIBUTES",
  endpoint: "OTEL_EXPORTER_OTLP_ENDPOINT",
  metricsEndpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
  protocol: "OTEL_EXPORTER_OTLP_PROTOCOL",
  compression: "OTEL_EXPORTER_OTLP_COMPRESSION",
  exportInterval: "OTEL_METRIC_EXPORT_INTERVAL",
  exportTimeout: "OTEL_METRIC_EXPORT_TIMEOUT",
  sdkDisabled: "OTEL_SDK_DISABLED",
} as const;

/** Every environment variable the agent reads. Deployment manifests are checked against it. */
export const ENV_VARS: readonly string[] = [
  ...ENV_BINDINGS.map((binding) => binding.name),
  ...Object.values(OTEL_ENV),
];

/** An empty variable counts as unset, as `FOO= fsagent` and blank manifest entries intend. */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

export type PairsResult =
  | { readonly ok: true; readonly pairs: Record<string, string> }
  | { readonly ok: false; readonly problem: string };

/**
 * `k=v,k2=v2` as used by FSAGENT_OTEL_HEADERS and OTEL_RESOURCE_ATTRIBUTES. Only the first `=`
 * splits, so base64 values with padding survive; whitespace around keys and values is trimmed and
 * empty items (a trailing comma) are skipped. `decode` percent-decodes values, as the OTel spec
 * requires for OTEL_RESOURCE_ATTRIBUTES. Problems name the item's position, never its text,
 * because the text may be a secret.
 */
export function parsePairs(text: string, decode: boolean): PairsResult {
  // A Map, not an object literal: a key like "__proto__" must stay an ordinary key.
  const pairs = new Map<string, string>();
  const items = text.split(",");
  for (const [index, item] of items.entries()) {
    if (item.trim() === "") continue;
    const where = `item ${index + 1}`;
    const eq = item.indexOf("=");
    if (eq < 0) return { ok: false, problem: `${where} has no "="; expected k=v,k2=v2` };
    const key = item.slice(0, eq).trim();
    if (key === "") return { ok: false, problem: `${where} has an empty key; expected k=v,k2=v2` };
    if (pairs.has(key)) {
      return { ok: false, problem: `${where} repeats the key ${JSON.stringify(key)}` };
    }
    const raw = item.slice(eq + 1).trim();
    const value = decode ? percentDecode(raw) : raw;
    if (value === undefined) {
      return {
        ok: false,
        problem: `${where} has an invalid percent-encoding; expected %XX escapes`,
      };
    }
    pairs.set(key, value);
  }
  return { ok: true, pairs: Object.fromEntries(pairs) };
}

function percentDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
