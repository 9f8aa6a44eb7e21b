import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { ConfigError } from "../config/errors.js";
import { signalUrl } from "../config/otlp-endpoints.js";
import type { OpenTelemetryConfig, OtlpTlsConfig } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import type { OtlpRoute } from "./otlp-client.js";

// Where and how the OTLP exports connect, from the configuration: the target of each signal over
// its protocol, TLS material, and the headers sent with every export.

/** host:port from the configured endpoint (host:port, or an http(s) URL, perhaps with a path). */
export function grpcAddress(url: string): string {
  // Not URL.host: it drops a port equal to the scheme's default (https://collector:443 would
  // become "collector"), and the TLS decision is not the scheme's alone (grpcTarget).
  return url.replace(/^https?:\/\//i, "").split("/")[0] ?? url;
}

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
