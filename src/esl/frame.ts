import type { HeaderBlock } from "./headers.js";

/** Content-Type values FreeSWITCH's mod_event_socket sends. */
export const ContentType = {
  authRequest: "auth/request",
  commandReply: "command/reply",
  apiResponse: "api/response",
  eventPlain: "text/event-plain",
  eventJson: "text/event-json",
  eventXml: "text/event-xml",
  disconnectNotice: "text/disconnect-notice",
  rudeRejection: "text/rude-rejection",
  logData: "log/data",
} as const;

/** One ESL message: the envelope headers and, when Content-Length was given, the body bytes. */
export class Frame {
  constructor(
    /** Content-Type of the envelope, `""` when absent. */
    readonly contentType: string,
    readonly headers: HeaderBlock,
    /** Body bytes; a view into the socket's chunk when the frame arrived in one piece. */
    readonly body: Buffer | null,
  ) {}

  header(name: string): string | undefined {
    return this.headers.get(name);
  }

  bodyText(): string {
    return this.body === null ? "" : this.body.toString("utf8");
  }
}
