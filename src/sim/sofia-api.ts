// The `sofia` API command (sofia_function in mod_sofia.c) as far as the simulator answers it:
// `xmlstatus` in full; `help` and no argument print the usage; the other real subcommands say
// they are not simulated; anything else is sofia's own "Unknown Command [x]".

import type { SofiaSnapshot } from "./sofia.js";
import { gatewaysXml, gatewayXml, profilesXml, profileXml } from "./sofia-xml.js";

const USAGE =
  "USAGE:\n" +
  "--------------------------------------------------------------------------------\n" +
  "sofia global siptrace <on|off>\n" +
  "sofia        capture  <on|off>\n" +
  "             watchdog <on|off>\n\n" +
  "sofia profile <name> [start | stop | restart | rescan] [wait]\n" +
  "                     flush_inbound_reg [<call_id> | <[user]@domain>] [reboot]\n" +
  "                     check_sync [<call_id> | <[user]@domain>]\n" +
  "                     [register | unregister] [<gateway name> | all]\n" +
  "                     killgw <gateway name>\n" +
  "                     [stun-auto-disable | stun-enabled] [true | false]]\n" +
  "                     siptrace <on|off>\n" +
  "                     capture  <on|off>\n" +
  "                     watchdog <on|off>\n\n" +
  "sofia <status|xmlstatus> profile <name> [reg [<contact str>]] | [pres <pres str>] | [user <user@domain>]\n" +
  "sofia <status|xmlstatus> gateway <name>\n\n" +
  "sofia loglevel <all|default|tport|iptsec|nea|nta|nth_client|nth_server|nua|soa|sresolv|stun> [0-9]\n" +
  "sofia tracelevel <console|alert|crit|err|warning|notice|info|debug>\n\n" +
  "sofia help\n" +
  "--------------------------------------------------------------------------------\n";

/** sofia's other subcommands: real, but no part of the simulation. */
const NOT_SIMULATED = new Set([
  "profile",
  "status",
  "jsonstatus",
  "tracelevel",
  "loglevel",
  "global",
  "recover",
]);

/** Runs `sofia <arg>` against the state at one instant. */
export function sofiaApi(arg: string | undefined, snapshot: () => SofiaSnapshot): string {
  const argv = (arg ?? "").split(" ").filter((w) => w !== "");
  const sub = argv[0];
  if (sub === undefined || sub.toLowerCase() === "help") return USAGE;
  if (sub.toLowerCase() === "xmlstatus") return xmlStatus(argv.slice(1), snapshot());
  if (NOT_SIMULATED.has(sub.toLowerCase())) return `-ERR sofia ${sub}: not simulated\n`;
  return `Unknown Command [${sub}]\n`;
}

/** cmd_xml_status: the argument count decides before the words do. */
function xmlStatus(argv: readonly string[], s: SofiaSnapshot): string {
  if (argv.length === 0) return profilesXml(s);
  // One word, whatever it is ("gateway", "profile", "x"): the summary of all gateways.
  if (argv.length === 1) return gatewaysXml(s);
  const [what = "", name = "", extra] = argv;
  if (what.toLowerCase() === "gateway") {
    // sofia_reg_find_gateway: by name, or as profile::name.
    for (const { profile, gateways } of s.profiles) {
      const g = gateways.find((x) => x.name === name || `${profile.name}::${x.name}` === name);
      if (g !== undefined) return gatewayXml(g);
    }
    return "Invalid Gateway!\n";
  }
  if (what.toLowerCase() === "profile") {
    const found = s.profiles.find((p) => p.profile.name === name);
    if (found === undefined) return "Invalid Profile!\n";
    if (extra !== undefined && ["reg", "user", "pres"].includes(extra.toLowerCase())) {
      return `-ERR sofia xmlstatus profile ${name} ${extra}: not simulated\n`;
    }
    return profileXml(found.profile);
  }
  return "Invalid Syntax!\n";
}
