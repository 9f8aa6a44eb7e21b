// The figures of the simulated switch that HEARTBEAT and `status` report, from the channel
// registry, so the server's timer and a generator stepping simulated time print the same thing.

import type { ChannelRegistry } from "./channels.js";
import { type EventFactory, heartbeatEvent, type SimEvent } from "./events.js";

/** FreeSWITCH-Version of the simulated build: the one of the captures (HEARTBEAT). */
export const FS_VERSION = "1.11.3-dev~64bit";
/** The same version as `status` and `version` print it (two spaces, as the lab's `status`). */
export const FS_VERSION_HUMAN = "1.11.3-dev  64bit";
/**
 * switch.conf `sessions-per-second` of the test bed the captures come from (FreeSWITCH's own
 * default is 30): `status` prints it as "out of max 200".
 */
export const SESSIONS_PER_SECOND_LIMIT = 200;

/** A plausible Idle-CPU for a given number of sessions. */
export function idleCpu(sessions: number): number {
  return Math.max(5, 99.5 - sessions * 0.05);
}

/**
 * HEARTBEAT's Session-Per-Sec: runtime.sps, the budget of the current second, which each new
 * session lowers (switch_core_session.c) and the timer refills to the limit every second
 * (switch_time.c). Never below 0 here: the simulator does not refuse sessions over the rate.
 */
export function sessionsPerSecondLeft(
  channels: ChannelRegistry,
  nowMs: number,
  limit: number,
): number {
  return Math.max(0, limit - channels.sessionsThisSecond(nowMs));
}

export function heartbeatFor(
  factory: EventFactory,
  channels: ChannelRegistry,
  nowMs: number,
  startedAtMs: number,
  maxSessions: number,
  sessionsPerSecondLimit = SESSIONS_PER_SECOND_LIMIT,
): SimEvent {
  return heartbeatEvent(factory, nowMs, {
    uptimeUs: Math.max(0, nowMs - startedAtMs) * 1000,
    version: FS_VERSION,
    sessionCount: channels.size,
    maxSessions,
    sessionsPerSecond: sessionsPerSecondLeft(channels, nowMs, sessionsPerSecondLimit),
    sessionsPerSecondLast: channels.sessionsPerSecondLast(nowMs),
    sessionsPerSecondMax: channels.sessionsPerSecondMax,
    sessionsPerSecondFiveMin: channels.sessionsPerSecondFiveMin(nowMs),
    sessionsSinceStartup: channels.sessionsSinceStartup,
    sessionPeakMax: channels.sessionPeakMax,
    sessionPeakFiveMin: channels.sessionPeakFiveMin(nowMs),
    idleCpu: idleCpu(channels.size),
  });
}
