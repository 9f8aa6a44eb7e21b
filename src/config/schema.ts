import { accessSync, constants } from "node:fs";
import { z } from "zod";
import type { Path } from "./paths.js";
import {
  formatDuration,
  isHeaderName,
  isHeaderValue,
  MAX_TIMER_MS,
  parseBoolean,
  parseChoice,
  parseDuration,
  parseEndpoint,
  parseHost,
  parseInteger,
  parseName,
  parseNumber,
  parseSingleLine,
} from "./scalars.js";
import { closest } from "./suggest.js";
import { OTLP_COMPRESSIONS, OTLP_PROTOCOLS } from "./types.js";

// The file's shape (snake_case, as in SPEC section 5) and every rule a value must follow. The
// messages are the "what is allowed" half of an error line; the key, value and source are added
// by report.ts, which is why every issue here is a plain sentence starting with "expected".

const PORT = "expected an integer from 1 to 65535";
const DURATION = `expected a duration > 0: seconds as a number, or a string with a unit ms, s, m or h (e.g. "500ms", "30s", "1.5m"), at most ${Math.floor(MAX_TIMER_MS / 3_600_000)}h`;
const HOST = "expected a host name or IP address (no spaces, no scheme, no port)";
const SECRET = "expected a string without line breaks (quote it in YAML if it looks like a number)";

function leaf<T>(expected: string, parse: (value: unknown) => T | undefined) {
  return z.unknown().transform((value, ctx): T => {
    const parsed = parse(value);
    if (parsed === undefined) {
      ctx.issues.push({ code: "custom", message: expected, input: value });
      return z.NEVER;
    }
    return parsed;
  });
}

/** A mapping that rejects unknown keys, naming the keys it allows so that a typo is obvious. */
function section<S extends z.core.$ZodLooseShape>(shape: S) {
  const keys = Object.keys(shape);
  const allowed = keys.join(", ");
  return z.strictObject(shape, {
    // One issue lists every unknown key of the mapping; the message is about the first, which is
    // the one report.ts names.
    error: (issue) => {
      if (issue.code !== "unrecognized_keys") return `expected a mapping with the keys ${allowed}`;
      const guess = closest(issue.keys[0] ?? "", keys);
      const hint = guess === undefined ? "" : ` (did you mean ${JSON.stringify(guess)}?)`;
      return `unknown key${hint}; allowed keys here: ${allowed}`;
    },
  });
}

const port = leaf(PORT, (v) => parseInteger(v, 1, 65535));
const duration = leaf(DURATION, parseDuration);
// A path to read at start-up; "" = not set. Whether it can be read is checked in crossCheck.
const filePath = leaf("expected a file path (a string without line breaks)", parseSingleLine);
const host = leaf(HOST, parseHost);
const secret = leaf(SECRET, parseSingleLine);
const boolean = leaf("expected one of true, false, 1, 0, yes, no", parseBoolean);

function choice<const T extends string>(choices: readonly T[]) {
  return leaf(`expected one of ${choices.join(", ")}`, (v) => parseChoice(v, choices));
}

const headers = z.unknown().transform((value, ctx): Record<string, string> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    ctx.issues.push({
      code: "custom",
      message: "expected a mapping of header names to string values",
      input: value,
    });
    return z.NEVER;
  }
  const out: [string, string][] = [];
  const seen = new Map<string, string>();
  for (const [name, headerValue] of Object.entries(value)) {
    const problem = headerProblem(name, headerValue, seen.get(name.toLowerCase()));
    if (problem !== undefined) {
      ctx.issues.push({ code: "custom", message: problem, input: headerValue, path: [name] });
      continue;
    }
    seen.set(name.toLowerCase(), name);
    out.push([name, headerValue as string]);
  }
  return Object.fromEntries(out);
});

function headerProblem(
  name: string,
  value: unknown,
  clash: string | undefined,
): string | undefined {
  if (!isHeaderName(name)) {
    return "expected a header name made of letters, digits, '-', '_' or '.'";
  }
  // gRPC metadata is case-insensitive: two spellings would silently become one header.
  if (clash !== undefined) return `duplicate header name (same as ${JSON.stringify(clash)})`;
  if (typeof value !== "string") return SECRET;
  if (!isHeaderValue(value)) return "expected printable ASCII characters only";
  return undefined;
}

const instance = section({
  name: leaf("expected a non-empty name without whitespace", parseName),
  host,
  port: port.default(8021),
  // FreeSWITCH's out-of-the-box event socket password.
  password: secret.default("ClueCon"),
});

function instances(requireInstances: boolean) {
  return z
    .array(instance, {
      error: "expected a list of FreeSWITCH instances, each with name, host, port, password",
    })
    .superRefine((list, ctx) => {
      if (requireInstances && list.length === 0) {
        ctx.addIssue({
          code: "custom",
          message:
            "expected at least one FreeSWITCH instance (in the file or FSAGENT_FREESWITCH_INSTANCES)",
        });
      }
      const firstIndex = new Map<string, number>();
      list.forEach((entry, index) => {
        const first = firstIndex.get(entry.name);
        if (first === undefined) {
          firstIndex.set(entry.name, index);
          return;
        }
        ctx.addIssue({
          code: "custom",
          message: `duplicate instance name (already used by entry ${first}); names must be unique`,
          path: [index, "name"],
        });
      });
    })
    .prefault([]);
}

const backoff = section({
  initial: duration.default(1_000),
  factor: leaf("expected a number >= 1", (v) => parseNumber(v, 1)).default(2),
  max: duration.default(30_000),
  reset_after: duration.default(60_000),
}).prefault({});

const esl = section({
  connect_timeout: duration.default(5_000),
  command_timeout: duration.default(5_000),
  idle_timeout: duration.default(30_000),
  max_frame_bytes: leaf("expected an integer >= 1024 (bytes)", (v) =>
    parseInteger(v, 1024, Number.MAX_SAFE_INTEGER),
  ).default(16 * 1024 * 1024),
  backoff,
}).prefault({});

const lookups = section({
  // A restart among live calls looks up every leg once: 100/s labels 6,000 legs within a minute,
  // and FreeSWITCH answers that many uuid_dumps without noticing.
  rate: leaf("expected an integer from 0 (no limit) to 100000 (look-ups per second)", (v) =>
    parseInteger(v, 0, 100_000),
  ).default(100),
  not_found_ttl: duration.default(60_000),
  // At least a few large channel events; 16 MiB is one max-size frame.
  max_waiting_bytes: leaf("expected an integer >= 65536 (bytes)", (v) =>
    parseInteger(v, 65_536, Number.MAX_SAFE_INTEGER),
  ).default(16 * 1024 * 1024),
}).prefault({});

const storage = section({
  type: choice(["memory", "redis"]).default("memory"),
  max_legs: leaf("expected an integer from 100 to 10000000", (v) =>
    parseInteger(v, 100, 10_000_000),
  ).default(100_000),
  leg_ttl: duration.default(24 * 3_600_000),
  redis: section({
    host: host.default("localhost"),
    port: port.default(6379),
    password: secret.default(""),
    db: leaf("expected an integer >= 0", (v) =>
      parseInteger(v, 0, Number.MAX_SAFE_INTEGER),
    ).default(0),
    key_prefix: leaf("expected 1 to 64 characters without whitespace", (v) =>
      typeof v === "string" && /^\S{1,64}$/.test(v) ? v : undefined,
    ).default("fsagent:"),
    // Redis 6 ACL user; "" = the default user (password-only AUTH).
    username: leaf("expected a user name without line breaks", parseSingleLine).default(""),
    tls: boolean.default(false),
    ca_file: filePath.default(""),
  }).prefault({}),
}).prefault({});

const opentelemetry = section({
  // false: no OTLP export of any kind (metrics and quality records); the agent still serves
  // /metrics, /health and the status page.
  enabled: boolean.default(true),
  // OTLP/gRPC, or OTLP/HTTP with binary protobuf bodies (http/json is not implemented: nothing
  // needs it, and it is several times the size on the wire).
  protocol: leaf("expected one of grpc, http/protobuf (http/json is not supported)", (v) =>
    parseChoice(v, OTLP_PROTOCOLS),
  ).default("grpc"),
  // No default here: its default depends on the protocol, and load.ts needs to know whether
  // anyone set it (see endpointExplicit).
  endpoint: leaf(
    'expected host:port or http(s)://host[:port][/path], e.g. "localhost:4317" or "http://localhost:4318"',
    parseEndpoint,
  ).optional(),
  insecure: boolean.default(true),
  headers: headers.default({}),
  // gzip for both protocols (gRPC's grpc-encoding, HTTP's Content-Encoding): a Collector across a
  // WAN or a metered vendor link gets a fifth of the bytes, for some CPU per export.
  compression: choice(OTLP_COMPRESSIONS).default("none"),
  export_interval: duration.default(10_000),
  export_timeout: duration.default(5_000),
  retry_queue_size: leaf("expected an integer from 0 to 1000000 (data points; 0 = no queue)", (v) =>
    parseInteger(v, 0, 1_000_000),
  ).default(10_000),
  tls: section({
    ca_file: filePath.default(""),
    cert_file: filePath.default(""),
    key_file: filePath.default(""),
  }).prefault({}),
}).prefault({});

const http = section({
  host: host.default("0.0.0.0"),
  port: leaf("expected an integer from 0 to 65535 (0 = any free port)", (v) =>
    parseInteger(v, 0, 65535),
  ).default(8080),
  // The status page at / and its JSON at /api/status (issue 9).
  ui: boolean.default(true),
  // The exporter-toolkit's web config (issue 22), checked in crossCheck.
  web_config_file: filePath.default(""),
  auth_exempt: leaf(
    'expected a list of paths starting with "/" (in the environment: comma-separated, or "none")',
    parsePathList,
  ).default(["/health", "/ready"]),
}).prefault({});

/**
 * A YAML list of paths, or (environment) one string of comma-separated paths; "none" is the
 * empty list there (an empty variable counts as unset).
 */
function parsePathList(value: unknown): string[] | undefined {
  if (typeof value === "string" && value.trim() === "none") return [];
  const items =
    typeof value === "string"
      ? value
          .split(",")
          .map((p) => p.trim())
          .filter((p) => p !== "")
      : Array.isArray(value)
        ? value
        : undefined;
  if (items === undefined) return undefined;
  if (!items.every((p) => typeof p === "string" && p.startsWith("/") && !/[\s?#]/.test(p))) {
    return undefined;
  }
  return items as string[];
}

const logging = section({
  level: choice(["debug", "info", "warn", "error"]).default("info"),
  format: choice(["json", "text"]).default("json"),
}).prefault({});

const events = section({
  rtcp: boolean.default(true),
  qos: boolean.default(true),
}).prefault({});

const metrics = section({
  // false: only the low-cardinality aggregates, no series per leg (issue 8).
  per_leg: boolean.default(true),
}).prefault({});

const logs = section({
  // The per-leg quality records over OTLP logs.
  enabled: boolean.default(true),
}).prefault({});

const POLL_INTERVAL_MIN_MS = 1_000;
/** health.poll_interval's default (the demo polls faster when it is left at it). */
export const HEALTH_POLL_DEFAULT_MS = 30_000;

const health = section({
  // FreeSWITCH's SIP profiles, gateways and registrations, read over each instance's connection
  // (issue 20); 0 = no polling (HEARTBEAT and the `status` read at each connection remain).
  poll_interval: leaf(
    `expected 0 (no polling) or a duration of at least 1s: seconds as a number, or a string with a unit (e.g. "30s")`,
    (v) => {
      if (v === 0 || v === "0") return 0;
      const ms = parseDuration(v);
      return ms !== undefined && ms >= POLL_INTERVAL_MIN_MS ? ms : undefined;
    },
  ).default(HEALTH_POLL_DEFAULT_MS),
}).prefault({});

const LEASE_TTL_MIN_MS = 1_000;
const LEASE_TTL_MAX_MS = 3_600_000;

const ha = section({
  enabled: boolean.default(false),
  // Seconds as a number (FSAGENT_HA_LEASE_TTL=15) or a duration string, like every duration.
  lease_ttl: leaf(
    `expected a duration from 1s to 1h: seconds as a number, or a string with a unit (e.g. "15s")`,
    (v) => {
      const ms = parseDuration(v);
      return ms !== undefined && ms >= LEASE_TTL_MIN_MS && ms <= LEASE_TTL_MAX_MS ? ms : undefined;
    },
  ).default(15_000),
  // A holder that cannot connect to its FreeSWITCH this long gives the lease to a replica that
  // can (src/ha/unreachable.ts).
  unreachable_release_after: leaf(
    `expected a duration from 1s to 1h: seconds as a number, or a string with a unit (e.g. "30s")`,
    (v) => {
      const ms = parseDuration(v);
      return ms !== undefined && ms >= 1_000 && ms <= 3_600_000 ? ms : undefined;
    },
  ).default(30_000),
  // "" = <hostname>-<pid>, resolved when the agent starts (src/ha/replica-id.ts).
  replica_id: leaf(
    'expected up to 128 characters without whitespace ("" = <hostname>-<pid>)',
    (v) => {
      const text = typeof v === "number" && Number.isFinite(v) ? String(v) : v;
      return typeof text === "string" && /^\S{0,128}$/.test(text) ? text : undefined;
    },
  ).default(""),
}).prefault({});

/** The whole file. `requireInstances` is false for the demo, which brings its own simulator. */
export function fileSchema(options: { requireInstances: boolean }) {
  return section({
    freeswitch_instances: instances(options.requireInstances),
    storage,
    opentelemetry,
    http,
    logging,
    events,
    metrics,
    logs,
    esl,
    ha,
    health,
    lookups,
  });
}

export type FileConfig = z.output<ReturnType<typeof fileSchema>>;

export interface CrossProblem {
  readonly path: Path;
  readonly message: string;
}

/**
 * Rules between two keys. They run on the validated values, and blame a key the operator set:
 * blaming a key that only has its default would read as "esl.backoff.max is missing".
 */
export function crossCheck(config: FileConfig, isSet: (path: Path) => boolean): CrossProblem[] {
  return [
    ...notLonger(
      config.esl.backoff.initial,
      ["esl", "backoff", "initial"],
      config.esl.backoff.max,
      ["esl", "backoff", "max"],
      isSet,
    ),
    ...timeoutWithinInterval(config, isSet),
    ...pairedFiles(config.opentelemetry.tls.cert_file, config.opentelemetry.tls.key_file),
    ...readable(["opentelemetry", "tls", "ca_file"], config.opentelemetry.tls.ca_file),
    ...readable(["opentelemetry", "tls", "cert_file"], config.opentelemetry.tls.cert_file),
    ...readable(["opentelemetry", "tls", "key_file"], config.opentelemetry.tls.key_file),
    ...readable(["storage", "redis", "ca_file"], config.storage.redis.ca_file),
    ...haNeedsRedis(config),
  ];
}

const TIMEOUT: Path = ["opentelemetry", "export_timeout"];
const INTERVAL: Path = ["opentelemetry", "export_interval"];

/**
 * An export must end before the next one starts. Only a pair the operator set both halves of can
 * contradict itself: one set alone moves the other (exportTiming).
 */
function timeoutWithinInterval(config: FileConfig, isSet: (path: Path) => boolean): CrossProblem[] {
  if (!isSet(TIMEOUT) || !isSet(INTERVAL)) return [];
  const { export_timeout: timeout, export_interval: interval } = config.opentelemetry;
  if (timeout <= interval) return [];
  const message = `expected a duration no longer than opentelemetry.export_interval (${formatDuration(interval)})`;
  return [{ path: TIMEOUT, message }];
}

/**
 * The export interval and timeout actually used. Set alone, the interval brings the timeout down
 * with it (timeout = min(interval, its default)), and the timeout brings the interval up (interval
 * = max(its default, timeout)): OTEL_METRIC_EXPORT_INTERVAL=1000 on its own means what it says.
 */
export function exportTiming(
  config: FileConfig,
  isSet: (path: Path) => boolean,
): { intervalMs: number; timeoutMs: number } {
  const { export_timeout: timeout, export_interval: interval } = config.opentelemetry;
  const timeoutSet = isSet(TIMEOUT);
  const intervalSet = isSet(INTERVAL);
  if (timeoutSet && !intervalSet) {
    return { intervalMs: Math.max(interval, timeout), timeoutMs: timeout };
  }
  if (!timeoutSet) return { intervalMs: interval, timeoutMs: Math.min(interval, timeout) };
  return { intervalMs: interval, timeoutMs: timeout };
}

/** Replicas coordinate through Redis: leases, presence and the leg state the next owner reads. */
function haNeedsRedis(config: FileConfig): CrossProblem[] {
  if (!config.ha.enabled || config.storage.type === "redis") return [];
  return [
    {
      path: ["ha", "enabled"],
      message: `expected false while storage.type is ${config.storage.type}: replicas share the FreeSWITCH instances through Redis (set storage.type: redis)`,
    },
  ];
}

/** A client certificate needs its key and the other way round. */
function pairedFiles(certFile: string, keyFile: string): CrossProblem[] {
  if ((certFile === "") === (keyFile === "")) return [];
  const missing = certFile === "" ? "cert_file" : "key_file";
  const other = certFile === "" ? "key_file" : "cert_file";
  return [
    {
      path: ["opentelemetry", "tls", missing],
      message: `expected a file path: a client ${other === "key_file" ? "certificate" : "key"} needs opentelemetry.tls.${missing} too`,
    },
  ];
}

/** A configured file must be readable now: better a one-line error at start than a TLS failure later. */
function readable(path: Path, file: string): CrossProblem[] {
  if (file === "") return [];
  try {
    accessSync(file, constants.R_OK);
    return [];
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code;
    return [{ path, message: `expected a readable file (${why})` }];
  }
}

/** `short` must not exceed `long`; blames whichever of the two the operator set. */
function notLonger(
  short: number,
  shortPath: Path,
  long: number,
  longPath: Path,
  isSet: (path: Path) => boolean,
): CrossProblem[] {
  if (short <= long) return [];
  if (isSet(shortPath)) {
    const message = `expected a duration no longer than ${longPath.join(".")} (${formatDuration(long)})`;
    return [{ path: shortPath, message }];
  }
  const message = `expected a duration no shorter than ${shortPath.join(".")} (${formatDuration(short)})`;
  return [{ path: longPath, message }];
}
