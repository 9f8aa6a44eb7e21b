import type { BackoffConfig } from "../config/types.js";

/**
 * Exponential backoff with full jitter (delay drawn uniformly from [0, min(max, initial·factor^n)]):
 * many agents restarted together, or many instances failing together, spread their retries
 * instead of hammering FreeSWITCH in lockstep.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly config: BackoffConfig,
    private readonly random: () => number = Math.random,
  ) {}

  /** Upper bound of the next delay, before jitter. */
  ceiling(): number {
    const { initialMs, factor, maxMs } = this.config;
    // Cap the exponent so a long outage cannot overflow to Infinity.
    return Math.min(maxMs, initialMs * factor ** Math.min(this.attempt, 64));
  }

  /** The delay before the next attempt; each call moves one step up the curve. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling());
    this.attempt++;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
