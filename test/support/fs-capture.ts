// Reading raw Event Socket byte streams, the real ones of test/fixtures/freeswitch-1.11 and the
// simulator's, into events with their headers in wire order (duplicates kept), in plain (with
// raw-esl.ts) and in json, and telling which layout situation each channel event belongs to, by
// the same rules for both. Independent of the simulator's and the agent's code.

import { readFileSync } from "node:fs";
import { parsePlainEvent, splitFrames } from "./raw-esl.js";

export type Header = readonly [name: string, value: string];

export interface WireEvent {
  readonly format: "plain" | "json";
  /** Every header in wire order, values decoded; a repeated header appears twice. */
  readonly headers: readonly Header[];
}

export const FIXTURES = new URL("../fixtures/freeswitch-1.11/", import.meta.url);

export function fixtureBytes(file: string): Buffer {
  return readFileSync(new URL(file, FIXTURES));
}

export function fixtureText(file: string): string {
  return fixtureBytes(file).toString("utf8");
}

/** First value of a header. */
export function get(event: WireEvent, name: string): string | undefined {
  for (const [n, v] of event.headers) if (n === name) return v;
  return undefined;
}

export function headerNames(event: WireEvent): string[] {
  return event.headers.map(([n]) => n);
}

/** `Name: value` lines of a text/event-plain body (or an api response of one), URL-decoded. */
export function plainHeaders(text: string): Header[] {
  return [...parsePlainEvent(Buffer.from(text, "utf8")).lines];
}

/**
 * The members of a flat JSON object in their order, a repeated key as often as it occurs
 * (JSON.parse would keep only the last one). Values are strings; anything else (a number, an
 * array such as a header FreeSWITCH holds several values of) is kept as its JSON text.
 */
export function jsonMembers(text: string): Header[] {
  const out: Header[] = [];
  let i = text.indexOf("{") + 1;
  const readString = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const skipSpace = () => {
    while (/\s/.test(text[i] ?? "")) i++;
  };
  for (;;) {
    skipSpace();
    if (text[i] === "}") return out;
    if (text[i] === ",") i++;
    skipSpace();
    const name = readString();
    skipSpace();
    i++; // the colon
    skipSpace();
    if (text[i] === "[") {
      const start = i;
      while (text[i] !== "]") {
        if (text[i] === '"') readString();
        else i++;
      }
      i++;
      out.push([name, text.slice(start, i)]);
    } else if (text[i] === '"') {
      out.push([name, readString()]);
    } else {
      const start = i;
      while (text[i] !== "," && text[i] !== "}") i++;
      out.push([name, text.slice(start, i).trim()]);
    }
  }
}

/** The events of a raw ESL byte stream, in the order received. */
export function eslEvents(bytes: Buffer): WireEvent[] {
  const events: WireEvent[] = [];
  for (const frame of splitFrames(bytes).frames) {
    const type = frame.headers.get("Content-Type");
    if (type === "text/event-plain") {
      events.push({ format: "plain", headers: parsePlainEvent(frame.body).lines });
    } else if (type === "text/event-json") {
      events.push({ format: "json", headers: jsonMembers(frame.body.toString("utf8")) });
    }
  }
  return events;
}

export function captureEvents(file: string): WireEvent[] {
  return eslEvents(fixtureBytes(file));
}

// ---------------------------------------------------------------------------------------------
// Situations. A channel event's layout depends on the leg's role in its call and on how the call
// went; the classification below reads both from the event stream alone.

/**
 * `bridged-a`: an inbound leg some outbound leg was originated for (the lab's L2); `b`: that
 * outbound leg (L3); `lone`: an inbound leg nobody was originated for (L4); `originator`: an
 * outbound leg nobody originated from a call (L1, which `originate` makes: lab only).
 */
export type Role = "bridged-a" | "b" | "lone" | "originator";

interface LegFacts {
  role: Role;
  answered: boolean;
  /** The leg's A-leg (itself for an A-leg), as its CHANNEL_CREATE names it. */
  aLeg: string;
}

const HANGUP_PHASE = new Set([
  "CHANNEL_HANGUP",
  "CHANNEL_UNBRIDGE",
  "CHANNEL_HANGUP_COMPLETE",
  "CHANNEL_DESTROY",
]);

/**
 * A key per channel event naming its situation, e.g. `CHANNEL_DESTROY b answered by-a names-self`:
 * event, role, answered or cancelled, for the hangup phase of a bridged call which side hung up
 * first (whose CHANNEL_HANGUP came first), and for a B-leg's report which leg its
 * Channel-Call-UUID names. An RTCP event is its leg's first of its kind or a later one; other
 * events get their name as key (HEARTBEAT, ...).
 */
export function situations(events: readonly WireEvent[]): Map<WireEvent, string> {
  const legs = new Map<string, LegFacts>();
  const originatedFor = new Set<string>();
  for (const e of events) {
    const uuid = get(e, "Unique-ID");
    if (uuid === undefined) continue;
    const name = get(e, "Event-Name");
    if (name === "CHANNEL_CREATE") {
      const callUuid = get(e, "Channel-Call-UUID") ?? uuid;
      const outbound = get(e, "Call-Direction") === "outbound";
      if (outbound && callUuid !== uuid) originatedFor.add(callUuid);
      legs.set(uuid, {
        role: outbound ? (callUuid === uuid ? "originator" : "b") : "lone",
        answered: false,
        aLeg: callUuid,
      });
    }
    if (name === "CHANNEL_ANSWER") {
      const leg = legs.get(uuid);
      if (leg !== undefined) leg.answered = true;
    }
  }
  for (const [uuid, leg] of legs) if (originatedFor.has(uuid)) leg.role = "bridged-a";

  // Which side of each bridged call hung up first.
  const firstHangup = new Map<string, "by-a" | "by-b">();
  for (const e of events) {
    if (get(e, "Event-Name") !== "CHANNEL_HANGUP") continue;
    const leg = legs.get(get(e, "Unique-ID") ?? "");
    if (leg === undefined || (leg.role !== "bridged-a" && leg.role !== "b")) continue;
    if (!firstHangup.has(leg.aLeg)) firstHangup.set(leg.aLeg, leg.role === "b" ? "by-b" : "by-a");
  }

  const out = new Map<WireEvent, string>();
  const reported = new Set<string>();
  for (const e of events) {
    const name = get(e, "Event-Name") ?? "";
    const uuid = get(e, "Unique-ID") ?? "";
    if (name === "RECV_RTCP_MESSAGE" || name === "SEND_RTCP_MESSAGE") {
      const stream = `${name} ${uuid}`;
      out.set(e, `${name} ${reported.has(stream) ? "later" : "first"}`);
      reported.add(stream);
      continue;
    }
    const leg = get(e, "Channel-Name") === undefined ? undefined : legs.get(uuid);
    if (leg === undefined) {
      out.set(e, name);
      continue;
    }
    const parts = [name, leg.role, leg.answered ? "answered" : "cancelled"];
    if (HANGUP_PHASE.has(name) && leg.role !== "lone" && leg.role !== "originator") {
      parts.push(firstHangup.get(leg.aLeg) ?? "by-a");
      if (leg.role === "b" && (name === "CHANNEL_HANGUP_COMPLETE" || name === "CHANNEL_DESTROY")) {
        parts.push(get(e, "Channel-Call-UUID") === uuid ? "names-self" : "names-a");
      }
    }
    out.set(e, parts.join(" "));
  }
  return out;
}
