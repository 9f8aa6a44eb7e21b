import { urlDecodeBytes } from "./urlcodec.js";

const LF = 0x0a;
const CR = 0x0d;
const UNDEF = "_undef_";

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
 * A read-only view of `Name: value\n` lines inside a Buffer, as FreeSWITCH writes them in frame
 * envelopes and plain event bodies. Nothing is decoded up front: a lookup searches the bytes for
 * `\nName: ` natively and decodes only that value, because consumers read 5–10 of an event's
 * 100–300 headers. The first occurrence of a repeated header wins, as in switch_event_get_header.
 */
export class HeaderBlock {
  /**
   * @param buf   bytes holding the lines
   * @param start offset of the first header line
   * @param end   offset just past the last header line's `\n` (the blank line is not included)
   * @param encoded whether values are URL-encoded (plain event bodies) or literal (envelopes)
   */
  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    readonly encoded: boolean,
  ) {}

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
    const at = buf.indexOf(needle, start);
    if (at === -1 || at + needle.length > end) return -1;
    return at + needle.length;
  }

  private valueEnd(from: number): number {
    let lf = this.buf.indexOf(LF, from);
    if (lf === -1 || lf > this.end) lf = this.end;
    return lf > from && this.buf[lf - 1] === CR ? lf - 1 : lf;
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
    const value = this.encoded
      ? urlDecodeBytes(this.buf, from, to)
      : this.buf.toString("utf8", from, to);
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
