// The leg schema (state/leg-schema.ts) must not slow the hot path down by merely existing: V8 gives
// object literals with the same keys in the same order one hidden class, and a schema shape in
// LegState's order, holding schemas instead of numbers, made every in-place number update of the
// legs and summaries the agent builds allocate a heap number.
//
// Keep this file free of anything else: an object with a summary's or a leg's keys holding
// something other than numbers (`{ ...summary, lastMos: "x" }`) does the same, in this process.

import assert from "node:assert/strict";
import { PerformanceObserver, performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { addToSummary } from "../src/legs/fold-rtcp.js";
import { emptyLeg } from "../src/quality/labels.js";
import { decodeLegState } from "../src/state/leg-schema.js";

describe("the leg schema and the hot path", () => {
  it("with the schema loaded, RTCP reports update a leg and its summary without allocating", async () => {
    assert.equal(typeof decodeLegState, "function", "the schema module is loaded");
    const report = {
      jitterMs: 1.5,
      fractionLost: 0.25,
      packetsLost: 1,
      rttMs: undefined,
      mos: 4.1,
    };
    const leg = { ...emptyLeg("hot"), rtpRate: 8000, rtcpIn: addToSummary(null, report) };
    const summary = leg.rtcpIn;
    // What the leg tracker's fold (legs/fold-rtcp.ts) does per report: numbers of the leg and of its summary, changed in place.
    const update = (n: number): void => {
      for (let i = 0; i < n; i++) {
        addToSummary(summary, report);
        leg.jitterSumMs += 1.5;
        leg.jitterCount += 1;
        leg.farEndLost += 1;
      }
    };
    update(200_000); // optimized by now
    const collections: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) collections.push(entry.startTime);
    });
    observer.observe({ entryTypes: ["gc"] });
    const start = performance.now();
    update(1_000_000);
    const end = performance.now();
    // GC entries are delivered on a later turn of the event loop.
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    observer.disconnect();
    const during = collections.filter((t) => t >= start && t <= end).length;
    // Unboxed: nothing allocated, no collection. Boxed: ~200 MB of heap numbers, 15-20 collections.
    assert.ok(during <= 2, `${during} garbage collections during 1,000,000 in-place updates`);
    assert.equal(summary.reports, 1_200_001);
    assert.equal(leg.jitterCount, 1_200_000);
  });
});
