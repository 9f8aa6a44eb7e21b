// Parsers for single configuration values. Each accepts what YAML produces and what an env var
// holds (always a string), and returns undefined for anything it does not accept, so that the
// schema can attach one "expected ..." message per key.

/** setTimeout silently fires after 1 ms for anything longer than this. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A string on one line. Passwords go into `auth <password>` on the event socket, where a line
 * break would end the command early and smuggle in another.
 */
export function parseSingleLine(value: unknown): string | undefined {
  return typeof value === "string" && !/[\r\n]/.test(value) ? value : undefined;
}

/** A name used as a metric label: non-empty, no whitespace. */
export function parseName(value: unknown): string | undefined {
  return typeof value === "string" && /^\S+$/.test(value) ? value : undefined;
}

/**
 * A host name or IP address to connect to or listen on. "10.0.0.1:8021" is the classic mistake
 * (the port has its own key); a single colon can never be a valid IPv6 address, so it is caught
 * without rejecting "::1".
 */
export function parseHost(value: unknown): string | undefined {
  if (typeof value !== "string" || !/^\S+$/.test(value)) return undefined;
  if (value.includes("/") || /^[^:]*:[^:]*$/.test(value)) return undefined;
  return value;
}

export function parseInteger(value: unknown, min: number, max: number): number | undefined {
  let n: number | undefined;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && /^\s*\d+\s*$/.test(value)) n = Number(value);
  if (n === undefined || !Number.isSafeInteger(n) || n < min || n > max) return undefined;
  return n;
}

export function parseNumber(value: unknown, min: number): number | undefined {
  let n: number | undefined;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && /^\s*(\d+(\.\d+)?|\.\d+)\s*$/.test(value))
    n = Number(value);
  if (n === undefined || !Number.isFinite(n) || n < min) return undefined;
  return n;
}

const TRUE_WORDS = new Set(["true", "1", "yes"]);
const FALSE_WORDS = new Set(["false", "0", "no"]);

/** Case-insensitive on purpose: the original agent read FSAGENT_EVENTS_RTCP=TRUE as false. */
export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value !== "string") return undefined;
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

/** Case-insensitive so that FSAGENT_LOG_LEVEL=INFO works; the result is the canonical spelling. */
export function parseChoice<T extends string>(
  value: unknown,
  choices: readonly T[],
): T | undefined {
  if (typeof value !== "string") return undefined;
  const word = value.trim().toLowerCase();
  return choices.find((choice) => choice === word);
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Seconds as a number (`5`, `0.5`, `"5"`), or a string with units (`"500ms"`, `"1.5m"`, and Go's
 * compound `"1m30s"`). The result is whole milliseconds, from 1 to MAX_TIMER_MS: rounding keeps
 * "1.1s" from becoming 1100.0000000000002, and the cap keeps Node's timers honest.
 */
export function parseDuration(value: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof value === "number") ms = value * 1_000;
  else if (typeof value === "string") ms = durationStringMs(value.trim());
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const rounded = Math.round(ms);
  return rounded >= 1 && rounded <= MAX_TIMER_MS ? rounded : undefined;
}

function durationStringMs(text: string): number | undefined {
  if (/^(\d+(\.\d+)?|\.\d+)$/.test(text)) return Number(text) * 1_000;
  if (!/^((\d+(\.\d+)?|\.\d+)(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/g)) {
    total += Number(part[1]) * (UNIT_MS[part[2] ?? ""] ?? Number.NaN);
  }
  return total;
}

/** The shortest exact spelling of a duration, for rendering: 30000 → "30s", 1500 → "1500ms". */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

const HOST_PATTERN = String.raw`(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])`;
const ENDPOINT = new RegExp(
  String.raw`^(https?://)?${HOST_PATTERN}(?::(\d{1,5}))?(/[^\s?#]*)?$`,
  "i",
);

/**
 * `host:port`, or `http(s)://host[:port][/path]` as OTEL_EXPORTER_OTLP_ENDPOINT is usually written.
 * Without a scheme the port is required and no path is allowed: a bare "localhost" is more often
 * a mistake than a wish for port 80. A URL may leave its port out (OTLP/HTTP gateways such as
 * https://otlp-gateway-prod-eu-west-2.grafana.net/otlp have none); whether that fits the chosen
 * protocol is checked with the protocol (otlp-endpoints.ts: OTLP/gRPC has no default port).
 * The empty string is accepted because it is how the file switches export off.
 */
export function parseEndpoint(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  if (value === "") return value;
  const match = ENDPOINT.exec(value);
  if (match === null) return undefined;
  const hasScheme = match[1] !== undefined;
  if (!hasScheme && (match[2] === undefined || match[3] !== undefined)) return undefined;
  if (match[2] === undefined) return value;
  const port = Number(match[2]);
  return port >= 1 && port <= 65535 ? value : undefined;
}

/** gRPC metadata keys: grpc-js rejects anything else at export time, far from the config. */
export function isHeaderName(name: string): boolean {
  return /^[A-Za-z0-9_.-]+$/.test(name);
}

/** Printable ASCII: a CR or LF in a header value would be header injection. */
export function isHeaderValue(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value);
}
