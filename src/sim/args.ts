// Command-line options of `fsagent simulate`. Invalid input is a UsageError with one line that
// names the option and what it accepts; the CLI prints it and exits 2.

import { UsageError } from "../usage-error.js";
import { CODEC_NAMES, type CodecName, findCodec } from "./codecs.js";
import { PROFILE_NAMES, type ProfileName } from "./media.js";

export interface SimulateOptions {
  port: number;
  host: string;
  password: string;
  /** Max concurrent calls. */
  calls: number;
  /** New calls per second. */
  rate: number;
  /** Mean talk time, seconds. */
  durationS: number;
  /** Share of bridged (two-leg) calls, 0..1. */
  bridged: number;
  /** Share of calls cancelled while ringing, 0..1. */
  unanswered: number;
  /** RTCP report interval per leg after the 4-s warm-up, seconds; 0 disables RTCP. */
  rtcpIntervalS: number;
  /** Sets `fire_rtcp_events=true`, without which FreeSWITCH fires no SEND_RTCP_MESSAGE. */
  sendRtcp: boolean;
  /** HEARTBEAT period, seconds; 0 disables. */
  heartbeatS: number;
  rude: boolean;
  /** PRNG seed; undefined picks one from the clock (and the simulator logs it). */
  seed: number | undefined;
  domains: string[];
  codecs: CodecName[];
  profiles: Partial<Record<ProfileName, number>>;
  hostname: string | undefined;
  /** mod_sofia's gateways (b-reg, b-ping, nowhere, flaky); false: profiles only. */
  gateways: boolean;
}

export const SIMULATE_HELP = `fsagent simulate — a FreeSWITCH event socket (mod_event_socket) with simulated calls

Usage: fsagent simulate [options]

  --port <n>              TCP port (default 8021; 0 picks a free one)
  --host <addr>           address to listen on (default 127.0.0.1)
  --password <pw>         ESL password (default ClueCon)
  --calls <n>             max concurrent calls (default 100)
  --rate <n>              new calls per second (default 5)
  --duration <s>          mean talk time in seconds, ±50% (default 30)
  --bridged <0..1>        share of calls bridged to an outbound B-leg (default 0.5)
  --unanswered <0..1>     share of calls cancelled while ringing (default 0.05)
  --rtcp-interval <s>     RTCP report interval per leg (rtcp_audio_interval_msec), after
                          FreeSWITCH's 4 reports 4 s apart; 0 disables RTCP (default 5)
  --send-rtcp             set fire_rtcp_events=true on every call: only then does FreeSWITCH
                          fire SEND_RTCP_MESSAGE for its own reports
  --heartbeat <s>         HEARTBEAT period; 0 disables (default 20)
  --rude                  reject every client as an ACL deny does (text/rude-rejection)
  --seed <n>              seed for reproducible calls (default: from the clock, logged)
  --domains <a,b,...>     tenant domains of A-legs (default tenant-a.example,tenant-b.example)
  --codecs <c,...>        codecs among ${CODEC_NAMES.join(",")} (default all)
  --profiles <p=w,...>    network quality mix, weights of good,average,bad (default good=70,average=20,bad=10)
  --hostname <name>       FreeSWITCH-Hostname of the events (default fs-sim)
  --no-gateways           sofia profiles without gateways (default: b-reg, b-ping, nowhere and
                          flaky, whose states change over time; see docs/simulator.md)
  -h, --help              this text`;

export const DEFAULT_SIMULATE_OPTIONS: Readonly<SimulateOptions> = {
  port: 8021,
  host: "127.0.0.1",
  password: "ClueCon",
  calls: 100,
  rate: 5,
  durationS: 30,
  bridged: 0.5,
  unanswered: 0.05,
  rtcpIntervalS: 5,
  sendRtcp: false,
  heartbeatS: 20,
  rude: false,
  seed: undefined,
  domains: ["tenant-a.example", "tenant-b.example"],
  codecs: [...CODEC_NAMES],
  profiles: {},
  hostname: undefined,
  gateways: true,
};

function number(option: string, text: string, min: number, max: number, integer: boolean): number {
  const value = Number(text);
  const kind = integer ? "an integer" : "a number";
  if (text.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${option} must be ${kind} from ${min} to ${max} (got "${text}")`);
  }
  if (value < min || value > max) {
    throw new UsageError(`${option} must be ${kind} from ${min} to ${max} (got ${text})`);
  }
  return value;
}

function list(option: string, text: string): string[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`${option} needs a comma-separated list`);
  return items;
}

function codecs(text: string): CodecName[] {
  return list("--codecs", text).map((name) => {
    const codec = findCodec(name);
    if (codec === undefined) {
      throw new UsageError(
        `--codecs: unknown codec "${name}" (allowed: ${CODEC_NAMES.join(", ")})`,
      );
    }
    return codec.name;
  });
}

function profiles(text: string): Partial<Record<ProfileName, number>> {
  const out: Partial<Record<ProfileName, number>> = {};
  for (const item of list("--profiles", text)) {
    const [name = "", weight = ""] = item.split("=");
    const profile = PROFILE_NAMES.find((p) => p === name.trim().toLowerCase());
    if (profile === undefined) {
      throw new UsageError(
        `--profiles: unknown profile "${name}" (allowed: ${PROFILE_NAMES.join(", ")}, as name=weight)`,
      );
    }
    out[profile] = number(`--profiles ${profile}`, weight, 0, 1_000_000, false);
  }
  if (Object.values(out).every((w) => w === 0)) {
    throw new UsageError("--profiles: at least one weight must be above 0");
  }
  return out;
}

const FLAGS = new Set(["--send-rtcp", "--rude", "--no-gateways"]);
const VALUED = new Set([
  "--port",
  "--host",
  "--password",
  "--calls",
  "--rate",
  "--duration",
  "--bridged",
  "--unanswered",
  "--rtcp-interval",
  "--heartbeat",
  "--seed",
  "--domains",
  "--codecs",
  "--profiles",
  "--hostname",
]);

/** Parses `fsagent simulate` arguments; throws UsageError with a one-line message. */
export function parseSimulateArgs(argv: readonly string[]): SimulateOptions {
  const o: SimulateOptions = {
    ...DEFAULT_SIMULATE_OPTIONS,
    domains: [...DEFAULT_SIMULATE_OPTIONS.domains],
    codecs: [...DEFAULT_SIMULATE_OPTIONS.codecs],
    profiles: {},
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const option = arg.startsWith("--") && eq !== -1 ? arg.slice(0, eq) : arg;
    if (FLAGS.has(option)) {
      if (eq !== -1) throw new UsageError(`${option} takes no value`);
      if (option === "--send-rtcp") o.sendRtcp = true;
      else if (option === "--no-gateways") o.gateways = false;
      else o.rude = true;
      continue;
    }
    if (!option.startsWith("--")) {
      throw new UsageError(`unexpected argument "${arg}" (see fsagent simulate --help)`);
    }
    if (!VALUED.has(option)) {
      throw new UsageError(`unknown option "${option}" (see fsagent simulate --help)`);
    }
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`${option} needs a value`);
      value = next;
      i++;
    }
    switch (option) {
      case "--port":
        o.port = number(option, value, 0, 65535, true);
        break;
      case "--host":
        if (value.trim() === "") throw new UsageError("--host needs an address");
        o.host = value;
        break;
      case "--password":
        o.password = value;
        break;
      case "--calls":
        o.calls = number(option, value, 1, 1_000_000, true);
        break;
      case "--rate":
        o.rate = number(option, value, 0, 100_000, false);
        break;
      case "--duration":
        o.durationS = number(option, value, 1, 86_400, false);
        break;
      case "--bridged":
        o.bridged = number(option, value, 0, 1, false);
        break;
      case "--unanswered":
        o.unanswered = number(option, value, 0, 1, false);
        break;
      case "--rtcp-interval":
        o.rtcpIntervalS = number(option, value, 0, 3600, false);
        break;
      case "--heartbeat":
        o.heartbeatS = number(option, value, 0, 86_400, false);
        break;
      case "--seed":
        o.seed = number(option, value, -2147483648, 4294967295, true);
        break;
      case "--domains":
        o.domains = list(option, value);
        break;
      case "--codecs":
        o.codecs = codecs(value);
        break;
      case "--profiles":
        o.profiles = profiles(value);
        break;
      case "--hostname":
        if (value.trim() === "") throw new UsageError("--hostname needs a name");
        o.hostname = value;
        break;
      default:
        throw new UsageError(`unknown option "${option}" (see fsagent simulate --help)`);
    }
  }
  return o;
}
