import path from "node:path";
import { YamlSyntaxError, yamlTree } from "../../config/file.js";

/**
 * The Prometheus exporter-toolkit's web configuration file (`--web.config.file`), as fsagent
 * reads it: the same keys, so that operators reuse their files. Every mistake is one line naming
 * the key; the caller adds the file.
 */
export interface WebConfig {
  readonly tls: TlsServerConfig | null;
  /** User name → bcrypt hash. Empty: no authentication. */
  readonly users: Readonly<Record<string, string>>;
  /** http_server_config.headers: added to every response. */
  readonly headers: Readonly<Record<string, string>>;
}

export const CLIENT_AUTH_TYPES = [
  "NoClientCert",
  "RequestClientCert",
  "RequireAnyClientCert",
  "VerifyClientCertIfGiven",
  "RequireAndVerifyClientCert",
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

export const TLS_VERSIONS = {
  TLS10: "TLSv1",
  TLS11: "TLSv1.1",
  TLS12: "TLSv1.2",
  TLS13: "TLSv1.3",
} as const;
export type TlsVersionName = keyof typeof TLS_VERSIONS;

export interface TlsServerConfig {
  /** Absolute paths (relative ones are resolved against the web config file's directory). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string;
  readonly clientAuthType: ClientAuthType;
  readonly minVersion: TlsVersionName;
  readonly maxVersion: TlsVersionName;
  readonly preferServerCipherSuites: boolean;
}

/** One problem, without the file: `<key>: <what is wrong>`. */
export class WebConfigError extends Error {
  override readonly name = "WebConfigError";
}

/** Response headers the exporter-toolkit allows, and what it allows in them. */
const HEADERS: Readonly<Record<string, ((value: string) => boolean) | null>> = {
  "Content-Security-Policy": null,
  "X-Frame-Options": (v) => ["deny", "sameorigin"].includes(v.toLowerCase()),
  "X-Content-Type-Options": (v) => v.toLowerCase() === "nosniff",
  "X-XSS-Protection": null,
  "Strict-Transport-Security": null,
};

/** Keys of the toolkit fsagent does not implement: refused rather than silently ignored. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  "tls_server_config.cert": "inline certificates are not supported; use cert_file",
  "tls_server_config.key": "inline keys are not supported; use key_file",
  "tls_server_config.client_ca": "inline CAs are not supported; use client_ca_file",
  "tls_server_config.cipher_suites":
    "not supported: fsagent uses Node's TLS cipher defaults (set min_version: TLS13 to restrict)",
  "tls_server_config.curve_preferences": "not supported: fsagent uses Node's TLS defaults",
  "tls_server_config.client_allowed_sans": "not supported",
  rate_limit: "not supported",
};

/** bcrypt as the toolkit accepts it (htpasswd -B, Go's bcrypt, bcryptjs): $2a$, $2b$ or $2y$. */
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/** Parses the file's text; `file` (absolute) resolves relative certificate paths. */
export function parseWebConfig(text: string, file: string): WebConfig {
  let tree: unknown;
  try {
    tree = yamlTree(text) ?? {};
  } catch (error) {
    if (error instanceof YamlSyntaxError && error.where !== undefined) {
      throw new WebConfigError(`YAML syntax error at line ${error.where.line}: ${error.summary}`);
    }
    throw new WebConfigError(error instanceof Error ? error.message : String(error));
  }
  const root = mapping(tree, "the file");
  known(root, "", ["tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"]);
  const dir = path.dirname(file);
  return {
    tls: root.tls_server_config == null ? null : tlsConfig(root.tls_server_config, dir),
    users: users(root.basic_auth_users),
    headers: headers(root.http_server_config),
  };
}

function tlsConfig(value: unknown, dir: string): TlsServerConfig {
  const tls = mapping(value, "tls_server_config");
  known(tls, "tls_server_config", [
    "cert_file",
    "key_file",
    "client_ca_file",
    "client_auth_type",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
    "cert",
    "key",
    "client_ca",
    "cipher_suites",
    "curve_preferences",
    "client_allowed_sans",
  ]);
  const file = (key: string, required: boolean): string => {
    const raw = tls[key];
    if (raw == null || raw === "") {
      if (required) throw new WebConfigError(`tls_server_config.${key}: required with TLS`);
      return "";
    }
    if (typeof raw !== "string" || /[\r\n]/.test(raw)) {
      throw new WebConfigError(`tls_server_config.${key}: expected a file path`);
    }
    return path.resolve(dir, raw);
  };
  const clientAuthType = oneOf(
    tls.client_auth_type ?? "NoClientCert",
    "tls_server_config.client_auth_type",
    CLIENT_AUTH_TYPES,
  );
  const clientCaFile = file("client_ca_file", false);
  if (
    clientCaFile === "" &&
    (clientAuthType === "RequireAndVerifyClientCert" ||
      clientAuthType === "VerifyClientCertIfGiven")
  ) {
    throw new WebConfigError(
      `tls_server_config.client_ca_file: required with client_auth_type ${clientAuthType}`,
    );
  }
  const versions = Object.keys(TLS_VERSIONS) as TlsVersionName[];
  const minVersion = oneOf(tls.min_version ?? "TLS12", "tls_server_config.min_version", versions);
  const maxVersion = oneOf(tls.max_version ?? "TLS13", "tls_server_config.max_version", versions);
  if (versions.indexOf(maxVersion) < versions.indexOf(minVersion)) {
    throw new WebConfigError(
      `tls_server_config.max_version: ${maxVersion} is below min_version ${minVersion}`,
    );
  }
  const prefer = tls.prefer_server_cipher_suites ?? true;
  if (typeof prefer !== "boolean") {
    throw new WebConfigError(
      "tls_server_config.prefer_server_cipher_suites: expected true or false",
    );
  }
  return {
    certFile: file("cert_file", true),
    keyFile: file("key_file", true),
    clientCaFile,
    clientAuthType,
    minVersion,
    maxVersion,
    preferServerCipherSuites: prefer,
  };
}

function users(value: unknown): Record<string, string> {
  if (value == null) return {};
  const entries = mapping(value, "basic_auth_users");
  const out: Record<string, string> = {};
  for (const [user, hash] of Object.entries(entries)) {
    const key = `basic_auth_users.${user}`;
    if (user === "" || user.includes(":") || /[\r\n]/.test(user)) {
      throw new WebConfigError(`${key}: a user name must be non-empty and without ":"`);
    }
    if (typeof hash !== "string" || !BCRYPT.test(hash)) {
      throw new WebConfigError(
        `${key}: expected a bcrypt hash ($2y$10$...), not a plain-text password; make one with "fsagent hash-password"`,
      );
    }
    out[user] = hash;
  }
  return out;
}

function headers(value: unknown): Record<string, string> {
  if (value == null) return {};
  const server = mapping(value, "http_server_config");
  known(server, "http_server_config", ["headers", "http2"]);
  if (server.http2 != null && typeof server.http2 !== "boolean") {
    throw new WebConfigError("http_server_config.http2: expected true or false");
  }
  if (server.headers == null) return {};
  const given = mapping(server.headers, "http_server_config.headers");
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(given)) {
    const key = `http_server_config.headers.${name}`;
    const canonical = Object.keys(HEADERS).find((h) => h.toLowerCase() === name.toLowerCase());
    if (canonical === undefined) {
      throw new WebConfigError(
        `${key}: not a header the web config may set (${Object.keys(HEADERS).join(", ")})`,
      );
    }
    if (typeof raw !== "string" || raw === "" || /[\r\n]/.test(raw)) {
      throw new WebConfigError(`${key}: expected a one-line value`);
    }
    const allowed = HEADERS[canonical];
    if (allowed != null && !allowed(raw))
      throw new WebConfigError(`${key}: "${raw}" is not allowed`);
    out[canonical] = raw;
  }
  return out;
}

function mapping(value: unknown, key: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WebConfigError(`${key}: expected a mapping`);
  }
  return value as Record<string, unknown>;
}

function known(section: Record<string, unknown>, prefix: string, keys: readonly string[]): void {
  for (const key of Object.keys(section)) {
    const full = prefix === "" ? key : `${prefix}.${key}`;
    const why = UNSUPPORTED[full];
    if (why !== undefined && section[key] != null) throw new WebConfigError(`${full}: ${why}`);
    if (!keys.includes(key)) {
      throw new WebConfigError(
        `${full}: unknown key (expected one of ${keys.filter((k) => UNSUPPORTED[prefix === "" ? k : `${prefix}.${k}`] === undefined).join(", ")})`,
      );
    }
  }
}

function oneOf<T extends string>(value: unknown, key: string, allowed: readonly T[]): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value))
    return value as T;
  throw new WebConfigError(
    `${key}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`,
  );
}
