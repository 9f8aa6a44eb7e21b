// What FreeSWITCH says of itself (issue 20): the core's figures from HEARTBEAT and `status`, and
// mod_sofia's profiles, gateways and registrations from `sofia xmlstatus`. Plain values, read by
// the parsers beside this file and kept per instance by ServerHealth (server-health.ts).

/** The core's own figures: HEARTBEAT (send_heartbeat in switch_core.c) or `status`. */
export interface CoreFigures {
  /** Session-Count: sessions (channels) up now. */
  readonly sessions: number;
  /** Max-Sessions: switch.conf max-sessions. */
  readonly sessionsLimit: number;
  /** Session-Peak-Max: the most sessions at once since start. */
  readonly sessionsPeak: number;
  /** Session-Peak-FiveMin: the most sessions at once in the current five-minute window. */
  readonly sessionsPeak5min: number;
  /** Session-Since-Startup: sessions created since start (a counter). */
  readonly sessionsCreated: number;
  /** Session-Per-Sec-Last: sessions created in the last whole second. */
  readonly sessionRate: number;
  /**
   * The sessions-per-second limit (switch.conf sessions-per-second), as read: `status` prints it
   * ("out of max 200"); HEARTBEAT's Session-Per-Sec is what is left of it in the current second
   * (runtime.sps: reset to the limit every second, decremented per new session), so it reads the
   * limit except in a second that created sessions. `rateLimitExact` says which.
   */
  readonly sessionRateLimit: number;
  /** True from `status` (the limit), false from HEARTBEAT (at most the limit). */
  readonly rateLimitExact: boolean;
  /** Session-Per-Sec-Max: the most sessions created in one second since start. */
  readonly sessionRatePeak: number;
  /** Session-Per-Sec-FiveMin: the same within the current five-minute window. */
  readonly sessionRatePeak5min: number;
  /** Idle-CPU / 100: the host's idle CPU as FreeSWITCH measures it, 0..1. */
  readonly idleCpu: number;
  /** Uptime-msec / 1000. */
  readonly uptimeS: number;
  /** FreeSWITCH-Version as HEARTBEAT spells it ("1.11.3-dev~64bit"). */
  readonly version: string;
}

/** A SIP profile as `sofia xmlstatus` lists it (only running profiles are listed). */
export interface ProfileFigures {
  readonly name: string;
  /** The state's word: "RUNNING" ("RUNNING (2)" lists 2 channels in use). */
  readonly state: string;
  readonly up: boolean;
  /** Channels in use on the profile (the number in "RUNNING (n)"); null when not printed. */
  readonly inUse: number | null;
}

/** A gateway as `sofia xmlstatus gateway` details it. */
export interface GatewayFigures {
  readonly profile: string;
  readonly name: string;
  /** Registration state: REGED, NOREG, UNREGED, TRYING, FAILED, FAIL_WAIT, … */
  readonly state: string;
  /** UP or DOWN (the OPTIONS pings' or the registration's verdict). */
  readonly status: string;
  /** The last answered OPTIONS round trip in seconds; null when not pinged or never answered. */
  readonly pingS: number | null;
  readonly callsIn: number;
  readonly callsOut: number;
  readonly failedCallsIn: number;
  readonly failedCallsOut: number;
}
