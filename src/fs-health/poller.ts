import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import type { GatewayFigures } from "./figures.js";
import type { HealthSource, ProfileView, ServerHealth } from "./server-health.js";
import { parseGateways, parseProfileRegistrations, parseProfiles } from "./sofia-xml.js";

// Reads what HEARTBEAT does not carry, over the instance's own connection: right after each
// (re)connection `status` and the hostname (so the figures exist within seconds, not at the next
// HEARTBEAT), then every health.poll_interval mod_sofia's profiles, gateways and registrations,
// and `status` again (the one exact source of the sessions-per-second limit). One command at a
// time, each bounded by the connection's command timeout; a poll still running when the next is
// due makes that one wait. The connection reads events all along: a command only waits for its
// answer. (FreeSWITCH runs an `api` command on the listener's thread, so events for this
// listener wait in FreeSWITCH's queue for as long as the command runs: about a millisecond for
// these, measured in docs/freeswitch.md.)

/** The commands, as FreeSWITCH's API event names them (and fsagent_server_health_* label them). */
export const HEALTH_COMMANDS = {
  status: "status",
  hostname: "global_getvar hostname",
  profiles: "sofia xmlstatus",
  gateways: "sofia xmlstatus gateway",
  profile: (name: string) => `sofia xmlstatus profile ${name}`,
} as const;

export interface ServerPollerOptions {
  readonly health: ServerHealth;
  /** `api <command>` on the current connection; rejects when it fails or times out. */
  readonly api: (command: string) => Promise<string>;
  /** health.poll_interval; 0: only the reads after each connection. */
  readonly pollIntervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Counts a command that got no usable answer (timeout, connection gone). */
  readonly failed: (source: HealthSource) => void;
}

/** What an answer says when the module behind a command is not loaded. */
function commandMissing(text: string): boolean {
  return /^-ERR .*Command not found/i.test(text.trim());
}

export class ServerPoller {
  private timer: TimerHandle | null = null;
  /** Bumped by start and stop: answers of an older connection's poll are dropped. */
  private generation = 0;
  private polling = false;
  private readonly limited: RateLimitedLog;

  constructor(private readonly options: ServerPollerOptions) {
    // Once per source and ten minutes: a FreeSWITCH that answers oddly says so once, not every poll.
    this.limited = new RateLimitedLog(options.logger, 600_000, options.clock);
  }

  /** The connection is up: read the core's figures now, then poll on the interval. */
  start(): void {
    this.stop();
    const generation = this.generation;
    void this.run(generation, true);
  }

  /** The connection went: no more commands; a poll in flight is forgotten. */
  stop(): void {
    this.generation++;
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    this.polling = false;
  }

  private schedule(generation: number): void {
    const { pollIntervalMs, clock } = this.options;
    if (pollIntervalMs <= 0 || generation !== this.generation) return;
    this.timer = clock.setTimeout(() => {
      this.timer = null;
      void this.run(generation, false);
    }, pollIntervalMs);
    this.timer.unref?.();
  }

  private async run(generation: number, connected: boolean): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      if (connected) await this.readCore(generation, true);
      if (this.options.pollIntervalMs > 0) await this.poll(generation);
    } finally {
      if (generation === this.generation) {
        this.polling = false;
        this.schedule(generation);
      }
    }
  }

  /** One command; undefined when it failed or belongs to an older connection. */
  private async ask(generation: number, command: string, source: HealthSource) {
    if (generation !== this.generation) return undefined;
    try {
      const text = await this.options.api(command);
      if (generation !== this.generation) return undefined;
      if (/^-ERR permission denied/i.test(text)) {
        // event_socket.conf's apply-inbound-acl / allowed-api keeps this user from the command:
        // a setting to change, said once in a while, not an answer to read.
        this.options.failed(source);
        this.limited.warn(
          `${this.options.health.instance}:denied:${source}`,
          { fs_instance: this.options.health.instance, command },
          "FreeSWITCH refused a health command to this ESL user (permission denied): allow it " +
            "(event_socket.conf allowed-api) or set health.poll_interval: 0 for the sofia commands",
        );
        return undefined;
      }
      return text;
    } catch (error) {
      if (generation !== this.generation) return undefined;
      this.options.failed(source);
      this.limited.warn(
        `${this.options.health.instance}:health:${source}`,
        {
          fs_instance: this.options.health.instance,
          command,
          err: error instanceof Error ? error.message : String(error),
        },
        "a FreeSWITCH health command failed; its figures keep their last values until the next poll",
      );
      return undefined;
    }
  }

  private async readCore(generation: number, withHostname: boolean): Promise<void> {
    const { health } = this.options;
    const status = await this.ask(generation, HEALTH_COMMANDS.status, "status");
    if (status !== undefined) health.status(status);
    if (!withHostname) return;
    const hostname = await this.ask(generation, HEALTH_COMMANDS.hostname, "hostname");
    if (hostname !== undefined) health.hostnameAnswer(hostname);
  }

  private async poll(generation: number): Promise<void> {
    const { health } = this.options;
    const listing = await this.ask(generation, HEALTH_COMMANDS.profiles, "sofia_xmlstatus");
    if (listing === undefined) return;
    if (commandMissing(listing)) {
      // No mod_sofia: no SIP profiles to report, which is not an error.
      health.sofia([], []);
      await this.readCore(generation, false);
      return;
    }
    const profiles = parseProfiles(listing);
    if (profiles === null) {
      health.countUnreadable("sofia_xmlstatus", listing);
      return;
    }
    const detail = await this.ask(generation, HEALTH_COMMANDS.gateways, "sofia_xmlstatus_gateway");
    if (detail === undefined) return;
    const gateways: GatewayFigures[] | null = parseGateways(detail);
    if (gateways === null) {
      health.countUnreadable("sofia_xmlstatus_gateway", detail);
      return;
    }
    const views: ProfileView[] = [];
    for (const profile of profiles) {
      const command = HEALTH_COMMANDS.profile(profile.name);
      const answer = await this.ask(generation, command, "sofia_xmlstatus_profile");
      if (answer === undefined && generation !== this.generation) return;
      let registrations: number | null = null;
      if (answer !== undefined) {
        registrations = parseProfileRegistrations(answer);
        // A profile stopped between the two commands answers "Invalid Profile!": not an error.
        if (registrations === null && !answer.startsWith("Invalid Profile")) {
          health.countUnreadable("sofia_xmlstatus_profile", answer);
        }
      }
      views.push({ ...profile, registrations });
    }
    if (generation !== this.generation) return;
    health.sofia(views, gateways);
    await this.readCore(generation, false);
  }
}
