// A few lines of Event Socket for tests, independent of src/esl: reading FreeSWITCH's raw byte
// stream (captures, and a test's own second connection) is how a test learns what FreeSWITCH
// really sent, so it must not share a line with the parser under test.

import net from "node:net";

/** One envelope of the stream: its header lines, and its body (Content-Length bytes). */
export interface RawFrame {
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/** A decoded `text/event-plain` event: header order kept, values URL-decoded. */
export interface RawEvent {
  readonly name: string;
  /** Every header line in order (a repeated header, such as Hangup-Cause, appears twice). */
  readonly lines: ReadonlyArray<readonly [string, string]>;
  /** The first value of each header. */
  get(name: string): string | undefined;
  /** The undecoded event, as the envelope carried it. */
  readonly raw: Buffer;
}

/** Splits a byte stream into envelopes; `rest` is an incomplete tail. */
export function splitFrames(bytes: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let at = 0;
  for (;;) {
    const end = bytes.indexOf("\n\n", at, "latin1");
    if (end === -1) break;
    const headers = new Map<string, string>();
    for (const line of bytes.toString("latin1", at, end).split("\n")) {
      const colon = line.indexOf(": ");
      if (colon > 0) headers.set(line.slice(0, colon), line.slice(colon + 2));
    }
    const length = Number(headers.get("Content-Length") ?? 0);
    if (end + 2 + length > bytes.length) break;
    frames.push({ headers, body: bytes.subarray(end + 2, end + 2 + length) });
    at = end + 2 + length;
  }
  return { frames, rest: bytes.subarray(at) };
}

/** Decodes a plain event body (lines up to the first blank line; a nested body is not read). */
export function parsePlainEvent(body: Buffer): RawEvent {
  const text = body.toString("utf8");
  const blank = text.indexOf("\n\n");
  const lines: Array<[string, string]> = [];
  for (const line of (blank === -1 ? text : text.slice(0, blank)).split("\n")) {
    const colon = line.indexOf(": ");
    if (colon <= 0) continue;
    const value = decodeURIComponent(line.slice(colon + 2));
    lines.push([line.slice(0, colon), value === "_undef_" ? "" : value]);
  }
  const first = new Map<string, string>();
  for (const [name, value] of lines) if (!first.has(name)) first.set(name, value);
  return {
    name: first.get("Event-Name") ?? "",
    lines,
    get: (name) => first.get(name),
    raw: body,
  };
}

/** Every plain event of a raw stream (a capture file's bytes). */
export function plainEvents(stream: Buffer): RawEvent[] {
  return splitFrames(stream)
    .frames.filter((f) => f.headers.get("Content-Type") === "text/event-plain")
    .map((f) => parsePlainEvent(f.body));
}

/**
 * An inbound Event Socket client: authenticate, send commands one at a time, subscribe and keep
 * every event (and every byte) FreeSWITCH sends.
 */
export class RawEslClient {
  /** Every byte received, from the auth/request on. */
  readonly bytes: Buffer[] = [];
  readonly events: RawEvent[] = [];
  private buffer = Buffer.alloc(0);
  private readonly replies: Array<(frame: RawFrame) => void> = [];
  private closed = false;
  private readonly closedPromise: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.closedPromise = new Promise((resolve) => {
      socket.once("close", () => {
        this.closed = true;
        resolve();
      });
    });
    socket.on("error", () => undefined);
  }

  /** Connects and authenticates; rejects with FreeSWITCH's reply when the password is wrong. */
  static async connect(host: string, port: number, password: string): Promise<RawEslClient> {
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new RawEslClient(socket);
    const greeting = await client.nextReply();
    if (greeting.headers.get("Content-Type") !== "auth/request") {
      client.close();
      throw new Error(`unexpected greeting ${greeting.headers.get("Content-Type")}`);
    }
    const reply = await client.command(`auth ${password}`);
    if (!reply.startsWith("+OK")) {
      client.close();
      throw new Error(`auth refused: ${reply}`);
    }
    return client;
  }

  /** Sends a command; resolves with its Reply-Text (command/reply) or body (api/response). */
  async command(text: string): Promise<string> {
    if (this.closed) throw new Error("connection closed");
    const reply = this.nextReply();
    this.socket.write(`${text}\n\n`);
    const frame = await reply;
    return frame.headers.get("Reply-Text") ?? frame.body.toString("utf8");
  }

  api(command: string): Promise<string> {
    return this.command(`api ${command}`);
  }

  /** The events received so far with this Event-Name. */
  eventsNamed(name: string): RawEvent[] {
    return this.events.filter((e) => e.name === name);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves when FreeSWITCH (or close()) ended the connection. */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  close(): void {
    this.socket.destroy();
  }

  private nextReply(): Promise<RawFrame> {
    return new Promise((resolve) => this.replies.push(resolve));
  }

  private onData(chunk: Buffer): void {
    this.bytes.push(chunk);
    const { frames, rest } = splitFrames(Buffer.concat([this.buffer, chunk]));
    this.buffer = Buffer.from(rest);
    for (const frame of frames) {
      const type = frame.headers.get("Content-Type");
      if (type === "text/event-plain") this.events.push(parsePlainEvent(frame.body));
      else if (type !== "text/disconnect-notice") this.replies.shift()?.(frame);
    }
  }
}
