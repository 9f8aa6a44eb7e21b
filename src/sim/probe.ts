// A minimal ESL client for tests and benchmarks of the simulator: it reads what the server sends
// with the agent's own FrameParser and eventFromFrame over a real TCP socket, keeps every byte
// and frame, and lets a test wait for replies and events without sleeping.

import { connect, type Socket } from "node:net";
import { type EslEvent, eventFromFrame } from "../esl/event.js";
import { ContentType, type Frame } from "../esl/frame.js";
import { FrameParser, type ProtocolError } from "../esl/parser.js";

interface Waiter {
  readonly check: () => boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const EVENT_TYPES = new Set<string>([
  ContentType.eventPlain,
  ContentType.eventJson,
  ContentType.eventXml,
]);

export class EslProbe {
  /** Every byte received, in order. */
  readonly chunks: Buffer[] = [];
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  /** Frames that are not events (greeting, replies, api responses, notices), in order. */
  readonly replies: Frame[] = [];
  /** Events, decoded. */
  readonly events: EslEvent[] = [];
  protocolError: ProtocolError | undefined;
  closed = false;
  private replyCursor = 0;
  private readonly parser: FrameParser;
  private readonly waiters = new Set<Waiter>();

  private constructor(private readonly socket: Socket) {
    this.parser = new FrameParser(
      (frame) => this.onFrame(frame),
      (error) => {
        this.protocolError = error;
        this.wake();
      },
      { maxFrameBytes: 64 * 1024 * 1024 },
    );
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.parser.push(chunk);
    });
    socket.on("error", () => {
      // 'close' follows; tests look at `closed`.
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(port: number, host = "127.0.0.1"): Promise<EslProbe> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new EslProbe(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Connects, reads auth/request, authenticates; rejects unless "+OK accepted". */
  static async authenticated(port: number, password = "ClueCon"): Promise<EslProbe> {
    const probe = await EslProbe.connect(port);
    await probe.nextReply();
    const reply = await probe.command(`auth ${password}`);
    if (reply.header("Reply-Text") !== "+OK accepted") {
      probe.destroy();
      throw new Error(`auth failed: ${reply.header("Reply-Text")}`);
    }
    return probe;
  }

  /** All bytes received so far. */
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Sends `line` as a command (terminated by a blank line) and waits for its reply. */
  async command(line: string, timeoutMs = 2000): Promise<Frame> {
    this.socket.write(`${line}\n\n`);
    return this.nextReply(timeoutMs);
  }

  /** The next non-event frame not yet returned. */
  async nextReply(timeoutMs = 2000): Promise<Frame> {
    await this.until(() => this.replyCursor < this.replies.length || this.closed, timeoutMs);
    const frame = this.replies[this.replyCursor];
    if (frame === undefined) throw new Error("connection closed before a reply");
    this.replyCursor++;
    return frame;
  }

  /** Resolves with the first received event matching `predicate`, waiting if needed. */
  async event(predicate: (e: EslEvent) => boolean, timeoutMs = 2000): Promise<EslEvent> {
    let found: EslEvent | undefined;
    await this.until(() => {
      found = this.events.find(predicate);
      return found !== undefined;
    }, timeoutMs);
    return found!;
  }

  /** Waits until at least `n` events have arrived. */
  async eventCount(n: number, timeoutMs = 2000): Promise<void> {
    await this.until(() => this.events.length >= n, timeoutMs);
  }

  /** Waits for the server to close the connection. */
  async closedByPeer(timeoutMs = 2000): Promise<void> {
    await this.until(() => this.closed, timeoutMs);
  }

  /** Resolves when `check()` holds, re-checked on every frame and close; rejects on timeout. */
  until(check: () => boolean, timeoutMs = 2000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onFrame(frame: Frame): void {
    this.frames.push(frame);
    if (EVENT_TYPES.has(frame.contentType)) {
      const event = eventFromFrame(frame);
      if (event !== undefined) this.events.push(event);
    } else {
      this.replies.push(frame);
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) {
      if (w.check()) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }
}
