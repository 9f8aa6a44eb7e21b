// The API commands the simulator answers (`api` and `bgapi`), with mod_commands' output formats
// (and mod_sofia's for `sofia`, see sofia-api.ts). An unknown command yields undefined; the caller
// turns that into "-ERR <cmd> Command not found!".

import { plainEventBody } from "../esl/wire.js";
import { channelData } from "./channel-data.js";
import { CHANNEL_COLUMNS, type ChannelRegistry } from "./channels.js";
import type { EventFactory, SimEvent } from "./events.js";
import { cFixed2, uptimeText } from "./format.js";
import { FS_VERSION, FS_VERSION_HUMAN, idleCpu } from "./heartbeat.js";
import { BRIDGED_A_LEG } from "./layouts/bridged-a-leg.js";
import { noVars, type VariableLayout } from "./layouts/variables.js";
import type { SimLeg } from "./leg.js";
import { jsonEventBody } from "./outgoing.js";
import { REGISTRATION_COLUMNS, type SimSofia, type SofiaSnapshot } from "./sofia.js";
import { sofiaApi } from "./sofia-api.js";

export interface ApiContext {
  readonly channels: ChannelRegistry;
  readonly factory: EventFactory;
  readonly now: () => number;
  readonly startedAtMs: number;
  readonly maxSessions: number;
  /** Configured sessions-per-second limit. */
  readonly sessionsPerSecond: number;
  /** mod_sofia; without it `sofia` is an unknown command, as with the module not loaded. */
  readonly sofia?: SimSofia;
}

const SHOW_USAGE =
  "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|" +
  "channels [count|like <match string>]|calls|detailed_calls|bridged_calls|" +
  "detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|" +
  "interface_types|tasks|limits|status\n";

/** Runs `command` with `arg`; undefined when the simulator has no such command. */
export function executeApi(
  command: string,
  arg: string | undefined,
  ctx: ApiContext,
): string | undefined {
  switch (command.toLowerCase()) {
    case "status":
      return status(ctx);
    case "version":
      return `FreeSWITCH Version ${FS_VERSION} (${FS_VERSION_HUMAN})\n`;
    case "hostname":
      return ctx.factory.hostname;
    case "uptime":
      return String(Math.floor((ctx.now() - ctx.startedAtMs) / 1000));
    case "echo":
      return arg ?? "";
    case "show":
      return show(arg ?? "", ctx);
    case "global_getvar":
      return globalGetvar((arg ?? "").trim(), ctx);
    case "sofia":
      return ctx.sofia === undefined ? undefined : sofiaApi(arg, () => sofiaNow(ctx, ctx.sofia!));
    case "uuid_exists":
      return ctx.channels.get((arg ?? "").trim()) === undefined ? "false" : "true";
    case "uuid_dump":
      return uuidDump(arg ?? "", ctx);
    default:
      return undefined;
  }
}

function status(ctx: ApiContext): string {
  const now = ctx.now();
  const c = ctx.channels;
  return (
    `UP ${uptimeText((now - ctx.startedAtMs) * 1000)}\n` +
    `FreeSWITCH (Version ${FS_VERSION_HUMAN}) is ready\n` +
    `${c.sessionsSinceStartup} session(s) since startup\n` +
    `${c.size} session(s) - peak ${c.sessionPeakMax}, last 5min ${c.sessionPeakFiveMin(now)} \n` +
    `${c.sessionsPerSecondLast(now)} session(s) per Sec out of max ${ctx.sessionsPerSecond}, ` +
    `peak ${c.sessionsPerSecondMax}, last 5min ${c.sessionsPerSecondFiveMin(now)} \n` +
    `${ctx.maxSessions} session(s) max\n` +
    `min idle cpu ${cFixed2(0)}/${cFixed2(idleCpu(c.size))}\n` +
    "Current Stack Size/Max 240K/8192K\n"
  );
}

function show(arg: string, ctx: ApiContext): string {
  const words = arg
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "");
  const what = (words[0] ?? "").toLowerCase();
  const rest = words.slice(1).map((w) => w.toLowerCase());
  if (what === "channels") {
    return table(CHANNEL_COLUMNS, ctx.channels.rows(ctx.factory.hostname), rest);
  }
  if (what === "registrations") {
    const rows = ctx.sofia === undefined ? [] : sofiaNow(ctx, ctx.sofia).registrations;
    return table(REGISTRATION_COLUMNS, rows, rest);
  }
  return SHOW_USAGE;
}

/** show_callback's table (or count, or json) of one of the core's tables. */
function table<C extends string>(
  columns: readonly C[],
  rows: ReadonlyArray<Readonly<Record<C, string>>>,
  rest: readonly string[],
): string {
  if (rest[0] === "count") return `\n${rows.length} total.\n`;
  if (rest[0] === "as" && rest[1] === "json") {
    // cJSON_PrintUnformatted; "rows" is left out when there are none.
    return rows.length === 0
      ? JSON.stringify({ row_count: 0 })
      : JSON.stringify({ row_count: rows.length, rows });
  }
  if (rows.length === 0) return "\n0 total.\n";
  let out = `${columns.join(",")}\n`;
  for (const row of rows) out += `${columns.map((c) => row[c]).join(",")}\n`;
  return `${out}\n${rows.length} total.\n`;
}

function sofiaNow(ctx: ApiContext, sofia: SimSofia): SofiaSnapshot {
  return sofia.snapshot(ctx.now(), ctx.startedAtMs, ctx.channels);
}

/** The core variables switch_core_init sets that the simulator knows. */
function coreVariables(ctx: ApiContext): Array<[string, string]> {
  return [
    ["hostname", ctx.factory.hostname],
    ["local_ip_v4", ctx.factory.ipv4],
    ["local_ip_v6", ctx.factory.ipv6],
    ["core_uuid", ctx.factory.coreUuid],
  ];
}

/** `global_getvar <name>`: the value, no newline; nothing for an unknown one; all without a name. */
function globalGetvar(name: string, ctx: ApiContext): string {
  const vars = coreVariables(ctx);
  if (name === "") return vars.map(([n, v]) => `${n}=${v}\n`).join("");
  return vars.find(([n]) => n === name)?.[1] ?? "";
}

function uuidDump(arg: string, ctx: ApiContext): string {
  const [uuid, format = "txt"] = arg.trim().split(/\s+/);
  if (uuid === undefined || uuid === "") return "-USAGE: <uuid> [format]\n";
  const leg = ctx.channels.get(uuid);
  if (leg === undefined) return "-ERR No such channel!\n";
  const event = ctx.factory.create("CHANNEL_DATA", ctx.now(), channelData(leg, dumpLayout(leg)));
  switch (format.toLowerCase()) {
    case "json":
      return jsonEventBody(event).toString("utf8");
    case "plain":
      return dumpPlain(event);
    default:
      return plainEventBody(event.headers).toString("utf8");
  }
}

/**
 * The variables `uuid_dump` shows: for a bridged A-leg, those of uuid_dump.txt (a live bridged
 * A-leg of the lab); for any other leg, for which there is no capture, those of its last event.
 */
function dumpLayout(leg: SimLeg): VariableLayout {
  if (leg.role === "bridged-a" && leg.bridgedUs > 0) return BRIDGED_A_LEG.dump;
  return leg.lastLayout ?? noVars("no event yet");
}

/** switch_event_serialize without URL encoding (format `plain`). */
function dumpPlain(event: SimEvent): string {
  let out = "";
  for (const [name, value] of event.headers)
    out += `${name}: ${value === "" ? "_undef_" : value}\n`;
  return `${out}\n`;
}
