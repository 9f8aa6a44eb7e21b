// URL encoding exactly as FreeSWITCH's switch_url_encode() writes plain-event values, and a
// decoder that never throws: a malformed `%` sequence stays literal (decodeURIComponent would
// throw on it, and FreeSWITCH does emit such values when a variable holds a stray '%').

import { utf8Text } from "./slice.js";

const PERCENT = 0x25;
const HEX = "0123456789ABCDEF";

/** Characters switch_url_encode() escapes besides controls and bytes above '~'. */
const URL_UNSAFE = ' "#%&+:;<=>?@[\\]^`{|}';
const unsafeTable = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  if (b < 0x20 || b > 0x7e) unsafeTable[b] = 1;
}
for (const ch of URL_UNSAFE) unsafeTable[ch.charCodeAt(0)] = 1;

/** Encodes a header value the way FreeSWITCH does in `text/event-plain` bodies. */
export function urlEncode(value: string): string {
  let needs = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7e || unsafeTable[c] === 1) {
      needs = true;
      break;
    }
  }
  if (!needs) return value;
  const bytes = Buffer.from(value, "utf8");
  let out = "";
  for (const b of bytes) {
    if (unsafeTable[b] === 1) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

function hexVal(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}

/**
 * Decodes bytes [start, end) of `buf` as a URL-encoded UTF-8 value. Values without a `%` (the
 * vast majority: numbers, UUIDs, codec names) take the copy-free fast path.
 */
export function urlDecodeBytes(buf: Buffer, start: number, end: number): string {
  // A loop over the (short) value, not buf.indexOf, which would scan on to the end of the event.
  let pct = start;
  while (pct < end && buf[pct] !== PERCENT) pct++;
  if (pct === end) return utf8Text(buf, start, end);
  const out = Buffer.allocUnsafe(end - start);
  let n = buf.copy(out, 0, start, pct);
  for (let i = pct; i < end; i++) {
    const b = buf[i]!;
    if (b === PERCENT && i + 2 < end) {
      const hi = hexVal(buf[i + 1]!);
      const lo = hexVal(buf[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = b;
  }
  return out.toString("utf8", 0, n);
}

/** String form of urlDecodeBytes, for values that are already strings (e.g. uuid_dump lines). */
export function urlDecode(value: string): string {
  if (value.indexOf("%") === -1) return value;
  const buf = Buffer.from(value, "utf8");
  return urlDecodeBytes(buf, 0, buf.length);
}
