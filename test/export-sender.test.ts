// The export sender (src/export/sender.ts) on its own: the one queue-and-retry path of both OTLP
// signals. Time is a hand-moved Clock and the transport a fake the test answers when it likes, so
// nothing here sleeps. The signal is a toy one (numbers; even ones are worth a retry, odd ones
// are not, as QoS and RTCP points are for the metrics), so what is checked is the sender's
// contract: the bound and its counted drops, the backoff, each attempt's deadline, the export's
// time budget, the server's pause, refusals, shutdown, and the log lines. The OTLP signals' own
// rules run in export-retry-after.test.ts, and the whole path against real servers in
// export-retry.test.ts, export-records.test.ts and export-http.test.ts.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { ExportResult } from "../src/export/export-result.js";
import { GrpcCallError, GrpcStatus } from "../src/export/grpc-unary.js";
import { HttpCallError } from "../src/export/http-unary.js";
import {
  droppedTotal,
  ExportSender,
  type ExportSenderOptions,
  type ExportSignal,
  type Transport,
} from "../src/export/sender.js";
import { ManualClock } from "./support/manual-clock.js";

/** The shared manual clock, asked how long until its next timer. */
class SenderClock extends ManualClock {
  /** When the next timer fires, as a delay from now; undefined when none is armed. */
  nextIn(): number | undefined {
    const at = this.nextTimerAt();
    return at === undefined ? undefined : at - this.now();
  }
}

/** A call the transport was given, answered when the test says. */
interface Call {
  readonly request: number[];
  readonly timeoutMs: number;
  answer(result: ExportResult): void;
}

/** Answers each call with the next scripted result at once; "hold" keeps it for the test. */
class FakeTransport implements Transport<number[]> {
  readonly calls: Call[] = [];
  readonly held: Call[] = [];
  shutdowns = 0;
  constructor(private readonly script: (ExportResult | "hold")[] = []) {}
  send(request: number[], timeoutMs: number, done: (result: ExportResult) => void): void {
    const call = { request, timeoutMs, answer: done };
    this.calls.push(call);
    const next = this.script.shift() ?? OK;
    if (next === "hold") this.held.push(call);
    else done(next);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    this.shutdowns++;
    return Promise.resolve();
  }
  /** What each call carried. */
  get requests(): number[][] {
    return this.calls.map((c) => c.request);
  }
}

const OK: ExportResult = { code: 0 };

function failed(error: Error): ExportResult {
  return { code: 1, error };
}

const unavailable = () => new GrpcCallError(GrpcStatus.UNAVAILABLE, "connect ECONNREFUSED");

/** Numbers as items: even ones are worth a retry, odd ones are lost with a failed request. */
const numbers: ExportSignal<number[], number> = {
  name: "metrics",
  size: (batch) => batch.length,
  split: (batch, max) => {
    const out: number[][] = [];
    for (let i = 0; i < batch.length; i += max) out.push(batch.slice(i, i + max));
    return out;
  },
  retain: (batch) => ({
    items: batch.filter((n) => n % 2 === 0),
    lost: batch.filter((n) => n % 2 !== 0).length,
  }),
  merge: (batch, queued) => [...queued, ...(batch ?? [])],
  words: {
    failed: "toy export failed; the even ones wait",
    failedNoQueue: "toy export failed; nothing waits",
    refused: "toy export refused",
    what: "toy export",
  },
};

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function setup(
  script: (ExportResult | "hold")[] = [],
  options: Partial<ExportSenderOptions<number[], number>> = {},
) {
  const clock = new SenderClock();
  const transport = new FakeTransport(script);
  const lines: Line[] = [];
  const logger = pino(
    { level: "info", base: null, timestamp: false },
    { write: (text: string) => lines.push(JSON.parse(text) as Line) },
  );
  const sender = new ExportSender<number[], number>({
    signal: numbers,
    transport,
    capacity: 10,
    maxItemsPerRequest: 4,
    timeoutMs: 500,
    backoff: { initialMs: 100, maxMs: 400 },
    logger,
    endpoint: "collector:4317",
    secrets: ["s3cr3t-token"],
    clock,
    ...options,
  });
  const results: ExportResult[] = [];
  const send = (...batch: number[]) => sender.export(batch, (r) => results.push(r));
  return { clock, transport, sender, stats: sender.stats, lines, results, send };
}

const warnings = (lines: Line[]) => lines.filter((l) => l.level === 40);

describe("export sender: requests and each attempt's deadline", () => {
  it("cuts a batch into requests of at most maxItemsPerRequest, each with the deadline", () => {
    const { transport, stats, results, send } = setup();
    send(1, 2, 3, 4, 5, 6, 7, 8, 9);
    assert.deepEqual(transport.requests, [[1, 2, 3, 4], [5, 6, 7, 8], [9]]);
    assert.deepEqual(
      transport.calls.map((c) => c.timeoutMs),
      [500, 500, 500],
    );
    assert.deepEqual(results, [OK]);
    assert.deepEqual(
      { exports: stats.exports, errors: stats.exportErrors, sent: stats.sent },
      { exports: 3, errors: 0, sent: 9 },
    );
  });

  it("does not start a request once the export's time is up, and keeps its items as a failure's", () => {
    const { clock, transport, stats, results, send } = setup(["hold"]);
    send(1, 2, 3, 4, 5, 6, 7, 8, 10);
    assert.equal(transport.calls.length, 1, "one after the other");
    clock.advance(500);
    transport.held[0]?.answer(failed(new GrpcCallError(GrpcStatus.DEADLINE_EXCEEDED, "late")));
    // [1,2,3,4] failed; [5,6,7,8] and [10] were never sent: no export, no failure of theirs.
    assert.equal(transport.calls.length, 1);
    assert.equal(results.length, 1);
    assert.equal(results[0]?.code, 1);
    assert.deepEqual(
      { exports: stats.exports, errors: stats.exportErrors, queued: stats.queued },
      { exports: 1, errors: 1, queued: 5 },
    );
    // The odd ones are lost, counted; the even ones wait.
    assert.equal(stats.dropped.notRetried, 4);
  });

  it("turns a transport that throws into a failed attempt", () => {
    const transport: Transport<number[]> = {
      send: () => {
        throw new Error("encoder bug");
      },
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const { stats, results, send } = setup([], { transport });
    send(2);
    assert.equal(results[0]?.code, 1);
    assert.equal(stats.queued, 1);
    assert.equal(stats.lastError, "encoder bug");
  });
});

describe("export sender: the queue", () => {
  it("keeps what is worth a retry, bounded, dropping the oldest and counting them", () => {
    const fail = failed(unavailable());
    const { clock, transport, stats, send } = setup([fail, fail, fail, fail]);
    send(2, 4, 6, 1);
    send(8, 10, 12, 3);
    assert.equal(stats.queued, 6);
    assert.deepEqual(stats.dropped, { notRetried: 2, queueFull: 0, refused: 0, shutdown: 0 });
    // The queue rides along with the next export as far as it fits: none here, the request is full.
    send(14, 16, 18, 20);
    assert.deepEqual(transport.requests[2], [14, 16, 18, 20]);
    assert.equal(stats.queued, 10);
    // Two of the queue ride along with two fresh ones; all four fail and come back: 12 > 10.
    send(22, 24);
    assert.deepEqual(transport.requests[3], [2, 4, 22, 24]);
    assert.equal(stats.queued, 10, "bounded by the capacity");
    assert.deepEqual(stats.dropped, { notRetried: 2, queueFull: 2, refused: 0, shutdown: 0 });
    // The oldest went: the next delivery starts with 6.
    clock.advance(clock.nextIn() ?? 0);
    assert.deepEqual(transport.requests[4], [6, 8, 10, 12]);
  });

  it("with a bound smaller than one failed request, keeps its newest", () => {
    const { stats, send } = setup([failed(unavailable())], { capacity: 3 });
    send(2, 4, 6, 8);
    assert.equal(stats.queued, 3);
    assert.deepEqual(stats.dropped, { notRetried: 0, queueFull: 1, refused: 0, shutdown: 0 });
  });

  it("sends the queue with the next export, as much as fits, and drains the rest at once", () => {
    const { clock, transport, stats, send } = setup([failed(unavailable())]);
    send(2, 4, 6, 8);
    assert.equal(stats.queued, 4);
    send(1);
    // Queued first (older), then the fresh item, within the request's bound of 4.
    assert.deepEqual(transport.requests[1], [2, 4, 6, 1]);
    assert.equal(stats.queued, 1);
    // What did not fit goes by the timer, right after the success, not after a backoff.
    assert.equal(clock.nextIn(), 1, "at once: a 0 ms timer, which Node fires after 1 ms");
    clock.advance(1);
    assert.deepEqual(transport.requests[2], [8]);
    assert.deepEqual(
      { queued: stats.queued, retried: stats.retried, sent: stats.sent },
      { queued: 0, retried: 4, sent: 5 },
    );
  });

  it("counts items in flight against the bound", () => {
    const { clock, stats, send, transport } = setup(
      [failed(unavailable()), "hold", failed(unavailable())],
      { capacity: 4 },
    );
    send(2, 4, 6, 8);
    clock.advance(100);
    // The timer's delivery takes the four and hangs: the queue is empty, four are in flight.
    assert.equal(transport.held.length, 1);
    assert.equal(stats.queued, 4);
    send(10, 12);
    assert.equal(stats.queued, 4, "the fresh ones do not fit beside those in flight");
    assert.equal(stats.dropped.queueFull, 2);
  });

  it("with no queue (capacity 0) drops what would have been retried, counted, and says so", () => {
    const { clock, transport, stats, lines, send } = setup([failed(unavailable())], {
      capacity: 0,
    });
    send(2, 4, 1);
    clock.advance(60_000);
    assert.equal(transport.calls.length, 1);
    assert.deepEqual(stats.dropped, { notRetried: 1, queueFull: 2, refused: 0, shutdown: 0 });
    assert.equal(stats.queued, 0);
    assert.deepEqual(
      warnings(lines).map((l) => l.msg),
      ["toy export failed; nothing waits"],
    );
  });
});

describe("export sender: backoff and the server's pause", () => {
  it("retries on the backoff, doubling to its ceiling, and starts over after a success", () => {
    const fail = failed(unavailable());
    const { clock, transport, stats, send } = setup([fail, fail, fail, fail, fail]);
    send(2);
    const delays: (number | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      const next = clock.nextIn();
      delays.push(next);
      clock.advance(next ?? 0);
    }
    assert.deepEqual(delays, [100, 200, 400, 400, 400]);
    assert.equal(transport.calls.length, 6);
    assert.equal(stats.queued, 0, "the sixth attempt succeeded");
    assert.equal(stats.retried, 1);
    // A failure after the success starts from the first step again.
    const { clock: c2, send: s2 } = setup([fail, OK, fail]);
    s2(2);
    c2.advance(100);
    s2(4);
    assert.equal(c2.nextIn(), 100);
  });

  it("holds the queue for the server's Retry-After, by timer and with exports, fresh data still going", () => {
    const paused = new HttpCallError(503, "HTTP 503", true, 3000, "HTTP 503 Service Unavailable");
    const { clock, sender, transport, stats, send } = setup([failed(paused)]);
    send(2, 4);
    assert.equal(clock.nextIn(), 3000, "the pause, not the backoff's 100 ms");
    send(6);
    assert.deepEqual(transport.requests[1], [6], "fresh data goes without the queue");
    void sender.deliverQueue();
    assert.equal(transport.calls.length, 2, "a flush does not send the queue before its time");
    clock.advance(2999);
    assert.equal(transport.calls.length, 2);
    clock.advance(1);
    assert.deepEqual(transport.requests[2], [2, 4]);
    assert.equal(stats.retried, 2);
  });

  it("keeps a longer backoff when the server's pause is shorter", () => {
    const fail = failed(unavailable());
    const paused = new HttpCallError(429, "HTTP 429", true, 50, "HTTP 429 Too Many Requests");
    const { clock, send } = setup([fail, fail, failed(paused)]);
    send(2);
    clock.advance(100);
    clock.advance(200);
    assert.equal(clock.nextIn(), 400);
  });
});

describe("export sender: refusals", () => {
  it("drops a refused request's items at once, counted, and never sends them again", () => {
    const refused = new HttpCallError(400, "HTTP 400", false, null, "HTTP 400 Bad Request");
    const { clock, transport, stats, lines, send } = setup([
      failed(unavailable()),
      failed(refused),
    ]);
    send(2, 4);
    send(6, 1);
    clock.advance(60_000);
    assert.deepEqual(transport.requests, [
      [2, 4],
      [2, 4, 6, 1],
    ]);
    assert.deepEqual(stats.dropped, { notRetried: 0, queueFull: 0, refused: 4, shutdown: 0 });
    assert.equal(stats.queued, 0);
    assert.deepEqual(
      warnings(lines).map((l) => [l.msg, l.kind]),
      [
        ["toy export failed; the even ones wait", "UNAVAILABLE"],
        ["toy export refused", "HTTP 400"],
      ],
    );
  });

  it("on UNIMPLEMENTED drops the queue too, with one warning naming the fix", () => {
    const missing = () => failed(new GrpcCallError(GrpcStatus.UNIMPLEMENTED, "unknown service"));
    const { clock, transport, stats, lines, send } = setup(["hold", missing(), missing()]);
    send(2, 4);
    send(6);
    transport.held[0]?.answer(failed(unavailable()));
    // [2,4] failed (retryable) and wait; [6] was refused as UNIMPLEMENTED before that.
    assert.equal(stats.queued, 2);
    send(8);
    assert.deepEqual(transport.requests[2], [2, 4, 8]);
    assert.equal(stats.queued, 0);
    clock.advance(60_000);
    assert.equal(transport.calls.length, 3, "nothing is retried");
    assert.deepEqual(stats.dropped, { notRetried: 0, queueFull: 0, refused: 4, shutdown: 0 });
    const warned = warnings(lines);
    assert.equal(warned.length, 2, JSON.stringify(warned));
    assert.match(
      String(warned[0]?.msg),
      /^the OTLP server at collector:4317 does not take metrics/,
    );
  });
});

describe("export sender: shutdown", () => {
  it("makes one last attempt at the queue, drops what is left, and closes the transport", async () => {
    const fail = failed(unavailable());
    const { transport, sender, stats, send } = setup([fail, fail]);
    send(2, 4, 6);
    await sender.shutdown();
    assert.equal(transport.calls.length, 2, "one last attempt");
    assert.deepEqual(stats.dropped, { notRetried: 0, queueFull: 0, refused: 0, shutdown: 3 });
    assert.equal(stats.queued, 0);
    assert.equal(transport.shutdowns, 1);
  });

  it("counts an export still in flight at close as dropped if it fails, as sent if it arrives", () => {
    const { transport, sender, stats, send } = setup(["hold", "hold"]);
    send(2, 4);
    send(6, 1);
    sender.close();
    transport.held[0]?.answer(failed(unavailable()));
    transport.held[1]?.answer(OK);
    assert.deepEqual(stats.dropped, { notRetried: 0, queueFull: 0, refused: 0, shutdown: 2 });
    assert.equal(stats.sent, 2);
    assert.equal(stats.queued, 0);
    assert.equal(droppedTotal(stats), 2);
  });
});

describe("export sender: what it says", () => {
  it("warns once per kind and window, without secrets, and once when exports work again", () => {
    const leak = () =>
      failed(new GrpcCallError(GrpcStatus.UNAVAILABLE, "proxy said: bad token s3cr3t-token"));
    const { stats, lines, send } = setup([leak(), leak(), leak()]);
    send(1);
    send(1);
    send(1);
    assert.equal(stats.lastError, "14 UNAVAILABLE: proxy said: bad token [redacted]");
    send(1);
    const warned = warnings(lines);
    assert.equal(warned.length, 1);
    assert.deepEqual(
      { kind: warned[0]?.kind, endpoint: warned[0]?.endpoint, items: warned[0]?.items },
      { kind: "UNAVAILABLE", endpoint: "collector:4317", items: 1 },
    );
    const recovered = lines.filter((l) => l.level === 30 && /works again/.test(l.msg));
    assert.equal(recovered.length, 1);
    assert.equal(recovered[0]?.msg, "toy export works again after 3 failed export(s)");
    assert.ok(!JSON.stringify(lines).includes("s3cr3t"), "no header value in any line");
  });
});
