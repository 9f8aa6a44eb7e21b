import type { Clock, TimerHandle } from "../../src/util/clock.js";

/** Node's longest timer delay; a longer (or NaN, or below 1) delay fires after 1 ms. */
const TIMEOUT_MAX = 2 ** 31 - 1;

interface Timer {
  readonly at: number;
  /** Order of scheduling: timers due at the same instant fire in the order they were set. */
  readonly seq: number;
  readonly fn: () => void;
  readonly handle: TimerHandle;
}

/**
 * The one clock unit tests drive by hand instead of sleeping. Time stands still until advance()
 * moves it; timers fire when time reaches them, in due order (ties in the order they were set),
 * including timers scheduled by a callback while advancing. Delays are taken as Node takes them:
 * below 1 ms (0, negative, NaN) or past 2^31 − 1 ms, a timer fires after 1 ms.
 *
 * Code under test that also does real I/O (sockets, Redis) runs its timers on this clock and its
 * I/O on the real event loop: a test advances the clock, then awaits the I/O it started (see
 * advanceTo below for one due timer at a time).
 */
export class ManualClock implements Clock {
  private time: number;
  private timers: Timer[] = [];
  private seq = 0;
  private scheduledCount = 0;

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = ms >= 1 && ms <= TIMEOUT_MAX ? ms : 1;
    const handle: TimerHandle = { unref: () => handle };
    this.timers.push({ at: this.time + delay, seq: this.seq++, fn, handle });
    this.scheduledCount++;
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.handle !== handle);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Every setTimeout call so far (fired, cleared or pending). */
  get scheduled(): number {
    return this.scheduledCount;
  }

  /** When the earliest pending timer is due; undefined when none is pending. */
  nextTimerAt(): number | undefined {
    return this.earliest()?.at;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way (time reads as each
   * timer's due instant while it runs), including timers armed meanwhile; then time reads now+ms.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): time only moves forward`);
    const end = this.time + ms;
    for (let next = this.earliest(); next !== undefined && next.at <= end; next = this.earliest()) {
      this.fire(next);
    }
    this.time = end;
  }

  /**
   * Fires only the earliest pending timer if it is due by `limit` (time moves to its due instant)
   * and returns true; otherwise moves time to `limit` and returns false. Tests whose code starts
   * real I/O from a timer call this in a loop, awaiting the I/O between calls.
   */
  advanceTo(limit: number): boolean {
    const next = this.earliest();
    if (next === undefined || next.at > limit) {
      this.time = Math.max(this.time, limit);
      return false;
    }
    this.fire(next);
    return true;
  }

  private earliest(): Timer | undefined {
    let first: Timer | undefined;
    for (const t of this.timers) {
      if (first === undefined || t.at < first.at || (t.at === first.at && t.seq < first.seq)) {
        first = t;
      }
    }
    return first;
  }

  private fire(timer: Timer): void {
    this.timers = this.timers.filter((t) => t !== timer);
    this.time = Math.max(this.time, timer.at);
    timer.fn();
  }
}
