import type { Logger } from "pino";
import { type Clock, systemClock } from "../util/clock.js";

type Level = "warn" | "error" | "info";

function formatSpan(ms: number): string {
  return ms < 1000 ? `${Math.max(0, Math.round(ms))} ms` : `${(ms / 1000).toFixed(1)} s`;
}

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

  /**
   * Forget a key (e.g. after the peer recovered). Repeats still unreported are summed up in one
   * info line: the condition is over, so this is history, not a warning.
   */
  clear(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    if (entry.suppressed === 0) return;
    const over = formatSpan(this.clock.now() - entry.windowStart);
    this.logger.info(
      { ...entry.fields, repeated: entry.suppressed },
      `before recovery, this repeated ${entry.suppressed} more times over ${over}: ${entry.lastMessage}`,
    );
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
    const span = now - entry.windowStart;
    entry.windowStart = now;
    entry.suppressed = 0;
    this.emit(entry, suppressed, span);
  }

  private emit(entry: Entry, suppressed: number, spanMs = 0): void {
    const fields = suppressed > 0 ? { ...entry.fields, repeated: suppressed } : entry.fields;
    const message =
      suppressed > 0
        ? `${entry.lastMessage} (repeated ${suppressed} more times over ${formatSpan(spanMs)})`
        : entry.lastMessage;
    this.logger[entry.level](fields, message);
  }
}
