// The figures of the simulated switch that HEARTBEAT and `status` report, from the channel
// registry, so the server's timer and a generator stepping simulated time print the same thing.

import type { ChannelRegistry } from "./channels.js";
import { type EventFactory, heartbeatEvent, type SimEvent } from "./events.js";

/** FreeSWITCH-Version of the simulated build: the one of the captures (HEARTBEAT). */
export const FS_VERSION = "1.11.3-dev~64bit";
/** The same version as `status` and `version` print it (two spaces, as the lab's `status`). */
export const FS_VERSION_HUMAN = "1.11.3-dev  64bit";
/** switch.conf `sessions-per-second` default. */
export const SESSIONS_PER_SECOND_LIMIT = 30;

/** A plausible Idle-CPU for a given number of sessions. */
export function idleCpu(sessions: number): number {
  return Math.max(5, 99.5 - sessions * 0.05);
}

export function heartbeatFor(
  factory: EventFactory,
  channels: ChannelRegistry,
  nowMs: number,
  startedAtMs: number,
  maxSessions: number,
): SimEvent {
  return heartbeatEvent(factory, nowMs, {
    uptimeUs: Math.max(0, nowMs - startedAtMs) * 1000,
    version: FS_VERSION,
    sessionCount: channels.size,
    maxSessions,
    sessionsPerSecond: SESSIONS_PER_SECOND_LIMIT,
    sessionsPerSecondLast: channels.sessionsPerSecondLast(nowMs),
    sessionsPerSecondMax: channels.sessionsPerSecondMax,
    sessionsPerSecondFiveMin: channels.sessionsPerSecondFiveMin(nowMs),
    sessionsSinceStartup: channels.sessionsSinceStartup,
    sessionPeakMax: channels.sessionPeakMax,
    sessionPeakFiveMin: channels.sessionPeakFiveMin(nowMs),
    idleCpu: idleCpu(channels.size),
  });
}
