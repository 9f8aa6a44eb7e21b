// The live channel registry behind `show channels`, `uuid_dump` and the HEARTBEAT session
// figures. The call generator adds a leg at CHANNEL_CREATE and removes it at CHANNEL_DESTROY.

import { localStamp } from "./format.js";
import type { SimLeg } from "./leg.js";

/** Columns of FreeSWITCH's `channels` table, in `show channels` order. */
export const CHANNEL_COLUMNS = [
  "uuid",
  "direction",
  "created",
  "created_epoch",
  "name",
  "state",
  "cid_name",
  "cid_num",
  "ip_addr",
  "dest",
  "application",
  "application_data",
  "dialplan",
  "context",
  "read_codec",
  "read_rate",
  "read_bit_rate",
  "write_codec",
  "write_rate",
  "write_bit_rate",
  "secure",
  "hostname",
  "presence_id",
  "presence_data",
  "accountcode",
  "callstate",
  "callee_name",
  "callee_num",
  "callee_direction",
  "call_uuid",
  "sent_callee_name",
  "sent_callee_num",
  "initial_cid_name",
  "initial_cid_num",
  "initial_ip_addr",
  "initial_dest",
  "initial_dialplan",
  "initial_context",
] as const;

export type ChannelColumn = (typeof CHANNEL_COLUMNS)[number];
export type ChannelRow = Record<ChannelColumn, string>;

/** Per-second creation counts kept for the sessions-per-second figures (five minutes). */
const SPS_WINDOW_S = 300;

/**
 * A sofia profile's call counters as `sofia xmlstatus profile` prints them: every leg created on
 * it by direction, and those that ended unanswered (sofia_on_hangup counts them as failed).
 */
export interface ProfileCalls {
  callsIn: number;
  callsOut: number;
  failedCallsIn: number;
  failedCallsOut: number;
}

/** The sofia profile a leg is on, as its channel variables name it. */
function profileOf(leg: SimLeg): string | undefined {
  return leg.vars.get("sofia_profile_name");
}

export class ChannelRegistry {
  private readonly legs = new Map<string, SimLeg>();
  private created = 0;
  private peak = 0;
  private readonly perSecond = new Map<number, number>();
  private readonly peakPerSecond = new Map<number, number>();
  private spsMax = 0;
  private readonly profileCalls = new Map<string, ProfileCalls>();

  get size(): number {
    return this.legs.size;
  }

  /** Legs created since startup (`Session-Since-Startup`). */
  get sessionsSinceStartup(): number {
    return this.created;
  }

  get sessionPeakMax(): number {
    return this.peak;
  }

  get sessionsPerSecondMax(): number {
    return this.spsMax;
  }

  add(leg: SimLeg, nowMs: number): void {
    this.legs.set(leg.uuid, leg);
    this.created++;
    this.peak = Math.max(this.peak, this.legs.size);
    const second = Math.floor(nowMs / 1000);
    const count = (this.perSecond.get(second) ?? 0) + 1;
    this.perSecond.set(second, count);
    this.spsMax = Math.max(this.spsMax, count);
    this.peakPerSecond.set(second, Math.max(this.peakPerSecond.get(second) ?? 0, this.legs.size));
    this.trim(second);
    const calls = this.callsOf(leg);
    if (calls === undefined) return;
    if (leg.direction === "inbound") calls.callsIn++;
    else calls.callsOut++;
  }

  remove(uuid: string): void {
    const leg = this.legs.get(uuid);
    this.legs.delete(uuid);
    const calls = leg === undefined ? undefined : this.callsOf(leg);
    if (leg === undefined || calls === undefined || leg.answeredUs > 0) return;
    if (leg.direction === "inbound") calls.failedCallsIn++;
    else calls.failedCallsOut++;
  }

  /** Legs on a sofia profile now: the `n` of its `RUNNING (n)` (the profile's inuse). */
  inUseOn(profile: string): number {
    let n = 0;
    for (const leg of this.legs.values()) if (profileOf(leg) === profile) n++;
    return n;
  }

  /** A profile's call counters since startup (all 0 for a profile no leg was on). */
  callsOn(profile: string): ProfileCalls {
    return {
      callsIn: 0,
      callsOut: 0,
      failedCallsIn: 0,
      failedCallsOut: 0,
      ...this.profileCalls.get(profile),
    };
  }

  private callsOf(leg: SimLeg): ProfileCalls | undefined {
    const profile = profileOf(leg);
    if (profile === undefined) return undefined;
    let calls = this.profileCalls.get(profile);
    if (calls === undefined) {
      calls = { callsIn: 0, callsOut: 0, failedCallsIn: 0, failedCallsOut: 0 };
      this.profileCalls.set(profile, calls);
    }
    return calls;
  }

  get(uuid: string): SimLeg | undefined {
    return this.legs.get(uuid);
  }

  values(): IterableIterator<SimLeg> {
    return this.legs.values();
  }

  /**
   * Legs created so far in the second of `nowMs`: what the sessions-per-second budget has lost
   * (runtime.sps, which switch_time.c refills to the limit every second).
   */
  sessionsThisSecond(nowMs: number): number {
    return this.perSecond.get(Math.floor(nowMs / 1000)) ?? 0;
  }

  /** Legs created during the last full second before `nowMs`. */
  sessionsPerSecondLast(nowMs: number): number {
    return this.perSecond.get(Math.floor(nowMs / 1000) - 1) ?? 0;
  }

  sessionsPerSecondFiveMin(nowMs: number): number {
    return this.maxSince(this.perSecond, nowMs);
  }

  sessionPeakFiveMin(nowMs: number): number {
    return Math.max(this.legs.size, this.maxSince(this.peakPerSecond, nowMs));
  }

  private maxSince(map: Map<number, number>, nowMs: number): number {
    const from = Math.floor(nowMs / 1000) - SPS_WINDOW_S;
    let max = 0;
    for (const [second, count] of map) if (second >= from) max = Math.max(max, count);
    return max;
  }

  private trim(second: number): void {
    if (this.perSecond.size <= SPS_WINDOW_S * 2) return;
    for (const map of [this.perSecond, this.peakPerSecond]) {
      for (const key of map.keys()) if (key < second - SPS_WINDOW_S) map.delete(key);
    }
  }

  /** Rows as `show channels` prints them, oldest first (FreeSWITCH orders by created_epoch). */
  rows(hostname: string): ChannelRow[] {
    const out: ChannelRow[] = [];
    for (const leg of this.legs.values()) out.push(channelRow(leg, hostname));
    return out;
  }
}

function channelRow(leg: SimLeg, hostname: string): ChannelRow {
  const p = leg.profile;
  const c = leg.codecKnown ? leg.codec : undefined;
  const createdMs = leg.createdUs / 1000;
  return {
    uuid: leg.uuid,
    direction: leg.direction,
    created: localStamp(createdMs),
    created_epoch: String(Math.floor(createdMs / 1000)),
    name: leg.name,
    state: leg.state,
    cid_name: p.callerIdName,
    cid_num: p.callerIdNumber,
    ip_addr: p.networkAddr,
    dest: p.destination,
    application: leg.application,
    application_data: leg.applicationData,
    dialplan: p.dialplan,
    context: p.context,
    read_codec: c?.name ?? "",
    read_rate: c === undefined ? "" : String(c.sampleRate),
    read_bit_rate: c === undefined ? "" : String(c.bitRate),
    write_codec: c?.name ?? "",
    write_rate: c === undefined ? "" : String(c.sampleRate),
    write_bit_rate: c === undefined ? "" : String(c.bitRate),
    secure: "",
    hostname,
    presence_id: "",
    presence_data: "",
    accountcode: "",
    callstate: leg.callState,
    callee_name: p.calleeIdName,
    callee_num: p.calleeIdNumber,
    callee_direction: "",
    call_uuid: leg.callUuid,
    sent_callee_name: "",
    sent_callee_num: "",
    initial_cid_name: p.callerIdName,
    initial_cid_num: p.callerIdNumber,
    initial_ip_addr: p.networkAddr,
    initial_dest: p.destination,
    initial_dialplan: p.dialplan,
    initial_context: p.context,
  };
}
