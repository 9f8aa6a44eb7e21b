import { ContentType, Frame } from "./frame.js";
import { HeaderBlock, KnownValues } from "./headers.js";

const LF = 0x0a;
const CR = 0x0d;
const LFLF = Buffer.from("\n\n", "latin1");
const CONTENT_LENGTH = Buffer.from("Content-Length: ", "latin1");
const CONTENT_TYPE = Buffer.from("Content-Type: ", "latin1");

/** Why a byte stream can no longer be trusted. Each is counted under this name. */
export type ProtocolErrorReason =
  | "bad_content_length"
  | "frame_too_large"
  | "header_too_large"
  | "malformed_header";

export interface ProtocolError {
  readonly reason: ProtocolErrorReason;
  /** One line for the log; never contains more than a short excerpt of the offending bytes. */
  readonly message: string;
}

export interface FrameParserOptions {
  /** Largest body accepted (Content-Length); larger is a protocol error. Default 16 MiB. */
  maxFrameBytes?: number;
  /** Largest envelope (header block) accepted before its blank line. Default 64 KiB. */
  maxHeaderBytes?: number;
  /**
   * The caller reuses a chunk's memory once push() returns (a socket read into one buffer):
   * the parser then copies the parts of incomplete frames it keeps. The frames it hands to
   * onFrame still point into the chunk, valid until onFrame returns (Frame.retain() copies).
   */
  reusedChunks?: boolean;
}

export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

// Most frames are events: test that type first.
const KNOWN_TYPES = new KnownValues([
  ContentType.eventPlain,
  ...Object.values(ContentType).filter((t) => t !== ContentType.eventPlain),
]);

function internContentType(buf: Buffer, from: number, to: number): string {
  return KNOWN_TYPES.find(buf, from, to) ?? buf.toString("latin1", from, to);
}

function isNameByte(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    (b >= 0x30 && b <= 0x39) || // 0-9
    b === 0x2d || // -
    b === 0x5f // _
  );
}

function excerpt(buf: Buffer, from: number, to: number): string {
  const text = buf.toString("latin1", from, Math.min(to, from + 40));
  return JSON.stringify(text + (to - from > 40 ? "…" : ""));
}

/**
 * Incremental ESL frame parser: feed it socket chunks in any sizes, it calls `onFrame` for each
 * complete frame. Bodies inside one chunk are views, not copies; a body split across chunks is
 * joined once, when complete (never a concat per chunk). Memory is bounded by the two limits.
 *
 * On input it cannot trust (see ProtocolErrorReason) it calls `onError` once and ignores all
 * further input until `reset()`: after a bad length the frame boundaries are lost, so the only
 * safe recovery is a new connection. It never throws on input and every loop advances.
 */
export class FrameParser {
  private readonly maxFrameBytes: number;
  private readonly maxHeaderBytes: number;
  private readonly reusedChunks: boolean;

  /** Pieces of an envelope that spans chunks, and their total size. */
  private headParts: Buffer[] = [];
  private headBytes = 0;
  /** Content-Length of the frame whose body is being collected, -1 when reading envelopes. */
  private bodyNeed = -1;
  private bodyHave = 0;
  private bodyParts: Buffer[] = [];
  private pendingType = "";
  private pendingHeaders: HeaderBlock | null = null;
  /** Size of the pending frame's header block, held (as `pendingHeaders`) until its body is in. */
  private pendingHeadBytes = 0;
  private failed = false;
  /** Bumped by reset() so a reset from inside onFrame stops the scan of the current chunk. */
  private epoch = 0;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onError: (error: ProtocolError) => void,
    options: FrameParserOptions = {},
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.reusedChunks = options.reusedChunks ?? false;
  }

  /** Bytes held for incomplete frames: a partial envelope, or a complete one and its partial body. */
  get bufferedBytes(): number {
    return this.headBytes + this.pendingHeadBytes + this.bodyHave;
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /** Forget everything buffered; use with a fresh connection. */
  reset(): void {
    this.headParts = [];
    this.headBytes = 0;
    this.bodyNeed = -1;
    this.bodyHave = 0;
    this.bodyParts = [];
    this.pendingHeaders = null;
    this.pendingHeadBytes = 0;
    this.pendingType = "";
    this.failed = false;
    this.epoch++;
  }

  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    const epoch = this.epoch;
    let pos = 0;
    if (this.bodyNeed >= 0) {
      pos = this.takeBody(chunk, 0);
    } else if (this.headBytes > 0) {
      pos = this.finishHead(chunk);
    }
    while (pos >= 0 && pos < chunk.length && epoch === this.epoch) {
      pos = this.nextFrame(chunk, pos);
    }
  }

  /** Parses one frame starting at `pos`; returns where the next begins, or -1 when out of bytes. */
  private nextFrame(buf: Buffer, pos: number): number {
    const b = buf[pos];
    // FreeSWITCH never sends blank lines between frames, but real captures have them.
    if (b === LF || b === CR) return pos + 1;
    const term = buf.indexOf(LFLF, pos);
    if (term === -1) {
      this.headParts = [this.keep(buf.subarray(pos))];
      this.headBytes = buf.length - pos;
      if (this.headBytes > this.maxHeaderBytes) {
        this.fail("header_too_large", `no end of headers within ${this.maxHeaderBytes} bytes`);
      }
      return -1;
    }
    if (term + 1 - pos > this.maxHeaderBytes) {
      this.fail("header_too_large", `header block of ${term + 1 - pos} bytes`);
      return -1;
    }
    if (!this.beginFrame(buf, pos, term + 1)) return -1;
    return this.takeBody(buf, term + 2);
  }

  /**
   * Completes an envelope that started in an earlier chunk. Pieces are kept in a list and joined
   * once, so an envelope trickling in byte by byte costs linear, not quadratic, copying.
   */
  private finishHead(chunk: Buffer): number {
    const last = this.headParts[this.headParts.length - 1]!;
    let consumed: number; // bytes of chunk that belong to this envelope, terminator included
    if (last[last.length - 1] === LF && chunk[0] === LF) {
      consumed = 1;
    } else {
      const at = chunk.indexOf(LFLF);
      if (at === -1) {
        this.headParts.push(this.keep(chunk));
        this.headBytes += chunk.length;
        if (this.headBytes > this.maxHeaderBytes) {
          this.fail("header_too_large", `no end of headers within ${this.maxHeaderBytes} bytes`);
        }
        return -1;
      }
      consumed = at + 2;
    }
    const total = this.headBytes + consumed;
    if (total - 1 > this.maxHeaderBytes) {
      this.fail("header_too_large", `header block of ${total - 1} bytes`);
      return -1;
    }
    this.headParts.push(chunk.subarray(0, consumed));
    const head = Buffer.concat(this.headParts, total);
    this.headParts = [];
    this.headBytes = 0;
    if (!this.beginFrame(head, 0, total - 1)) return -1;
    return this.takeBody(chunk, consumed);
  }

  /**
   * Validates the envelope in [start, end) (end is just past the last header's LF) and records
   * its Content-Type and Content-Length. Returns false after reporting a protocol error.
   */
  private beginFrame(buf: Buffer, start: number, end: number): boolean {
    // A repeated Content-Length/Content-Type: the first one wins, as in HeaderBlock.get (and
    // libesl), so the body length used here is the one `frame.header("Content-Length")` shows.
    let contentLength = -1;
    let contentType: string | null = null;
    let line = start;
    while (line < end) {
      let lf = buf.indexOf(LF, line);
      if (lf === -1 || lf > end) lf = end;
      let colon = line;
      while (colon < lf && isNameByte(buf[colon]!)) colon++;
      if (colon === line || colon + 1 >= lf || buf[colon] !== 0x3a || buf[colon + 1] !== 0x20) {
        this.fail("malformed_header", `malformed header line ${excerpt(buf, line, lf)}`);
        return false;
      }
      const valueEnd = buf[lf - 1] === CR ? lf - 1 : lf;
      if (colon - line === CONTENT_LENGTH.length - 2 && startsWith(buf, line, CONTENT_LENGTH)) {
        if (contentLength === -1) {
          contentLength = this.parseLength(buf, colon + 2, valueEnd);
          if (contentLength < 0) return false;
        }
      } else if (colon - line === CONTENT_TYPE.length - 2 && startsWith(buf, line, CONTENT_TYPE)) {
        if (contentType === null) contentType = internContentType(buf, colon + 2, valueEnd);
      }
      line = lf + 1;
    }
    this.pendingType = contentType ?? "";
    this.pendingHeaders = new HeaderBlock(buf, start, end, false);
    this.pendingHeadBytes = end - start;
    this.bodyNeed = contentLength === -1 ? 0 : contentLength;
    this.bodyHave = 0;
    return true;
  }

  private parseLength(buf: Buffer, from: number, to: number): number {
    let value = 0;
    if (from >= to) {
      this.fail("bad_content_length", "empty Content-Length");
      return -1;
    }
    for (let i = from; i < to; i++) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) {
        this.fail("bad_content_length", `Content-Length ${excerpt(buf, from, to)} is not a number`);
        return -1;
      }
      value = value * 10 + d;
      if (value > this.maxFrameBytes) {
        this.fail(
          "frame_too_large",
          `Content-Length ${excerpt(buf, from, to)} exceeds the ${this.maxFrameBytes}-byte limit`,
        );
        return -1;
      }
    }
    return value;
  }

  /** Collects the pending frame's body from buf at pos; returns the next position or -1. */
  private takeBody(buf: Buffer, pos: number): number {
    const need = this.bodyNeed - this.bodyHave;
    const available = buf.length - pos;
    if (available < need) {
      // The envelope waits for the body: off a reused chunk before the chunk is overwritten.
      if (this.reusedChunks && this.bodyHave === 0) {
        this.pendingHeaders = this.pendingHeaders!.copy();
      }
      if (available > 0) {
        this.bodyParts.push(this.keep(pos === 0 ? buf : buf.subarray(pos)));
        this.bodyHave += available;
      }
      return -1;
    }
    let frame: Frame;
    if (this.bodyNeed === 0) {
      frame = new Frame(this.pendingType, this.pendingHeaders!, null);
    } else if (this.bodyParts.length === 0) {
      // The usual case: the whole body is in this chunk, and the frame points into it.
      frame = new Frame(this.pendingType, this.pendingHeaders!, buf, pos, pos + need);
    } else {
      this.bodyParts.push(buf.subarray(pos, pos + need));
      const body = Buffer.concat(this.bodyParts, this.bodyNeed);
      frame = new Frame(this.pendingType, this.pendingHeaders!, body);
    }
    this.bodyNeed = -1;
    this.bodyHave = 0;
    this.bodyParts = [];
    this.pendingHeaders = null;
    this.pendingHeadBytes = 0;
    this.onFrame(frame);
    return pos + need;
  }

  /** Bytes kept past this push(): a copy when the chunk's memory is reused afterwards. */
  private keep(bytes: Buffer): Buffer {
    return this.reusedChunks ? Buffer.from(bytes) : bytes;
  }

  private fail(reason: ProtocolErrorReason, message: string): void {
    this.reset();
    this.failed = true;
    this.onError({ reason, message });
  }
}

function startsWith(buf: Buffer, at: number, prefix: Buffer): boolean {
  return buf.compare(prefix, 0, prefix.length - 2, at, at + prefix.length - 2) === 0;
}
