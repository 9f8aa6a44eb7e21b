/**
 * One shared copy of each distinct label value that many legs carry (a tenant's domain, the
 * codec, the call direction, FreeSWITCH's own media address). Every channel event's header
 * values are new strings, so without this each of 20,000 legs holds its own copy of
 * "PCMU", "inbound" and its domain: ~100 bytes per leg of issue 5's 2 KiB budget.
 *
 * Bounded: past `maxEntries` distinct values, new ones are returned as they are (still correct,
 * just not shared), so a label with unexpectedly many values cannot grow it without limit.
 */
export class StringPool {
  private readonly pool = new Map<string, string>();

  constructor(private readonly maxEntries = 4096) {}

  get size(): number {
    return this.pool.size;
  }

  intern(value: string): string {
    if (value === "") return value;
    const shared = this.pool.get(value);
    if (shared !== undefined) return shared;
    if (this.pool.size < this.maxEntries) this.pool.set(value, value);
    return value;
  }
}
