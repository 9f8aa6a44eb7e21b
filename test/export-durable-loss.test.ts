// HA: packets_lost is exported once the leg state holding its baseline is in Redis (issue 21,
// stale writers). The producer's side: reports alone add nothing to packets_lost, the Redis
// store's durable-loss hook does.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { RtcpSeriesProducer } from "../src/export/rtcp-series.js";
import type { LegLabels, ReportDirection, RtcpObservation } from "../src/quality/types.js";

const labels: LegLabels = {
  channelId: "leg-1",
  correlationId: "call-1",
  domainName: "pbx.example.com",
  callDirection: "inbound",
  codecName: "PCMU",
  srcIp: "198.51.100.7",
  dstIp: "203.0.113.5",
};

function report(direction: ReportDirection, packetsLost: number): RtcpObservation {
  return {
    instance: "fs1",
    labels,
    direction,
    jitterMs: 4,
    fractionLost: 0.02,
    packetsLost,
    rttMs: undefined,
    mos: 4.1,
  };
}

function producer(lossWhenDurable: boolean): RtcpSeriesProducer {
  return new RtcpSeriesProducer({
    maxLegs: 100,
    cardinalityLimit: 100,
    perLeg: true,
    maxAggregates: 10,
    scope: { name: "fsagent", version: "0.1.0" },
    resource: resourceFromAttributes({}),
    now: () => 1_764_000_000_000,
    lossWhenDurable,
  });
}

/** packets_lost per direction in one collection; absent directions are not in the map. */
async function lost(p: RtcpSeriesProducer): Promise<Map<string, number>> {
  const { resourceMetrics } = await p.collect();
  const out = new Map<string, number>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== "freeswitch.rtcp.packets_lost") continue;
      for (const point of metric.dataPoints) {
        out.set(String(point.attributes.direction), Number(point.value));
      }
    }
  }
  return out;
}

describe("packets_lost when loss is exported once durable (HA)", () => {
  it("reports add nothing; the durable loss does, in the interval it comes", async () => {
    const p = producer(true);
    p.record(report("inbound", 3));
    p.record(report("inbound", 4));
    assert.deepEqual(await lost(p), new Map([["inbound", 0]]), "reported, none durable yet");
    p.addDurableLoss("leg-1", 7, 0);
    assert.deepEqual(await lost(p), new Map([["inbound", 7]]));
    p.record(report("outbound", 2));
    p.addDurableLoss("leg-1", 0, 2);
    assert.deepEqual(await lost(p), new Map([["outbound", 2]]));
    assert.deepEqual(await lost(p), new Map(), "nothing new: no point");
  });

  it("loss made durable for a leg whose series were forgotten is not exported", async () => {
    const p = producer(true);
    p.record(report("inbound", 3));
    await lost(p);
    p.legEnded("leg-1");
    p.addDurableLoss("leg-1", 3, 0);
    assert.deepEqual(await lost(p), new Map());
    p.addDurableLoss("never-seen", 5, 5);
    assert.deepEqual(await lost(p), new Map());
  });

  it("without HA, each report's increment is exported as it comes", async () => {
    const p = producer(false);
    p.record(report("inbound", 3));
    p.record(report("inbound", 4));
    assert.deepEqual(await lost(p), new Map([["inbound", 7]]));
  });
});
