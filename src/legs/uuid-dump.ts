// Reading `uuid_dump <uuid> json`: a leg the agent never saw, as FreeSWITCH knows it now.

/** FreeSWITCH's channel variables and fields of one leg, as `uuid_dump <uuid> json` lists them. */
export type ChannelFields = Record<string, unknown>;

/** The command that dumps one leg. */
export function uuidDumpCommand(uuid: string): string {
  return `uuid_dump ${uuid} json`;
}

/**
 * The leg's fields from a `uuid_dump <uuid> json` reply. FreeSWITCH answers `-ERR No such
 * channel!` for a leg that is gone; anything that is not a JSON object counts as unknown.
 */
export function parseUuidDump(output: string): ChannelFields | undefined {
  if (!output.startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(output);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as ChannelFields)
      : undefined;
  } catch {
    return undefined;
  }
}
