// Splits the client's byte stream into commands the way mod_event_socket's read_packet() does:
// a command ends at the second LF with nothing but CRs in between (so `\r\n\r\n` works), CR and
// LF before a command are skipped, the first line is the command, further `Name: value` lines
// are headers, and a Content-Length header is followed by that many bytes of body.

export interface ClientCommand {
  /** The first line, without CR/LF. */
  readonly line: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string | undefined;
}

const LF = 0x0a;
const CR = 0x0d;

/** FreeSWITCH cuts a command that reaches this size without a blank line (CMD_BUFLEN). */
export const MAX_COMMAND_BYTES = 1024 * 1000;

export class CommandReader {
  private parts: Buffer[] = [];
  private size = 0;
  private lfCount = 0;
  /** Bytes of body still to read for `pendingHead`, or -1 while reading a command head. */
  private bodyNeed = -1;
  private pendingHead: { line: string; headers: Array<[string, string]> } | undefined;

  constructor(private readonly maxBytes: number = MAX_COMMAND_BYTES) {}

  /** Feeds bytes in any chunking; returns the commands they complete. Never throws. */
  push(chunk: Buffer): ClientCommand[] {
    const out: ClientCommand[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.bodyNeed >= 0) {
        pos = this.takeBody(chunk, pos, out);
        continue;
      }
      if (this.size === 0) {
        while (pos < chunk.length && (chunk[pos] === CR || chunk[pos] === LF)) pos++;
        if (pos === chunk.length) break;
      }
      const start = pos;
      let end = -1;
      for (; pos < chunk.length; pos++) {
        const b = chunk[pos]!;
        if (b === LF) {
          if (++this.lfCount === 2) {
            end = pos + 1;
            break;
          }
        } else if (b !== CR) {
          this.lfCount = 0;
        }
        if (this.size + (pos - start) + 1 >= this.maxBytes) {
          end = pos + 1;
          break;
        }
      }
      const stop = end === -1 ? pos : end;
      if (stop > start) {
        this.parts.push(chunk.subarray(start, stop));
        this.size += stop - start;
      }
      if (end === -1) break;
      pos = end;
      this.finishHead(out);
    }
    return out;
  }

  private finishHead(out: ClientCommand[]): void {
    const text = Buffer.concat(this.parts, this.size).toString("utf8");
    this.parts = [];
    this.size = 0;
    this.lfCount = 0;
    const lines = text.split(/[\r\n]+/).filter((l) => l !== "");
    const line = lines[0] ?? "";
    const headers: Array<[string, string]> = [];
    let contentLength = 0;
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(":");
      if (colon === -1) continue;
      const name = l.slice(0, colon);
      const value = l.slice(colon + 1).replace(/^ +/, "");
      headers.push([name, value]);
      if (name.toLowerCase() === "content-length") contentLength = Number.parseInt(value, 10) || 0;
    }
    if (contentLength > 0 && contentLength <= this.maxBytes) {
      this.pendingHead = { line, headers };
      this.bodyNeed = contentLength;
      return;
    }
    out.push({ line, headers, body: undefined });
  }

  private takeBody(chunk: Buffer, pos: number, out: ClientCommand[]): number {
    const take = Math.min(this.bodyNeed, chunk.length - pos);
    this.parts.push(chunk.subarray(pos, pos + take));
    this.size += take;
    this.bodyNeed -= take;
    if (this.bodyNeed === 0) {
      const body = Buffer.concat(this.parts, this.size).toString("utf8");
      const head = this.pendingHead!;
      this.parts = [];
      this.size = 0;
      this.bodyNeed = -1;
      this.pendingHead = undefined;
      out.push({ line: head.line, headers: head.headers, body });
    }
    return pos + take;
  }
}
