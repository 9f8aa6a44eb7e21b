// The one exponential backoff of the agent: every retry loop (the ESL reconnection, the OTLP
// export sender, the Redis clients of the leg store and of the HA leases) asks it how long to
// wait before its next attempt. Pure: attempt number in, delay out; the loop keeps its own count
// and its own timer (a Clock's).

/**
 * How a loop backs off. The ceiling of attempt n (0 for the first retry) is
 * min(maxMs, initialMs × factor^n); the jitter then draws the delay under it:
 * - "none": the ceiling itself (1 s, 2 s, 4 s ... 30 s);
 * - "full": uniform in [0, ceiling), floored: a fleet restarted together spreads its retries
 *   over the whole window;
 * - "equal": uniform in [ceiling / 2, ceiling], rounded: spread, but never much sooner than the
 *   curve says.
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Default 2. */
  readonly factor?: number;
  /** Default "none". */
  readonly jitter?: "none" | "full" | "equal";
}

/** The exponent stops growing here: a long outage's attempt count cannot overflow the ceiling. */
const MAX_EXPONENT = 64;

/** The ceiling of attempt `attempt` (0 = the first retry), before jitter. */
export function backoffCeiling(attempt: number, policy: BackoffPolicy): number {
  const exponent = Math.min(Math.max(0, attempt), MAX_EXPONENT);
  return Math.min(policy.maxMs, policy.initialMs * (policy.factor ?? 2) ** exponent);
}

/** The delay before attempt `attempt` (0 = the first retry); `random` draws in [0, 1). */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(attempt, policy);
  switch (policy.jitter ?? "none") {
    case "none":
      return ceiling;
    case "full":
      return Math.floor(random() * ceiling);
    case "equal":
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }
}

/** A loop's attempt count with its policy: next() is the delay before the next attempt. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** Upper bound of the next delay, before jitter. */
  ceiling(): number {
    return backoffCeiling(this.attempt, this.policy);
  }

  /** The delay before the next attempt; each call moves one step up the curve. */
  next(): number {
    return backoffDelay(this.attempt++, this.policy, this.random);
  }

  /** Back to the first step (after a success). */
  reset(): void {
    this.attempt = 0;
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }
}
