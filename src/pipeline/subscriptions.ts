import type { EventsConfig } from "../config/types.js";

/**
 * Exactly the events the agent needs (never ALL): FreeSWITCH only queues what a listener asked
 * for, so `events.rtcp: false` removes the RTCP traffic at the source.
 */
export function eventsToSubscribe(events: EventsConfig): string[] {
  const names = [
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_DESTROY",
    "HEARTBEAT",
  ];
  if (events.qos) names.push("CHANNEL_HANGUP_COMPLETE");
  if (events.rtcp) names.push("RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE");
  return names;
}

/** Every event the agent may subscribe to: the names a router accepts as label values. */
export const AGENT_EVENTS: readonly string[] = eventsToSubscribe({ rtcp: true, qos: true });
