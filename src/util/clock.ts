/**
 * Time for everything that schedules (keepalive, reconnect waits, leases, write-behind, sweeps,
 * the status sampler, rate limits). Production code takes a Clock so tests can drive one by hand
 * (test/support/manual-clock.ts); the system clock is the default everywhere, and the agent hands
 * its one clock down.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  unref?(): unknown;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves with the promise's value, or undefined after `ms` (the promise keeps running). */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  clock: Clock,
): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve(undefined), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      () => {
        clock.clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}
