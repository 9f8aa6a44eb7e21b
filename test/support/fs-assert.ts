// Assertions of the real-FreeSWITCH system tests: what the agent exported (as the OTLP receiver
// decoded it) against what FreeSWITCH sent (the test's own capture) and the SPEC formulas
// (spec-model.ts). Never against the agent's own computations.

import assert from "node:assert/strict";
import type { Call } from "./freeswitch.js";
import { type AgentProcess, FS_NAME, type Rig, sleep } from "./fs-rig.js";
import type { MetricPoint, OtlpReceiver } from "./otlp-receiver.js";
import type { RawEslClient } from "./raw-esl.js";
import { type ExpectedLabels, type ExpectedLeg, expectFromEvents } from "./spec-model.js";

export const RTCP_POINT_NAMES = {
  jitter: "freeswitch.rtcp.jitter",
  fractionLost: "freeswitch.rtcp.fraction_lost",
  packetsLost: "freeswitch.rtcp.packets_lost",
  rtt: "freeswitch.rtcp.rtt",
  mos: "freeswitch.rtcp.mos",
} as const;

export const QOS_POINT_NAMES = [
  "freeswitch.qos.mos_score",
  "freeswitch.qos.jitter_min",
  "freeswitch.qos.jitter_max",
  "freeswitch.qos.jitter_avg",
  "freeswitch.qos.total_packets",
  "freeswitch.qos.packet_loss",
  "freeswitch.qos.total_bytes",
] as const;

/** The per-leg points of one instrument for one leg (and RTCP direction), in arrival order. */
export function legPoints(
  receiver: OtlpReceiver,
  name: string,
  channelId: string,
  direction?: string,
): MetricPoint[] {
  return receiver
    .points(name)
    .filter(
      (p) =>
        p.attributes.channel_id === channelId &&
        (direction === undefined || p.attributes.direction === direction),
    );
}

/**
 * One bridged PCMU call (its 4 legs), once the Collector holds RTCP points of every leg: the
 * agent consuming the FreeSWITCH has seen the legs and written their state.
 */
export async function callWithRtcp(rig: Rig): Promise<{ calls: Call[]; legs: string[] }> {
  const calls = await rig.fs.originate(1, { codec: "PCMU" });
  await rig.fs.waitForChannels(4);
  const legs = rig.capture
    .eventsNamed("CHANNEL_CREATE")
    .map((e) => e.get("Unique-ID") ?? "")
    .slice(-4);
  for (const leg of legs) {
    await rig.receiver.waitFor(
      () => legPoints(rig.receiver, "freeswitch.rtcp.jitter", leg).length > 0,
      `RTCP points of ${leg}`,
      20_000,
    );
  }
  return { calls, legs };
}

/** |a − b| within a relative 1e-9 (doubles that went through protobuf). */
export function close(actual: number | undefined, expected: number, what: string): void {
  if (
    actual === undefined ||
    !(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)))
  ) {
    assert.fail(`${what}: exported ${actual}, FreeSWITCH's events give ${expected}`);
  }
}

/**
 * `exported` is `expected` with some elements left out (two reports of one series in one export
 * interval export only the later gauge value), in order, ending with the last.
 */
export function assertSubsequence(
  exported: readonly number[],
  expected: readonly number[],
  what: string,
): void {
  assert.ok(exported.length > 0, `${what}: nothing exported`);
  let at = 0;
  for (const value of exported) {
    while (at < expected.length && !nearly(expected[at]!, value)) at++;
    if (at === expected.length) {
      assert.fail(
        `${what}: exported ${JSON.stringify(exported)}, reports ${JSON.stringify(expected)}`,
      );
    }
    at++;
  }
  assert.ok(
    nearly(exported.at(-1)!, expected.at(-1)!),
    `${what}: the last report's value is exported last`,
  );
}

function nearly(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
}

/**
 * Checks every leg's RTCP points against the expected reports: values per SPEC §4/§7 (gauges:
 * the reports' values in order; packets_lost: the increments add up to FreeSWITCH's final
 * cumulative loss), and the RTCP label set of SPEC §3/§4.
 */
export function assertRtcpPoints(
  receiver: OtlpReceiver,
  legs: readonly ExpectedLeg[],
  labelsOf: (leg: ExpectedLeg) => ExpectedLabels = (leg) => leg.labels,
): void {
  for (const leg of legs) {
    for (const direction of ["inbound", "outbound"] as const) {
      const reports = leg.reports.filter((r) => r.direction === direction);
      if (reports.length === 0) continue;
      const what = `${leg.uuid} ${direction}`;
      const expected = labelsOf(leg);
      const labels = {
        fs_instance: FS_NAME,
        channel_id: leg.uuid,
        correlation_id: expected.correlation_id,
        domain_name: expected.domain_name,
        direction,
      };
      const jitter = legPoints(receiver, RTCP_POINT_NAMES.jitter, leg.uuid, direction);
      for (const p of jitter) assert.deepEqual(p.attributes, labels, `${what}: labels`);
      assertSubsequence(
        jitter.map((p) => p.value),
        reports.map((r) => r.jitterMs),
        `${what} jitter`,
      );
      const fraction = legPoints(receiver, RTCP_POINT_NAMES.fractionLost, leg.uuid, direction);
      assertSubsequence(
        fraction.map((p) => p.value),
        reports.map((r) => r.fractionLost),
        `${what} fraction_lost`,
      );
      const mos = legPoints(receiver, RTCP_POINT_NAMES.mos, leg.uuid, direction);
      assertSubsequence(
        mos.map((p) => p.value),
        reports.map((r) => r.mos),
        `${what} mos`,
      );
      const rtts = reports.map((r) => r.rttMs).filter((r): r is number => r !== undefined);
      const rtt = legPoints(receiver, RTCP_POINT_NAMES.rtt, leg.uuid, direction);
      if (rtts.length === 0) assert.equal(rtt.length, 0, `${what}: no RTT known, none exported`);
      else
        assertSubsequence(
          rtt.map((p) => p.value),
          rtts,
          `${what} rtt`,
        );
      assertLossAddsUp(receiver, leg, direction);
    }
  }
}

/**
 * packets_lost of one leg and direction, summed over every point (every process that exported
 * it): the reports' increments, which add up to FreeSWITCH's final cumulative loss.
 */
export function assertLossAddsUp(
  receiver: OtlpReceiver,
  leg: ExpectedLeg,
  direction: "inbound" | "outbound",
): void {
  const what = `${leg.uuid} ${direction}`;
  const reports = leg.reports.filter((r) => r.direction === direction);
  const lost = legPoints(receiver, RTCP_POINT_NAMES.packetsLost, leg.uuid, direction);
  const sum = lost.reduce((s, p) => s + p.value, 0);
  assert.equal(
    sum,
    reports.reduce((s, r) => s + r.packetsLost, 0),
    `${what} packets_lost`,
  );
  assert.equal(sum, Math.max(0, leg.finalLost[direction] ?? 0), `${what}: FreeSWITCH's final loss`);
}

export interface QosCheck {
  /** The leg's RTCP-time labels, when not those of its channel events (a leg looked up). */
  readonly labelsOf?: (leg: ExpectedLeg) => ExpectedLabels;
  /**
   * The agent saw only the reports after it started: jitter_avg is then the mean of the last
   * reports before the hangup, however many it saw.
   */
  readonly reportsSeenFromMidCall?: boolean;
}

/** The QoS labels and values a leg's points and quality record must carry. */
export function expectedQos(leg: ExpectedLeg, check: QosCheck = {}) {
  const qos = leg.qos;
  assert.ok(qos !== undefined, `${leg.uuid} ended`);
  const live = check.labelsOf?.(leg) ?? leg.labels;
  const labels = {
    ...qos.labels,
    correlation_id: live.correlation_id,
    domain_name: qos.ownDomainAtHangup || live.domain_name,
  };
  return { labels, values: qos.values };
}

/** Whether `value` is the mean of a non-empty suffix of `series`. */
function meanOfSuffix(value: number, series: readonly number[]): boolean {
  let sum = 0;
  for (let i = series.length - 1; i >= 0; i--) {
    sum += series[i]!;
    if (nearly(sum / (series.length - i), value)) return true;
  }
  return false;
}

/** One QoS point per instrument per leg, with SPEC §4's values and §3's QoS label set. */
export function assertQosPoints(
  receiver: OtlpReceiver,
  legs: readonly ExpectedLeg[],
  check: QosCheck = {},
): void {
  for (const leg of legs) {
    const { labels, values } = expectedQos(leg, check);
    for (const name of QOS_POINT_NAMES) {
      const points = legPoints(receiver, name, leg.uuid);
      const want = values[name];
      if (want === undefined) {
        assert.equal(points.length, 0, `${leg.uuid} ${name}: none`);
        continue;
      }
      assert.equal(points.length, 1, `${leg.uuid} ${name}: once`);
      const point = points[0]!;
      if (name === "freeswitch.qos.jitter_avg" && check.reportsSeenFromMidCall === true) {
        const series = leg.qos?.jitterBeforeHangup ?? [];
        assert.ok(
          meanOfSuffix(point.value, series),
          `${leg.uuid} jitter_avg ${point.value} of ${series}`,
        );
      } else {
        close(point.value, want, `${leg.uuid} ${name}`);
      }
      assert.deepEqual(
        point.attributes,
        { fs_instance: FS_NAME, ...labels },
        `${leg.uuid} ${name} labels`,
      );
    }
  }
}

/** One quality record per leg, carrying the same labels and values. */
export function assertQualityRecords(
  receiver: OtlpReceiver,
  legs: readonly ExpectedLeg[],
  check: QosCheck = {},
): void {
  const records = receiver.logRecords();
  for (const leg of legs) {
    const mine = records.filter((r) => r.attributes.channel_id === leg.uuid);
    assert.equal(mine.length, 1, `one quality record for ${leg.uuid}`);
    const a = mine[0]!.attributes;
    const qos = expectedQos(leg, check);
    for (const [key, value] of Object.entries(qos.labels)) {
      assert.equal(a[key], value, `record ${key}`);
    }
    const byRecordName: Record<string, string> = {
      "freeswitch.qos.mos_score": "mos_score",
      "freeswitch.qos.jitter_min": "jitter_min_ms",
      "freeswitch.qos.jitter_max": "jitter_max_ms",
      "freeswitch.qos.jitter_avg": "jitter_avg_ms",
      "freeswitch.qos.total_packets": "total_packets",
      "freeswitch.qos.packet_loss": "packet_loss",
      "freeswitch.qos.total_bytes": "total_bytes",
    };
    for (const [name, key] of Object.entries(byRecordName)) {
      const want = qos.values[name];
      if (want === undefined) assert.equal(a[key], undefined, `record ${key}`);
      else if (key === "jitter_avg_ms" && check.reportsSeenFromMidCall === true) {
        // The points' check above pins which reports; the record must say the same.
        const point = legPoints(receiver, "freeswitch.qos.jitter_avg", leg.uuid)[0];
        close(a[key] as number, point?.value ?? Number.NaN, `record ${key} of ${leg.uuid}`);
      } else close(a[key] as number, want, `record ${key} of ${leg.uuid}`);
    }
  }
}

/** The legs of the captured events that ended (their CHANNEL_HANGUP_COMPLETE was captured). */
export function endedLegs(capture: RawEslClient): ExpectedLeg[] {
  return [...expectFromEvents(capture.events).values()].filter((l) => l.qos !== undefined);
}

/** Waits until the receiver has every ended leg's QoS points and quality record. */
export async function waitForEndOfCalls(
  receiver: OtlpReceiver,
  legs: readonly ExpectedLeg[],
  timeoutMs = 15_000,
): Promise<void> {
  await waitForQosOf(
    receiver,
    legs.map((l) => l.uuid),
    timeoutMs,
  );
}

/** Waits until the receiver has the QoS points and the quality record of each of these legs. */
export async function waitForQosOf(
  receiver: OtlpReceiver,
  uuids: readonly string[],
  timeoutMs = 15_000,
): Promise<void> {
  await receiver.waitFor(
    () =>
      uuids.every(
        (uuid) =>
          legPoints(receiver, "freeswitch.qos.total_packets", uuid).length > 0 &&
          receiver.logRecords().some((r) => r.attributes.channel_id === uuid),
      ),
    `QoS points and quality records of ${uuids.length} legs`,
    timeoutMs,
  );
}

/**
 * Each leg's end-of-call QoS reached the receiver exactly once: one QoS point and one quality
 * record per leg, still one after `settleMs` more (a second report would come by then).
 */
export async function assertQosExactlyOnce(
  receiver: OtlpReceiver,
  uuids: readonly string[],
  settleMs: number,
): Promise<void> {
  await waitForQosOf(receiver, uuids);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  for (const uuid of uuids) {
    assert.equal(
      legPoints(receiver, "freeswitch.qos.total_packets", uuid).length,
      1,
      `${uuid}: exactly one QoS point at the Collector`,
    );
    const records = receiver.logRecords().filter((r) => r.attributes.channel_id === uuid);
    assert.equal(records.length, 1, `${uuid}: exactly one quality record`);
  }
}

/**
 * After every leg ended: the next export requests carry no per-leg point at all, and the agent
 * holds no leg.
 */
export async function assertNoPerLegSeriesLeft(
  receiver: OtlpReceiver,
  agent: AgentProcess,
): Promise<void> {
  await sleep(600); // the interval in flight when the last leg ended
  const from = receiver.metricRequests.length;
  await receiver.waitFor(
    () => receiver.metricRequests.length >= from + 3,
    "three more exports",
    5000,
  );
  const perLeg = receiver
    .points()
    .filter((p) => p.request >= from && p.attributes.channel_id !== undefined);
  assert.deepEqual(
    perLeg.map((p) => `${p.name} ${p.attributes.channel_id}`),
    [],
    "no per-leg series after the legs ended",
  );
  assert.equal(await agent.requireSample("fsagent_legs_active"), 0);
}
