import { type DestinationStream, type Logger, pino } from "pino";
import pretty from "pino-pretty";
import type { LoggingConfig } from "../config/types.js";

export type { Logger } from "pino";

/**
 * The process logger. `json` is one object per line for log shippers; `text` is for humans at a
 * terminal. Both write synchronously to the given stream (stdout by default) so that the last
 * lines before an exit are never lost.
 */
export function createLogger(
  config: LoggingConfig,
  destination: DestinationStream | NodeJS.WritableStream = process.stdout,
): Logger {
  const options = { level: config.level, base: { service: "fsagent" } };
  if (config.format === "text") {
    const stream = pretty({
      destination: destination as NodeJS.WritableStream,
      colorize: destination === process.stdout && process.stdout.isTTY === true,
      sync: true,
      singleLine: true,
      ignore: "pid,hostname,service",
      translateTime: "SYS:HH:MM:ss.l",
    });
    return pino(options, stream);
  }
  return pino(options, destination as DestinationStream);
}

/** A logger that discards everything: for tests and embedded uses that do not want output. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
