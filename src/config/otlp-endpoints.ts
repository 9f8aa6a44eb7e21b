import { OTEL_ENV } from "./env.js";
import type { Path } from "./paths.js";
import type { OtlpProtocol, OtlpSignalEndpoints } from "./types.js";

// Where each OTLP signal is sent, and whether the endpoint fits the protocol. OTLP/gRPC calls a
// method on host:port, so both signals go to the endpoint as it is. OTLP/HTTP POSTs to a URL per
// signal (https://opentelemetry.io/docs/specs/otlp/#otlphttp-request): the configured endpoint
// (and OTEL_EXPORTER_OTLP_ENDPOINT) is a base URL to which /v1/metrics and /v1/logs are appended,
// while OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is the metrics URL itself (the OTel exporter spec).

export const DEFAULT_ENDPOINTS: Readonly<Record<OtlpProtocol, string>> = {
  grpc: "localhost:4317",
  "http/protobuf": "http://localhost:4318",
};

export const ENDPOINT_PATH: Path = ["opentelemetry", "endpoint"];
const SCHEME = /^https?:\/\//i;
const SIGNAL_SUFFIX = /\/v1\/(metrics|logs)\/?$/;

/** `base` with `/v1/<signal>` appended to its path (one slash between them). */
export function signalUrl(base: string, signal: "metrics" | "logs"): string {
  return `${base.replace(/\/+$/, "")}/v1/${signal}`;
}

/**
 * The logs URL next to a metrics URL given as it is: its /v1/metrics replaced by /v1/logs, or the
 * server's root + /v1/logs when it ends otherwise. The quality records go to the same server as
 * the metrics, as they do over gRPC.
 */
function logsBeside(metricsUrl: string): string {
  if (/\/v1\/metrics\/?$/.test(metricsUrl))
    return metricsUrl.replace(/\/v1\/metrics\/?$/, "/v1/logs");
  const origin = /^https?:\/\/[^/]+/i.exec(metricsUrl)?.[0] ?? metricsUrl;
  return signalUrl(origin, "logs");
}

export interface EndpointSource {
  readonly protocol: OtlpProtocol;
  readonly endpoint: string;
  /** The variable that set opentelemetry.endpoint, if one did (layers' envOrigins). */
  readonly endpointVariable: string | undefined;
  /** OTEL_EXPORTER_OTLP_ENDPOINT's value, when set. */
  readonly genericVariable: string | undefined;
}

/** The URLs of an http/protobuf endpoint; undefined for gRPC (both signals use `endpoint`). */
export function signalEndpoints(source: EndpointSource): OtlpSignalEndpoints | undefined {
  const { endpoint } = source;
  if (source.protocol === "grpc" || endpoint === "") return undefined;
  if (source.endpointVariable === OTEL_ENV.metricsEndpoint) {
    const generic = source.genericVariable;
    return {
      metrics: endpoint,
      logs:
        generic !== undefined && SCHEME.test(generic)
          ? signalUrl(generic, "logs")
          : logsBeside(endpoint),
    };
  }
  return { metrics: signalUrl(endpoint, "metrics"), logs: signalUrl(endpoint, "logs") };
}

/**
 * Why the endpoint does not fit the protocol, as an "expected ..." sentence; undefined when it
 * does (or export is off: ""). The endpoint's syntax was already checked (parseEndpoint).
 */
export function endpointMisfit(source: EndpointSource): string | undefined {
  const { endpoint, protocol } = source;
  if (endpoint === "") return undefined;
  const hasScheme = SCHEME.test(endpoint);
  const authority = endpoint.replace(SCHEME, "").split("/")[0] ?? "";
  const hasPort = /:\d+$/.test(authority);
  if (protocol === "grpc") {
    if (hasPort) return undefined;
    return "expected a port with opentelemetry.protocol grpc (e.g. collector:4317 or https://collector:443): OTLP/gRPC has no default port";
  }
  if (!hasScheme) {
    return `expected an http:// or https:// URL with opentelemetry.protocol http/protobuf (e.g. http://${authority.replace(/:4317$/, ":4318")})`;
  }
  if (source.endpointVariable !== OTEL_ENV.metricsEndpoint && SIGNAL_SUFFIX.test(endpoint)) {
    return `expected the base URL with opentelemetry.protocol http/protobuf (${endpoint.replace(SIGNAL_SUFFIX, "")}): /v1/metrics and /v1/logs are appended to it`;
  }
  return undefined;
}
