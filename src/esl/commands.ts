import type { Clock, TimerHandle } from "../util/clock.js";
import type { Frame } from "./frame.js";

/** A command that got no reply in time. The stream can no longer be trusted after it. */
export class CommandTimeoutError extends Error {
  constructor(
    readonly verb: string,
    timeoutMs: number,
  ) {
    super(`"${verb}" got no reply within ${timeoutMs} ms`);
    this.name = "CommandTimeoutError";
  }
}

/** The connection went away (or was never up) when the command needed it. */
export class NotConnectedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "NotConnectedError";
  }
}

interface Pending {
  /** The command's verb only (`api`, `auth`…): never its arguments, which may hold a password. */
  readonly verb: string;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (error: Error) => void;
  readonly timer: TimerHandle;
}

/**
 * FreeSWITCH answers commands strictly in order (command/reply or api/response), with events
 * interleaved anywhere; so a reply belongs to the oldest outstanding command.
 */
export class CommandQueue {
  private readonly pending: Pending[] = [];

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.pending.length;
  }

  /** Registers a command just written to the socket; `onTimeout` decides what a timeout means. */
  add(
    verb: string,
    timeoutMs: number,
    onTimeout: (error: CommandTimeoutError) => void,
  ): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        const error = new CommandTimeoutError(verb, timeoutMs);
        reject(error);
        onTimeout(error);
      }, timeoutMs);
      this.pending.push({ verb, resolve, reject, timer });
    });
  }

  /** Hands a reply to the oldest command; false when no command was waiting for one. */
  resolveNext(frame: Frame): boolean {
    const entry = this.pending.shift();
    if (entry === undefined) return false;
    this.clock.clearTimeout(entry.timer);
    entry.resolve(frame);
    return true;
  }

  /** Fails every outstanding command, e.g. when the socket closes. */
  rejectAll(error: Error): void {
    const entries = this.pending.splice(0);
    for (const entry of entries) {
      this.clock.clearTimeout(entry.timer);
      entry.reject(error);
    }
  }
}
