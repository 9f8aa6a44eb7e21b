import type { Clock, TimerHandle } from "../util/clock.js";
import type { Frame } from "./frame.js";

/** A command that got no reply in time. */
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

/** A command refused before it was sent: too many waiting, or text that would break framing. */
export class CommandRejectedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "CommandRejectedError";
  }
}

interface Pending {
  /** The command's verb only (`api`, `auth`…): never its arguments, which may hold a password. */
  readonly verb: string;
  readonly sentAt: number;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (error: Error) => void;
  timer: TimerHandle | null;
}

export const DEFAULT_MAX_PENDING_COMMANDS = 1000;

/**
 * FreeSWITCH answers commands strictly in order (command/reply or api/response), with events
 * interleaved anywhere; so a reply belongs to the oldest outstanding command. A command that
 * times out stays in line as a placeholder: its late reply, when it comes, is absorbed there
 * instead of being handed to the next command.
 */
export class CommandQueue {
  private readonly pending: Pending[] = [];
  private waiting = 0;

  constructor(
    private readonly clock: Clock,
    private readonly maxPending = DEFAULT_MAX_PENDING_COMMANDS,
  ) {}

  /** Commands still waiting for their reply (placeholders of timed-out ones excluded). */
  get size(): number {
    return this.waiting;
  }

  /** Whether one more command may be queued (placeholders count: their replies are still due). */
  get full(): boolean {
    return this.pending.length >= this.maxPending;
  }

  /**
   * Registers a command just written to the socket. On timeout the caller's promise is rejected
   * and `onTimeout` decides what the silence means for the connection.
   */
  add(
    verb: string,
    timeoutMs: number,
    onTimeout: (error: CommandTimeoutError, sentAt: number) => void,
  ): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      const entry: Pending = { verb, sentAt: this.clock.now(), resolve, reject, timer: null };
      entry.timer = this.clock.setTimeout(() => {
        entry.timer = null;
        this.waiting--;
        const error = new CommandTimeoutError(verb, timeoutMs);
        reject(error);
        onTimeout(error, entry.sentAt);
      }, timeoutMs);
      this.pending.push(entry);
      this.waiting++;
    });
  }

  /** Hands a reply to the oldest command; false when no command was waiting for one. */
  resolveNext(frame: Frame): boolean {
    const entry = this.pending.shift();
    if (entry === undefined) return false;
    if (entry.timer !== null) {
      this.clock.clearTimeout(entry.timer);
      this.waiting--;
      entry.resolve(frame);
    }
    return true;
  }

  /** Fails every outstanding command, e.g. when the socket closes. */
  rejectAll(error: Error): void {
    const entries = this.pending.splice(0);
    this.waiting = 0;
    for (const entry of entries) {
      if (entry.timer === null) continue;
      this.clock.clearTimeout(entry.timer);
      entry.reject(error);
    }
  }
}
