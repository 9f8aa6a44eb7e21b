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
  private view: Buffer | null | undefined;

  /**
   * @param bytes     the buffer holding the body (the socket's chunk when the frame arrived in
   *                  one piece), or null when the frame has no body
   * @param bodyStart where the body starts in `bytes`
   * @param bodyEnd   where it ends
   */
  constructor(
    /** Content-Type of the envelope, `""` when absent. */
    readonly contentType: string,
    readonly headers: HeaderBlock,
    readonly bytes: Buffer | null,
    readonly bodyStart = 0,
    readonly bodyEnd = bytes === null ? 0 : bytes.length,
  ) {}

  /**
   * The body bytes: a view into `bytes`, made on first use. An event is read from `bytes`
   * directly (eventFromFrame), so the event path makes no view per frame.
   */
  get body(): Buffer | null {
    if (this.view === undefined) {
      const { bytes, bodyStart, bodyEnd } = this;
      this.view =
        bytes === null || (bodyStart === 0 && bodyEnd === bytes.length)
          ? bytes
          : bytes.subarray(bodyStart, bodyEnd);
    }
    return this.view;
  }

  /**
   * An equivalent frame that owns its bytes, for a frame kept past the parser's onFrame call
   * (a command reply handed to a promise): the parser's chunks may be reused after it.
   */
  retain(): Frame {
    const body = this.body;
    return new Frame(
      this.contentType,
      this.headers.copy(),
      body === null ? null : Buffer.from(body),
    );
  }

  header(name: string): string | undefined {
    return this.headers.get(name);
  }

  bodyText(): string {
    return this.bytes === null ? "" : this.bytes.toString("utf8", this.bodyStart, this.bodyEnd);
  }
}
