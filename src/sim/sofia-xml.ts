// mod_sofia's `sofia xmlstatus` answers, printed as cmd_xml_status and xml_gateway_status print
// them (mod_sofia.c): line by line, fixed indentation, `\n` line ends, the XML declaration first.
// test/fixtures/freeswitch-1.11/health/ holds real ones; where this and they differ, they win.

import { cFixed2 } from "./format.js";
import type { GatewayView } from "./gateways.js";
import { CODEC_PREFS } from "./leg-builder.js";
import type { ProfileView, SofiaSnapshot } from "./sofia.js";

const HEADER = '<?xml version="1.0" encoding="ISO-8859-1"?>\n';

/** switch_amp_encode: what xml_gateway_status escapes in from, contact and exten. */
function amp(text: string): string {
  return text.replace(/[&<>"']/g, (c) => AMP[c] ?? c);
}
const AMP: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/** The states in which sofia prints when the next REGISTER goes out. */
function retryText(g: GatewayView, format: (s: string) => string): string {
  if (g.retryS === undefined) return "";
  return format(g.retryS >= 0 ? `${g.retryS}s` : "NEVER");
}

/** `sofia xmlstatus`: each profile, then its gateways, each followed by a line of its own. */
export function profilesXml(s: SofiaSnapshot): string {
  let out = `${HEADER}<profiles>\n`;
  for (const { profile: p, gateways } of s.profiles) {
    out += `<profile>\n<name>${p.name}</name>\n<type>profile</type>\n<data>${p.url}</data>\n<state>RUNNING (${p.inUse})</state>\n</profile>\n`;
    for (const g of gateways) {
      out += `<gateway>\n<name>${g.name}</name>\n<type>gateway</type>\n<data>${g.to}</data>\n<state>${g.state}</state>\n</gateway>\n`;
      // The retry goes after </gateway>, then the newline that is otherwise a blank line.
      out += `${retryText(g, (r) => ` (retry: ${r})`)}\n`;
    }
  }
  return `${out}</profiles>\n`;
}

/** One gateway's detail block (two-space indented, as inside <gateways>). */
export function gatewayBlock(g: GatewayView): string {
  return (
    "  <gateway>\n" +
    `    <name>${g.name}</name>\n` +
    `    <profile>${g.profile}</profile>\n` +
    "    <scheme>Digest</scheme>\n" +
    `    <realm>${g.realm}</realm>\n` +
    `    <username>${g.username}</username>\n` +
    `    <password>${g.password}</password>\n` +
    `    <from>${amp(g.from)}</from>\n` +
    `    <contact>${amp(g.contact)}</contact>\n` +
    `    <exten>${amp(g.exten)}</exten>\n` +
    `    <to>${g.to}</to>\n` +
    `    <proxy>${g.proxy}</proxy>\n` +
    `    <context>${g.context}</context>\n` +
    `    <expires>${g.expires}</expires>\n` +
    `    <freq>${g.freq}</freq>\n` +
    `    <ping>${g.ping}</ping>\n` +
    `    <pingfreq>${g.pingFreq}</pingfreq>\n` +
    `    <pingmin>${g.pingMin}</pingmin>\n` +
    `    <pingcount>${g.pingCount}</pingcount>\n` +
    `    <pingmax>${g.pingMax}</pingmax>\n` +
    `    <pingtime>${cFixed2(g.pingTimeMs)}</pingtime>\n` +
    "    <pinging>0</pinging>\n" +
    `    <state>${g.state}</state>\n` +
    `    <status>${g.status}</status>\n` +
    `    <uptime-usec>${g.uptimeUs}</uptime-usec>\n` +
    // Gateway call counters: the simulator's calls go through no gateway of these.
    "    <calls-in>0</calls-in>\n" +
    "    <calls-out>0</calls-out>\n" +
    "    <failed-calls-in>0</failed-calls-in>\n" +
    "    <failed-calls-out>0</failed-calls-out>\n" +
    retryText(g, (r) => `    <retry>${r}</retry>\n`) +
    "  </gateway>\n"
  );
}

/** `sofia xmlstatus gateway`: every gateway of every profile, in listing order. */
export function gatewaysXml(s: SofiaSnapshot): string {
  let out = `${HEADER}<gateways>\n`;
  for (const { gateways } of s.profiles) for (const g of gateways) out += gatewayBlock(g);
  return `${out}</gateways>\n`;
}

/** `sofia xmlstatus gateway <name>`: the block alone under the declaration. */
export function gatewayXml(g: GatewayView): string {
  return `${HEADER}${gatewayBlock(g)}`;
}

/** `sofia xmlstatus profile <name>`: profile-info, with the profile's settings. */
export function profileXml(p: ProfileView): string {
  const ip = p.ip;
  return (
    `${HEADER}<profile>\n` +
    "  <profile-info>\n" +
    `    <name>${p.name}</name>\n` +
    "    <domain-name>N/A</domain-name>\n" +
    "    <auto-nat>false</auto-nat>\n" +
    `    <db-name>sofia_reg_${p.name}</db-name>\n` +
    "    <pres-hosts></pres-hosts>\n" +
    "    <dialplan>XML</dialplan>\n" +
    `    <context>${p.context}</context>\n` +
    "    <challenge-realm>auto_to</challenge-realm>\n" +
    `    <rtp-ip>${ip}</rtp-ip>\n` +
    `    <ext-rtp-ip>${ip}</ext-rtp-ip>\n` +
    `    <sip-ip>${ip}</sip-ip>\n` +
    `    <ext-sip-ip>${ip}</ext-sip-ip>\n` +
    `    <url>${p.url}</url>\n` +
    `    <bind-url>${p.url};maddr=${ip};transport=udp,tcp</bind-url>\n` +
    "    <hold-music>N/A</hold-music>\n" +
    "    <outbound-proxy>N/A</outbound-proxy>\n" +
    `    <inbound-codecs>${CODEC_PREFS}</inbound-codecs>\n` +
    `    <outbound-codecs>${CODEC_PREFS}</outbound-codecs>\n` +
    "    <tel-event>101</tel-event>\n" +
    "    <dtmf-mode>rfc2833</dtmf-mode>\n" +
    "    <cng>13</cng>\n" +
    "    <session-to>0</session-to>\n" +
    "    <max-dialog>0</max-dialog>\n" +
    "    <max-recv-rps>1000</max-recv-rps>\n" +
    "    <nomedia>false</nomedia>\n" +
    "    <late-neg>false</late-neg>\n" +
    "    <proxy-media>false</proxy-media>\n" +
    "    <aggressive-nat>false</aggressive-nat>\n" +
    `    <calls-in>${p.callsIn}</calls-in>\n` +
    `    <calls-out>${p.callsOut}</calls-out>\n` +
    `    <failed-calls-in>${p.failedCallsIn}</failed-calls-in>\n` +
    `    <failed-calls-out>${p.failedCallsOut}</failed-calls-out>\n` +
    `    <registrations>${p.registrations}</registrations>\n` +
    "  </profile-info>\n" +
    "</profile>\n"
  );
}
