// The event readers of quality/numbers.ts and loss.ts read plain digits straight from an event's
// bytes and hand everything else to the text parsers. Whatever the text, both ways must agree:
// checked on every header of the real samples, on the edge cases, and on arbitrary text.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type EslEvent, JsonEvent, PlainEvent } from "../src/esl/event.js";
import { plainEventBody } from "../src/esl/wire.js";
import { readCumulativeLost, readLost } from "../src/quality/loss.js";
import {
  parseTimestamp,
  parseUfixed,
  parseUint,
  readTimestamp,
  readUfixed,
  readUint,
} from "../src/quality/numbers.js";
import {
  cgratesFrame,
  eventFrom,
  jsonCdrFrame,
  libresbcFrame,
  SAMPLES,
  webitelFrame,
} from "./support/samples.js";

const READERS = [
  { name: "uint", read: readUint, parse: parseUint },
  { name: "timestamp", read: readTimestamp, parse: parseTimestamp },
  { name: "ufixed", read: readUfixed, parse: parseUfixed },
  { name: "cumulative lost", read: readLost, parse: readCumulativeLost },
] as const;

/** Asserts every reader gives what its parser gives for the header's text. */
function agrees(event: EslEvent, header: string, context: string): void {
  for (const { name, read, parse } of READERS) {
    assert.equal(
      read(event, header),
      parse(event.get(header)),
      `${name} of ${header} (${JSON.stringify(event.get(header))}) in ${context}`,
    );
  }
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
  it("agree with the text parsers on every header of the real samples", () => {
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
