import type { Clock } from "./clock.js";

/**
 * A token bucket on the injected clock: `ratePerSecond` tokens a second, at most `burst` saved
 * up. Tokens are refilled lazily from the time elapsed at each take(), so an idle bucket costs
 * nothing and no timer keeps the process alive.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.at = clock.now();
  }

  /** Takes one token; false (and nothing taken) when none is left. */
  take(): boolean {
    const now = this.clock.now();
    const elapsed = now - this.at;
    // A wall clock stepped back refills nothing, and the next refill counts from the new time.
    this.at = now;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
