// Cardinality end to end: 2,000 short calls (about 2,700 legs) through the real agent over ESL
// with memory state and a periodic OTLP export. Once the calls are over, per-leg series must stop
// being exported, the agent must hold no per-leg state anywhere (leg store, the sink's attribute
// cache), and the heap must come back to where it was after a warm-up round of the same size.
//
// Export interval: 1 s. The export timeout is capped at the interval, and everything here (agent,
// simulator, receiver) shares one event loop: at 250 ms, an export in the middle of a round could
// miss its gRPC deadline and drop its points, which would make "every leg was exported" flaky.
//
// Heap: the data spaces (code spaces excluded: JIT tiering moves them) after full GCs. `global.gc`
// exists when node runs with --expose-gc; otherwise the flag is set at run time and gc taken from
// a fresh V8 context (as export-metrics.test.ts does), so the runner's flags do not matter.
// Observed: within ±450 KiB of the baseline over repeated rounds, with no trend. The 1 MiB bound
// is ~390 bytes per leg: below one leaked LegState or one leaked SDK series set per leg (both are
// also asserted directly: legStore().legs and metrics.cachedLegs at 0).

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { CODEC_NAMES, type ScriptedCall } from "../../src/sim/index.js";
import { E2eHarness } from "../support/e2e.js";

const CALLS = 2000;
/** Calls started per step; a step also ends the previous step's calls (so calls overlap). */
const BATCH = 100;
// One export of a round carries ~30,000 points (5 RTCP and 7 QoS per leg), which the receiver
// decodes on this same event loop before it answers (protobufjs toObject: slow), while CI runs
// another suite beside it: 3 s leaves room for that within the export deadline (= the interval).
const EXPORT_INTERVAL_MS = 3000;
/** Allowed heap growth between the warm-up baseline and the end of the measured round. */
const HEAP_SLACK_BYTES = 1024 * 1024;

let h: E2eHarness | undefined;

after(async () => {
  await h?.close();
});

function collectGarbage(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return exposed;
  v8.setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

async function heapAfterGc(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // JIT code and its metadata come and go with tiering; only data spaces say what is retained.
  let used = 0;
  for (const space of v8.getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith("code")) used += space.space_used_size;
  }
  return used;
}

function legsOf(call: ScriptedCall): string[] {
  return call.bLeg === undefined ? [call.aLeg.uuid] : [call.aLeg.uuid, call.bLeg.uuid];
}

/**
 * 2,000 calls in steps of BATCH: each step starts BATCH calls (a third bridged, all four codecs,
 * three domains), sends one or two RTCP reports per leg, and hangs up the previous step's calls.
 * Returns the number of legs; resolves once the agent has handled every DESTROY.
 */
async function round(harness: E2eHarness, base: number): Promise<{ legs: number }> {
  const gen = harness.generator;
  const destroysBefore = harness.processed("CHANNEL_DESTROY");
  let legs = 0;
  let ended = 0;
  let previous: ScriptedCall[] = [];
  for (let start = 0; start <= CALLS; start += BATCH) {
    const current: ScriptedCall[] = [];
    for (let i = start; i < Math.min(CALLS, start + BATCH); i++) {
      const t = base + i * 10;
      const call = gen.startCall({
        bridged: i % 3 === 0,
        codec: CODEC_NAMES[i % CODEC_NAMES.length],
        domain: ["tenant-a.example", "tenant-b.example", null][i % 3],
        atMs: t,
      });
      current.push(call);
      for (const uuid of legsOf(call)) {
        legs++;
        gen.sendRtcp(uuid, {
          jitter: 8 * (1 + (i % 20)),
          lost: i % 5,
          fraction: i % 7,
          atMs: t + 5000,
        });
        if (i % 2 === 0) {
          gen.sendRtcp(uuid, { jitter: 16, lost: (i % 5) + 2, fraction: 3, atMs: t + 10_000 });
        }
      }
    }
    for (const call of previous) {
      gen.hangupCall(call.uuid, {
        atMs: base + CALLS * 10 + 20_000,
        qos: { inFlaws: 1, jitterMs: 3 },
      });
      ended += legsOf(call).length;
    }
    previous = current;
    // Let the agent catch up before the next step (bounded socket queues, calls overlap steps).
    await harness.waitProcessed("CHANNEL_DESTROY", destroysBefore + ended, 15_000);
  }
  assert.equal(ended, legs);
  return { legs };
}

describe("e2e cardinality: 2,000 short calls", () => {
  it("leaves no per-leg series, no per-leg state and no heap growth behind", async (t) => {
    h = await E2eHarness.start({ exportIntervalMs: EXPORT_INTERVAL_MS });
    const harness = h;
    const agent = harness.current;
    const receiver = harness.receiver;
    const gc = collectGarbage();
    const gen = harness.generator;
    const t0 = Date.now();
    // A call that stays up through both rounds and keeps reporting: later exports must happen
    // (the SDK sends nothing for an empty collection) and carry only its series.
    const sentinel = gen.startCall({ domain: "tenant-a.example", codec: "opus", atMs: t0 });
    await harness.waitProcessed("CHANNEL_ANSWER", 1);
    let sentinelReports = 0;

    /**
     * After a round: everything recorded goes out (forceFlush), then two periodic exports pass,
     * each with one sentinel report in it. Returns the index of the first request after the flush.
     */
    async function twoMoreIntervals(): Promise<number> {
      await harness.flush();
      const mark = receiver.metricRequests.length;
      for (let i = 0; i < 2; i++) {
        const before = receiver.metricRequests.length;
        sentinelReports++;
        gen.sendRtcp(sentinel.uuid, {
          jitter: 960,
          lost: sentinelReports,
          fraction: 1,
          atMs: t0 + 300_000 + sentinelReports * 5000,
        });
        await receiver.waitFor(
          () => receiver.metricRequests.length > before,
          `periodic export ${i + 1} after the calls ended`,
          EXPORT_INTERVAL_MS * 4,
        );
      }
      return mark;
    }

    // Warm-up round: same size, fills every pool, cache and JIT tier the measured round uses.
    const warmStarted = Date.now();
    const warm = await round(harness, t0);
    const warmMs = Date.now() - warmStarted;
    await twoMoreIntervals();
    receiver.clear();
    const baseline = await heapAfterGc(gc);

    const measuredStarted = Date.now();
    const measured = await round(harness, t0 + 100_000);
    const measuredMs = Date.now() - measuredStarted;
    assert.equal(measured.legs, warm.legs);
    assert.equal(agent.legStore().legs, 1, "only the sentinel's leg is live");
    const mark = await twoMoreIntervals();

    // Every leg of the round was exported (so that its absence later means something)...
    // (calls.active and calls.completed carry no channel_id: they are not per leg.)
    const perLeg = () => receiver.points().filter((p) => p.attributes.channel_id !== undefined);
    const exported = new Set(
      perLeg()
        .filter((p) => p.request < mark)
        .map((p) => p.attributes.channel_id),
    );
    exported.delete(sentinel.uuid);
    assert.equal(exported.size, measured.legs, "series of every leg of the round exported");
    assert.equal(
      agent.exporter().exportErrors,
      0,
      `no export failed: ${agent.metrics.stats.lastError}`,
    );
    // ...and none is in the exports after the calls ended: only the sentinel's series are.
    const late = perLeg().filter((p) => p.request >= mark);
    assert.ok(late.length > 0, "the later exports carry the sentinel's points");
    assert.deepEqual(
      [...new Set(late.map((p) => p.attributes.channel_id))],
      [sentinel.uuid],
      "no series of an ended leg in the exports after the calls",
    );
    assert.equal(agent.metrics.cachedLegs, 1, "attribute cache: only the sentinel");

    receiver.clear();
    const end = await heapAfterGc(gc);
    const growth = end - baseline;
    t.diagnostic(
      `cardinality: ${measured.legs} legs per round; warm-up ${warmMs} ms, measured ${measuredMs} ms; ` +
        `heap after GC: baseline ${(baseline / 1048576).toFixed(1)} MiB, ` +
        `after the measured round ${growth >= 0 ? "+" : ""}${(growth / 1024).toFixed(0)} KiB`,
    );
    assert.ok(
      growth < HEAP_SLACK_BYTES,
      `heap grew by ${growth} bytes over the measured round (bound ${HEAP_SLACK_BYTES})`,
    );

    // The sentinel ends too: nothing per leg is left anywhere.
    gen.hangupCall(sentinel.uuid, { atMs: t0 + 400_000 });
    await harness.waitProcessed("CHANNEL_DESTROY", 2 * warm.legs + 1);
    await harness.flush();
    const lastMark = receiver.metricRequests.length;
    await harness.flush();
    await harness.flush();
    assert.deepEqual(
      receiver.points().filter((p) => p.request >= lastMark && p.attributes.channel_id),
      [],
      "no point with a channel_id after every leg ended",
    );
    assert.equal(agent.metrics.cachedLegs, 0);
    assert.equal(agent.legStore().legs, 0);
    assert.equal(agent.legStore().evicted, 0);
    assert.equal(harness.counters().qosGenerated, 2 * warm.legs + 1);
  });
});
