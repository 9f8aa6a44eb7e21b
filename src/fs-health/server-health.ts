import type { EslEvent } from "../esl/event.js";
import type { Clock } from "../util/clock.js";
import type { CoreFigures, GatewayFigures, ProfileFigures } from "./figures.js";
import { coreFromHeartbeat } from "./heartbeat.js";
import { coreFromStatus } from "./status-text.js";

// What one FreeSWITCH instance says of itself, as the agent last read it: the core's figures
// (HEARTBEAT, `status`), and mod_sofia's profiles, gateways and registrations (the poll,
// poller.ts). Cleared when the connection goes: figures nobody can refresh are not exported.

/** A profile with its registrations (null until read, or when the read failed). */
export interface ProfileView extends ProfileFigures {
  readonly registrations: number | null;
}

/** What the exporters, /api/status and the status page read. */
export interface ServerSnapshot {
  readonly instance: string;
  /** FreeSWITCH-Hostname (HEARTBEAT, or `global_getvar hostname` at connection). */
  readonly hostname: string | null;
  /** Null until the first `status` or HEARTBEAT of the connection. */
  readonly core: CoreFigures | null;
  /**
   * When FreeSWITCH started (clock ms): the start time of its counters. Kept while the uptime
   * grows, so the counters' start does not wobble with each reading; renewed after a restart.
   */
  readonly startedAtMs: number | null;
  /** Clock ms of the last core update. */
  readonly coreAtMs: number | null;
  /** Null until the first poll of the connection answered (or with polling off). */
  readonly profiles: readonly ProfileView[] | null;
  readonly gateways: readonly GatewayFigures[] | null;
  /** Clock ms of the last complete poll. */
  readonly polledAtMs: number | null;
}

/** Where a figure that could not be read came from (fsagent_server_health_unreadable_total). */
export type HealthSource =
  | "heartbeat"
  | "status"
  | "hostname"
  | "sofia_xmlstatus"
  | "sofia_xmlstatus_gateway"
  | "sofia_xmlstatus_profile";

/** A restart moves the start by at least this much; a reading's own wobble is milliseconds. */
const RESTART_SLACK_MS = 10_000;

export class ServerHealth {
  private hostname: string | null = null;
  private core: CoreFigures | null = null;
  private coreAtMs: number | null = null;
  private startedAtMs: number | null = null;
  private profiles: ProfileView[] | null = null;
  private gateways: GatewayFigures[] | null = null;
  private polledAtMs: number | null = null;

  constructor(
    readonly instance: string,
    private readonly clock: Clock,
    /** Counts (and logs, rate-limited) a reading that could not be used; `answer` as received. */
    private readonly unreadable: (source: HealthSource, answer: string) => void,
  ) {}

  /** A HEARTBEAT: the figures, and the hostname every event carries. */
  heartbeat(event: EslEvent): void {
    const figures = coreFromHeartbeat((name) => event.get(name));
    if (figures === null) {
      this.unreadable("heartbeat", "");
      return;
    }
    const hostname = event.get("FreeSWITCH-Hostname");
    if (hostname !== undefined && hostname !== "") this.hostname = hostname;
    this.applyCore(figures);
  }

  /** The answer to `status`; false when it could not be read (counted). */
  status(text: string): boolean {
    const figures = coreFromStatus(text);
    if (figures === null) {
      this.unreadable("status", text);
      return false;
    }
    this.applyCore(figures);
    return true;
  }

  /** The answer to `global_getvar hostname`. */
  hostnameAnswer(text: string): void {
    const name = text.trim();
    if (name === "" || /\s/.test(name) || name.startsWith("-ERR")) {
      this.unreadable("hostname", text);
      return;
    }
    this.hostname = name;
  }

  /** An answer of the poll that could not be read. */
  countUnreadable(source: HealthSource, answer: string): void {
    this.unreadable(source, answer);
  }

  /** A complete poll: what mod_sofia listed, replacing the previous poll's. */
  sofia(profiles: ProfileView[], gateways: GatewayFigures[]): void {
    this.profiles = profiles;
    this.gateways = gateways;
    this.polledAtMs = this.clock.now();
  }

  /** The connection went: nothing here can be refreshed any more. The start time stays. */
  clear(): void {
    this.core = null;
    this.coreAtMs = null;
    this.profiles = null;
    this.gateways = null;
    this.polledAtMs = null;
  }

  snapshot(): ServerSnapshot {
    return {
      instance: this.instance,
      hostname: this.hostname,
      core: this.core,
      startedAtMs: this.startedAtMs,
      coreAtMs: this.coreAtMs,
      profiles: this.profiles,
      gateways: this.gateways,
      polledAtMs: this.polledAtMs,
    };
  }

  private applyCore(figures: CoreFigures): void {
    const now = this.clock.now();
    const previous = this.core;
    // HEARTBEAT's Session-Per-Sec is at most the limit: it never lowers a limit `status` read,
    // and raises it when the limit was raised since (fsctl sps).
    const core =
      !figures.rateLimitExact &&
      previous !== null &&
      previous.sessionRateLimit > figures.sessionRateLimit
        ? {
            ...figures,
            sessionRateLimit: previous.sessionRateLimit,
            rateLimitExact: previous.rateLimitExact,
          }
        : figures;
    const started = now - core.uptimeS * 1000;
    if (this.startedAtMs === null || Math.abs(started - this.startedAtMs) > RESTART_SLACK_MS) {
      this.startedAtMs = started;
    }
    this.core = core;
    this.coreAtMs = now;
  }
}
