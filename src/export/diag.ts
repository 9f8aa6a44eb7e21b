import { type DiagLogger, DiagLogLevel, diag } from "@opentelemetry/api";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";

// The OpenTelemetry SDK reports its own problems through the process-wide `diag` API, which is
// silent by default but, once a console logger is installed, prints every failed export with a
// stack trace. These helpers route it into our logger instead: warnings and errors rate-limited,
// everything below at debug, and never a stack trace (an operator's log line is one line; the
// SDK's global error handler passes whole exceptions, stacks included, as JSON text). The export failures themselves are counted and logged by the
// metrics sink's exporter wrapper (see metrics.ts), so the reader's own copy of that message is
// demoted to debug rather than logged twice.

/** A diag message longer than this is cut: some SDK messages append whole payloads. */
const MAX_TEXT = 300;

/** The periodic reader's "metrics export failed / timed out" errors: already reported by us. */
const ALREADY_REPORTED = "PeriodicExportingMetricReader: metrics export";

/**
 * The SDK's global error handler (@opentelemetry/core loggingErrorHandler) hands diag.error an
 * exception flattened to JSON: every property, the stack included. Only its message is kept
 * (with its name when that says more than "Error").
 */
function unflattened(text: string): string {
  if (!text.startsWith("{") || !text.includes('"stack"')) return text;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const message = typeof parsed.message === "string" ? parsed.message : "";
    const name = typeof parsed.name === "string" ? parsed.name : "";
    if (message === "") return name === "" ? "error" : name;
    return name === "" || name === "Error" ? message : `${name}: ${message}`;
  } catch {
    // Not JSON after all: the stack is cut below.
    return text;
  }
}

/** Cuts a stack trace (its "\n    at ..." frames, or a "stack" member of JSON) from `text`. */
function withoutStack(text: string): string {
  const frames = text.search(/\n\s*at\s/);
  const cut = frames >= 0 ? text.slice(0, frames) : text;
  const member = cut.indexOf('"stack"');
  return member >= 0 ? `${cut.slice(0, member)}…` : cut;
}

/** A log line's text from a diag string: never a stack, whatever the SDK put in it. */
function clean(text: string): string {
  return withoutStack(unflattened(text));
}

function describeArg(arg: unknown): string {
  if (typeof arg === "string") return clean(arg);
  if (typeof arg === "number" || typeof arg === "boolean" || typeof arg === "bigint") {
    return String(arg);
  }
  if (arg instanceof Error) return clean(arg.message);
  // Objects here are SDK internals (metric payloads, response buffers): size unknown, content
  // not useful in an operator's log.
  return arg === null || arg === undefined ? "" : `[${typeof arg}]`;
}

/** One line, bounded: the SDK's messages may embed JSON with newlines or long stacks. */
function oneLine(message: string, args: unknown[]): string {
  const parts = [clean(message)];
  for (const arg of args) {
    const text = describeArg(arg);
    if (text !== "") parts.push(text);
  }
  const text = parts.join(" ").replace(/\s+/g, " ").trim();
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

/**
 * Installs a diag logger that writes to `logger`. Process-wide: the last call wins, which is what
 * a process with one agent wants (the logs sink of issue 8 may call it too, harmlessly).
 */
export function routeOtelDiagnostics(logger: Logger): void {
  const limited = new RateLimitedLog(logger);
  const warn = (message: string, ...args: unknown[]): void => {
    const text = oneLine(message, args);
    if (text.includes(ALREADY_REPORTED)) {
      logger.debug({ component: "otel" }, text);
      return;
    }
    // Keyed by the message's start with digits folded, so a message carrying a changing number
    // is still "the same problem" and the rate limiter's map stays small.
    const key = `otel:${text.slice(0, 60).replace(/\d+/g, "#")}`;
    limited.warn(key, { component: "otel" }, `OpenTelemetry SDK: ${text}`);
  };
  const debug = (message: string, ...args: unknown[]): void => {
    if (logger.isLevelEnabled("debug")) logger.debug({ component: "otel" }, oneLine(message, args));
  };
  const adapter: DiagLogger = { error: warn, warn, info: debug, debug, verbose: debug };
  // INFO, not ALL: the SDK's debug level logs every exported payload.
  diag.setLogger(adapter, { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true });
}
