// Redis state on a real FreeSWITCH: the agent is restarted while calls are up (an upgrade, a
// crash-loop). The new process must take each leg's labels and loss baselines from Redis: its
// first report of a stream then counts only what was lost since the old process's last, never
// the cumulative value again, and it has no need to look the legs up. RTP is impaired (5 % loss)
// so that FreeSWITCH's cumulative loss is large enough to be counted twice if it were.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { skipWithoutFreeswitch } from "../support/freeswitch.js";
import {
  assertRtcpPoints,
  close,
  expectedQos,
  legPoints,
  QOS_POINT_NAMES,
} from "../support/fs-assert.js";
import { FS_NAME, Rig, sleep } from "../support/fs-rig.js";
import { deleteRedisKeys } from "../support/ha.js";
import { skipWithoutImpairment } from "../support/impair.js";
import type { ExpectedLeg } from "../support/spec-model.js";

const skip = skipWithoutFreeswitch() || skipWithoutImpairment();

describe("real FreeSWITCH, Redis state: the agent restarted mid-call", { skip }, () => {
  const prefix = `fsagent-test-${randomUUID().slice(0, 8)}:`;
  let rig: Rig;
  let legs: ExpectedLeg[] = [];
  let lookupsAfterRestart = 0;
  let restartedAt = 0;
  const redisEnv = {
    FSAGENT_STORAGE_TYPE: "redis",
    FSAGENT_REDIS_HOST: "127.0.0.1",
    FSAGENT_REDIS_PORT: "6379",
    FSAGENT_REDIS_KEY_PREFIX: prefix,
  };

  before(async () => {
    rig = await Rig.start({ name: "redis", impair: { delayMs: 5, jitterMs: 2, lossPct: 5 } });
    const first = await rig.startAgent({ env: redisEnv });
    const calls = [
      ...(await rig.fs.originate(1, { codec: "PCMU", domain: "tenant-r.example" })),
      ...(await rig.fs.originate(1, { codec: "G722" })),
    ];
    await sleep(10_000);
    await first.stop(); // SIGTERM: an upgrade; its write-behind is flushed
    restartedAt = rig.receiver.metricRequests.length;
    const second = await rig.startAgent({ env: redisEnv });
    await sleep(7000);
    legs = await rig.endCalls(calls);
    lookupsAfterRestart = [
      ...(await second.metrics()).matchAll(/^fsagent_leg_lookups_total\{[^}]*\} (\d+)/gm),
    ]
      .map((m) => Number(m[1]))
      .reduce((s, v) => s + v, 0);
  });

  after(async () => {
    await rig?.dispose();
    await deleteRedisKeys(prefix);
  });

  it("both processes reported every leg: before and after the restart", () => {
    assert.equal(legs.length, 8);
    for (const leg of legs) {
      const points = legPoints(rig.receiver, "freeswitch.rtcp.jitter", leg.uuid);
      assert.ok(
        points.some((p) => p.request < restartedAt),
        `${leg.uuid} before`,
      );
      assert.ok(
        points.some((p) => p.request >= restartedAt),
        `${leg.uuid} after`,
      );
    }
    assert.ok(
      legs.some((l) => (l.finalLost.inbound ?? 0) + (l.finalLost.outbound ?? 0) > 2),
      "real loss",
    );
  });

  it("loss stays incremental across the restart: per leg and direction it adds up to FreeSWITCH's final cumulative loss", () => {
    // assertRtcpPoints sums the packets_lost of both processes per leg and direction, and checks
    // every point's labels against the leg's channel events: the new process had them from Redis.
    assertRtcpPoints(rig.receiver, legs);
  });

  it("the new process took the legs from Redis: no look-up on FreeSWITCH", () => {
    assert.equal(lookupsAfterRestart, 0);
  });

  it("QoS once per leg, from the new process, with the labels and FreeSWITCH's values", () => {
    for (const leg of legs) {
      const { labels, values } = expectedQos(leg);
      for (const name of QOS_POINT_NAMES) {
        const points = legPoints(rig.receiver, name, leg.uuid);
        assert.equal(points.length, 1, `${leg.uuid} ${name} once`);
        assert.deepEqual(points[0]!.attributes, { fs_instance: FS_NAME, ...labels });
        // jitter_avg is the mean of the reports the two processes saw (Redis carried the sum
        // across); the reports sent while neither was connected are not in it, so it is checked
        // against the jitter points the two exported (themselves checked against the capture).
        if (name === "freeswitch.qos.jitter_avg") {
          const seen = legPoints(rig.receiver, "freeswitch.rtcp.jitter", leg.uuid).map(
            (p) => p.value,
          );
          close(
            points[0]!.value,
            seen.reduce((s, v) => s + v, 0) / seen.length,
            `${leg.uuid} jitter_avg`,
          );
        } else close(points[0]!.value, values[name]!, `${leg.uuid} ${name}`);
      }
    }
  });
});
