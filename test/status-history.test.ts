// The status page's history: the ring of ended legs and the sampler behind the charts, on the
// manual clock.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CALL_MOS_BUCKETS } from "../src/export/metrics.js";
import {
  bucketIndex,
  type EndedLeg,
  EndedLegs,
  StatusSampler,
} from "../src/pipeline/status-history.js";
import type { LegLabels } from "../src/quality/types.js";
import { ManualClock } from "./support/manual-clock.js";

function labels(channelId: string, extra: Partial<LegLabels> = {}): LegLabels {
  return {
    channelId,
    correlationId: `call-${channelId}`,
    domainName: "tenant-a.example",
    callDirection: "inbound",
    codecName: "PCMU",
    srcIp: "198.51.100.7",
    dstIp: "10.0.0.5",
    ...extra,
  };
}

describe("the status history", () => {
  it("buckets a MOS as freeswitch.call.mos does: up to and including the bound", () => {
    assert.equal(bucketIndex(CALL_MOS_BUCKETS, 1.2), 0);
    assert.equal(bucketIndex(CALL_MOS_BUCKETS, 1.5), 0);
    assert.equal(bucketIndex(CALL_MOS_BUCKETS, 3.5), 4);
    assert.equal(bucketIndex(CALL_MOS_BUCKETS, 3.51), 5);
    assert.equal(bucketIndex(CALL_MOS_BUCKETS, 4.5), 9);
  });

  it("keeps the last ended legs, newest first", () => {
    const ring = new EndedLegs(3);
    const ended = (n: number): EndedLeg => ({
      instance: "fs1",
      labels: labels(`l${n}`),
      mos: 4,
      mosEstimate: 4,
      jitterAvgMs: 1,
      packetLoss: 0,
      hangupCause: "",
      durationS: 1,
      endedAt: n,
    });
    assert.deepEqual(ring.list(), []);
    ring.add(ended(1));
    ring.add(ended(2));
    assert.deepEqual(
      ring.list().map((e) => e.endedAt),
      [2, 1],
    );
    for (let n = 3; n <= 7; n++) ring.add(ended(n));
    assert.deepEqual(
      ring.list().map((e) => e.endedAt),
      [7, 6, 5],
    );
  });

  it("samples events/s, active legs and the MOS of ended legs per interval, bounded", () => {
    const clock = new ManualClock(1_000_000);
    let events = 500;
    let activeLegs = 0;
    const sampler = new StatusSampler({
      intervalMs: 5000,
      capacity: 3,
      mosBuckets: [3.5, 4],
      read: () => ({ events, activeLegs }),
      clock,
    });
    sampler.start();
    try {
      events += 100;
      activeLegs = 7;
      sampler.endedMos(3.2);
      sampler.endedMos(4.4);
      sampler.endedMos(4.5);
      clock.advance(4999);
      assert.deepEqual(sampler.samples(), [], "no sample before the interval is over");
      clock.advance(1);
      assert.deepEqual(sampler.samples(), [
        { at: 1_005_000, eventsPerS: 20, activeLegs: 7, mosEnded: [1, 0, 2] },
      ]);
      // A sample taken by hand closes the interval early; the timer keeps its own pace.
      clock.advance(2000);
      events += 10;
      assert.deepEqual(sampler.sample(), {
        at: 1_007_000,
        eventsPerS: 5,
        activeLegs: 7,
        mosEnded: [0, 0, 0],
      });
      clock.advance(3000);
      assert.equal(sampler.samples().length, 3);
      assert.deepEqual(sampler.samples()[2], {
        at: 1_010_000,
        eventsPerS: 0,
        activeLegs: 7,
        mosEnded: [0, 0, 0],
      });
      clock.advance(25_000);
      assert.equal(sampler.samples().length, 3, "bounded by capacity");
      assert.deepEqual(
        sampler.samples().map((x) => x.at),
        [1_025_000, 1_030_000, 1_035_000],
      );
      sampler.stop();
      clock.advance(5000);
      assert.equal(sampler.samples()[2]?.at, 1_035_000, "no sample after stop()");
      assert.equal(clock.pendingTimers, 0);
    } finally {
      sampler.stop();
    }
  });
});
