import { utf8Text } from "./slice.js";
import { urlDecodeBytes } from "./urlcodec.js";

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const UNDEF = "_undef_";
const DIGIT_0 = 0x30;
const DOT = 0x2e;

/** HeaderBlock.decimal: no header of that name. */
export const NO_HEADER = -1;
/** HeaderBlock.decimal: the header is there but is not a plain decimal it reads exactly. */
export const NOT_DECIMAL = -2;

/** 10^0 .. 10^15: exact doubles, so a division by one of them is correctly rounded. */
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, k) => 10 ** k);

// One needle per header name, built on first use. Code asks for a few dozen distinct names; the
// bound only matters if something looks up attacker-chosen names.
const NEEDLE_CACHE_LIMIT = 4096;
const needles = new Map<string, Buffer>();

function needleFor(name: string): Buffer {
  let needle = needles.get(name);
  if (needle === undefined) {
    // UTF-8, as FreeSWITCH writes names: latin1 would truncate code points above U+00FF (so "\u4e2d"
    // would look up a header named "-") and miss names with Latin-1 letters.
    needle = Buffer.from(`\n${name}: `, "utf8");
    if (needles.size < NEEDLE_CACHE_LIMIT) needles.set(name, needle);
  }
  return needle;
}

/**
 * A few ASCII values recognised by their bytes and returned as the same strings each time
 * (Event-Name through getKnown(), the envelope's Content-Type in the parser).
 */
export class KnownValues {
  private readonly bytes: Buffer[];

  constructor(private readonly values: readonly string[]) {
    this.bytes = values.map((v) => Buffer.from(v, "latin1"));
  }

  /** The value whose bytes are buf[from, to), or undefined. */
  find(buf: Buffer, from: number, to: number): string | undefined {
    const length = to - from;
    for (let v = 0; v < this.bytes.length; v++) {
      const bytes = this.bytes[v]!;
      if (bytes.length !== length) continue;
      let k = 0;
      while (k < length && buf[from + k] === bytes[k]) k++;
      if (k === length) return this.values[v];
    }
    return undefined;
  }
}

/**
 * The line index of a header block, reusable: a reader that handles its blocks one at a time (a
 * connection's events, a parser's envelopes) gives them one index, so indexing makes no
 * allocation per event. The index belongs to the block that built it last; another block that
 * needs it rebuilds it for itself, so a stale index is never read. A block given none makes its
 * own on its second lookup.
 */
export class HeaderIndex {
  owner: HeaderBlock | null = null;
  count = 0;
  /** Per header line: offset of its name, and of the ':' of its ": " separator. */
  nameStart: Int32Array;
  colon: Int32Array;
  /** Per line, (name length << 16) | (first byte << 8) | last byte: most lines differ here. */
  key: Int32Array;

  /** @param lines lines indexed before the arrays grow (an RTCP report has ~45, a hangup ~300) */
  constructor(lines = 512) {
    this.nameStart = new Int32Array(lines);
    this.colon = new Int32Array(lines);
    this.key = new Int32Array(lines);
  }

  build(block: HeaderBlock): void {
    const { buf, start, end } = block;
    this.owner = block;
    this.count = 0;
    let lineStart = start;
    while (lineStart < end) {
      // Names are short and values long: step through the name here, then let memchr find the
      // end of the line (measured: a third faster than a JS loop over every byte).
      let i = lineStart;
      while (i < end && buf[i] !== COLON && buf[i] !== LF) i++;
      if (i < end && buf[i] === COLON) this.add(buf, lineStart, i);
      const lf = buf.indexOf(LF, i);
      if (lf === -1 || lf >= end) break;
      lineStart = lf + 1;
    }
  }

  private add(buf: Buffer, lineStart: number, colon: number): void {
    // Only `Name: value` lines can match a lookup (the needle is "\nName: ").
    if (colon <= lineStart || buf[colon + 1] !== SPACE) return;
    if (this.count === this.key.length) this.grow();
    const n = this.count++;
    this.nameStart[n] = lineStart;
    this.colon[n] = colon;
    this.key[n] = lineKey(colon - lineStart, buf[lineStart]!, buf[colon - 1]!);
  }

  private grow(): void {
    const size = this.key.length * 2;
    const copy = (from: Int32Array) => {
      const to = new Int32Array(size);
      to.set(from);
      return to;
    };
    this.nameStart = copy(this.nameStart);
    this.colon = copy(this.colon);
    this.key = copy(this.key);
  }
}

function lineKey(length: number, first: number, last: number): number {
  return (length << 16) | (first << 8) | last;
}

/** Lines of the index a block makes for itself (it grows as needed). */
const OWN_INDEX_LINES = 64;

/**
 * A read-only view of `Name: value\n` lines inside a Buffer, as FreeSWITCH writes them in frame
 * envelopes and plain event bodies. Nothing is decoded up front: a lookup searches the bytes for
 * `\nName: ` natively and decodes only that value, because consumers read 5–20 of an event's
 * 30–300 headers. From the second lookup on, one pass indexes the lines instead: a native search
 * costs a call and a scan of the block each time, the index one scan for all the lookups (the
 * agent reads 11 headers of each RTCP report). Either way the first occurrence of a repeated
 * header wins, as in switch_event_get_header.
 */
export class HeaderBlock {
  /**
   * @param buf   bytes holding the lines
   * @param start offset of the first header line
   * @param end   offset just past the last header line's `\n` (the blank line is not included)
   * @param encoded whether values are URL-encoded (plain event bodies) or literal (envelopes)
   * @param index   the reader's reusable line index (see HeaderIndex); by default the block's own
   */
  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    readonly encoded: boolean,
    private index: HeaderIndex | null = null,
  ) {}

  /** The same lines in a buffer of their own. */
  copy(): HeaderBlock {
    const bytes = Buffer.from(this.buf.subarray(this.start, this.end));
    return new HeaderBlock(bytes, 0, bytes.length, this.encoded);
  }

  /** Lookups past the first line so far: the second one builds the line index. */
  private lookups = 0;

  /** Offset of the value of `name`, or -1. The value runs to the next LF. */
  private valueOffset(name: string): number {
    const needle = needleFor(name);
    const { buf, start, end } = this;
    const firstLen = needle.length - 1;
    // The first line has no LF before it. Checking its first byte before comparing keeps this
    // to one byte read for every other header.
    if (
      buf[start] === needle[1] &&
      end - start >= firstLen &&
      buf.compare(needle, 1, needle.length, start, start + firstLen) === 0
    ) {
      return start + firstLen;
    }
    let index = this.index;
    if (++this.lookups === 1 && index?.owner !== this) {
      const at = buf.indexOf(needle, start);
      if (at === -1 || at + needle.length > end) return -1;
      return at + needle.length;
    }
    if (index === null) {
      index = new HeaderIndex(OWN_INDEX_LINES);
      this.index = index;
    }
    if (index.owner !== this) index.build(this);
    // The needle is "\nName: ": the name is its bytes 1 .. length - 2.
    const nameLength = needle.length - 3;
    const key = lineKey(nameLength, needle[1]!, needle[nameLength]!);
    const keys = index.key;
    for (let n = 0; n < index.count; n++) {
      if (keys[n] !== key) continue;
      // Names are a dozen bytes: a loop beats a native compare's call overhead.
      const at = index.nameStart[n]! - 1;
      let k = 2;
      while (k <= nameLength && buf[at + k] === needle[k]) k++;
      if (k > nameLength) return index.colon[n]! + 2;
    }
    return -1;
  }

  private valueEnd(from: number): number {
    let lf = this.buf.indexOf(LF, from);
    if (lf === -1 || lf > this.end) lf = this.end;
    return lf > from && this.buf[lf - 1] === CR ? lf - 1 : lf;
  }

  /**
   * The value of `name` read in place as an unsigned decimal, without a string: 1 to
   * `maxDigits` ASCII digits (at most 16), then, when `fraction` allows it, a '.' and at least
   * one more digit, 15 digits in all. What it returns is exactly Number() of the text. Anything
   * else (a sign, an exponent, a URL-encoded byte, `_undef_`, an empty value, more digits, a
   * value past 2^53) is NOT_DECIMAL: callers then read the text with their own strict reader,
   * so the rare forms keep their one definition. The hot path reads ten numbers per RTCP report.
   */
  decimal(name: string, maxDigits: number, fraction: boolean): number {
    const from = this.valueOffset(name);
    if (from === -1) return NO_HEADER;
    const { buf } = this;
    const end = this.valueEnd(from);
    let value = 0;
    let i = from;
    for (; i < end; i++) {
      const d = buf[i]! - DIGIT_0;
      if (d < 0 || d > 9) break;
      value = value * 10 + d;
    }
    const digits = i - from;
    if (digits === 0 || digits > maxDigits) return NOT_DECIMAL;
    if (i === end) return value <= Number.MAX_SAFE_INTEGER ? value : NOT_DECIMAL;
    if (!fraction || buf[i] !== DOT || digits > 15) return NOT_DECIMAL;
    const point = ++i;
    for (; i < end; i++) {
      const d = buf[i]! - DIGIT_0;
      if (d < 0 || d > 9) return NOT_DECIMAL;
      value = value * 10 + d;
    }
    const decimals = i - point;
    // 15 digits in all keep the mantissa exact (< 2^53), and mantissa / 10^k of two exact doubles
    // is then the correctly rounded value of the text, which is what Number() gives.
    if (decimals === 0 || digits + decimals > 15) return NOT_DECIMAL;
    return value / POWERS_OF_TEN[decimals]!;
  }

  /**
   * The value of `name` when its bytes spell one of `known` (that very string, no new one),
   * else the decoded value as get() gives it. For values that repeat on every event, such as
   * Event-Name: one string fewer per event, and comparisons with the constants are by identity.
   */
  getKnown(name: string, known: KnownValues): string | undefined {
    const from = this.valueOffset(name);
    if (from === -1) return undefined;
    const end = this.valueEnd(from);
    const match = known.find(this.buf, from, end);
    return match ?? this.decode(from, end);
  }

  has(name: string): boolean {
    return this.valueOffset(name) !== -1;
  }

  /** The decoded value, `""` for FreeSWITCH's `_undef_`, or undefined when absent. */
  get(name: string): string | undefined {
    const from = this.valueOffset(name);
    if (from === -1) return undefined;
    return this.decode(from, this.valueEnd(from));
  }

  private decode(from: number, to: number): string {
    const value = this.encoded ? urlDecodeBytes(this.buf, from, to) : utf8Text(this.buf, from, to);
    return value === UNDEF ? "" : value;
  }

  /** Every header in order, decoded. For dumps and tests, not for the hot path. */
  entries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    const { buf, end } = this;
    let pos = this.start;
    while (pos < end) {
      let lf = buf.indexOf(LF, pos);
      if (lf === -1 || lf > end) lf = end;
      const colon = buf.indexOf(": ", pos, "latin1");
      if (colon !== -1 && colon < lf) {
        const valueEnd = lf > colon + 2 && buf[lf - 1] === CR ? lf - 1 : lf;
        out.push([buf.toString("utf8", pos, colon), this.decode(colon + 2, valueEnd)]);
      }
      pos = lf + 1;
    }
    return out;
  }
}
