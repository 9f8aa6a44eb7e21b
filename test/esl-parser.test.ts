import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { eventFromFrame } from "../src/esl/event.js";
import { ContentType, type Frame } from "../src/esl/frame.js";
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_HEADER_BYTES,
  FrameParser,
  type FrameParserOptions,
  type ProtocolErrorReason,
} from "../src/esl/parser.js";
import {
  AUTH_REQUEST,
  apiResponse,
  commandReply,
  DISCONNECT_GOODBYE,
  DISCONNECT_LOST_EVENTS,
  disconnectNotice,
  eventFrame,
  jsonEventBody,
  plainEventBody,
  RUDE_REJECTION_BODY,
  rudeRejection,
} from "../src/esl/wire.js";
import {
  cgratesFrame,
  envelopeBytes,
  FSOCK_ARTIFACT,
  FSOCK_ARTIFACT_FRAME_AT,
  frameView,
  fsockCapture,
  jsonCdrFrame,
  libresbcFrame,
  newParser,
  type Parsed,
  parseChunks,
  parseChunksReused,
  parseStream,
  readSample,
  SAMPLES,
  sameFrame,
  splitAt,
  webitelFrame,
} from "./support/samples.js";

const FSOCK_EVENT_NAMES = [
  "HEARTBEAT",
  "RE_SCHEDULE",
  "CHANNEL_STATE",
  "CODEC",
  "CODEC",
  "CHANNEL_STATE",
  "CHANNEL_CREATE",
  "CHANNEL_CALLSTATE",
  "CHANNEL_STATE",
  "API",
  "API",
  "API",
  "API",
  "CHANNEL_EXECUTE",
  "CHANNEL_EXECUTE_COMPLETE",
  "CHANNEL_STATE",
  "CHANNEL_EXECUTE",
  "CHANNEL_EXECUTE_COMPLETE",
  "CHANNEL_EXECUTE",
  "CHANNEL_EXECUTE_COMPLETE",
  "CHANNEL_EXECUTE",
  "CHANNEL_EXECUTE_COMPLETE",
  "CHANNEL_EXECUTE",
  "CHANNEL_EXECUTE_COMPLETE",
  "CHANNEL_EXECUTE",
  "CHANNEL_EXECUTE_COMPLETE",
  "CHANNEL_EXECUTE",
  "CHANNEL_PARK",
  "HEARTBEAT",
  "RE_SCHEDULE",
  "HEARTBEAT",
  "RE_SCHEDULE",
  "RE_SCHEDULE",
  "HEARTBEAT",
  "RE_SCHEDULE",
  "CHANNEL_CALLSTATE",
  "CHANNEL_HANGUP",
  "CHANNEL_UNPARK",
  "CHANNEL_EXECUTE_COMPLETE",
  "CHANNEL_STATE",
  "CHANNEL_STATE",
  "CHANNEL_HANGUP_COMPLETE",
  "CHANNEL_DESTROY",
  "CHANNEL_CALLSTATE",
  "CHANNEL_STATE",
];

/** How many frames of the fsock capture come before its artifact. */
const FSOCK_FRAMES_BEFORE_ARTIFACT = 33;

function eventOf(frame: Frame | undefined) {
  assert.ok(frame !== undefined, "a frame");
  const event = eventFromFrame(frame);
  assert.ok(event !== undefined, "an event");
  return event;
}

function oneLine(message: string): void {
  assert.ok(message.length > 0 && message.length < 200, `short message: ${message}`);
  assert.doesNotMatch(message, /[\r\n]/, "one line");
}

/** A session as FreeSWITCH writes it, built with the wire serializers. */
function sessionStream(): Buffer {
  const base: Array<[string, string]> = [
    ["Event-Name", "HEARTBEAT"],
    ["Core-UUID", "792e181c-b6e6-499c-82a1-52a778e7d82d"],
    ["Event-Date-Local", "2024-05-01 10:00:00"],
    ["Event-Info", "System Ready"],
    ["Up-Time", "0 years, 3 days"],
    ["Session-Count", "0"],
  ];
  const job: Array<[string, string]> = [
    ["Event-Name", "BACKGROUND_JOB"],
    ["Job-UUID", "7f4db78a-17d7-11dd-b7a0-db4edd065621"],
    ["Job-Command", "status"],
  ];
  return Buffer.concat([
    AUTH_REQUEST,
    commandReply("+OK accepted"),
    commandReply("+OK event listener enabled plain"),
    eventFrame(plainEventBody(base)),
    apiResponse("UP 0 years, 3 days\n0 session(s)\n"),
    commandReply("+OK Job-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621", [
      ["Job-UUID", "7f4db78a-17d7-11dd-b7a0-db4edd065621"],
    ]),
    eventFrame(plainEventBody(job, "Event-Name: FAKE\n\nContent-Length: 1\n\n+OK done\n")),
    eventFrame(jsonEventBody(base, "json body"), "json"),
    apiResponse(""),
    apiResponse("-ERR foo Command not found!\n"),
    rudeRejection(),
    disconnectNotice(DISCONNECT_LOST_EVENTS),
    disconnectNotice(),
  ]);
}

interface NamedStream {
  name: string;
  bytes: Buffer;
}

function wireStreams(): NamedStream[] {
  return [
    { name: "switchio stream", bytes: readSample(SAMPLES.switchioStream) },
    {
      name: "BACKGROUND_JOB (with its missing last byte)",
      bytes: Buffer.concat([readSample(SAMPLES.backgroundJob), Buffer.from("\n")]),
    },
    { name: "cgrates 2015 CHC", bytes: cgratesFrame(SAMPLES.cgratesSpeex) },
    { name: "cgrates 2018 CHC", bytes: cgratesFrame(SAMPLES.cgratesG722) },
    { name: "cgrates JSON CDR", bytes: jsonCdrFrame() },
    { name: "libresbc A-leg", bytes: libresbcFrame(SAMPLES.libresbcALeg) },
    { name: "libresbc B-leg", bytes: libresbcFrame(SAMPLES.libresbcBLeg) },
    { name: "webitel CHANNEL_DESTROY", bytes: webitelFrame() },
    { name: "wire.ts session", bytes: sessionStream() },
  ];
}

/** Compares a parse against the reference parse of the same bytes; returns a reason or null. */
function differs(actual: Parsed, reference: Parsed): string | null {
  if (actual.frames.length !== reference.frames.length) {
    return `${actual.frames.length} frames instead of ${reference.frames.length}`;
  }
  for (let i = 0; i < actual.frames.length; i++) {
    if (!sameFrame(actual.frames[i]!, reference.frames[i]!)) return `frame ${i} differs`;
  }
  const reasons = actual.errors.map((e) => e.reason).join();
  if (reasons !== reference.errors.map((e) => e.reason).join()) return `errors ${reasons}`;
  if (actual.parser.bufferedBytes !== reference.parser.bufferedBytes) return "bufferedBytes";
  return null;
}

/**
 * Pushes `stream` cut once at every offset (0 and length included: an empty push), as separate
 * chunks and through one reused read buffer.
 */
function assertEveryCut(stream: Buffer, from = 0, to = stream.length): void {
  const reference = parseStream(stream);
  for (let cut = from; cut <= to; cut++) {
    const pieces = [stream.subarray(0, cut), stream.subarray(cut)];
    const reason = differs(parseChunks(pieces), reference);
    if (reason !== null) assert.fail(`cut at ${cut}: ${reason}`);
    const reused = differs(parseChunksReused(pieces), reference);
    if (reused !== null) assert.fail(`cut at ${cut}, reused buffer: ${reused}`);
  }
}

describe("FrameParser on the fsock 2012 capture", () => {
  it("parses the capture, artifact removed, into exactly 45 events in order", () => {
    const capture = fsockCapture(false);
    assert.equal(capture[0], 0x0a, "the capture begins with one LF");
    const { frames, errors, parser } = parseStream(capture);
    assert.deepEqual(errors, []);
    assert.equal(parser.bufferedBytes, 0);
    assert.equal(frames.length, 45);
    assert.ok(frames.every((f) => f.contentType === ContentType.eventPlain));
    const events = frames.map(eventOf);
    assert.deepEqual(
      events.map((e) => e.name),
      FSOCK_EVENT_NAMES,
    );
    // Event-Sequence grows through the capture.
    const seqs = events.map((e) => Number(e.get("Event-Sequence")));
    assert.equal(seqs[0], 34262);
    assert.equal(seqs.at(-1), 34307);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `seq at ${i}`);
    // Each frame's body is exactly its Content-Length.
    for (const f of frames) assert.equal(f.body?.length, Number(f.header("Content-Length")));

    const heartbeat = events[0]!;
    assert.equal(heartbeat.get("Event-Info"), "System Ready");
    assert.equal(heartbeat.get("FreeSWITCH-IPv6"), "::1");
    assert.equal(heartbeat.get("Event-Date-Local"), "2012-10-05 13:41:38");
    assert.equal(heartbeat.get("Idle-CPU"), "99.000000");
    assert.equal(
      heartbeat.get("Up-Time"),
      "0 years, 3 days, 4 hours, 2 minutes, 19 seconds, 912 milliseconds, 410 microseconds",
    );
    const create = events[6]!;
    assert.equal(create.name, "CHANNEL_CREATE");
    assert.equal(create.get("Unique-ID"), "303c0f9f-4b32-4b9b-9f77-df0ca215bbe7");
    assert.equal(create.get("Channel-Read-Codec-Name"), "PCMA");
    assert.equal(create.get("Channel-Name"), "sofia/B2BUA/4986517174963@call-home.net");
    assert.equal(
      create.get("variable_sip_call_id"),
      "5a4148a38eea6ed30ca883839359fb0d@0:0:0:0:0:0:0:0",
    );
    assert.equal(events[10]!.get("API-Command"), "regex");
    assert.equal(events[10]!.get("API-Command-Argument"), "0:0|8:\\d");
    const chc = events[41]!;
    assert.equal(chc.name, "CHANNEL_HANGUP_COMPLETE");
    assert.equal(chc.get("Hangup-Cause"), "ORIGINATOR_CANCEL");
    assert.equal(chc.get("Unique-ID"), create.get("Unique-ID"));
  });

  it("locates the documented artifact right after the RE_SCHEDULE frame at byte 91140", () => {
    const capture = fsockCapture(true);
    const head = "Content-Length: 563\nContent-Type: text/event-plain\n\n";
    assert.equal(
      capture.toString("latin1", FSOCK_ARTIFACT_FRAME_AT, FSOCK_ARTIFACT_FRAME_AT + head.length),
      head,
    );
    const frameEnd = FSOCK_ARTIFACT_FRAME_AT + head.length + 563;
    assert.equal(capture.indexOf(FSOCK_ARTIFACT), frameEnd);
    assert.equal(fsockCapture(false).length, capture.length - FSOCK_ARTIFACT.length);
  });

  it("with the artifact left in, reports malformed_header once instead of corrupt events", () => {
    const capture = fsockCapture(true);
    const { frames, errors, parser } = newParser();
    assert.doesNotThrow(() => parser.push(capture));
    assert.equal(frames.length, FSOCK_FRAMES_BEFORE_ARTIFACT);
    assert.deepEqual(
      frames.map((f) => eventOf(f).name),
      FSOCK_EVENT_NAMES.slice(0, FSOCK_FRAMES_BEFORE_ARTIFACT),
    );
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.reason, "malformed_header");
    oneLine(errors[0]!.message);
    assert.match(errors[0]!.message, /uuid_transfer Content-Length: 720/);
    assert.ok(parser.hasFailed);
    assert.equal(parser.bufferedBytes, 0);

    // Ignored until reset: even a clean stream is not parsed, and the error is not repeated.
    parser.push(fsockCapture(false));
    assert.equal(frames.length, FSOCK_FRAMES_BEFORE_ARTIFACT);
    assert.equal(errors.length, 1);

    parser.reset();
    assert.ok(!parser.hasFailed);
    parser.push(fsockCapture(false));
    assert.equal(frames.length, FSOCK_FRAMES_BEFORE_ARTIFACT + 45);
    assert.equal(errors.length, 1);
  });

  it("gives the same frames and error when the artifact stream arrives in chunks (fast-check)", () => {
    const capture = fsockCapture(true);
    const reference = parseStream(capture);
    fc.assert(
      fc.property(fc.array(fc.nat(capture.length), { maxLength: 40 }), (cuts) => {
        const reason = differs(parseChunks(splitAt(capture, cuts)), reference);
        assert.equal(reason, null);
      }),
      { numRuns: 40 },
    );
  });
});

describe("FrameParser on the switchio stream", () => {
  it("reads auth/request, two replies, the disconnect notice, then the event", () => {
    const stream = readSample(SAMPLES.switchioStream);
    const { frames, errors, parser } = parseStream(stream);
    assert.deepEqual(errors, []);
    assert.equal(parser.bufferedBytes, 0);
    assert.deepEqual(
      frames.map((f) => f.contentType),
      [
        ContentType.authRequest,
        ContentType.commandReply,
        ContentType.commandReply,
        ContentType.disconnectNotice,
        ContentType.eventPlain,
      ],
    );
    const [auth, accepted, bye, notice, event] = frames as [Frame, Frame, Frame, Frame, Frame];
    assert.equal(auth.body, null);
    assert.equal(accepted.header("Reply-Text"), "+OK accepted");
    assert.equal(accepted.body, null);
    assert.equal(bye.header("Reply-Text"), "+OK bye");

    // Hand-assembled: Content-Length before Content-Type. Body: the 67-byte goodbye.
    assert.ok(envelopeBytes(notice).toString("latin1").startsWith("Content-Length: 67\n"));
    assert.equal(notice.header("Content-Type"), "text/disconnect-notice");
    assert.equal(notice.body?.length, 67);
    assert.equal(notice.bodyText(), DISCONNECT_GOODBYE);

    // The event's Content-Length is one short of its bytes: the parser takes 5407 bytes, and
    // the stray last LF is skipped as an inter-frame newline (nothing left buffered).
    assert.equal(event.header("Content-Length"), "5407");
    assert.equal(event.body?.length, 5407);
    const bodyAt =
      stream.indexOf("Content-Length: 5407\n") +
      "Content-Length: 5407\nContent-Type: text/event-plain\n\n".length;
    assert.equal(stream.length, bodyAt + 5407 + 1);
    assert.equal(stream.at(-1), 0x0a);
    assert.ok(event.body?.equals(stream.subarray(bodyAt, bodyAt + 5407)));

    const e = eventOf(event);
    assert.equal(e.name, "CHANNEL_CREATE");
    assert.equal(e.get("Unique-ID"), "d0b1da34-a727-11e4-9728-6f83a2e5e50a");
    assert.equal(e.get("Channel-Call-UUID"), "d0b1da34-a727-11e4-9728-6f83a2e5e50a");
    assert.equal(e.get("Core-UUID"), "ed56dab6-a6fc-11e4-960f-6f83a2e5e50a");
    assert.equal(e.get("Call-Direction"), "inbound");
    // Values are not URL-encoded in this stream; the plain decoder passes them through.
    assert.equal(e.get("FreeSWITCH-IPv6"), "::1");
    assert.equal(e.get("Event-Date-GMT"), "Wed, 28 Jan 2015 18:00:44 GMT");
    assert.equal(e.get("Caller-Caller-ID-Name"), "edev - 100");
    assert.equal(e.get("variable_sip_call_id"), "6bG.Hj5UCe8pDFEy1R9FO8EIfHtKrZ3H");
    assert.equal(
      e.get("variable_ep_codec_string"),
      "GSM@8000h@20i@13200b,PCMU@8000h@20i@64000b,PCMA@8000h@20i@64000b,G722@8000h@20i@64000b",
    );
    // The unencoded SDP spills over raw lines: only its first line is the header's value.
    assert.equal(e.get("variable_switch_r_sdp"), "v=0");
    assert.equal(e.get("a=rtcp:4017 IN IP4 172.16.7.70"), undefined);
    assert.equal(e.body, undefined);
    const headerLines = event
      .bodyText()
      .split("\n")
      .filter((l) => /^[A-Za-z0-9_-]+: /.test(l)).length;
    assert.equal(e.entries().length, headerLines);
  });
});

describe("FrameParser on the BACKGROUND_JOB sample", () => {
  it("as published (1 byte short of its Content-Length) is a truncated frame: held, no error", () => {
    const sample = readSample(SAMPLES.backgroundJob);
    const envelope = "Content-Length: 579\nContent-Type: text/event-plain\n";
    assert.ok(sample.toString("latin1").startsWith(`${envelope}\n`));
    assert.equal(sample.length - envelope.length - 1, 578);
    const { frames, errors, parser } = parseStream(sample);
    assert.equal(frames.length, 0);
    assert.deepEqual(errors, []);
    assert.equal(parser.bufferedBytes, envelope.length + 578);

    parser.push(Buffer.from("\n")); // the missing byte
    assert.equal(frames.length, 1);
    assert.equal(parser.bufferedBytes, 0);
    assert.equal(frames[0]!.body?.length, 579);
    assert.equal(eventOf(frames[0]).body, "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621");
  });
});

describe("FrameParser chunking", () => {
  for (const { name, bytes } of wireStreams()) {
    it(`${name}: a cut at every offset gives the one-push frames`, () => {
      const reference = parseStream(bytes);
      assert.deepEqual(reference.errors, []);
      assert.ok(reference.frames.length > 0);
      assertEveryCut(bytes);
    });
  }

  it("fsock capture (artifact removed): a cut at every offset gives the one-push frames", () => {
    assertEveryCut(fsockCapture(false));
  });

  it("fsock capture with artifact: every cut around the artifact gives the same frames and error", () => {
    const capture = fsockCapture(true);
    const at = capture.indexOf(FSOCK_ARTIFACT);
    assertEveryCut(capture, at - 3000, at + 3000);
  });

  it("many random cuts give the same frames and events (fast-check)", () => {
    const streams = [...wireStreams(), { name: "fsock", bytes: fsockCapture(false) }];
    const references = streams.map(({ bytes }) => {
      const parsed = parseStream(bytes);
      return { parsed, events: parsed.frames.map((f) => eventFromFrame(f)) };
    });
    fc.assert(
      fc.property(
        fc
          .nat(streams.length - 1)
          .chain((i) =>
            fc.tuple(
              fc.constant(i),
              fc.array(fc.nat(streams[i]!.bytes.length), { minLength: 1, maxLength: 300 }),
            ),
          ),
        ([i, cuts]) => {
          const { bytes } = streams[i]!;
          const reference = references[i]!;
          const parsed = parseChunks(splitAt(bytes, cuts));
          assert.equal(differs(parsed, reference.parsed), null);
          const reused = parseChunksReused(splitAt(bytes, cuts));
          assert.equal(differs(reused, reference.parsed), null, "through a reused buffer");
          parsed.frames.forEach((frame, k) => {
            const event = eventFromFrame(frame);
            const expected = reference.events[k];
            assert.deepEqual(event?.entries(), expected?.entries());
            assert.equal(event?.name, expected?.name);
            assert.equal(event?.body, expected?.body);
          });
        },
      ),
      { numRuns: 120 },
    );
  });

  it("one byte at a time gives the one-push frames", () => {
    const streams = wireStreams().filter((s) => /switchio|BACKGROUND_JOB|session/.test(s.name));
    assert.equal(streams.length, 3);
    for (const { name, bytes } of streams) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length; i++) pieces.push(bytes.subarray(i, i + 1));
      assert.equal(differs(parseChunks(pieces), parseStream(bytes)), null, name);
      assert.equal(differs(parseChunksReused(pieces), parseStream(bytes)), null, `${name}, reused`);
    }
  });

  it("frames of the wire.ts session carry what the serializers wrote", () => {
    const { frames, errors } = parseStream(sessionStream());
    assert.deepEqual(errors, []);
    assert.deepEqual(
      frames.map((f) => f.contentType),
      [
        ContentType.authRequest,
        ContentType.commandReply,
        ContentType.commandReply,
        ContentType.eventPlain,
        ContentType.apiResponse,
        ContentType.commandReply,
        ContentType.eventPlain,
        ContentType.eventJson,
        ContentType.apiResponse,
        ContentType.apiResponse,
        ContentType.rudeRejection,
        ContentType.disconnectNotice,
        ContentType.disconnectNotice,
      ],
    );
    assert.equal(frames[4]!.bodyText(), "UP 0 years, 3 days\n0 session(s)\n");
    assert.equal(frames[5]!.header("Job-UUID"), "7f4db78a-17d7-11dd-b7a0-db4edd065621");
    assert.equal(eventOf(frames[6]).body, "Event-Name: FAKE\n\nContent-Length: 1\n\n+OK done\n");
    assert.equal(eventOf(frames[6]).name, "BACKGROUND_JOB");
    assert.equal(eventOf(frames[7]).body, "json body");
    assert.equal(frames[8]!.header("Content-Length"), "0");
    assert.equal(frames[8]!.body, null);
    assert.equal(frames[10]!.bodyText(), RUDE_REJECTION_BODY);
    assert.equal(frames[11]!.bodyText(), DISCONNECT_LOST_EVENTS);
    assert.equal(frames[12]!.bodyText(), DISCONNECT_GOODBYE);
  });

  it("skips CR and LF between frames and ignores CR before LF in envelope lines", () => {
    const stream = Buffer.from(
      "\r\n\nContent-Type: command/reply\r\nReply-Text: +OK\r\n\n\r\n" +
        "Content-Length: 2\r\nContent-Type: api/response\r\n\nok\n\r",
    );
    const { frames, errors, parser } = parseStream(stream);
    assert.deepEqual(errors, []);
    assert.equal(parser.bufferedBytes, 0);
    assert.deepEqual(
      frames.map(frameView).map((v) => [v.type, v.body]),
      [
        ["command/reply", null],
        ["api/response", "ok"],
      ],
    );
    assert.equal(frames[0]!.header("Reply-Text"), "+OK");
  });

  it("uses the first of repeated Content-Length / Content-Type headers, as header() does", () => {
    const { frames, errors, parser } = parseStream(
      Buffer.from(
        "Content-Length: 3\nContent-Type: api/response\nContent-Length: 5\nContent-Type: x\n\nabcXY",
      ),
    );
    assert.deepEqual(errors, []);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.contentType, "api/response");
    assert.equal(frames[0]!.header("Content-Type"), "api/response");
    assert.equal(frames[0]!.header("Content-Length"), "3");
    assert.equal(frames[0]!.bodyText(), "abc");
    assert.equal(parser.bufferedBytes, 2, "XY starts the next envelope");
  });

  it("a reset() from inside onFrame drops the rest of the chunk; later pushes parse", () => {
    const frames: Frame[] = [];
    const parser: FrameParser = new FrameParser(
      (frame) => {
        frames.push(frame);
        if (frames.length === 1) parser.reset();
      },
      () => assert.fail("no error"),
    );
    const two = Buffer.concat([commandReply("+OK one"), commandReply("+OK two")]);
    parser.push(two);
    assert.equal(frames.length, 1);
    assert.equal(parser.bufferedBytes, 0);
    parser.push(two);
    assert.deepEqual(
      frames.map((f) => f.header("Reply-Text")),
      ["+OK one", "+OK one", "+OK two"],
    );
  });
});

describe("FrameParser robustness (fast-check)", () => {
  const tokens = [
    "Content-Length: ",
    "Content-Type: text/event-plain",
    "Content-Type: command/reply",
    "Reply-Text: +OK",
    "Event-Name: X",
    "\n",
    "\n\n",
    "\r",
    "\r\n",
    ": ",
    ":",
    " ",
    "0",
    "3",
    "12",
    "99999999999",
    "-5",
    "Content-Length: 3\n\nabc",
    "A: b\n\n",
    "bad line\n",
  ].map((t) => Buffer.from(t, "latin1"));
  // Frame-shaped pieces, valid or not, so the fuzz reaches bodies and every error, not only
  // garbage headers.
  const headerLine = fc.oneof(
    fc.constantFrom(
      "Content-Type: api/response",
      "Content-Type: text/event-plain",
      "Reply-Text: +OK accepted",
      "X-Empty: ",
    ),
    fc.nat(120).map((n) => `Content-Length: ${n}`),
    fc.constantFrom(
      "Content-Length: -5",
      "Content-Length: abc",
      "Content-Length: ",
      "Content-Length: 99999999999",
      "bad line",
      "Bad Name: x",
      ": v",
      "Content-Type:x",
    ),
  );
  const framePiece = fc
    .tuple(fc.array(headerLine, { maxLength: 4 }), fc.uint8Array({ maxLength: 40 }), fc.boolean())
    .map(([lines, body, exact]) => {
      const head = exact
        ? [
            ...lines.filter((l) => !l.startsWith("Content-Length")),
            `Content-Length: ${body.length}`,
          ]
        : lines;
      return Buffer.concat([Buffer.from(`${head.join("\n")}\n\n`, "latin1"), Buffer.from(body)]);
    });
  const soup = fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: framePiece },
        { weight: 2, arbitrary: fc.constantFrom(...tokens) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)) },
      ),
      { maxLength: 30 },
    )
    .map((parts) => Buffer.concat(parts));
  const limits = fc.constantFrom<FrameParserOptions>(
    { maxHeaderBytes: 40, maxFrameBytes: 16 },
    { maxHeaderBytes: 64, maxFrameBytes: 100 },
    {},
  );

  it("never throws, stays within its limits, reports at most one error, and is chunking-invariant", () => {
    fc.assert(
      fc.property(
        soup,
        fc.array(fc.nat(), { maxLength: 12 }),
        limits,
        (bytes, rawCuts, options) => {
          const bound =
            (options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES) +
            (options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
          const reference = parseStream(bytes, options);
          const cuts = rawCuts.map((c) => c % (bytes.length + 1));
          const parsed = newParser(options);
          for (const piece of splitAt(bytes, cuts)) {
            assert.doesNotThrow(() => parsed.parser.push(piece));
            assert.ok(parsed.parser.bufferedBytes <= bound, "bufferedBytes within the limits");
            assert.ok(parsed.errors.length <= 1, "at most one error");
          }
          assert.equal(differs(parsed, reference), null);
          assert.ok(parsed.frames.length <= bytes.length / 2, "each frame consumes bytes");
          for (const frame of parsed.frames) {
            const declared = frame.header("Content-Length");
            const length = declared === undefined ? 0 : Number(declared);
            assert.equal(frame.body?.length ?? 0, length, "body is exactly Content-Length");
            assert.ok(
              envelopeBytes(frame).length <= (options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES),
            );
          }
          if (parsed.errors.length === 1) {
            oneLine(parsed.errors[0]!.message);
            assert.ok(parsed.parser.hasFailed);
            assert.equal(parsed.parser.bufferedBytes, 0);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("ignores input after an error until reset(), then parses a valid stream again", () => {
    const valid = Buffer.concat([AUTH_REQUEST, commandReply("+OK accepted"), apiResponse("pong")]);
    // Limits the valid stream fits in (its largest header block is 53 bytes, its body 4).
    const roomy = fc.constantFrom<FrameParserOptions>(
      { maxHeaderBytes: 53, maxFrameBytes: 4 },
      { maxHeaderBytes: 64, maxFrameBytes: 100 },
      {},
    );
    fc.assert(
      fc.property(soup, roomy, (bytes, options) => {
        const parsed = newParser(options);
        parsed.parser.push(bytes);
        parsed.parser.push(Buffer.from("\n\n"));
        if (parsed.errors.length === 0) return; // not a failing stream
        const frames = parsed.frames.length;
        parsed.parser.push(valid);
        parsed.parser.push(Buffer.from("Content-Length: x\n\n"));
        assert.equal(parsed.frames.length, frames, "ignored while failed");
        assert.equal(parsed.errors.length, 1, "reported once");
        parsed.parser.reset();
        assert.equal(parsed.parser.bufferedBytes, 0);
        parsed.parser.push(valid);
        assert.deepEqual(
          parsed.frames.slice(frames).map((f) => f.contentType),
          [ContentType.authRequest, ContentType.commandReply, ContentType.apiResponse],
        );
        assert.equal(parsed.errors.length, 1);
      }),
      { numRuns: 500 },
    );
  });
});

describe("FrameParser protocol errors", () => {
  const cases: Array<[string, string, ProtocolErrorReason, RegExp]> = [
    [
      "huge Content-Length",
      "Content-Length: 99999999999\n",
      "frame_too_large",
      /99999999999.*16777216/,
    ],
    ["negative Content-Length", "Content-Length: -5\n", "bad_content_length", /"-5"/],
    ["non-numeric Content-Length", "Content-Length: abc\n", "bad_content_length", /"abc"/],
    ["empty Content-Length", "Content-Length: \n", "bad_content_length", /empty/],
    [
      "line without ': '",
      "Content-Type text/event-plain\n",
      "malformed_header",
      /Content-Type text/,
    ],
    [
      "colon without space",
      "Content-Type:text/event-plain\n",
      "malformed_header",
      /Content-Type:text/,
    ],
    ["space in the name", "Content Length: 5\n", "malformed_header", /Content Length/],
    ["empty name", ": value\n", "malformed_header", /: value/],
    ["line of only a CR", "Content-Type: api/response\n\r\n", "malformed_header", /\\r/],
  ];

  for (const [label, header, reason, message] of cases) {
    it(`${label} → ${reason}, reported once, also when pushed byte by byte`, () => {
      const valid = commandReply("+OK before");
      const bad = Buffer.from(`Content-Type: text/event-plain\n${header}\nbody`, "latin1");
      const stream = Buffer.concat([valid, bad, commandReply("+OK after")]);
      for (const chunks of [[stream], [...stream].map((b) => Buffer.from([b]))]) {
        const { frames, errors, parser } = newParser();
        for (const chunk of chunks) assert.doesNotThrow(() => parser.push(chunk));
        assert.equal(frames.length, 1, "the frame before the bad one is delivered");
        assert.equal(frames[0]!.header("Reply-Text"), "+OK before");
        assert.equal(errors.length, 1);
        assert.equal(errors[0]!.reason, reason);
        assert.match(errors[0]!.message, message);
        oneLine(errors[0]!.message);
        assert.ok(parser.hasFailed);
        parser.push(valid);
        assert.equal(frames.length, 1);
        assert.equal(errors.length, 1);
      }
    });
  }

  it("header_too_large: no blank line within maxHeaderBytes, in one push or many", () => {
    const maxHeaderBytes = 128;
    const endless = Buffer.from(`Content-Type: text/event-plain\nX-Pad: ${"x".repeat(200)}`);
    for (const chunkSize of [endless.length, 7, 1]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < endless.length; i += chunkSize)
        chunks.push(endless.subarray(i, i + chunkSize));
      const { frames, errors, parser } = parseChunks(chunks, { maxHeaderBytes });
      assert.equal(frames.length, 0);
      assert.equal(errors.length, 1, `chunk size ${chunkSize}`);
      assert.equal(errors[0]!.reason, "header_too_large");
      oneLine(errors[0]!.message);
      assert.equal(parser.bufferedBytes, 0);
    }
    // Over the limit with the blank line present is the same error.
    const whole = parseStream(Buffer.concat([endless, Buffer.from("\n\n")]), { maxHeaderBytes });
    assert.deepEqual(
      whole.errors.map((e) => e.reason),
      ["header_too_large"],
    );
  });

  it("accepts a header block of exactly maxHeaderBytes and a body of exactly maxFrameBytes", () => {
    const lines = "Content-Length: 10\nContent-Type: api/response\n";
    const options = { maxHeaderBytes: lines.length, maxFrameBytes: 10 };
    const ok = Buffer.from(`${lines}\n0123456789`);
    for (const chunks of [[ok], [...ok].map((b) => Buffer.from([b]))]) {
      const { frames, errors } = parseChunks(chunks, options);
      assert.deepEqual(errors, []);
      assert.equal(frames[0]?.bodyText(), "0123456789");
    }
    const longer = parseStream(Buffer.from(`X${lines}\n0123456789`), options);
    assert.deepEqual(
      longer.errors.map((e) => e.reason),
      ["header_too_large"],
    );
    const larger = parseStream(Buffer.from(`Content-Length: 11\n\n01234567890`), options);
    assert.deepEqual(
      larger.errors.map((e) => e.reason),
      ["frame_too_large"],
    );
  });

  it("never echoes more than a short excerpt of the offending bytes", () => {
    const { errors } = parseStream(Buffer.from(`${"y ".repeat(5000)}: v\n\n`));
    assert.equal(errors[0]?.reason, "malformed_header");
    oneLine(errors[0]!.message);
  });
});

describe("FrameParser buffering", () => {
  const frame = eventFrame(
    plainEventBody([
      ["Event-Name", "CHANNEL_HANGUP_COMPLETE"],
      ["Unique-ID", "88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0"],
      ["variable_rtp_audio_in_mos", "3.86"],
    ]),
  );
  const headerLines = frame.indexOf("\n\n") + 1;

  it("holds a truncated frame without delivering it or failing", () => {
    for (const cut of [
      1,
      10,
      headerLines - 1,
      headerLines,
      headerLines + 1,
      headerLines + 2,
      frame.length - 1,
    ]) {
      const { frames, errors, parser } = parseStream(frame.subarray(0, cut));
      assert.equal(frames.length, 0, `cut ${cut}`);
      assert.deepEqual(errors, []);
      assert.ok(!parser.hasFailed);
      // Envelope lines held, plus the body bytes received (the blank line is not held).
      const expected = cut <= headerLines ? cut : headerLines + Math.max(0, cut - headerLines - 1);
      assert.equal(parser.bufferedBytes, expected, `cut ${cut}`);
    }
  });

  it("counts a partial body across pushes, then completes it", () => {
    const { frames, parser } = newParser();
    const bodyStart = headerLines + 1;
    parser.push(frame.subarray(0, bodyStart + 5));
    assert.equal(parser.bufferedBytes, headerLines + 5);
    parser.push(frame.subarray(bodyStart + 5, bodyStart + 20));
    assert.equal(parser.bufferedBytes, headerLines + 20);
    parser.push(frame.subarray(bodyStart + 20));
    assert.equal(parser.bufferedBytes, 0);
    assert.equal(eventOf(frames[0]).get("variable_rtp_audio_in_mos"), "3.86");
  });

  it("parses a 5 MiB event pushed in 1 KiB chunks in linear time", () => {
    const big = "x".repeat(5 * 1024 * 1024);
    const stream = eventFrame(
      plainEventBody([
        ["Event-Name", "CUSTOM"],
        ["variable_big", big],
        ["Unique-ID", "after-the-big-one"],
      ]),
    );
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 1024) chunks.push(stream.subarray(i, i + 1024));
    const started = performance.now();
    const { frames, errors } = parseChunks(chunks);
    const elapsed = performance.now() - started;
    assert.deepEqual(errors, []);
    assert.equal(frames.length, 1);
    const event = eventOf(frames[0]);
    assert.equal(event.get("variable_big")?.length, big.length);
    assert.equal(event.get("Unique-ID"), "after-the-big-one");
    assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
  });

  it("copies a body that arrives in many chunks once, when it is complete", (t) => {
    // Deterministic twin of the timing check above: count the bytes Buffer.concat copies.
    const stream = eventFrame(
      plainEventBody([
        ["Event-Name", "CUSTOM"],
        ["variable_big", "y".repeat(1024 * 1024)],
      ]),
    );
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 1024) chunks.push(stream.subarray(i, i + 1024));
    const concat = t.mock.method(Buffer, "concat");
    const { frames } = parseChunks(chunks);
    const copied = concat.mock.calls.reduce((sum, call) => sum + (call.result?.length ?? 0), 0);
    concat.mock.restore();
    assert.equal(frames.length, 1);
    assert.ok(copied <= stream.length, `copied ${copied} bytes for a ${stream.length}-byte frame`);
  });

  it("copies an envelope that trickles in byte by byte once, not once per byte", (t) => {
    const lines: string[] = [];
    for (let i = 0; lines.join("\n").length < 30_000; i++) lines.push(`X-Header-${i}: value-${i}`);
    const stream = Buffer.from(
      `Content-Type: command/reply\nReply-Text: +OK\n${lines.join("\n")}\n\n`,
    );
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
    const concat = t.mock.method(Buffer, "concat");
    const { frames, errors } = parseChunks(chunks);
    const copied = concat.mock.calls.reduce((sum, call) => sum + (call.result?.length ?? 0), 0);
    concat.mock.restore();
    assert.deepEqual(errors, []);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]?.header("X-Header-7"), "value-7");
    assert.ok(
      copied <= stream.length,
      `copied ${copied} bytes for a ${stream.length}-byte envelope`,
    );
  });

  it("delivers 10,000 events pushed at once, in order", () => {
    const frames: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) {
      frames.push(
        eventFrame(
          plainEventBody([
            ["Event-Name", i % 2 === 0 ? "RECV_RTCP_MESSAGE" : "HEARTBEAT"],
            ["Event-Sequence", String(i)],
          ]),
        ),
      );
    }
    const parsed = parseStream(Buffer.concat(frames));
    assert.deepEqual(parsed.errors, []);
    assert.equal(parsed.frames.length, 10_000);
    parsed.frames.forEach((frame, i) => {
      const event = eventOf(frame);
      assert.equal(event.get("Event-Sequence"), String(i));
      assert.equal(event.name, i % 2 === 0 ? "RECV_RTCP_MESSAGE" : "HEARTBEAT");
    });
  });
});
