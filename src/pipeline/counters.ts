/** Per-instance event counters kept by the pipeline; read by /metrics at scrape time. */
export class EventCounters {
  /** Events read from the socket, by Event-Name. */
  readonly received = new Map<string, number>();
  /** Events fully handled by the pipeline, by Event-Name. */
  readonly processed = new Map<string, number>();
  /** Events skipped because they could not be used, by reason (e.g. missing_unique_id). */
  readonly unusable = new Map<string, number>();
  /**
   * End-of-call QoS variables absent or unreadable, by variable (`rtp_audio_` name without the
   * prefix): the leg's other QoS values are exported without them.
   */
  readonly qosUnreadable = new Map<string, number>();
  /** RTCP reports turned into metric points. */
  rtcpProcessed = 0;
  /** End-of-call QoS records produced. */
  qosGenerated = 0;
  /** RTCP report blocks beyond block 0 (only block 0 is exported). */
  extraReportBlocks = 0;
  /** Events dropped before processing, by reason (e.g. a full wait queue). */
  readonly dropped = new Map<string, number>();
  /** FreeSWITCH look-ups of legs the agent never saw, by result. */
  readonly lookups = new Map<string, number>();
  /**
   * Legs left with partial labels because a look-up failed or was not sent, by stage: `first`
   * (their first look-up; one more follows later), `retry` (that one more failed too: partial
   * labels until the leg ends).
   */
  readonly partialLabels = new Map<string, number>();
  /**
   * Legs removed after a reconnect because FreeSWITCH no longer listed them: they ended while
   * the agent was disconnected, so their DESTROY (and end-of-call QoS) was never seen.
   */
  legsReconciled = 0;
  /** FreeSWITCH health readings that could not be read, by source (heartbeat, status, sofia_…). */
  readonly healthUnreadable = new Map<string, number>();
  /** FreeSWITCH health commands that got no answer (timeout, connection gone), by source. */
  readonly healthFailed = new Map<string, number>();
}

/** Adds one to a counter keyed by name or reason. */
export function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
