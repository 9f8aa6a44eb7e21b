import type { Logger } from "../log/logger.js";
import { RateLimitedLog } from "../log/rate-limit.js";
import { type BackoffPolicy, backoffDelay } from "../util/backoff.js";
import { type Clock, systemClock, type TimerHandle } from "../util/clock.js";
import { type ExportFailure, failureOf } from "./export-failure.js";
import { type ExportResult, FAILED, SUCCESS } from "./export-result.js";

// The one queue-and-retry sender of both OTLP signals, in the manner of the OpenTelemetry
// Collector's exporterhelper. The export path, for either signal:
//
//   metrics: SDK periodic reader ─┐                      ┌─ metric-exporter.ts: what a metrics
//                                 ├─► ExportSender ─────►│  request is, which points are retried
//   logs:    SDK batch processor ─┘    (this file)       └─ log-exporter.ts: the same for records
//                                         │
//                                         └─► Transport: encode, then one OTLP call with a
//                                             deadline (otlp-client.ts → grpc-unary.ts or
//                                             http-unary.ts)
//
// What the sender does, whatever the signal:
// - cuts a batch into requests of at most maxItemsPerRequest items, sent one after the other; a
//   request not started when the export's time (timeoutMs) is up is not sent but kept as a
//   failed one's items are;
// - gives each attempt a deadline (timeoutMs, enforced by the transport, which can cancel the
//   call);
// - on a retryable failure keeps the items the signal says are worth sending again in one
//   bounded queue (capacity items; past it the oldest are dropped, counted), and sends them again
//   with the next export (they ride along, up to the request's bound) or, when nothing else is
//   exported, on a backoff timer (util/backoff.ts: 1 s doubling to 30 s by default); an item
//   leaves the queue only when an export carrying it succeeds;
// - honours the server's pause (HTTP Retry-After, gRPC RetryInfo): no queued item goes out
//   before it ends, neither with an export nor by the timer; fresh data still goes, the server
//   decides what it takes;
// - drops, counted, what the server refused for good (not retryable), and the whole queue too
//   when the server has no such service or path (UNIMPLEMENTED, HTTP 404): that does not heal;
// - counts everything in one ExportStats per signal (fsagent_export* on /metrics), keeps the
//   last error as one line without secrets, and logs one warning per kind of failure and
//   rate-limit window, and one line when exports work again.
// The signal decides only what its data is: ExportSignal below.

/** The signals, as the `signal` label of fsagent_export* calls them. */
export type SignalName = "metrics" | "logs";

/** Why items were given up (fsagent_export_items_dropped_total{reason}). */
export interface DropCounts {
  /** Items of a failed export the signal does not retry (RTCP points: the next report replaces them). */
  notRetried: number;
  /** Items the queue could not keep: its oldest past the bound, or all with no queue (size 0). */
  queueFull: number;
  /** Items the server refused for good (not retryable, or no such service or path). */
  refused: number;
  /** Items still queued or in a failed export at shutdown, and records emitted after it. */
  shutdown: number;
}

/** One signal's export figures, updated in place. */
export interface ExportStats {
  /** Export requests completed, successful or not (fsagent_exports_total). */
  exports: number;
  /** Of them, those that failed (fsagent_export_errors_total). */
  exportErrors: number;
  /** Items (metric data points, log records) the server accepted. */
  sent: number;
  /** Of them, items delivered after an earlier export carrying them failed. */
  retried: number;
  /** Items given up, by reason. */
  readonly dropped: DropCounts;
  /** Items waiting for a retry now, those in an export not yet answered included. */
  queued: number;
  /** The queue's bound, in items (opentelemetry.retry_queue_size). */
  readonly capacity: number;
  /** The latest failure as one line, without secrets; null until the first. */
  lastError: string | null;
}

export function emptyExportStats(capacity: number): ExportStats {
  return {
    exports: 0,
    exportErrors: 0,
    sent: 0,
    retried: 0,
    dropped: { notRetried: 0, queueFull: 0, refused: 0, shutdown: 0 },
    queued: 0,
    capacity: Math.max(0, Math.floor(capacity)),
    lastError: null,
  };
}

/** Items given up, whatever the reason. */
export function droppedTotal(stats: Pick<ExportStats, "dropped">): number {
  const { notRetried, queueFull, refused, shutdown } = stats.dropped;
  return notRetried + queueFull + refused + shutdown;
}

/**
 * What the sender needs to know of one signal's data. `B` is a batch (what the SDK hands over,
 * or one request), `I` one queued item.
 */
export interface ExportSignal<B, I> {
  readonly name: SignalName;
  /** Items a batch counts for. */
  size(batch: B): number;
  /** The batch as requests of at most `max` items each, in order. */
  split(batch: B, max: number): B[];
  /**
   * Of a batch that was not delivered: the items worth sending again, and how many more it loses
   * for good (counted as dropped, not retried). Items neither kept nor counted lose nothing (a
   * cumulative metric point: the next export carries the same totals).
   */
  retain(batch: B): { readonly items: I[]; readonly lost: number };
  /** One request of queued `items` (older) and the fresh `batch`; null: the items alone. */
  merge(batch: B | null, items: readonly I[]): B;
  /** The warnings' words. */
  readonly words: {
    /** A retryable failure, with a queue to keep what is worth a retry. */
    readonly failed: string;
    /** A retryable failure with no queue (retry_queue_size 0). */
    readonly failedNoQueue: string;
    /** A refusal that is not retryable. */
    readonly refused: string;
    /** The export, as "<what> works again after N failed export(s)" names it. */
    readonly what: string;
  };
}

/** Encodes and sends one request. */
export interface Transport<B> {
  /** Calls `done` exactly once, within about `timeoutMs` (the transport's own deadline). */
  send(request: B, timeoutMs: number, done: (result: ExportResult) => void): void;
  /** Resolves when every call in flight has passed on its result. */
  forceFlush(): Promise<void>;
  /** Lets the calls in flight finish (bounded), then closes the connection. */
  shutdown(): Promise<void>;
}

export interface ExportSenderOptions<B, I> {
  readonly signal: ExportSignal<B, I>;
  readonly transport: Transport<B>;
  /** The queue's bound in items; 0 keeps nothing (what would be retried is dropped, counted). */
  readonly capacity: number;
  /** Items one request carries at most. */
  readonly maxItemsPerRequest: number;
  /** Each attempt's deadline, and the time all the requests of one export have to start. */
  readonly timeoutMs: number;
  /** The retry timer's delays; default 1 s doubling to 30 s, no jitter. */
  readonly backoff?: BackoffPolicy;
  readonly logger: Logger;
  /** Where the exports go, for log lines (no secret in it). */
  readonly endpoint: string;
  /** Header values: removed from any error text before it is kept or logged. */
  readonly secrets: readonly string[];
  /** The retry timer, Retry-After and the rate limiter's time; default the system clock. */
  readonly clock?: Clock;
}

/** The retry timer's default backoff (docs/otlp.md: "1 s doubling to 30 s"). */
export const RETRY_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000 };

/** Longest lastError kept: enough for a gRPC status line, not for a stack. */
const MAX_ERROR = 240;

/** Makes an error one short line and removes any configured header value from it. */
export function describeError(error: unknown, secrets: readonly string[]): string {
  let text = error instanceof Error ? error.message : String(error);
  for (const secret of secrets) {
    // Very short values ("1", "on") are not credentials, and blanking every occurrence of them
    // would make the message unreadable.
    if (secret.length >= 4) text = text.split(secret).join("[redacted]");
  }
  text = text.replace(/\s+/g, " ").trim();
  if (text === "") text = "unknown error";
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR)}…` : text;
}

/**
 * What to change when the server has no service or path for a signal (gRPC UNIMPLEMENTED, HTTP
 * 404): it will not change by itself, so the warning says what would.
 */
export function unimplementedMessage(signal: SignalName, endpoint: string): string {
  const what = signal === "metrics" ? "metrics" : "quality records (OTLP logs)";
  const disable =
    signal === "metrics"
      ? "or point opentelemetry.endpoint at a server that takes OTLP metrics"
      : "or set logs.enabled: false (FSAGENT_LOGS_ENABLED=false) to stop sending them";
  return (
    `the OTLP server at ${endpoint} does not take ${what} (gRPC UNIMPLEMENTED / HTTP 404): ` +
    `add a ${signal} pipeline with an otlp receiver to the Collector's service.pipelines, check the ` +
    `endpoint's path (over HTTP /v1/${signal} is appended to it), ${disable}; they are dropped until then, not retried`
  );
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export class ExportSender<B, I> {
  readonly stats: ExportStats;
  private readonly signal: ExportSignal<B, I>;
  private readonly transport: Transport<B>;
  private readonly maxItems: number;
  private readonly timeoutMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly clock: Clock;
  private readonly log: RateLimitedLog;
  private readonly failureKey: string;
  /** Oldest first. Items taken into an export are out of it until the export settles. */
  private queue: I[] = [];
  /** Queued items in exports not yet answered. */
  private inFlight = 0;
  private timer: TimerHandle | null = null;
  /** When the retry timer fires (clock ms), while there is one. */
  private timerDue = 0;
  /** Until when (clock ms) the server's pause holds the queue back; 0: no pause. */
  private notBefore = 0;
  /** Failed attempts since the last success: the backoff's step, and the recovery line's count. */
  private failuresInARow = 0;
  /** Failed attempts since the start. */
  private failedAttempts = 0;
  /** Queue deliveries awaiting their result. */
  private readonly sending = new Set<Promise<boolean>>();
  private closed = false;

  constructor(private readonly options: ExportSenderOptions<B, I>) {
    if (!Number.isInteger(options.maxItemsPerRequest) || options.maxItemsPerRequest <= 0) {
      throw new Error(
        `items per request must be a positive integer: ${options.maxItemsPerRequest}`,
      );
    }
    this.signal = options.signal;
    this.transport = options.transport;
    this.stats = emptyExportStats(options.capacity);
    this.maxItems = options.maxItemsPerRequest;
    this.timeoutMs = options.timeoutMs;
    this.backoff = options.backoff ?? RETRY_BACKOFF;
    this.clock = options.clock ?? systemClock;
    this.log = new RateLimitedLog(options.logger, undefined, this.clock);
    this.failureKey = `otlp-${this.signal.name}-export`;
  }

  /**
   * Sends `batch` (with queued items riding along) in requests of at most maxItemsPerRequest,
   * one after the other. `done` gets the first failure, else SUCCESS, once every request has
   * settled; whatever the result, the items are accounted for (sent, queued or dropped).
   */
  export(batch: B, done: (result: ExportResult) => void): void {
    const requests = this.signal.split(batch, this.maxItems);
    const deadline = this.clock.now() + this.timeoutMs;
    let failure: ExportResult | null = null;
    let next = 0;
    const sendNext = (): void => {
      if (next < requests.length && this.clock.now() >= deadline) {
        // The export's time is up: the rest is not sent, but kept as a failed request's would be.
        // No export, and no failure of the server's.
        for (; next < requests.length; next++) this.keep(requests[next]!);
        failure ??= {
          code: FAILED,
          error: new Error("export timed out before all its requests were sent"),
        };
      }
      const request = requests[next++];
      if (request === undefined) {
        done(failure ?? { code: SUCCESS });
        return;
      }
      this.sendFresh(request, (result) => {
        if (result.code !== SUCCESS) failure ??= result;
        sendNext();
      });
    };
    sendNext();
  }

  /** Failed attempts so far: lets a flush skip a queue attempt right after a failure. */
  get failures(): number {
    return this.failedAttempts;
  }

  /**
   * Sends the queue in requests of at most maxItemsPerRequest until it is empty, an export fails
   * or the server's pause holds it. Deliveries already in flight (the timer's) are waited for
   * too, so a caller that awaits this knows every queued item was delivered or failed, or is
   * held. Never rejects.
   */
  async deliverQueue(): Promise<void> {
    for (;;) {
      if (this.queue.length > 0 && !this.holding() && !this.closed) {
        if (!(await this.sendQueued())) return;
      } else if (this.sending.size > 0) {
        await Promise.all(this.sending);
      } else {
        return;
      }
    }
  }

  /** Resolves when every call in flight has passed on its result. */
  forceFlush(): Promise<void> {
    return this.transport.forceFlush();
  }

  /**
   * Gives up what is still queued (counted as dropped at shutdown) and stops the timer. Exports
   * still in flight settle later: delivered ones count as sent, failed ones as dropped.
   */
  close(): void {
    this.closed = true;
    this.stopTimer();
    this.stats.dropped.shutdown += this.queue.length;
    this.queue = [];
    this.updateQueued();
  }

  /** One last attempt at the queue, then close(), then the transport's shutdown. */
  async shutdown(): Promise<void> {
    this.stopTimer();
    await this.deliverQueue();
    this.close();
    await this.transport.shutdown();
  }

  /** Sends one fresh request, with as many queued items as fit in it (none while held). */
  private sendFresh(fresh: B, done: (result: ExportResult) => void): void {
    const room = this.holding() ? 0 : this.maxItems - this.signal.size(fresh);
    const taken = this.take(room);
    const request = taken.length === 0 ? fresh : this.signal.merge(fresh, taken);
    this.call(request, taken, fresh, done);
  }

  /** One request of queued items only; resolves with whether it was delivered. */
  private sendQueued(): Promise<boolean> {
    const taken = this.take(this.maxItems);
    if (taken.length === 0) return Promise.resolve(true);
    const sent = new Promise<boolean>((resolve) => {
      this.call(this.signal.merge(null, taken), taken, null, (result) =>
        resolve(result.code === SUCCESS),
      );
    });
    this.sending.add(sent);
    void sent.then(() => this.sending.delete(sent));
    return sent;
  }

  private call(
    request: B,
    taken: I[],
    fresh: B | null,
    done: (result: ExportResult) => void,
  ): void {
    let settled = false;
    const finish = (result: ExportResult): void => {
      if (settled) return;
      settled = true;
      this.settle(request, taken, fresh, result);
      done(result);
    };
    try {
      this.transport.send(request, this.timeoutMs, finish);
    } catch (error) {
      finish({ code: FAILED, error: asError(error) });
    }
  }

  private settle(request: B, taken: I[], fresh: B | null, result: ExportResult): void {
    const { stats } = this;
    this.inFlight -= taken.length;
    stats.exports++;
    if (result.code === SUCCESS) {
      stats.sent += this.signal.size(request);
      stats.retried += taken.length;
      this.recovered();
      this.updateQueued();
      // The server takes exports again: what is left goes now, not when a backoff set during the
      // outage says (unless the server asked for a pause).
      if (this.queue.length > 0 && !this.holding()) {
        this.stopTimer();
        this.schedule(0);
      }
      return;
    }
    stats.exportErrors++;
    this.failedAttempts++;
    this.failuresInARow++;
    const failure = failureOf(result.error);
    stats.lastError = describeError(result.error ?? "export failed", this.options.secrets);
    this.warn(failure, stats.lastError, this.signal.size(request));
    if (!failure.retryable) {
      // Refused for good: sending it again would be refused again.
      let lost = taken.length;
      if (fresh !== null) {
        const kept = this.signal.retain(fresh);
        lost += kept.items.length + kept.lost;
      }
      if (failure.unimplemented) {
        // No such service or path: what is queued would only be refused too.
        lost += this.queue.length;
        this.queue = [];
      }
      stats.dropped.refused += lost;
      this.updateQueued();
      return;
    }
    if (this.closed) {
      stats.dropped.shutdown += taken.length;
    } else {
      // Back in front: they are older than anything queued since they were taken.
      this.queue = taken.concat(this.queue);
    }
    if (failure.retryAfterMs !== null) this.holdFor(failure.retryAfterMs);
    if (fresh === null) {
      this.trimAndSchedule();
    } else {
      this.keep(fresh);
    }
  }

  /**
   * Keeps what a request that was not delivered carried: its items worth a retry queued (within
   * the bound), the others counted as dropped; then schedules a retry.
   */
  private keep(fresh: B): void {
    const { items, lost } = this.signal.retain(fresh);
    const { dropped } = this.stats;
    dropped.notRetried += lost;
    if (this.closed) dropped.shutdown += items.length;
    else if (this.stats.capacity === 0) dropped.queueFull += items.length;
    else for (const item of items) this.queue.push(item);
    this.trimAndSchedule();
  }

  /** Drops the oldest queued items past the bound (in flight included), then schedules a retry. */
  private trimAndSchedule(): void {
    const excess = Math.min(
      this.queue.length,
      this.queue.length + this.inFlight - this.stats.capacity,
    );
    if (excess > 0) {
      this.queue = this.queue.slice(excess);
      this.stats.dropped.queueFull += excess;
    }
    this.updateQueued();
    if (this.queue.length === 0) return;
    // The backoff's step is the number of failures in a row; a pause asked for by the server
    // that ends later decides instead.
    const backoff = backoffDelay(Math.max(0, this.failuresInARow - 1), this.backoff);
    this.schedule(Math.max(backoff, this.notBefore - this.clock.now()));
  }

  /**
   * The server asked for a pause: no queued item goes out before it ends, neither with the next
   * export nor by the timer, which is stopped if it was due earlier (trimAndSchedule sets it
   * again).
   */
  private holdFor(ms: number): void {
    this.notBefore = Math.max(this.notBefore, this.clock.now() + ms);
    if (this.timer !== null && this.timerDue < this.notBefore) this.stopTimer();
  }

  private holding(): boolean {
    return this.clock.now() < this.notBefore;
  }

  private take(max: number): I[] {
    if (max <= 0 || this.queue.length === 0) return [];
    const taken = this.queue.slice(0, max);
    this.queue = this.queue.slice(taken.length);
    this.inFlight += taken.length;
    return taken;
  }

  /** Arms the retry timer in `delayMs`, unless it is already armed (it keeps its time). */
  private schedule(delayMs: number): void {
    if (this.timer !== null || this.closed) return;
    this.timerDue = this.clock.now() + delayMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (this.queue.length === 0 || this.closed) return;
      if (this.holding()) {
        this.schedule(this.notBefore - this.clock.now());
        return;
      }
      void this.sendQueued();
    }, delayMs);
    // A retry must not keep the process alive; shutdown() makes the last attempt itself.
    this.timer.unref?.();
  }

  private stopTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private updateQueued(): void {
    this.stats.queued = this.queue.length + this.inFlight;
  }

  /**
   * One warning per kind of failure and rate-limit window: an outage that turns into refusals
   * (a Collector restarting with a bad config) shows both, a steady outage shows one.
   */
  private warn(failure: ExportFailure, error: string, items: number): void {
    const { words, name } = this.signal;
    let message: string;
    if (failure.unimplemented) message = unimplementedMessage(name, this.options.endpoint);
    else if (!failure.retryable) message = words.refused;
    else message = this.stats.capacity > 0 ? words.failed : words.failedNoQueue;
    this.log.warn(
      `${this.failureKey}:${failure.kind}`,
      {
        endpoint: this.options.endpoint,
        kind: failure.kind,
        error,
        items,
        exportErrors: this.stats.exportErrors,
        ...(failure.retryAfterMs === null ? {} : { retryAfterMs: failure.retryAfterMs }),
      },
      message,
    );
  }

  /** After failures, one line saying exports work again (and what the rate limiter held back). */
  private recovered(): void {
    if (this.failuresInARow === 0) return;
    const failed = this.failuresInARow;
    this.failuresInARow = 0;
    this.log.clearPrefix(`${this.failureKey}:`);
    this.options.logger.info(
      { endpoint: this.options.endpoint, failedExports: failed },
      `${this.signal.words.what} works again after ${failed} failed export(s)`,
    );
  }
}
