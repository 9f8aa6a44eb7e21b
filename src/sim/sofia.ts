// The simulated switch's mod_sofia: its two SIP profiles, their gateways and the one registration
// they make, shaped after the test bed of test/fixtures/freeswitch-1.11 (profile `a` with the
// gateways b-reg, b-ping and nowhere; profile `b` holding b-reg's registration). The profiles are
// the ones the simulator's calls use (`internal` for phones, `external` for carriers), so that
// `RUNNING (n)` counts the legs `show channels` lists on them: `external` plays the test bed's
// `a`, `internal` its `b`. State is read at an instant, from the channel registry and the time
// since start (gateways.ts): no timer of its own.

import { randomUUID } from "node:crypto";
import type { ChannelRegistry, ProfileCalls } from "./channels.js";
import { type GatewaySpec, type GatewayView, gatewayAt, lastRegisteredMs } from "./gateways.js";
import { CARRIER_PROFILE, PHONE_PROFILE } from "./leg-builder.js";

export interface ProfileView extends ProfileCalls {
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  readonly context: string;
  /** `sip:mod_sofia@ip:port`: the listing's `<data>` and profile-info's `<url>`. */
  readonly url: string;
  /** Legs on the profile now. */
  readonly inUse: number;
  /** sofia_profile_reg_count: registrations the profile holds. */
  readonly registrations: number;
}

/** A row of the core `registrations` table (`show registrations`), in its column order. */
export interface RegistrationRow {
  readonly reg_user: string;
  readonly realm: string;
  readonly token: string;
  readonly url: string;
  readonly expires: string;
  readonly network_ip: string;
  readonly network_port: string;
  readonly network_proto: string;
  readonly hostname: string;
  readonly metadata: string;
}

export const REGISTRATION_COLUMNS = [
  "reg_user",
  "realm",
  "token",
  "url",
  "expires",
  "network_ip",
  "network_port",
  "network_proto",
  "hostname",
  "metadata",
] as const satisfies ReadonlyArray<keyof RegistrationRow>;

/** Everything `sofia xmlstatus …` and `show registrations` print, at one instant. */
export interface SofiaSnapshot {
  /** In listing order, each with its gateways in listing order. */
  readonly profiles: ReadonlyArray<{ profile: ProfileView; gateways: readonly GatewayView[] }>;
  readonly registrations: readonly RegistrationRow[];
}

export interface SimSofiaOptions {
  /** The switch's address (FreeSWITCH-IPv4): where its profiles listen. */
  readonly ip: string;
  /** The core registrations table's `hostname` column: the switchname. */
  readonly switchname: string;
  /** False: profiles without gateways, hence no registration either (`--no-gateways`). */
  readonly gateways?: boolean;
}

interface ProfileSpec {
  readonly name: string;
  readonly port: number;
  readonly context: string;
}

/** Listing order: the gateways' profile first, as the test bed's `a` (hash order there). */
const PROFILES: readonly ProfileSpec[] = [
  { name: CARRIER_PROFILE.name, port: CARRIER_PROFILE.port, context: "public" },
  { name: PHONE_PROFILE.name, port: PHONE_PROFILE.port, context: "default" },
];

/** Seconds sofia keeps a registration past its expiry (sip-expires-late-margin, default 60). */
const EXPIRES_LATE_MARGIN_S = 60;
/** flaky's outage: its OPTIONS go unanswered from 60 s to 120 s of every 3 minutes. */
export const FLAKY_OUTAGE = { periodMs: 180_000, fromMs: 60_000, toMs: 120_000 } as const;

/** The gateways in configuration order (sofia lists a profile's gateways in reverse). */
function gatewaySpecs(ip: string): GatewaySpec[] {
  const registrar = `${ip}:${PHONE_PROFILE.port}`;
  const profile = CARRIER_PROFILE.name;
  return [
    {
      name: "b-reg",
      profile,
      proxy: registrar,
      realm: ip,
      username: "sim-external",
      hasPassword: true,
      register: true,
      expireSeconds: 60,
      retrySeconds: 5,
    },
    {
      name: "b-ping",
      profile,
      proxy: registrar,
      hasPassword: false,
      register: false,
      expireSeconds: 3600,
      retrySeconds: 30,
      ping: { freqS: 5, answers: { kind: "always" }, rttMs: [0.6, 1.9] },
    },
    {
      name: "nowhere",
      profile,
      proxy: `${ip}:9`,
      hasPassword: false,
      register: false,
      expireSeconds: 3600,
      retrySeconds: 30,
      ping: { freqS: 5, answers: { kind: "never" }, rttMs: [0, 0] },
    },
    {
      name: "flaky",
      profile,
      proxy: "203.0.113.1:5060",
      hasPassword: false,
      register: false,
      expireSeconds: 3600,
      retrySeconds: 30,
      ping: { freqS: 5, answers: { kind: "outage", ...FLAKY_OUTAGE }, rttMs: [18, 42] },
    },
  ];
}

export class SimSofia {
  private readonly ip: string;
  private readonly switchname: string;
  private readonly gateways: readonly GatewaySpec[];
  /** The Call-ID of b-reg's REGISTERs: sofia keeps one per gateway handle. */
  private readonly registerCallId = randomUUID();

  constructor(options: SimSofiaOptions) {
    this.ip = options.ip;
    this.switchname = options.switchname;
    this.gateways = options.gateways === false ? [] : gatewaySpecs(options.ip);
  }

  /** Gateway names in configuration order. */
  get gatewayNames(): string[] {
    return this.gateways.map((g) => g.name);
  }

  snapshot(nowMs: number, startedAtMs: number, channels: ChannelRegistry): SofiaSnapshot {
    const elapsed = Math.max(0, nowMs - startedAtMs);
    const registrations = this.registrations(elapsed, startedAtMs);
    const profiles = PROFILES.map((spec) => {
      const home = { ip: this.ip, port: spec.port, context: spec.context };
      const gateways = this.gateways
        .filter((g) => g.profile === spec.name)
        .reverse()
        .map((g) => gatewayAt(g, home, nowMs, startedAtMs));
      const profile: ProfileView = {
        name: spec.name,
        ip: this.ip,
        port: spec.port,
        context: spec.context,
        url: `sip:mod_sofia@${this.ip}:${spec.port}`,
        inUse: channels.inUseOn(spec.name),
        registrations: registrations.filter((r) => r.url.startsWith(`sofia/${spec.name}/`)).length,
        ...channels.callsOn(spec.name),
      };
      return { profile, gateways };
    });
    return { profiles, registrations };
  }

  /** The registrar's rows: a registering gateway of ours, once the profile accepted it. */
  private registrations(elapsed: number, startedAtMs: number): RegistrationRow[] {
    const rows: RegistrationRow[] = [];
    for (const g of this.gateways) {
      const at = lastRegisteredMs(g, elapsed);
      if (at === undefined) continue;
      const home = PROFILES.find((p) => p.name === g.profile);
      const registrar = PROFILES.find((p) => g.proxy === `${this.ip}:${p.port}`);
      if (home === undefined || registrar === undefined) continue;
      const contact = `sip:gw+${g.name}@${this.ip}:${home.port};transport=udp;gw=${g.name}`;
      rows.push({
        reg_user: g.username ?? "FreeSWITCH",
        realm: g.realm ?? g.proxy,
        token: this.registerCallId,
        url: `sofia/${registrar.name}/${contact}`,
        expires: String(
          Math.floor((startedAtMs + at) / 1000) + g.expireSeconds + EXPIRES_LATE_MARGIN_S,
        ),
        network_ip: this.ip,
        network_port: String(home.port),
        network_proto: "udp",
        hostname: this.switchname,
        metadata: "",
      });
    }
    return rows;
  }
}
