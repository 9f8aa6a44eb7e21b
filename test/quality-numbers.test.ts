// The event readers of quality/numbers.ts and loss.ts read plain digits straight from an event's
// bytes and hand everything else to the text parsers. Whatever the text, both ways must read what
// the text says: checked against the forms FreeSWITCH prints (below, written out here), on every
// header of the real samples, on the edge cases, and on arbitrary text.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type EslEvent, JsonEvent, PlainEvent } from "../src/esl/event.js";
import { plainEventBody } from "../src/esl/wire.js";
import { readCumulativeLost, readLost } from "../src/quality/loss.js";
import { parseUint, readTimestamp, readUfixed, readUint } from "../src/quality/numbers.js";
import {
  cgratesFrame,
  eventFrom,
  jsonCdrFrame,
  libresbcFrame,
  SAMPLES,
  webitelFrame,
} from "./support/samples.js";

/** 1 to `max` ASCII digits, nothing else (no sign, space, exponent, hex or other digits). */
function digits(text: string, max: number): boolean {
  return text.length >= 1 && text.length <= max && [...text].every((c) => c >= "0" && c <= "9");
}

// What each reader accepts, as FreeSWITCH prints it, and nothing else:
/** `%u` / `%d` of a count: up to 15 digits (every such integer is exact in a double). */
function uintOf(text: string | undefined): number | undefined {
  return text !== undefined && digits(text, 15) ? Number(text) : undefined;
}

/** A microsecond timestamp (Capture-Time, 16 digits since 2001), up to 2^53 − 1. */
function timestampOf(text: string | undefined): number | undefined {
  if (text === undefined || !digits(text, 16)) return undefined;
  return Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
}

/** `%.2f` / `%f` of a non-negative value: digits, optionally a point and digits (15 each). */
function ufixedOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const [whole, fraction, ...more] = text.split(".");
  const ok =
    more.length === 0 &&
    whole !== undefined &&
    digits(whole, 15) &&
    (fraction === undefined || digits(fraction, 15));
  return ok ? Number(text) : undefined;
}

const READERS = [
  { name: "uint", read: readUint, expected: uintOf },
  { name: "timestamp", read: readTimestamp, expected: timestampOf },
  { name: "ufixed", read: readUfixed, expected: ufixedOf },
  { name: "cumulative lost", read: readLost, expected: readCumulativeLost },
] as const;

/** Asserts every reader reads what the header's text says (and the text parser too). */
function agrees(event: EslEvent, header: string, context: string): void {
  const text = event.get(header);
  for (const { name, read, expected } of READERS) {
    assert.equal(
      read(event, header),
      expected(text),
      `${name} of ${header} (${JSON.stringify(text)}) in ${context}`,
    );
  }
  assert.equal(parseUint(text), uintOf(text), `parseUint(${JSON.stringify(text)}) in ${context}`);
}

function plain(text: string): EslEvent {
  return new PlainEvent(plainEventBody([["X-Value", text]]));
}

function json(text: string): EslEvent {
  const event = JsonEvent.parse(Buffer.from(JSON.stringify({ "X-Value": text })));
  assert.ok(event !== undefined);
  return event;
}

describe("numbers read from an event's bytes", () => {
  it("read what the text says on every header of the real samples", () => {
    const samples: Array<[string, EslEvent]> = [
      [SAMPLES.cgratesSpeex, eventFrom(cgratesFrame(SAMPLES.cgratesSpeex))],
      [SAMPLES.cgratesG722, eventFrom(cgratesFrame(SAMPLES.cgratesG722))],
      [SAMPLES.libresbcALeg, eventFrom(libresbcFrame(SAMPLES.libresbcALeg))],
      [SAMPLES.libresbcBLeg, eventFrom(libresbcFrame(SAMPLES.libresbcBLeg))],
      [SAMPLES.webitelDestroy, eventFrom(webitelFrame())],
      [SAMPLES.cgratesJsonCdr, eventFrom(jsonCdrFrame())],
    ];
    let numeric = 0;
    for (const [file, event] of samples) {
      for (const [header] of event.entries()) {
        agrees(event, header, file);
        if (readUint(event, header) !== undefined) numeric++;
      }
      agrees(event, "No-Such-Header", file);
    }
    // The samples' QoS variables are what the readers exist for: make sure they were exercised.
    assert.ok(numeric > 100, `${numeric} numeric headers`);
  });

  it("agree on the edge cases, and read what the text says", () => {
    const cases = [
      "0",
      "0007",
      "4294967295",
      "16777215",
      "999999999999999",
      "1000000000000000",
      "9007199254740991",
      "9007199254740992",
      "99999999999999999",
      "0.0425",
      "42.500000",
      "3.86",
      "123456789012.345",
      "1234567890123.456",
      "0.1234567890123456",
      "1.",
      ".5",
      "1.5e3",
      "1e3",
      "-1",
      "-0",
      "+5",
      " 7",
      "7 ",
      "0x1f",
      "%31",
      "1%2E5",
      "_undef_",
      "",
      "nan",
      "-nan",
      "Infinity",
      "١٢", // Arabic-Indic digits: not ASCII digits
    ];
    for (const text of cases) {
      agrees(plain(text), "X-Value", `plain ${JSON.stringify(text)}`);
      agrees(json(text), "X-Value", `json ${JSON.stringify(text)}`);
    }
    const event = plain("0.0425");
    assert.equal(readUfixed(event, "X-Value"), 0.0425);
    assert.equal(readUint(event, "X-Value"), undefined);
    assert.equal(readTimestamp(plain("9007199254740991"), "X-Value"), Number.MAX_SAFE_INTEGER);
    assert.equal(readLost(plain("4294967295"), "X-Value"), -1);
    assert.equal(readLost(plain("16777215"), "X-Value"), -1);
    assert.equal(readUint(plain("5"), "Absent"), undefined);
  });

  it("agree on arbitrary text (fast-check)", () => {
    const text = fc.oneof(
      fc.stringMatching(/^[0-9]{0,18}(\.[0-9]{0,17})?$/),
      fc.string({ unit: fc.constantFrom(..."0123456789.-+e %_x\r") }),
      fc.double().map(String),
      fc.nat().map(String),
    );
    fc.assert(
      fc.property(text, (value) => {
        agrees(plain(value), "X-Value", `plain ${JSON.stringify(value)}`);
        agrees(json(value), "X-Value", `json ${JSON.stringify(value)}`);
      }),
      { numRuns: 2000 },
    );
  });
});
