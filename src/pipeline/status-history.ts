// What the status page shows besides the live legs: the last legs that ended, and a few figures
// sampled at a fixed interval for its charts. Both are bounded rings; nothing here is on the hot
// path of an event (an ended leg costs one array write, a sample one pass over a few counters).

import type { LegLabels } from "../quality/types.js";
import { type Clock, systemClock, type TimerHandle } from "../util/clock.js";

/** One leg that ended, as the status page lists it. */
export interface EndedLeg {
  readonly instance: string;
  readonly labels: LegLabels;
  /** FreeSWITCH's MOS (`rtp_audio_in_mos`); undefined when the leg received no audio. */
  readonly mos: number | undefined;
  /** The mean E-model MOS over the leg's RTCP reports; undefined without reports. */
  readonly mosEstimate: number | undefined;
  /** undefined when a variable it needs was unreadable (quality/qos.ts). */
  readonly jitterAvgMs: number | undefined;
  readonly packetLoss: number | undefined;
  /** Hangup-Cause; "" when unknown. */
  readonly hangupCause: string;
  readonly durationS: number | undefined;
  /** When the agent reported the leg's end (ms since epoch). */
  readonly endedAt: number;
}

/** The last `capacity` ended legs, newest first. */
export class EndedLegs {
  private readonly ring: EndedLeg[] = [];
  private next = 0;

  constructor(readonly capacity = 50) {}

  add(leg: EndedLeg): void {
    if (this.capacity <= 0) return;
    if (this.ring.length < this.capacity) this.ring.push(leg);
    else this.ring[this.next] = leg;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first. */
  list(): EndedLeg[] {
    const out: EndedLeg[] = [];
    const n = this.ring.length;
    for (let i = 1; i <= n; i++) {
      const leg = this.ring[(this.next - i + n * 2) % n];
      if (leg !== undefined) out.push(leg);
    }
    return out;
  }
}

/** One point of the status page's charts. */
export interface StatusSample {
  /** End of the interval (ms since epoch). */
  readonly at: number;
  /** Events read from FreeSWITCH per second over the interval (all instances). */
  readonly eventsPerS: number;
  /** Legs in progress at the end of the interval. */
  readonly activeLegs: number;
  /**
   * FreeSWITCH MOS of the legs that ended in the interval, counted per bucket: index i counts
   * MOS ≤ bounds[i] (and above bounds[i - 1]); the last index counts MOS above every bound.
   */
  readonly mosEnded: readonly number[];
}

export interface SamplerOptions {
  readonly intervalMs: number;
  /** Samples kept (the charts' width). */
  readonly capacity: number;
  /** Upper bounds of the MOS buckets (freeswitch.call.mos's). */
  readonly mosBuckets: readonly number[];
  /** Cumulative events read so far, and the legs in progress now. */
  readonly read: () => { readonly events: number; readonly activeLegs: number };
  /** Times the samples and schedules them; default the system clock. */
  readonly clock?: Clock;
}

/** The bucket a value falls in: the first bound it does not exceed, else the overflow bucket. */
export function bucketIndex(bounds: readonly number[], value: number): number {
  for (let i = 0; i < bounds.length; i++) if (value <= (bounds[i] ?? 0)) return i;
  return bounds.length;
}

/** Takes a sample every `intervalMs` (unref'd timer) and keeps the last `capacity`. */
export class StatusSampler {
  private readonly kept: StatusSample[] = [];
  private mosCounts: number[];
  private lastEvents = 0;
  private lastAt = 0;
  private timer: TimerHandle | null = null;
  private readonly clock: Clock;

  constructor(private readonly options: SamplerOptions) {
    this.mosCounts = new Array<number>(options.mosBuckets.length + 1).fill(0);
    this.clock = options.clock ?? systemClock;
    this.lastAt = this.clock.now();
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  /** A leg ended with this FreeSWITCH MOS: counted in the current interval's distribution. */
  endedMos(mos: number): void {
    const i = bucketIndex(this.options.mosBuckets, mos);
    this.mosCounts[i] = (this.mosCounts[i] ?? 0) + 1;
  }

  start(): void {
    if (this.timer !== null) return;
    this.baseline();
    this.arm();
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Closes the current interval (the timer calls it; tests may too). */
  sample(): StatusSample {
    const { events, activeLegs } = this.options.read();
    const at = this.clock.now();
    const elapsedS = Math.max(0.001, (at - this.lastAt) / 1000);
    const sample: StatusSample = {
      at,
      eventsPerS: Math.max(0, events - this.lastEvents) / elapsedS,
      activeLegs,
      mosEnded: this.mosCounts,
    };
    this.mosCounts = new Array<number>(this.options.mosBuckets.length + 1).fill(0);
    this.lastEvents = events;
    this.lastAt = at;
    this.kept.push(sample);
    if (this.kept.length > this.options.capacity) this.kept.shift();
    return sample;
  }

  /** Oldest first. */
  samples(): readonly StatusSample[] {
    return this.kept;
  }

  private baseline(): void {
    this.lastEvents = this.options.read().events;
    this.lastAt = this.clock.now();
  }

  /** The next sample, intervalMs after this one (an interval made of timeouts, on the clock). */
  private arm(): void {
    const timer = this.clock.setTimeout(() => {
      if (this.timer !== timer) return;
      this.sample();
      this.arm();
    }, this.options.intervalMs);
    timer.unref?.();
    this.timer = timer;
  }
}
