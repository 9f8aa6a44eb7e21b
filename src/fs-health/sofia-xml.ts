import type { GatewayFigures, ProfileFigures } from "./figures.js";
import { plainNumber } from "./heartbeat.js";

// The XML of mod_sofia's `sofia xmlstatus` commands (cmd_xml_status and xml_gateway_status in
// mod_sofia.c). It is printed line by line with fixed tags, one level of elements per entry, so
// a reader of those tags is enough; values go through switch_amp_encode, hence the entities.

const ENTITIES: Record<string, string> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&apos;": "'",
};

function decode(text: string): string {
  return text.replace(/&(?:amp|lt|gt|quot|apos);/g, (entity) => ENTITIES[entity] ?? entity);
}

/** The inner text of every `<tag>…</tag>` of `xml`, in order (the tag does not nest). */
function blocks(xml: string, tag: string): string[] {
  const out: string[] = [];
  const open = `<${tag}>`;
  const close = `</${tag}>`;
  let at = xml.indexOf(open);
  while (at >= 0) {
    const end = xml.indexOf(close, at + open.length);
    if (end < 0) break;
    out.push(xml.slice(at + open.length, end));
    at = xml.indexOf(open, end + close.length);
  }
  return out;
}

/** The first `<tag>value</tag>` of `block`, decoded; undefined when absent. */
function field(block: string, tag: string): string | undefined {
  const open = `<${tag}>`;
  const at = block.indexOf(open);
  if (at < 0) return undefined;
  const end = block.indexOf(`</${tag}>`, at + open.length);
  return end < 0 ? undefined : decode(block.slice(at + open.length, end).trim());
}

/** An answer that is not XML: "Invalid Gateway!", "-ERR sofia Command not found!", "". */
function isXml(text: string): boolean {
  return text.trimStart().startsWith("<?xml");
}

/**
 * The profiles of `sofia xmlstatus` (aliases left out; a profile listed again for its TLS or
 * WebSocket binding counts once). Null when the answer is not the list.
 */
export function parseProfiles(xml: string): ProfileFigures[] | null {
  if (!isXml(xml) || !xml.includes("<profiles>")) return null;
  const seen = new Map<string, ProfileFigures>();
  for (const block of blocks(xml, "profile")) {
    if (field(block, "type") !== "profile") continue;
    const name = field(block, "name");
    const stateText = field(block, "state");
    if (name === undefined || name === "" || stateText === undefined) return null;
    if (seen.has(name)) continue;
    const match = /^(\S+)(?: \((\d+)\))?/.exec(stateText);
    const state = match?.[1] ?? stateText;
    const inUse = match?.[2] === undefined ? null : Number(match[2]);
    seen.set(name, { name, state, up: state === "RUNNING", inUse });
  }
  return [...seen.values()];
}

/** The gateways of `sofia xmlstatus gateway` (all of them). Null when the answer is not that. */
export function parseGateways(xml: string): GatewayFigures[] | null {
  if (!isXml(xml) || !xml.includes("<gateways>")) return null;
  const gateways: GatewayFigures[] = [];
  for (const block of blocks(xml, "gateway")) {
    const name = field(block, "name");
    const profile = field(block, "profile");
    const state = field(block, "state");
    const status = field(block, "status");
    const pingFreq = plainNumber(field(block, "pingfreq"));
    const pingMs = plainNumber(field(block, "pingtime"));
    const callsIn = plainNumber(field(block, "calls-in"));
    const callsOut = plainNumber(field(block, "calls-out"));
    const failedCallsIn = plainNumber(field(block, "failed-calls-in"));
    const failedCallsOut = plainNumber(field(block, "failed-calls-out"));
    if (
      name === undefined ||
      profile === undefined ||
      state === undefined ||
      status === undefined ||
      callsIn === null ||
      callsOut === null ||
      failedCallsIn === null ||
      failedCallsOut === null
    ) {
      return null;
    }
    gateways.push({
      profile,
      name,
      state,
      status,
      // <pingtime> is in milliseconds ("%0.2f"), and 0.00 until a ping is answered (no network
      // answers in under 5 µs); a gateway without `ping` (pingfreq 0) is never pinged.
      pingS:
        pingFreq !== null && pingFreq > 0 && pingMs !== null && pingMs > 0 ? pingMs / 1000 : null,
      callsIn,
      callsOut,
      failedCallsIn,
      failedCallsOut,
    });
  }
  return gateways;
}

/**
 * The registrations of one profile, from `sofia xmlstatus profile <name>` (its profile-info's
 * `<registrations>`: sofia_profile_reg_count). Null when the answer is not that ("Invalid
 * Profile!" for a profile stopped meanwhile).
 */
export function parseProfileRegistrations(xml: string): number | null {
  if (!isXml(xml)) return null;
  const info = blocks(xml, "profile-info")[0];
  return info === undefined ? null : plainNumber(field(info, "registrations"));
}
