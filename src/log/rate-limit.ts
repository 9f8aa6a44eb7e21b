import type { Logger } from "pino";
import { type Clock, systemClock } from "../util/clock.js";

type Level = "warn" | "error" | "info";

interface Entry {
  windowStart: number;
  suppressed: number;
  lastMessage: string;
  level: Level;
  fields: Record<string, unknown>;
}

/**
 * Keeps a failing peer from flooding the log: the first occurrence of a key is logged at once,
 * repeats inside the window are only counted, and the next occurrence after the window logs
 * once more with `repeated: N` (how many were suppressed). A key is whatever identifies "the same
 * error", e.g. `fs1:connect:ECONNREFUSED`.
 */
export class RateLimitedLog {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = 60_000,
    private readonly clock: Clock = systemClock,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    this.log("warn", key, fields, message);
  }

  error(key: string, fields: Record<string, unknown>, message: string): void {
    this.log("error", key, fields, message);
  }

  /** Forget a key (e.g. after the peer recovered) and report what was still suppressed. */
  clear(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    if (entry.suppressed > 0) this.emit(entry, entry.suppressed);
  }

  /** Forget every key starting with the prefix (e.g. all of one instance's errors). */
  clearPrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.clear(key);
  }

  private log(level: Level, key: string, fields: Record<string, unknown>, message: string): void {
    const now = this.clock.now();
    const entry = this.entries.get(key);
    if (entry === undefined) {
      const fresh = { windowStart: now, suppressed: 0, lastMessage: message, level, fields };
      this.entries.set(key, fresh);
      this.emit(fresh, 0);
      return;
    }
    entry.lastMessage = message;
    entry.fields = fields;
    entry.level = level;
    if (now - entry.windowStart < this.windowMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry.suppressed;
    entry.windowStart = now;
    entry.suppressed = 0;
    this.emit(entry, suppressed);
  }

  private emit(entry: Entry, suppressed: number): void {
    const fields = suppressed > 0 ? { ...entry.fields, repeated: suppressed } : entry.fields;
    const message =
      suppressed > 0
        ? `${entry.lastMessage} (repeated ${suppressed} more times in the last ${Math.round(this.windowMs / 1000)} s)`
        : entry.lastMessage;
    this.logger[entry.level](fields, message);
  }
}
