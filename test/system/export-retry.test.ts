// The bounded retry queue for end-of-call QoS (SPEC §4, issue 4 item 6), against a real
// OTLP/gRPC receiver decoding with the official protobuf root. The exporter is never mocked.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { OpenTelemetryConfig } from "../../src/config/types.js";
import {
  createMetricsSink,
  MAX_POINTS_PER_REQUEST,
  type MetricsSink,
} from "../../src/export/metrics.js";
import type {
  LegLabels,
  QosObservation,
  QosValues,
  RtcpObservation,
} from "../../src/quality/types.js";
import type { MetricPoint, OtlpReceiver } from "../support/otlp-receiver.js";
import { shareReceiver } from "../support/receiver-hooks.js";

let receiver: OtlpReceiver;
const sinks: MetricsSink[] = [];

function sink(
  overrides: Partial<OpenTelemetryConfig> = {},
  retryDelayMs: { initial: number; max: number } | undefined = { initial: 100, max: 400 },
): MetricsSink {
  const created = createMetricsSink(
    {
      enabled: true,
      protocol: "grpc",
      endpoint: receiver.endpoint,
      endpointExplicit: true,
      insecure: true,
      headers: {},
      compression: "none",
      serviceName: "fsagent",
      // Long: exports happen when a test flushes, or by the retry timer under test.
      exportIntervalMs: 60_000,
      exportTimeoutMs: 2_000,
      retryQueueSize: 10_000,
      tls: { caFile: "", certFile: "", keyFile: "" },
      resourceAttributes: {},
      ...overrides,
    },
    {
      maxLegs: 1000,
      logger: pino({ level: "silent" }),
      ...(retryDelayMs === undefined ? {} : { retryDelayMs }),
    },
  );
  sinks.push(created);
  return created;
}

function labels(channelId: string): LegLabels {
  return {
    channelId,
    correlationId: `corr-${channelId}`,
    domainName: "pbx.example.com",
    callDirection: "inbound",
    codecName: "PCMU",
    srcIp: "198.51.100.7",
    dstIp: "203.0.113.5",
  };
}

/** Distinct values per leg (n), so a point delivered for the wrong leg cannot pass. */
function values(n: number): QosValues {
  return {
    mosScore: 4 + (n % 5) / 10,
    jitterMinMs: n,
    jitterMaxMs: n + 10,
    jitterAvgMs: n + 5,
    totalPackets: 1000 + n,
    packetLoss: n % 7,
    totalBytes: 160_000 + n,
    unreadable: [],
  };
}

function qos(channelId: string, n: number): QosObservation {
  return {
    instance: "fs1",
    labels: labels(channelId),
    values: values(n),
    mosEstimate: undefined,
    rtcpIn: null,
    rtcpOut: null,
    hangup: { cause: "", durationS: undefined, billsec: undefined },
  };
}

function rtcp(channelId: string): RtcpObservation {
  return {
    instance: "fs1",
    labels: labels(channelId),
    direction: "inbound",
    jitterMs: 3,
    fractionLost: 0.25,
    packetsLost: 2,
    rttMs: undefined,
    mos: 4.2,
  };
}

const QOS_FIELDS: Array<[string, keyof QosValues]> = [
  ["freeswitch.qos.mos_score", "mosScore"],
  ["freeswitch.qos.jitter_min", "jitterMinMs"],
  ["freeswitch.qos.jitter_max", "jitterMaxMs"],
  ["freeswitch.qos.jitter_avg", "jitterAvgMs"],
  ["freeswitch.qos.total_packets", "totalPackets"],
  ["freeswitch.qos.packet_loss", "packetLoss"],
  ["freeswitch.qos.total_bytes", "totalBytes"],
];
const POINTS_PER_LEG = QOS_FIELDS.length;

function qosPoints(): MetricPoint[] {
  return receiver.points().filter((p) => p.name.startsWith("freeswitch.qos."));
}

/** Every QoS point of legs `legs` (channel id → n) arrived exactly once, with its values. */
function assertDeliveredOnce(legs: ReadonlyMap<string, number>): void {
  const points = qosPoints();
  assert.equal(points.length, legs.size * POINTS_PER_LEG, "one point per leg and metric");
  for (const [channelId, n] of legs) {
    const expected = values(n);
    for (const [name, field] of QOS_FIELDS) {
      const found = points.filter((p) => p.name === name && p.attributes.channel_id === channelId);
      assert.equal(found.length, 1, `${name} of ${channelId} exactly once`);
      const point = found[0];
      assert.equal(point?.value, expected[field], `${name} of ${channelId}`);
      assert.deepEqual(point?.attributes, {
        fs_instance: "fs1",
        channel_id: channelId,
        correlation_id: `corr-${channelId}`,
        domain_name: "pbx.example.com",
        call_direction: "inbound",
        codec_name: "PCMU",
        src_ip: "198.51.100.7",
        dst_ip: "203.0.113.5",
      });
      assert.equal(point?.kind, "gauge");
      assert.equal(point?.resource["service.name"], "fsagent");
    }
  }
}

/** QoS points given up, whatever the reason: every reason but RTCP's not_retried. */
function qosDropped(s: MetricsSink): number {
  const { queueFull, refused, shutdown } = s.stats.dropped;
  return queueFull + refused + shutdown;
}

shareReceiver(sinks, (started) => {
  receiver = started;
});

describe("retry queue: end-of-call QoS survives a Collector outage", () => {
  it("delivers every QoS point of failed exports exactly once, and drops their RTCP", async () => {
    const s = sink();
    receiver.behave("fail");
    const legs = new Map<string, number>();
    // Three failed exports, each with two legs' QoS and RTCP points.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) {
        const n = round * 2 + i;
        const id = `leg-${n}`;
        legs.set(id, n);
        s.recordRtcp(rtcp(id));
        s.recordQos(qos(id, n));
      }
      await s.forceFlush();
    }
    assert.equal(receiver.rejected.metrics, 3, "no extra attempt right after a failure");
    assert.equal(s.stats.exportErrors, 3);
    assert.equal(s.stats.queued, 6 * POINTS_PER_LEG);
    // 4 per-leg RTCP points per leg (jitter, fraction lost, packets lost, MOS estimate; no
    // RTT was known), none kept. The report histograms are cumulative: not dropped, not queued.
    assert.equal(s.stats.dropped.notRetried, 6 * 4);
    assert.equal(qosDropped(s), 0);
    const firstTimes = new Set<string>();

    receiver.behave("ok");
    // A new leg and a live RTCP report: the queue rides along in the same request.
    legs.set("leg-new", 99);
    s.recordQos(qos("leg-new", 99));
    s.recordRtcp(rtcp("leg-live"));
    await s.forceFlush();
    assert.equal(receiver.metricRequests.length, 1, "one request carried queue and new points");
    assertDeliveredOnce(legs);
    for (const p of qosPoints()) firstTimes.add(p.timeUnixNano);
    assert.ok(firstTimes.size >= 2, "retried points keep their own (earlier) timestamps");
    assert.deepEqual(
      new Set(receiver.points("freeswitch.rtcp.jitter").map((p) => p.attributes.channel_id)),
      new Set(["leg-live"]),
      "RTCP points of failed exports are not re-sent",
    );
    assert.equal(s.stats.retried, 6 * POINTS_PER_LEG);
    assert.equal(s.stats.queued, 0);

    // Nothing is sent twice afterwards, by flush or timer.
    await s.forceFlush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assertDeliveredOnce(legs);
  });

  it("keeps QoS through a stopped Collector under periodic exports, then delivers it", async () => {
    const s = sink({ exportIntervalMs: 100, exportTimeoutMs: 100 });
    await receiver.stop();
    const legs = new Map<string, number>();
    for (let n = 0; n < 10; n++) {
      const id = `down-${n}`;
      legs.set(id, n);
      s.recordQos(qos(id, n));
      s.recordRtcp(rtcp(id));
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    await receiver.waitFor(() => s.stats.exportErrors >= 2, "failed periodic exports");
    await receiver.start();
    await receiver.waitFor(
      () => qosPoints().length >= legs.size * POINTS_PER_LEG,
      "the queued QoS after recovery",
      8000,
    );
    await s.forceFlush();
    assertDeliveredOnce(legs);
    assert.ok(s.stats.dropped.notRetried > 0);
    assert.equal(qosDropped(s), 0);
    assert.equal(s.stats.queued, 0);
  });

  it("an idle agent delivers its queue by the retry timer (default ~1 s backoff)", async () => {
    const s = sink({}, undefined);
    receiver.behave("fail");
    s.recordQos(qos("idle-1", 1));
    s.recordQos(qos("idle-2", 2));
    await s.forceFlush();
    assert.equal(s.stats.queued, 2 * POINTS_PER_LEG);
    receiver.behave("ok");
    const start = Date.now();
    // No record, no flush: only the timer can send it.
    await receiver.waitFor(() => s.stats.queued === 0, "the timer to deliver", 5000);
    const took = Date.now() - start;
    assert.ok(took < 2500, `delivered after ${took} ms`);
    assertDeliveredOnce(
      new Map([
        ["idle-1", 1],
        ["idle-2", 2],
      ]),
    );
    assert.equal(s.stats.retried, 2 * POINTS_PER_LEG);
  });

  it("backs off while the Collector keeps failing, without duplicating the queue", async () => {
    const s = sink({}, { initial: 50, max: 200 });
    receiver.behave("fail");
    s.recordQos(qos("backoff", 1));
    await s.forceFlush();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // 50, 100, 200, 200, 200 … ms: about 5-7 attempts in a second, not one per tick.
    const attempts = receiver.rejected.metrics;
    assert.ok(attempts >= 4 && attempts <= 9, `attempts: ${attempts}`);
    assert.equal(s.stats.queued, POINTS_PER_LEG, "still queued, not duplicated");
    receiver.behave("ok");
    await receiver.waitFor(() => s.stats.queued === 0, "delivery after the failures");
    assertDeliveredOnce(new Map([["backoff", 1]]));
  });
});

describe("retry queue: bounds", () => {
  it("drops the oldest points when full, and counts them", async () => {
    const s = sink({ retryQueueSize: 2 * POINTS_PER_LEG });
    receiver.behave("fail");
    s.recordQos(qos("old-1", 1));
    s.recordQos(qos("old-2", 2));
    await s.forceFlush();
    s.recordQos(qos("new-1", 3));
    s.recordQos(qos("new-2", 4));
    await s.forceFlush();
    assert.equal(s.stats.queued, 2 * POINTS_PER_LEG, "bounded by retry_queue_size");
    assert.equal(s.stats.dropped.queueFull, 2 * POINTS_PER_LEG, "the oldest were dropped");
    receiver.behave("ok");
    await s.forceFlush();
    assertDeliveredOnce(
      new Map([
        ["new-1", 3],
        ["new-2", 4],
      ]),
    );
  });

  it("retry_queue_size 0 keeps nothing and counts the QoS as dropped", async () => {
    const s = sink({ retryQueueSize: 0 });
    receiver.behave("fail");
    s.recordQos(qos("none", 1));
    await s.forceFlush();
    assert.equal(s.stats.queued, 0);
    assert.equal(s.stats.dropped.queueFull, POINTS_PER_LEG);
    receiver.behave("ok");
    await s.forceFlush();
    // Nothing of the leg's QoS comes later; only the cumulative call histogram is re-exported.
    assert.deepEqual(qosPoints(), []);
    assert.deepEqual(receiver.metricNames(), ["freeswitch.call.mos"]);
  });

  it("sends a large queue in requests of at most MAX_POINTS_PER_REQUEST points", async () => {
    const s = sink();
    receiver.behave("fail");
    const legs = new Map<string, number>();
    const count = Math.ceil((MAX_POINTS_PER_REQUEST * 1.5) / POINTS_PER_LEG);
    for (let n = 0; n < count; n++) {
      legs.set(`big-${n}`, n);
      s.recordQos(qos(`big-${n}`, n));
    }
    await s.forceFlush();
    assert.equal(s.stats.queued, count * POINTS_PER_LEG);
    receiver.behave("ok");
    await s.forceFlush();
    assert.ok(receiver.metricRequests.length >= 2, "split");
    for (const [i] of receiver.metricRequests.entries()) {
      const n = receiver.points().filter((p) => p.request === i).length;
      assert.ok(n <= MAX_POINTS_PER_REQUEST, `request ${i}: ${n} points`);
    }
    assertDeliveredOnce(legs);
    assert.equal(s.stats.queued, 0);
  });
});

describe("retry queue: shutdown", () => {
  it("delivers the queue on shutdown when the Collector is back", async () => {
    const s = sink({}, { initial: 60_000, max: 60_000 });
    receiver.behave("fail");
    s.recordQos(qos("at-exit", 5));
    await s.forceFlush();
    receiver.behave("ok");
    await s.shutdown();
    assertDeliveredOnce(new Map([["at-exit", 5]]));
    assert.equal(qosDropped(s), 0);
  });

  it("finishes within the timeout with a queue and a dead Collector, counting the loss", async () => {
    const s = sink({ exportTimeoutMs: 500 });
    await receiver.stop();
    s.recordQos(qos("lost-1", 1));
    s.recordQos(qos("lost-2", 2));
    await s.forceFlush();
    assert.equal(s.stats.queued, 2 * POINTS_PER_LEG);
    const start = Date.now();
    await s.shutdown();
    const took = Date.now() - start;
    assert.ok(took < 1200, `shutdown took ${took} ms`);
    await receiver.waitFor(() => s.stats.queued === 0, "the queue to be given up");
    assert.equal(s.stats.dropped.shutdown, 2 * POINTS_PER_LEG);
    assert.equal(s.stats.retried, 0);
  });

  it("finishes within the timeout when the Collector hangs", async () => {
    const s = sink({ exportTimeoutMs: 500 });
    receiver.behave("fail");
    s.recordQos(qos("hang-1", 1));
    await s.forceFlush();
    receiver.behave("hang");
    const start = Date.now();
    await s.shutdown();
    const took = Date.now() - start;
    assert.ok(took < 1200, `shutdown took ${took} ms`);
    // The abandoned attempt ends by its gRPC deadline; its points are then counted as dropped.
    await receiver.waitFor(() => s.stats.queued === 0, "the abandoned export to settle");
    assert.equal(s.stats.dropped.shutdown, POINTS_PER_LEG);
  });
});
