import type { EslEvent } from "../esl/event.js";
import type { Logger } from "../log/logger.js";
import { fractionLost, jitterMs, parseDecimal } from "../quality/rtcp.js";
import { EventCounters } from "./counters.js";
import type { LiveSummary } from "./live-summary.js";

const bump = EventCounters.bump;

/** Event names that may become label values; anything else is counted as "other". */
const KNOWN_EVENTS = new Set([
  "CHANNEL_CREATE",
  "CHANNEL_ANSWER",
  "CHANNEL_BRIDGE",
  "CHANNEL_HANGUP_COMPLETE",
  "CHANNEL_DESTROY",
  "RECV_RTCP_MESSAGE",
  "SEND_RTCP_MESSAGE",
  "HEARTBEAT",
]);

/**
 * Dispatches one instance's events by Event-Name, in arrival order: the only place that knows
 * which event feeds which consumer. Never throws on event content: an event it cannot use is
 * counted under a reason and skipped.
 */
export class Router {
  /** Checked once: the level is fixed for the process, and the check is on the hot path. */
  private readonly debug: boolean;

  constructor(
    private readonly instance: string,
    readonly counters: EventCounters,
    private readonly summary: LiveSummary,
    private readonly logger: Logger,
  ) {
    this.debug = logger.isLevelEnabled("debug");
  }

  handle(event: EslEvent): void {
    const name = event.name;
    if (name === "") {
      bump(this.counters.unusable, "missing_event_name");
      return;
    }
    this.summary.eventSeen();
    if (!KNOWN_EVENTS.has(name)) {
      // FreeSWITCH only sends what was subscribed; a stray name must not grow /metrics' label set.
      bump(this.counters.received, "other");
      bump(this.counters.unusable, "unexpected_event");
      return;
    }
    bump(this.counters.received, name);
    if (this.debug) {
      const uniqueId = event.get("Unique-ID");
      this.logger.debug(
        { fs_instance: this.instance, event: name, unique_id: uniqueId },
        `event ${name}`,
      );
    }
    if (name === "HEARTBEAT") {
      bump(this.counters.processed, name);
      return;
    }
    const uuid = event.get("Unique-ID");
    if (uuid === undefined || uuid === "") {
      bump(this.counters.unusable, "missing_unique_id");
      return;
    }

    switch (name) {
      case "CHANNEL_CREATE":
        this.summary.legStarted(this.instance, uuid);
        break;
      case "CHANNEL_DESTROY":
        this.summary.legEnded(uuid);
        break;
      case "RECV_RTCP_MESSAGE":
        if (!this.rtcp(event)) return;
        break;
      case "CHANNEL_HANGUP_COMPLETE": {
        // A leg that never received media reports MOS 4.50: that is no call quality at all.
        const mos = parseDecimal(event.get("variable_rtp_audio_in_mos"));
        const received = parseDecimal(event.get("variable_rtp_audio_in_packet_count"));
        if (mos !== undefined && received !== undefined && received > 0) this.summary.mos(mos);
        break;
      }
    }
    bump(this.counters.processed, name);
  }

  private rtcp(event: EslEvent): boolean {
    const rate = parseDecimal(event.get("RTP-Rate"));
    const jitter = parseDecimal(event.get("Source0-Jitter"));
    const fraction = parseDecimal(event.get("Source0-Fraction"));
    if (rate === undefined || rate <= 0 || jitter === undefined || fraction === undefined) {
      bump(this.counters.unusable, "rtcp_missing_fields");
      return false;
    }
    this.summary.rtcp(jitterMs(jitter, rate), fractionLost(fraction));
    this.counters.rtcpProcessed++;
    return true;
  }
}
