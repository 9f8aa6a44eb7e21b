// One published event, serialised at most once per format however many listeners receive it.

import { ContentType } from "../esl/frame.js";
import { eventFrame, jsonEventBody, plainEventBody } from "../esl/wire.js";
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
        this.json ??= eventFrame(jsonEventBody(e.headers, e.body), "json");
        return this.json;
      case "xml":
        this.xml ??= xmlEventBody(e);
        return this.xml;
    }
  }
}
