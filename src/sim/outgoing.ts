// One published event, serialised at most once per format however many listeners receive it.

import { ContentType } from "../esl/frame.js";
import { eventFrame, plainEventBody } from "../esl/wire.js";
import type { SimEvent } from "./events.js";
import type { EventFormat } from "./subscription.js";

function xmlEscape(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/**
 * switch_event_serialize_json(): one member per header in order, a repeated header as often as
 * it occurs (CHANNEL_HANGUP_COMPLETE carries Hangup-Cause twice, capture-json.esl), then the
 * body's Content-Length and `_body`. Written by hand because a JavaScript object cannot hold a
 * key twice.
 */
export function jsonEventBody(event: SimEvent): Buffer {
  const members = event.headers.map(
    ([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`,
  );
  if (event.body !== undefined) {
    members.push(`"Content-Length":"${Buffer.byteLength(event.body, "utf8")}"`);
    members.push(`"_body":${JSON.stringify(event.body)}`);
  }
  return Buffer.from(`{${members.join(",")}}`, "utf8");
}

/** An approximation of switch_event_xmlize(): headers as elements, the body as <body>. */
function xmlEventBody(event: SimEvent): Buffer {
  let text = "<event>\n  <headers>\n";
  for (const [name, value] of event.headers) {
    text += `    <${name}>${xmlEscape(value)}</${name}>\n`;
  }
  text += "  </headers>\n";
  if (event.body !== undefined && event.body !== "") {
    text += `  <body>${xmlEscape(event.body)}</body>\n`;
  }
  text += "</event>";
  const body = Buffer.from(text, "utf8");
  const head = `Content-Length: ${body.length}\nContent-Type: ${ContentType.eventXml}\n\n`;
  return Buffer.concat([Buffer.from(head), body]);
}

export class OutgoingEvent {
  private plain: Buffer | undefined;
  private json: Buffer | undefined;
  private xml: Buffer | undefined;

  constructor(readonly event: SimEvent) {}

  /** The complete frame (envelope and body) in `format`. */
  frame(format: EventFormat): Buffer {
    const e = this.event;
    switch (format) {
      case "plain":
        // switch_event_serialize writes no Content-Length for an empty body.
        this.plain ??= eventFrame(
          plainEventBody(e.headers, e.body === "" ? undefined : e.body),
          "plain",
        );
        return this.plain;
      case "json":
        this.json ??= eventFrame(jsonEventBody(e), "json");
        return this.json;
      case "xml":
        this.xml ??= xmlEventBody(e);
        return this.xml;
    }
  }
}
