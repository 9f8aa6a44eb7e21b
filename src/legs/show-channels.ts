// Reading `show channels as json`: which legs FreeSWITCH still has after a reconnect.

/** The command whose output parseChannelUuids reads. */
export const SHOW_CHANNELS = "show channels as json";

/**
 * The Unique-IDs in `show channels as json` output (cJSON: `{"row_count":N,"rows":[{"uuid":..}]}`,
 * with `rows` left out when N is 0). Undefined for anything else (an `-ERR` line, a truncated
 * reply, rows that do not match row_count, a row without a uuid): removing legs on a listing the
 * agent cannot trust would drop live calls, so the caller then skips reconciling.
 */
export function parseChannelUuids(output: string): Set<string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
  const { row_count: rowCount, rows } = parsed as { row_count?: unknown; rows?: unknown };
  if (typeof rowCount !== "number" || !Number.isInteger(rowCount) || rowCount < 0) return undefined;
  const uuids = new Set<string>();
  if (rows === undefined) return rowCount === 0 ? uuids : undefined;
  if (!Array.isArray(rows) || rows.length !== rowCount) return undefined;
  for (const row of rows as unknown[]) {
    if (row === null || typeof row !== "object") return undefined;
    const uuid = (row as { uuid?: unknown }).uuid;
    if (typeof uuid !== "string" || uuid === "") return undefined;
    uuids.add(uuid);
  }
  return uuids;
}
