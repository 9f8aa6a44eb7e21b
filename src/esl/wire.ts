// Serializers for the server side of ESL, byte for byte as mod_event_socket.c and
// switch_event_serialize() write them. The simulator and the tests use these, so what the agent
// parses in tests is exactly what FreeSWITCH sends.

import { ContentType } from "./frame.js";
import { urlEncode } from "./urlcodec.js";

export type Headers = ReadonlyArray<readonly [string, string]>;

/** `Content-Type: auth/request`, the greeting of an inbound socket. */
export const AUTH_REQUEST = Buffer.from(`Content-Type: ${ContentType.authRequest}\n\n`);

/** Body of the notice FreeSWITCH sends before it closes the socket (`exit`, auth failure). */
export const DISCONNECT_GOODBYE =
  "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n";
/** Body of the notice sent to a listener that lost more than 500 events. */
export const DISCONNECT_LOST_EVENTS = "killed listener because of lost events\n";
/** Body of the rude rejection sent to a client refused by the ACL (24 bytes). */
export const RUDE_REJECTION_BODY = "Access Denied, go away.\n";

export function commandReply(replyText: string, extra: Headers = []): Buffer {
  let head = `Content-Type: ${ContentType.commandReply}\nReply-Text: ${replyText}\n`;
  for (const [name, value] of extra) head += `${name}: ${value}\n`;
  return Buffer.from(`${head}\n`);
}

export function apiResponse(output: string): Buffer {
  const body = Buffer.from(output, "utf8");
  const head = `Content-Type: ${ContentType.apiResponse}\nContent-Length: ${body.length}\n\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

export function disconnectNotice(body: string = DISCONNECT_GOODBYE): Buffer {
  const bytes = Buffer.from(body, "utf8");
  const head = `Content-Type: ${ContentType.disconnectNotice}\nContent-Length: ${bytes.length}\n\n`;
  return Buffer.concat([Buffer.from(head), bytes]);
}

export function rudeRejection(): Buffer {
  const body = Buffer.from(RUDE_REJECTION_BODY);
  const head = `Content-Type: ${ContentType.rudeRejection}\nContent-Length: ${body.length}\n\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

/**
 * An event body in `text/event-plain` form: one `Name: value` line per header with the value
 * URL-encoded and `_undef_` for an empty value, then either a blank line or, when the event has a
 * body of its own, `Content-Length: M`, a blank line and the M bytes.
 */
export function plainEventBody(headers: Headers, body?: string): Buffer {
  let text = "";
  for (const [name, value] of headers) {
    text += `${name}: ${value === "" ? "_undef_" : urlEncode(value)}\n`;
  }
  if (body === undefined) return Buffer.from(`${text}\n`, "utf8");
  const bodyBytes = Buffer.from(body, "utf8");
  return Buffer.concat([
    Buffer.from(`${text}Content-Length: ${bodyBytes.length}\n\n`, "utf8"),
    bodyBytes,
  ]);
}

/** An event body in `text/event-json` form: a flat object of strings, the body as `_body`. */
export function jsonEventBody(headers: Headers, body?: string): Buffer {
  // No prototype: `name in {}` is true for "constructor"/"toString", and `{}["__proto__"] = v`
  // sets the prototype instead of adding a key; either would silently drop that header.
  const fields: Record<string, string> = Object.create(null);
  for (const [name, value] of headers) if (!(name in fields)) fields[name] = value;
  if (body !== undefined) {
    fields["Content-Length"] = String(Buffer.byteLength(body, "utf8"));
    fields._body = body;
  }
  return Buffer.from(JSON.stringify(fields), "utf8");
}

/** The outer frame of an event: `Content-Length` first, then `Content-Type`, as FreeSWITCH does. */
export function eventFrame(body: Buffer, format: "plain" | "json" = "plain"): Buffer {
  const type = format === "plain" ? ContentType.eventPlain : ContentType.eventJson;
  const head = Buffer.from(`Content-Length: ${body.length}\nContent-Type: ${type}\n\n`);
  return Buffer.concat([head, body]);
}
