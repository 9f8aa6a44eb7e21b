// The simulated switch's sofia gateways and how their state moves with time, as mod_sofia moves
// it (sofia_reg_check_gateway in sofia_reg.c, which runs once a second, and the OPTIONS answers
// in sofia.c). A gateway's state is a pure function of the time since the switch started, so
// the same instant always reads the same, whoever asks, and no timer is needed.

/** sofia_state_names in mod_sofia.c. */
export type RegState =
  | "UNREGED"
  | "TRYING"
  | "REGISTER"
  | "REGED"
  | "UNREGISTER"
  | "FAILED"
  | "FAIL_WAIT"
  | "EXPIRED"
  | "NOREG"
  | "DOWN"
  | "TIMEOUT";

/** When a pinged gateway's OPTIONS get an answer. */
export type PingAnswers =
  | { readonly kind: "always" }
  | { readonly kind: "never" }
  /** Unanswered while (time since start) mod periodMs is in [fromMs, toMs). */
  | {
      readonly kind: "outage";
      readonly periodMs: number;
      readonly fromMs: number;
      readonly toMs: number;
    };

export interface GatewaySpec {
  readonly name: string;
  /** The profile the gateway belongs to (its contact is that profile's address). */
  readonly profile: string;
  /** The `proxy` param: host:port. */
  readonly proxy: string;
  /** The `realm` param; sofia uses the proxy when there is none. */
  readonly realm?: string;
  /** The `username` param; sofia's default is "FreeSWITCH". */
  readonly username?: string;
  readonly hasPassword: boolean;
  /** `register=true`: the FAILED → … → REGED start, then a re-REGISTER every freq − 15 s. */
  readonly register: boolean;
  /** `expire-seconds` (default 3600). */
  readonly expireSeconds: number;
  /** `retry-seconds` (default 30). */
  readonly retrySeconds: number;
  /** `ping` (seconds; pings start this long after the gateway is configured). */
  readonly ping?: {
    readonly freqS: number;
    readonly answers: PingAnswers;
    /** Round trip of an answered OPTIONS, milliseconds. */
    readonly rttMs: readonly [number, number];
  };
}

/** What `sofia xmlstatus gateway` prints of a gateway (xml_gateway_status), decoded. */
export interface GatewayView {
  readonly name: string;
  readonly profile: string;
  readonly realm: string;
  readonly username: string;
  readonly password: "yes" | "no";
  readonly from: string;
  readonly contact: string;
  readonly exten: string;
  readonly to: string;
  readonly proxy: string;
  readonly context: string;
  readonly expires: number;
  readonly freq: number;
  /** Epoch second of the next OPTIONS; 0 for a gateway that is not pinged. */
  readonly ping: number;
  readonly pingFreq: number;
  readonly pingMin: number;
  readonly pingCount: number;
  readonly pingMax: number;
  /** Last answered OPTIONS round trip, ms; 0 until one is answered and after a failure. */
  readonly pingTimeMs: number;
  readonly state: RegState;
  readonly status: "UP" | "DOWN";
  readonly uptimeUs: number;
  /** Seconds to the next REGISTER attempt: set in FAILED, FAIL_WAIT and TRYING only. */
  readonly retryS: number | undefined;
}

/** Where a gateway's profile listens, and its dialplan context. */
export interface GatewayHome {
  readonly ip: string;
  readonly port: number;
  readonly context: string;
}

/**
 * A registering gateway's start, as on the test bed (test/fixtures/freeswitch-1.11/README.md):
 * the first REGISTER is refused while the registrar's profile is still starting, so FAILED; at
 * the next check FAIL_WAIT for retry-seconds; then UNREGED, REGISTER (the 200 OK came), and REGED
 * at the check after: 8 s with the test bed's retry-seconds 5.
 */
const FAILED_FOR_MS = 1000;
/** sofia_reg_check_gateway's pace: a state set by one run lasts until the next. */
const CHECK_MS = 1000;
/** The test bed's profiles start about a second after the core, so a ping is due at 4 s. */
const FIRST_PING_MS = 4000;

/** `freq - 15` (freq > 30) or `freq / 2`: how long REGED lasts before the next REGISTER. */
function regedForMs(spec: GatewaySpec): number {
  const f = spec.expireSeconds;
  return Math.max(1, f > 30 ? f - 15 : Math.floor(f / 2)) * 1000;
}

/** When the registrar first accepts the REGISTER: the check after FAIL_WAIT ends. */
function firstAcceptedMs(spec: GatewaySpec): number {
  return FAILED_FOR_MS + spec.retrySeconds * 1000 + CHECK_MS;
}

/** From one accepted REGISTER to the next: REGED, then a check in UNREGED, one in REGISTER. */
function cycleMs(spec: GatewaySpec): number {
  return regedForMs(spec) + 2 * CHECK_MS;
}

const epochS = (ms: number) => Math.floor(ms / 1000);

interface RegView {
  readonly state: RegState;
  readonly status: "UP" | "DOWN";
  readonly upSinceMs: number;
  readonly retryAtMs: number | undefined;
}

/** A registering gateway `e` ms after start. */
function registration(spec: GatewaySpec, e: number): RegView {
  const down = (state: RegState, retryAtMs?: number): RegView => ({
    state,
    status: "DOWN",
    upSinceMs: 0,
    retryAtMs,
  });
  const accepted = firstAcceptedMs(spec);
  // The refused REGISTER went out at 0 with retry = now + retry-seconds; FAIL_WAIT resets it.
  if (e < FAILED_FOR_MS) return down("FAILED", spec.retrySeconds * 1000);
  if (e < accepted - CHECK_MS) return down("FAIL_WAIT", accepted - CHECK_MS);
  if (e < accepted) return down("UNREGED");
  const regedAt = accepted + CHECK_MS;
  if (e < regedAt) return down("REGISTER");
  // Each re-REGISTER passes through UNREGED and REGISTER; the status stays UP meanwhile.
  const phase = (e - regedAt) % cycleMs(spec);
  const reged = regedForMs(spec);
  const state: RegState =
    phase < reged ? "REGED" : phase < reged + CHECK_MS ? "UNREGED" : "REGISTER";
  return { state, status: "UP", upSinceMs: regedAt, retryAtMs: undefined };
}

/** When the registrar last accepted the gateway's REGISTER (ms after start); undefined before. */
export function lastRegisteredMs(spec: GatewaySpec, e: number): number | undefined {
  if (!spec.register) return undefined;
  const first = firstAcceptedMs(spec);
  if (e < first) return undefined;
  return first + Math.floor((e - first) / cycleMs(spec)) * cycleMs(spec);
}

function answered(answers: PingAnswers, atMs: number): boolean {
  switch (answers.kind) {
    case "always":
      return true;
    case "never":
      return false;
    case "outage": {
      const phase = atMs % answers.periodMs;
      return phase < answers.fromMs || phase >= answers.toMs;
    }
  }
}

/** A round trip for ping `k`: spread over the range, the same for the same ping. */
function rttMs(range: readonly [number, number], k: number): number {
  const u = (Math.imul(k + 1, 2654435761) >>> 0) / 4294967296;
  return range[0] + (range[1] - range[0]) * u;
}

interface PingView {
  readonly status: "UP" | "DOWN";
  readonly upSinceMs: number;
  readonly next: number;
  readonly count: number;
  readonly timeMs: number;
}

/**
 * A pinged NOREG gateway: UP from the start (sofia sets it UP when configured), then each OPTIONS
 * answered sets ping_count to 1 (ping-max 1) and UP, each unanswered one 0 and DOWN (ping-min 1).
 */
function pinging(ping: NonNullable<GatewaySpec["ping"]>, e: number): PingView {
  const freq = ping.freqS * 1000;
  const done = e < FIRST_PING_MS ? 0 : Math.floor((e - FIRST_PING_MS) / freq) + 1;
  const at = (k: number) => FIRST_PING_MS + k * freq;
  const next = at(done);
  if (done === 0) return { status: "UP", upSinceMs: 0, next, count: 0, timeMs: 0 };
  const last = done - 1;
  if (!answered(ping.answers, at(last))) {
    return { status: "DOWN", upSinceMs: 0, next, count: 0, timeMs: 0 };
  }
  // UP since the answer that ended the last failure (answers taken as instant), or since the
  // start if none failed: one outage period back is enough, as the answers repeat with it.
  const lookBack = ping.answers.kind === "outage" ? Math.ceil(ping.answers.periodMs / freq) : 0;
  let upSinceMs = 0;
  for (let k = last; k > 0 && k >= last - lookBack; k--) {
    if (!answered(ping.answers, at(k - 1))) {
      upSinceMs = at(k);
      break;
    }
  }
  return { status: "UP", upSinceMs, next, count: 1, timeMs: rttMs(ping.rttMs, last) };
}

/** The gateway as `sofia xmlstatus gateway` shows it `nowMs`, the switch started `startedAtMs`. */
export function gatewayAt(
  spec: GatewaySpec,
  home: GatewayHome,
  nowMs: number,
  startedAtMs: number,
): GatewayView {
  const e = Math.max(0, nowMs - startedAtMs);
  const username = spec.username ?? "FreeSWITCH";
  const ping = spec.ping === undefined ? undefined : pinging(spec.ping, e);
  const reg: RegView = spec.register
    ? registration(spec, e)
    : {
        state: "NOREG",
        status: ping?.status ?? "UP",
        upSinceMs: ping?.upSinceMs ?? 0,
        retryAtMs: undefined,
      };
  return {
    name: spec.name,
    profile: spec.profile,
    realm: spec.realm ?? spec.proxy,
    username,
    password: spec.hasPassword ? "yes" : "no",
    from: `<sip:${username}@${spec.proxy}>`,
    contact: `<sip:gw+${spec.name}@${home.ip}:${home.port};transport=udp;gw=${spec.name}>`,
    exten: username,
    to: `sip:${username}@${spec.proxy}`,
    proxy: `sip:${spec.proxy}`,
    context: home.context,
    expires: spec.expireSeconds,
    freq: spec.expireSeconds,
    ping: ping === undefined ? 0 : epochS(startedAtMs + ping.next),
    pingFreq: spec.ping?.freqS ?? 0,
    pingMin: spec.ping === undefined ? 0 : 1,
    pingCount: ping?.count ?? 0,
    pingMax: spec.ping === undefined ? 0 : 1,
    pingTimeMs: ping?.timeMs ?? 0,
    state: reg.state,
    status: reg.status,
    uptimeUs: reg.status === "UP" ? Math.round((e - reg.upSinceMs) * 1000) : 0,
    retryS:
      reg.retryAtMs === undefined ? undefined : epochS(startedAtMs + reg.retryAtMs) - epochS(nowMs),
  };
}
