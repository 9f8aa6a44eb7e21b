// Strict readers of the numbers FreeSWITCH prints in headers and channel variables (`%u`,
// `%d`, `%.2f`). Number() alone would accept "", " 7", "0x1f", "1e3" and "Infinity"; a
// calculator must count such a value as malformed instead of exporting a made-up figure.

/** Up to 15 digits: every such integer is exact in a double. */
const UNSIGNED_INT = /^\d{1,15}$/;
/** `%.2f` / `%f` of a non-negative value. C prints NaN as "nan" or "-nan": not matched. */
const UNSIGNED_FIXED = /^\d{1,15}(?:\.\d{1,15})?$/;

/** A non-negative decimal integer (`%u`, `%d` of a count); undefined for anything else. */
export function parseUint(value: string | undefined): number | undefined {
  if (value === undefined || !UNSIGNED_INT.test(value)) return undefined;
  return Number(value);
}

/** Up to 16 digits: microsecond timestamps (Capture-Time) have 16 since 2001. */
const TIMESTAMP = /^\d{1,16}$/;

/** A microsecond timestamp such as Capture-Time; undefined past 2^53 or when not all digits. */
export function parseTimestamp(value: string | undefined): number | undefined {
  if (value === undefined || !TIMESTAMP.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A non-negative fixed-point number (`%.2f`); undefined for anything else. */
export function parseUfixed(value: string | undefined): number | undefined {
  if (value === undefined || !UNSIGNED_FIXED.test(value)) return undefined;
  return Number(value);
}

/**
 * Permissive decimal parse, kept for callers that predate the calculators (the router's live
 * summary): undefined for absent, empty or non-numeric input. New code uses the strict readers.
 */
export function parseDecimal(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
