import { type DiagLogger, DiagLogLevel, diag } from "@opentelemetry/api";
import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";

// The OpenTelemetry SDK reports its own problems through the process-wide `diag` API, which is
// silent by default but, once a console logger is installed, prints every failed export with a
// stack trace. These helpers route it into our logger instead: warnings and errors rate-limited,
// everything below at debug. The export failures themselves are counted and logged by the
// metrics sink's exporter wrapper (see metrics.ts), so the reader's own copy of that message is
// demoted to debug rather than logged twice.

/** A diag message longer than this is cut: some SDK messages append whole payloads. */
const MAX_TEXT = 300;

/** The periodic reader's "metrics export failed / timed out" errors: already reported by us. */
const ALREADY_REPORTED = "PeriodicExportingMetricReader: metrics export";

function describeArg(arg: unknown): string {
  if (typeof arg === "string") return arg;
  if (typeof arg === "number" || typeof arg === "boolean" || typeof arg === "bigint") {
    return String(arg);
  }
  if (arg instanceof Error) return arg.message;
  // Objects here are SDK internals (metric payloads, response buffers): size unknown, content
  // not useful in an operator's log.
  return arg === null || arg === undefined ? "" : `[${typeof arg}]`;
}

/** One line, bounded: the SDK's messages may embed JSON with newlines or long stacks. */
function oneLine(message: string, args: unknown[]): string {
  const parts = [message];
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
