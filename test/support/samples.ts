// Loading and wrapping of the real FreeSWITCH samples in test/fixtures/samples (copied verbatim
// from the shared samples folder; see its README for where each comes from and its caveats), and a
// small harness around FrameParser. Only the wrapping lives here: the assertions are in the tests.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type EslEvent, eventFromFrame, PlainEvent } from "../../src/esl/event.js";
import type { Frame } from "../../src/esl/frame.js";
import { FrameParser, type FrameParserOptions, type ProtocolError } from "../../src/esl/parser.js";
import { eventFrame, plainEventBody } from "../../src/esl/wire.js";

export const SAMPLES = {
  backgroundJob: "background-job-nested-body-plain-2008-docs-example.txt",
  webitelDestroy: "channel-destroy-qos-decoded-webitel-2016-pcmu.txt",
  libresbcALeg: "chc-qos-esl-debug-libresbc-2021-opus-aleg-mos3.86.txt",
  libresbcBLeg: "chc-qos-esl-debug-libresbc-2021-pcma-bleg.txt",
  cgratesSpeex: "chc-qos-plain-cgrates-2015-speex.txt",
  cgratesG722: "chc-qos-plain-cgrates-2018-g722-flaw1.txt",
  cgratesJsonCdr: "json-cdr-callstats-cgrates-2018-g722-same-call.json",
  fsockCapture: "wire-capture-plain-fsock-2012-call-lifecycle.txt",
  switchioStream: "wire-stream-auth-exit-disconnect-switchio.txt",
} as const;

export type SampleFile = (typeof SAMPLES)[keyof typeof SAMPLES];

const FIXTURES = new URL("../fixtures/samples/", import.meta.url);

export function readSample(file: SampleFile): Buffer {
  return readFileSync(new URL(file, FIXTURES));
}

// ---------------------------------------------------------------------------------------------
// Wrapping samples into wire frames

/**
 * The cgrates samples are `text/event-plain` bodies without the final blank line and without the
 * outer envelope: add the blank line, then the envelope FreeSWITCH puts around an event.
 */
export function cgratesFrame(file: typeof SAMPLES.cgratesSpeex | typeof SAMPLES.cgratesG722) {
  const body = readSample(file);
  assert.equal(body.at(-1), 0x0a, "the sample ends with its last header's newline");
  assert.notEqual(body.at(-2), 0x0a, "and has no blank line yet");
  return eventFrame(Buffer.concat([body, Buffer.from("\n")]), "plain");
}

/** The mod_json_cdr record, framed as a `text/event-json` message (it is a JSON object). */
export function jsonCdrFrame(): Buffer {
  return eventFrame(readSample(SAMPLES.cgratesJsonCdr), "json");
}

/** The libresbc prints were copied from a tmux pane this many columns wide. */
export const LIBRESBC_TERMINAL_COLUMNS = 206;

/** tmux's scroll-position marker, e.g. `[523/2075]`, pasted at the right edge of some lines. */
const TMUX_MARKER = /\s*\[\d+\/\d+\]$/;
/** A `Name: value` line of a decoded print (the value may be empty and lose its space). */
const PRINT_HEADER = /^([A-Za-z0-9_-]+):(?: (.*))?$/s;

export interface DebugPrintOptions {
  /** Width of the terminal the print was copied from: a line that fills it wrapped onto the next. */
  terminalColumns?: number;
}

/**
 * Turns a decoded header print (libresbc's ESL debug output, webitel's documentation page) back
 * into the header list FreeSWITCH had, so it can be serialized to a wire frame:
 * - values are trimmed (terminal copies carry trailing spaces);
 * - a line that is not `Name: value` continues the previous value on a new line (multi-line
 *   values such as SDP bodies are printed decoded);
 * - a line that exactly fills the terminal width was wrapped by the terminal: the next line
 *   continues it directly (libresbc's `variable_export_vars`);
 * - tmux redraw artifacts: a line ending in a `[n/m]` marker repeats the line before it, or the
 *   two lines before it (then the line after the marker repeats the second one): the repeats are
 *   dropped (libresbc B-leg: `variable_rtp_use_codec_name` and four more); a marker on a line that
 *   repeats nothing is just removed.
 */
export function parseDebugPrint(
  text: string,
  options: DebugPrintOptions = {},
): Array<[string, string]> {
  const raw = text.split("\n");
  if (raw.at(-1) === "") raw.pop();
  const trimmed = raw.map((line) => line.replace(TMUX_MARKER, "").trimEnd());

  interface Line {
    text: string;
    wrapped: boolean;
  }
  const lines: Line[] = [];
  for (let i = 0; i < raw.length; i++) {
    const line = raw[i]!;
    const text = trimmed[i]!;
    if (TMUX_MARKER.test(line)) {
      if (i >= 1 && text === trimmed[i - 1]) continue;
      if (i >= 2 && text === trimmed[i - 2] && trimmed[i + 1] === trimmed[i - 1]) {
        i++; // the line after the marker is the second repeat
        continue;
      }
      lines.push({ text, wrapped: false });
      continue;
    }
    const wrapped =
      options.terminalColumns !== undefined &&
      line.length === options.terminalColumns &&
      !line.endsWith(" ");
    lines.push({ text, wrapped });
  }

  const headers: Array<[string, string]> = [];
  let continues = false; // the previous physical line was wrapped by the terminal
  for (const { text, wrapped } of lines) {
    const last = headers.at(-1);
    const m = continues ? null : PRINT_HEADER.exec(text);
    if (m !== null) {
      headers.push([m[1]!, m[2] ?? ""]);
    } else {
      assert.ok(last !== undefined, `continuation line before any header: ${JSON.stringify(text)}`);
      last[1] += continues ? text : `\n${text}`;
    }
    continues = wrapped;
  }
  return headers;
}

export function libresbcHeaders(file: typeof SAMPLES.libresbcALeg | typeof SAMPLES.libresbcBLeg) {
  return parseDebugPrint(readSample(file).toString("utf8"), {
    terminalColumns: LIBRESBC_TERMINAL_COLUMNS,
  });
}

export function libresbcFrame(file: typeof SAMPLES.libresbcALeg | typeof SAMPLES.libresbcBLeg) {
  return eventFrame(plainEventBody(libresbcHeaders(file)), "plain");
}

export function webitelHeaders(): Array<[string, string]> {
  return parseDebugPrint(readSample(SAMPLES.webitelDestroy).toString("utf8"));
}

export function webitelFrame(): Buffer {
  return eventFrame(plainEventBody(webitelHeaders()), "plain");
}

/** The fsock capture's one non-wire artifact (README): an extra LF and the text `uuid_transfer `. */
export const FSOCK_ARTIFACT = Buffer.from("\nuuid_transfer ");
/** Offset of the `Content-Length: 563` header of the RE_SCHEDULE frame the artifact follows. */
export const FSOCK_ARTIFACT_FRAME_AT = 91140;

export function fsockCapture(withArtifact: boolean): Buffer {
  const capture = readSample(SAMPLES.fsockCapture);
  if (withArtifact) return capture;
  const at = capture.indexOf(FSOCK_ARTIFACT);
  assert.ok(at > 0 && capture.indexOf(FSOCK_ARTIFACT, at + 1) === -1, "exactly one artifact");
  return Buffer.concat([capture.subarray(0, at), capture.subarray(at + FSOCK_ARTIFACT.length)]);
}

// ---------------------------------------------------------------------------------------------
// Parser harness

export interface Parsed {
  frames: Frame[];
  errors: ProtocolError[];
  parser: FrameParser;
}

export function newParser(options?: FrameParserOptions): Parsed {
  const frames: Frame[] = [];
  const errors: ProtocolError[] = [];
  const parser = new FrameParser(
    (frame) => frames.push(frame),
    (error) => errors.push(error),
    options,
  );
  return { frames, errors, parser };
}

/** Pushes the chunks in order into a fresh parser. */
export function parseChunks(chunks: Iterable<Buffer>, options?: FrameParserOptions): Parsed {
  const parsed = newParser(options);
  for (const chunk of chunks) parsed.parser.push(chunk);
  return parsed;
}

/**
 * Pushes the chunks as a socket with an `onread` buffer does: each one copied into the same
 * buffer (parser option reusedChunks), which is scribbled over after every push so that anything
 * the parser kept without copying reads garbage. Frames are retained as they arrive, as a
 * consumer that keeps them must.
 */
export function parseChunksReused(chunks: Iterable<Buffer>, options?: FrameParserOptions): Parsed {
  const frames: Frame[] = [];
  const errors: ProtocolError[] = [];
  const parser = new FrameParser(
    (frame) => frames.push(frame.retain()),
    (error) => errors.push(error),
    { ...options, reusedChunks: true },
  );
  let scratch = Buffer.alloc(0);
  for (const chunk of chunks) {
    if (scratch.length < chunk.length) scratch = Buffer.alloc(chunk.length);
    chunk.copy(scratch);
    parser.push(scratch.subarray(0, chunk.length));
    scratch.fill(0x5a);
  }
  return { frames, errors, parser };
}

export function parseStream(stream: Buffer, options?: FrameParserOptions): Parsed {
  return parseChunks([stream], options);
}

/** Cuts `buf` at the given offsets (any order, duplicates allowed; empty pieces are kept). */
export function splitAt(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const sorted = [...cuts].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of sorted) {
    pieces.push(buf.subarray(from, cut));
    from = cut;
  }
  pieces.push(buf.subarray(from));
  return pieces;
}

/** The bytes of a frame's envelope header lines. */
export function envelopeBytes(frame: Frame): Buffer {
  const { buf, start, end } = frame.headers;
  return buf.subarray(start, end);
}

/** Byte-level equality of two frames: content type, envelope lines and body. */
export function sameFrame(a: Frame, b: Frame): boolean {
  if (a.contentType !== b.contentType) return false;
  if (!envelopeBytes(a).equals(envelopeBytes(b))) return false;
  if (a.body === null || b.body === null) return a.body === b.body;
  return a.body.equals(b.body);
}

/** A printable, deep-comparable view of a frame (for assertion messages and deepEqual). */
export function frameView(frame: Frame): { type: string; envelope: string; body: string | null } {
  return {
    type: frame.contentType,
    envelope: envelopeBytes(frame).toString("latin1"),
    body: frame.body === null ? null : frame.body.toString("latin1"),
  };
}

/** Parses one framed event with the real parser (asserting a clean, complete parse) and returns it. */
export function eventFrom(stream: Buffer): EslEvent {
  const { frames, errors, parser } = parseStream(stream);
  assert.deepEqual(errors, []);
  assert.equal(frames.length, 1);
  assert.equal(parser.bufferedBytes, 0);
  const event = eventFromFrame(frames[0]!);
  assert.ok(event !== undefined);
  return event;
}

/** An event in FreeSWITCH's plain format built from a header list. */
export function toEvent(headers: ReadonlyArray<readonly [string, string]>): EslEvent {
  return new PlainEvent(plainEventBody(headers));
}

/**
 * The headers of a minimal RECV_RTCP_MESSAGE for `uuid` (SPEC §2; Event-Name left out): PCMU's
 * 8000 Hz clock, jitter 80 units (10 ms), fraction 0 and the cumulative `lost` given.
 */
export function minimalRecvHeaders(uuid: string, lost: number): Array<[string, string]> {
  return [
    ["Unique-ID", uuid],
    ["SSRC", "0000abcd"],
    ["RTP-Rate", "8000"],
    ["Source0-SSRC", "12345678"],
    ["Source0-Fraction", "0"],
    ["Source0-Lost", String(lost)],
    ["Source0-Jitter", "80"],
  ];
}

/** That report as an event in FreeSWITCH's plain format. */
export function minimalRecv(uuid: string, lost: number): EslEvent {
  return toEvent([["Event-Name", "RECV_RTCP_MESSAGE"], ...minimalRecvHeaders(uuid, lost)]);
}
