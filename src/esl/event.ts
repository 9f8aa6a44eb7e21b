import { ContentType, type Frame } from "./frame.js";
import { HeaderBlock, type HeaderIndex, KnownValues, NO_HEADER, NOT_DECIMAL } from "./headers.js";

const LFLF = Buffer.from("\n\n", "latin1");

/** The event names a listener sees most, RTCP reports first (see HeaderBlock.getKnown). */
const COMMON_EVENT_NAMES = new KnownValues([
  "RECV_RTCP_MESSAGE",
  "SEND_RTCP_MESSAGE",
  "CHANNEL_CREATE",
  "CHANNEL_ANSWER",
  "CHANNEL_BRIDGE",
  "CHANNEL_HANGUP_COMPLETE",
  "CHANNEL_DESTROY",
  "HEARTBEAT",
  "BACKGROUND_JOB",
]);

/**
 * A FreeSWITCH event. Header values are decoded on request, not up front: the agent reads a
 * handful of an event's headers, and decoding all of them would dominate the hot path.
 *
 * An event is a view over the socket's read buffer: handle it synchronously and keep the values
 * you need (strings are copies), never the event itself, or it pins up to a whole socket chunk.
 */
export interface EslEvent {
  /** Event-Name, `""` when the event has none (counted as unusable by consumers). */
  readonly name: string;
  get(header: string): string | undefined;
  /** Whether the event has the header, without decoding its value. */
  has(header: string): boolean;
  /**
   * The header's value as an unsigned decimal read without a string (HeaderBlock.decimal), or
   * NO_HEADER, or NOT_DECIMAL for any other text: read that with get() and a strict reader
   * (quality/numbers.ts does both).
   */
  decimal(header: string, maxDigits: number, fraction: boolean): number;
  /** The event's own body (e.g. a BACKGROUND_JOB's command output), when it has one. */
  readonly body: string | undefined;
  /** All headers in order, decoded: for diagnostics and tests, not for the hot path. */
  entries(): Array<[string, string]>;
  /** An equivalent event that owns its bytes, for the rare event that must wait (a copy). */
  retain(): EslEvent;
  /** The event's size as read from the socket, bytes: what a waiting copy of it holds (about). */
  readonly byteLength: number;
}

/** A `text/event-plain` event: URL-encoded `Name: value` lines, optionally a nested body. */
export class PlainEvent implements EslEvent {
  private readonly headers: HeaderBlock;
  private readonly bodyStart: number;
  private cachedName: string | undefined;

  /**
   * The event in bytes[start, end) (by default all of `bytes`): read in place, not copied.
   * `index`: the reader's reusable header index (see HeaderIndex), when it has one.
   */
  constructor(
    private readonly bytes: Buffer,
    private readonly start = 0,
    private readonly end = bytes.length,
    index: HeaderIndex | null = null,
  ) {
    // Header lines end at the first blank line; what follows (if Content-Length said so) is the
    // event's own body. A body without that blank line simply has no nested body.
    let blank = bytes.indexOf(LFLF, start);
    if (blank + 2 > end) blank = -1;
    let headersEnd = end;
    let bodyStart = -1;
    if (blank !== -1) {
      headersEnd = blank + 1;
      if (blank + 2 < end) bodyStart = blank + 2;
    }
    this.headers = new HeaderBlock(bytes, start, headersEnd, true, index);
    this.bodyStart = bodyStart;
  }

  get name(): string {
    if (this.cachedName === undefined) {
      this.cachedName = this.headers.getKnown("Event-Name", COMMON_EVENT_NAMES) ?? "";
    }
    return this.cachedName;
  }

  get(header: string): string | undefined {
    return this.headers.get(header);
  }

  has(header: string): boolean {
    return this.headers.has(header);
  }

  decimal(header: string, maxDigits: number, fraction: boolean): number {
    return this.headers.decimal(header, maxDigits, fraction);
  }

  get body(): string | undefined {
    if (this.bodyStart === -1) return undefined;
    const declared = Number(this.headers.get("Content-Length"));
    const end =
      Number.isInteger(declared) && declared >= 0
        ? Math.min(this.end, this.bodyStart + declared)
        : this.end;
    return this.bytes.toString("utf8", this.bodyStart, end);
  }

  entries(): Array<[string, string]> {
    return this.headers.entries();
  }

  retain(): EslEvent {
    return new PlainEvent(Buffer.from(this.bytes.subarray(this.start, this.end)));
  }

  get byteLength(): number {
    return this.end - this.start;
  }
}

/** A `text/event-json` event: one flat object of strings; its body is the `_body` key. */
export class JsonEvent implements EslEvent {
  private readonly fields: Record<string, unknown>;
  readonly byteLength: number;

  /** `byteLength`: the size of the JSON text the fields were parsed from. */
  constructor(fields: Record<string, unknown>, byteLength: number) {
    this.fields = fields;
    this.byteLength = byteLength;
  }

  /** Parses a JSON event body; returns undefined for anything that is not a JSON object. */
  static parse(bytes: Buffer): JsonEvent | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString("utf8"));
    } catch {
      return undefined;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
    return new JsonEvent(parsed as Record<string, unknown>, bytes.length);
  }

  get name(): string {
    return this.get("Event-Name") ?? "";
  }

  get(header: string): string | undefined {
    // Own keys only: JSON.parse objects inherit from Object.prototype, so `fields.constructor`
    // would otherwise turn an absent "constructor" header into "function Object() {...}".
    if (!Object.hasOwn(this.fields, header)) return undefined;
    const v = this.fields[header];
    if (v === undefined || v === null) return undefined;
    return typeof v === "string" ? v : String(v);
  }

  has(header: string): boolean {
    return this.get(header) !== undefined;
  }

  /** JSON values are already strings: the caller's strict reader parses them. */
  decimal(header: string, _maxDigits: number, _fraction: boolean): number {
    return this.has(header) ? NOT_DECIMAL : NO_HEADER;
  }

  get body(): string | undefined {
    return this.get("_body");
  }

  retain(): EslEvent {
    return this; // already parsed into its own object
  }

  entries(): Array<[string, string]> {
    return Object.keys(this.fields)
      .filter((k) => k !== "_body")
      .map((k) => [k, this.get(k) ?? ""]);
  }
}

/**
 * The event carried by a frame, or undefined when the frame is not an event we can read.
 * `index`: the reader's reusable header index, for a reader that handles one event at a time.
 */
export function eventFromFrame(
  frame: Frame,
  index: HeaderIndex | null = null,
): EslEvent | undefined {
  const { bytes } = frame;
  if (bytes === null) return undefined;
  if (frame.contentType === ContentType.eventPlain) {
    return new PlainEvent(bytes, frame.bodyStart, frame.bodyEnd, index);
  }
  if (frame.contentType === ContentType.eventJson) return JsonEvent.parse(frame.body!);
  return undefined;
}
