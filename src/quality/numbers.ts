// Strict readers of the numbers FreeSWITCH prints in headers and channel variables (`%u`,
// `%d`, `%.2f`). Number() alone would accept "", " 7", "0x1f", "1e3" and "Infinity"; a
// calculator must count such a value as malformed instead of exporting a made-up figure.
//
// The parse* functions define what is accepted, from text. The read* functions give the same
// answer straight from an event: plain digits are read from its bytes (no string per header on
// the hot path), anything else goes through get() and the parse* function.

import type { EslEvent } from "../esl/event.js";
import { NO_HEADER } from "../esl/headers.js";

/** Up to 15 digits: every such integer is exact in a double. */
const UNSIGNED_INT = /^\d{1,15}$/;
/** `%.2f` / `%f` of a non-negative value. C prints NaN as "nan" or "-nan": not matched. */
const UNSIGNED_FIXED = /^\d{1,15}(?:\.\d{1,15})?$/;

/** A non-negative decimal integer (`%u`, `%d` of a count); undefined for anything else. */
export function parseUint(value: string | undefined): number | undefined {
  if (value === undefined || !UNSIGNED_INT.test(value)) return undefined;
  return Number(value);
}

/** parseUint of the event's header. */
export function readUint(event: EslEvent, header: string): number | undefined {
  const value = event.decimal(header, 15, false);
  if (value >= 0) return value;
  return value === NO_HEADER ? undefined : parseUint(event.get(header));
}

/** Up to 16 digits: microsecond timestamps (Capture-Time) have 16 since 2001. */
const TIMESTAMP = /^\d{1,16}$/;

/** A microsecond timestamp such as Capture-Time; undefined past 2^53 or when not all digits. */
function parseTimestamp(value: string | undefined): number | undefined {
  if (value === undefined || !TIMESTAMP.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** parseTimestamp of the event's header. */
export function readTimestamp(event: EslEvent, header: string): number | undefined {
  const value = event.decimal(header, 16, false);
  if (value >= 0) return value;
  return value === NO_HEADER ? undefined : parseTimestamp(event.get(header));
}

/** A non-negative fixed-point number (`%.2f`); undefined for anything else. */
function parseUfixed(value: string | undefined): number | undefined {
  if (value === undefined || !UNSIGNED_FIXED.test(value)) return undefined;
  return Number(value);
}

/** parseUfixed of the event's header. */
export function readUfixed(event: EslEvent, header: string): number | undefined {
  const value = event.decimal(header, 15, true);
  if (value >= 0) return value;
  return value === NO_HEADER ? undefined : parseUfixed(event.get(header));
}
