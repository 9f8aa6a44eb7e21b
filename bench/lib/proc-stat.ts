// CPU time from Linux's /proc: of one thread or process (the agent's threads, FreeSWITCH beside
// the agent) and of the whole machine (how much room a shared host had left). Linux only: every
// reader answers -1 (or NaN) elsewhere rather than throwing, since the figures are context.

import { readFileSync } from "node:fs";

/** USER_HZ is 100 on every Linux build Node supports. */
const MS_PER_TICK = 10;

/**
 * utime + stime, ms, from a /proc stat file: /proc/<pid>/stat (every thread of the process,
 * finished ones included) or /proc/<pid>/task/<tid>/stat (one thread). -1 when unreadable.
 */
export function statCpuMs(file: string): number {
  try {
    const stat = readFileSync(file, "utf8");
    // Fields after the ")" that closes the name (which may hold spaces): state is the 1st,
    // utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * MS_PER_TICK : -1;
  } catch {
    return -1;
  }
}

/**
 * Times a thread went to sleep waiting (voluntary_ctxt_switches of a /proc/<pid>/task/<tid>/status
 * file): for an event loop's thread, how often it woke up to work. -1 when unreadable.
 */
export function voluntarySwitches(file: string): number {
  try {
    const match = /^voluntary_ctxt_switches:\s*(\d+)$/m.exec(readFileSync(file, "utf8"));
    return match === null ? -1 : Number(match[1]);
  } catch {
    return -1;
  }
}

/** CPU ms of process `pid`, all its threads; -1 when unreadable. */
export function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/** The machine's CPU ticks, all cores: idle (idle + iowait) and total. */
export interface MachineTicks {
  readonly idle: number;
  readonly total: number;
}

export function machineTicks(): MachineTicks {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal; guest times are already in user and nice.
    const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
    return { idle: (ticks[3] ?? 0) + (ticks[4] ?? 0), total };
  } catch {
    return { idle: Number.NaN, total: Number.NaN };
  }
}

/** Idle share of all cores between two readings, %. */
export function idlePercent(from: MachineTicks, to: MachineTicks): number {
  return ((to.idle - from.idle) / (to.total - from.total)) * 100;
}
