import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { urlDecode, urlDecodeBytes, urlEncode } from "../src/esl/urlcodec.js";

/** switch_url_encode(): SWITCH_URL_UNSAFE plus every byte below ' ' or above '~'. */
const FS_UNSAFE = ' "#%&+:;<=>?@[\\]^`{|}';
const HEX = "0123456789ABCDEF";

function fsEncodesByte(b: number): boolean {
  return b < 0x20 || b > 0x7e || FS_UNSAFE.includes(String.fromCharCode(b));
}

/** A naive model of switch_url_encode over UTF-8 bytes. */
function referenceEncode(value: string): string {
  let out = "";
  for (const b of Buffer.from(value, "utf8")) {
    out += fsEncodesByte(b) ? `%${HEX[b >> 4]}${HEX[b & 15]}` : String.fromCharCode(b);
  }
  return out;
}

describe("urlEncode: the set FreeSWITCH's switch_url_encode escapes", () => {
  it('escapes exactly space "#%&+:;<=>?@[\\]^`{|}, controls and DEL, as uppercase %XX', () => {
    for (let c = 0; c < 0x80; c++) {
      const ch = String.fromCharCode(c);
      const expected = fsEncodesByte(c) ? `%${c.toString(16).toUpperCase().padStart(2, "0")}` : ch;
      assert.equal(urlEncode(ch), expected, `char 0x${c.toString(16)}`);
    }
    assert.equal(
      urlEncode(FS_UNSAFE),
      "%20%22%23%25%26%2B%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D",
    );
    assert.equal(urlEncode("\r\n\t\x00\x7f"), "%0D%0A%09%00%7F");
  });

  it("leaves , ' / . - _ and the other printable ASCII characters alone", () => {
    const safe = ",'/.-_!$()*~09AZaz";
    assert.equal(urlEncode(safe), safe);
    assert.equal(urlEncode("sofia/internal/1000"), "sofia/internal/1000");
    assert.equal(urlEncode("PCMU@8000h"), "PCMU%408000h");
  });

  it("escapes every UTF-8 byte of characters above '~'", () => {
    assert.equal(urlEncode("é"), "%C3%A9");
    assert.equal(urlEncode("\u00a0"), "%C2%A0");
    assert.equal(urlEncode("中文"), "%E4%B8%AD%E6%96%87");
    assert.equal(urlEncode("😀"), "%F0%9F%98%80");
    assert.equal(urlEncode("Zoë 100%"), "Zo%C3%AB%20100%25");
  });

  it("writes sample values the way the cgrates captures show them", () => {
    assert.equal(urlEncode("::1"), "%3A%3A1");
    assert.equal(urlEncode("2015-07-07 16:53:14"), "2015-07-07%2016%3A53%3A14");
    assert.equal(
      urlEncode("985e365faa0ec79a7fa75d001ef2449f@0:0:0:0:0:0:0:0"),
      "985e365faa0ec79a7fa75d001ef2449f%400%3A0%3A0%3A0%3A0%3A0%3A0%3A0",
    );
    assert.equal(urlEncode("%(2000,4000,440,480)"), "%25(2000,4000,440,480)");
  });

  it("matches a byte-wise model of switch_url_encode for any string (fast-check)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
        assert.equal(urlEncode(s), referenceEncode(s));
      }),
      { numRuns: 500 },
    );
  });

  it("output is printable ASCII whose only % start %XX escapes (fast-check)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
        const e = urlEncode(s);
        for (let i = 0; i < e.length; i++) {
          const c = e.charCodeAt(i);
          assert.ok(c >= 0x20 && c <= 0x7e, "printable ASCII");
          if (c === 0x25) {
            assert.match(e.slice(i + 1, i + 3), /^[0-9A-F]{2}$/);
          } else {
            assert.ok(!FS_UNSAFE.includes(e[i]!), `unescaped ${e[i]}`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("urlDecode / urlDecodeBytes", () => {
  it("round-trips any string through urlEncode (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 60 }),
          fc.string({ unit: "grapheme", maxLength: 30 }),
          fc.string({
            unit: fc.constantFrom("%", "2", "5", "A", "z", ":", " ", "@", "\n"),
            maxLength: 30,
          }),
        ),
        (s) => {
          const encoded = urlEncode(s);
          assert.equal(urlDecode(encoded), s);
          const buf = Buffer.from(`xx${encoded}yy`, "latin1");
          assert.equal(urlDecodeBytes(buf, 2, buf.length - 2), s);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("decodes %XX in either case, including reserved characters", () => {
    assert.equal(urlDecode("%3A%40%20"), ":@ ");
    assert.equal(urlDecode("%3a%40"), ":@");
    assert.equal(
      urlDecode("Tue,%2007%20Jul%202015%2014%3A53%3A14%20GMT"),
      "Tue, 07 Jul 2015 14:53:14 GMT",
    );
    assert.equal(urlDecode("v%3D0%0D%0Ao%3D-"), "v=0\r\no=-");
    assert.equal(urlDecode("ARRAY::a%7C:b"), "ARRAY::a|:b");
  });

  it("leaves malformed % sequences literal", () => {
    const cases: Array<[string, string]> = [
      ["%", "%"],
      ["%4", "%4"],
      ["%zz", "%zz"],
      ["100%", "100%"],
      ["%4g", "%4g"],
      ["%g4", "%g4"],
      ["%%41", "%A"],
      ["%41%", "A%"],
      ["a%2", "a%2"],
      ["%(2000,4000,440,480)", "%(2000,4000,440,480)"],
      ["100%25", "100%"],
      ["%%%", "%%%"],
    ];
    for (const [input, expected] of cases) {
      assert.equal(urlDecode(input), expected, JSON.stringify(input));
      const buf = Buffer.from(input, "latin1");
      assert.equal(urlDecodeBytes(buf, 0, buf.length), expected, `bytes ${JSON.stringify(input)}`);
    }
  });

  it("never reads hex digits past `end`", () => {
    const buf = Buffer.from("a%41b", "latin1");
    assert.equal(urlDecodeBytes(buf, 0, 3), "a%4");
    assert.equal(urlDecodeBytes(buf, 0, 4), "aA");
    assert.equal(urlDecodeBytes(buf, 1, 4), "A");
    assert.equal(urlDecodeBytes(buf, 2, 5), "41b");
    assert.equal(urlDecodeBytes(buf, 3, 3), "");
  });

  it("decodes UTF-8 multibyte sequences, escaped, raw or mixed", () => {
    assert.equal(urlDecode("%E4%B8%AD%E6%96%87"), "中文");
    assert.equal(urlDecode("%F0%9F%98%80"), "😀");
    assert.equal(urlDecode("caf%C3%A9 ü %C3%BC"), "café ü ü");
    // A raw lead byte followed by an escaped continuation byte is still one character.
    const mixed = Buffer.concat([Buffer.from([0xc3]), Buffer.from("%A9", "latin1")]);
    assert.equal(urlDecodeBytes(mixed, 0, mixed.length), "é");
    // Invalid UTF-8 becomes U+FFFD, never an exception.
    assert.equal(urlDecode("%C3"), "\ufffd");
    assert.equal(urlDecode("%FF%FE"), "\ufffd\ufffd");
  });

  it("returns values without % unchanged", () => {
    assert.equal(
      urlDecode("88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0"),
      "88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0",
    );
    assert.equal(urlDecode(""), "");
    const buf = Buffer.from("4.50%20", "latin1");
    assert.equal(urlDecodeBytes(buf, 0, 4), "4.50");
  });

  it("never throws on arbitrary bytes (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const buf = Buffer.from(bytes);
        const start = buf.length === 0 ? 0 : a % (buf.length + 1);
        const end = start + (buf.length === 0 ? 0 : b % (buf.length - start + 1));
        const out = urlDecodeBytes(buf, start, end);
        assert.equal(typeof out, "string");
        if (!buf.subarray(start, end).includes(0x25)) {
          assert.equal(out, buf.toString("utf8", start, end));
        }
      }),
      { numRuns: 300 },
    );
  });
});
