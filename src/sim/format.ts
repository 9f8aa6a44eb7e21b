// Value formats FreeSWITCH prints with C's printf and strftime, reproduced so that the
// simulator's text is what a parser meets on a real server.

/**
 * `%.2f` as glibc prints it. JavaScript's toFixed rounds an exact binary tie (x.xx5 that is
 * exactly representable, i.e. an odd multiple of 1/8) away from zero; glibc rounds it to even.
 */
export function cFixed2(x: number): string {
  const eighths = x * 8;
  if (Number.isInteger(eighths) && Math.abs(eighths) % 2 === 1) {
    const hundredths = x * 100; // exact: an odd multiple of 12.5
    const down = Math.floor(hundredths);
    const even = down % 2 === 0 ? down : down + 1;
    return (even / 100).toFixed(2);
  }
  return x.toFixed(2);
}

/** `%f`: six decimals. */
export function cFloat(x: number): string {
  return x.toFixed(6);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `Event-Date-Local`: `%Y-%m-%d %T` in the server's local time zone. */
export function localStamp(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

/** `Event-Date-GMT`: `%a, %d %b %Y %T GMT`, which is what toUTCString prints. */
export function gmtStamp(ms: number): string {
  return new Date(ms).toUTCString();
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** The `Up-Time` / `status` duration text: "0 years, 1 day, 2 hours, ... 5 microseconds". */
export function uptimeText(uptimeUs: number): string {
  let rest = Math.max(0, Math.floor(uptimeUs));
  const mms = rest % 1000;
  rest = Math.floor(rest / 1000);
  const ms = rest % 1000;
  rest = Math.floor(rest / 1000);
  const sec = rest % 60;
  rest = Math.floor(rest / 60);
  const min = rest % 60;
  rest = Math.floor(rest / 60);
  const hr = rest % 24;
  rest = Math.floor(rest / 24);
  const day = rest % 365;
  const yr = Math.floor(rest / 365);
  return [
    plural(yr, "year"),
    plural(day, "day"),
    plural(hr, "hour"),
    plural(min, "minute"),
    plural(sec, "second"),
    plural(ms, "millisecond"),
    plural(mms, "microsecond"),
  ].join(", ");
}

/** `%.8x`: an unsigned 32-bit value as 8 lowercase hex digits. */
export function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

/** Microseconds since the epoch for a millisecond time, as FreeSWITCH's switch_time_t. */
export function toMicros(ms: number): number {
  return Math.round(ms * 1000);
}
