import type { CoreFigures } from "./figures.js";

// HEARTBEAT as send_heartbeat() (switch_core.c) builds it, every event-heartbeat-interval
// (20 s by default): the figures come for free with an event the agent already receives.

/** A whole number of at most 15 digits, or a decimal; anything else is unreadable. */
const NUMBER = /^\d{1,15}(\.\d+)?$/;

/** The number in `text`, or null when it is missing or not a plain non-negative number. */
export function plainNumber(text: string | undefined): number | null {
  if (text === undefined) return null;
  const trimmed = text.trim();
  return NUMBER.test(trimmed) ? Number(trimmed) : null;
}

/**
 * The figures of a HEARTBEAT, read through `header` (an event's get); null when one of them is
 * missing or unreadable: a partial heartbeat is not applied, so no figure is ever half old.
 */
export function coreFromHeartbeat(
  header: (name: string) => string | undefined,
): CoreFigures | null {
  const n = (name: string): number | null => plainNumber(header(name));
  const sessions = n("Session-Count");
  const sessionsLimit = n("Max-Sessions");
  const sessionsPeak = n("Session-Peak-Max");
  const sessionsPeak5min = n("Session-Peak-FiveMin");
  const sessionsCreated = n("Session-Since-Startup");
  const spsLeft = n("Session-Per-Sec");
  const sessionRate = n("Session-Per-Sec-Last");
  const sessionRatePeak = n("Session-Per-Sec-Max");
  const sessionRatePeak5min = n("Session-Per-Sec-FiveMin");
  const idle = n("Idle-CPU");
  const uptimeMs = n("Uptime-msec");
  const version = header("FreeSWITCH-Version");
  if (
    sessions === null ||
    sessionsLimit === null ||
    sessionsPeak === null ||
    sessionsPeak5min === null ||
    sessionsCreated === null ||
    spsLeft === null ||
    sessionRate === null ||
    sessionRatePeak === null ||
    sessionRatePeak5min === null ||
    idle === null ||
    uptimeMs === null ||
    version === undefined ||
    version === ""
  ) {
    return null;
  }
  return {
    sessions,
    sessionsLimit,
    sessionsPeak,
    sessionsPeak5min,
    sessionsCreated,
    sessionRate,
    sessionRateLimit: spsLeft,
    rateLimitExact: false,
    sessionRatePeak,
    sessionRatePeak5min,
    idleCpu: Math.min(1, idle / 100),
    uptimeS: uptimeMs / 1000,
    version,
  };
}
