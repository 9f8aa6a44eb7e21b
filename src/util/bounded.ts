import { type Clock, systemClock } from "./clock.js";

/** Resolves once `promise` settles or after `ms` on `clock`, whichever is first. Never rejects. */
export function bounded(
  promise: Promise<unknown>,
  ms: number,
  clock: Clock = systemClock,
): Promise<void> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(resolve, ms);
    timer.unref?.();
    const done = (): void => {
      clock.clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
