import type { CoreFigures } from "./figures.js";

// The text of `api status` (status_function in mod_commands.c), read once after each connection
// so the figures exist before the first HEARTBEAT (up to 20 s later). Its lines, in order:
//   UP 0 years, 0 days, 0 hours, 0 minutes, 19 seconds, 509 milliseconds, 76 microseconds
//   FreeSWITCH (Version 1.11.3-dev  64bit) is ready
//   4 session(s) since startup
//   4 session(s) - peak 4, last 5min 4
//   0 session(s) per Sec out of max 200, peak 4, last 5min 4
//   2000 session(s) max
//   min idle cpu 0.00/97.83
// It has no hostname (HEARTBEAT and every other event carry FreeSWITCH-Hostname).

const UPTIME =
  /^UP (\d+) years?, (\d+) days?, (\d+) hours?, (\d+) minutes?, (\d+) seconds?, (\d+) milliseconds?, (\d+) microseconds?$/m;
const VERSION = /^FreeSWITCH \(Version (.+)\) is (?:not )?ready$/m;
const CREATED = /^(\d+) session\(s\) since startup$/m;
const SESSIONS = /^(\d+) session\(s\) - peak (\d+), last 5min (\d+)\s*$/m;
const RATE = /^(\d+) session\(s\) per Sec out of max (\d+), peak (\d+), last 5min (\d+)\s*$/m;
const LIMIT = /^(\d+) session\(s\) max$/m;
const IDLE = /^min idle cpu [\d.]+\/([\d.]+)$/m;

/**
 * `status` prints the version as switch_version_full_human() does ("1.11.3-dev  64bit"), HEARTBEAT
 * as switch_version_full() ("1.11.3-dev~64bit"): one spelling, HEARTBEAT's, so that the two never
 * make two freeswitch.info series.
 */
export function heartbeatVersion(human: string): string {
  return human.trim().replace(/\s+/g, "~");
}

/** The figures in a `status` answer; null when it is not one (a line missing or unreadable). */
export function coreFromStatus(text: string): CoreFigures | null {
  const body = text.replace(/\r\n/g, "\n");
  const up = UPTIME.exec(body);
  const version = VERSION.exec(body);
  const created = CREATED.exec(body);
  const sessions = SESSIONS.exec(body);
  const rate = RATE.exec(body);
  const limit = LIMIT.exec(body);
  const idle = IDLE.exec(body);
  if (!up || !version || !created || !sessions || !rate || !limit || !idle) return null;
  const [years, days, hours, minutes, seconds, ms, us] = up.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const uptimeS =
    (((years * 365 + days) * 24 + hours) * 60 + minutes) * 60 + seconds + ms / 1000 + us / 1e6;
  return {
    sessions: Number(sessions[1]),
    sessionsLimit: Number(limit[1]),
    sessionsPeak: Number(sessions[2]),
    sessionsPeak5min: Number(sessions[3]),
    sessionsCreated: Number(created[1]),
    sessionRate: Number(rate[1]),
    sessionRateLimit: Number(rate[2]),
    rateLimitExact: true,
    sessionRatePeak: Number(rate[3]),
    sessionRatePeak5min: Number(rate[4]),
    idleCpu: Math.min(1, Number(idle[1]) / 100),
    uptimeS,
    version: heartbeatVersion(version[1] ?? ""),
  };
}
