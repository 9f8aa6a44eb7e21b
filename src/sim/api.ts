// The API commands the simulator answers (`api` and `bgapi`), with mod_commands' output formats.
// An unknown command yields undefined; the caller turns that into "-ERR <cmd> Command not found!".

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

export interface ApiContext {
  readonly channels: ChannelRegistry;
  readonly factory: EventFactory;
  readonly now: () => number;
  readonly startedAtMs: number;
  readonly maxSessions: number;
  /** Configured sessions-per-second limit. */
  readonly sessionsPerSecond: number;
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
  if (what !== "channels") return SHOW_USAGE;
  const rest = words.slice(1).map((w) => w.toLowerCase());
  const rows = ctx.channels.rows(ctx.factory.hostname);
  if (rest[0] === "count") return `\n${rows.length} total.\n`;
  if (rest[0] === "as" && rest[1] === "json") {
    // cJSON_PrintUnformatted; "rows" is left out when there are none.
    return rows.length === 0
      ? JSON.stringify({ row_count: 0 })
      : JSON.stringify({ row_count: rows.length, rows });
  }
  if (rows.length === 0) return "\n0 total.\n";
  let out = `${CHANNEL_COLUMNS.join(",")}\n`;
  for (const row of rows) out += `${CHANNEL_COLUMNS.map((c) => row[c]).join(",")}\n`;
  return `${out}\n${rows.length} total.\n`;
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
