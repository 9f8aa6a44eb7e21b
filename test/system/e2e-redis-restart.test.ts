// The quality pipeline end to end with Redis leg state, across an agent restart in the middle of a
// call: simulator (real ESL socket) → agent 1 → stop → agent 2 (a new Agent, same config) → real
// OTLP receiver. Redis is the one at 127.0.0.1:6379; every key lives under a random prefix that is
// removed afterwards.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import {
  assertQos,
  assertRtcpSeries,
  E2eHarness,
  eventOf,
  specFraction,
  specJitterMs,
  specQos,
  specQosLabels,
  specRtcpLabels,
} from "../support/e2e.js";
import { sleep } from "../support/wait.js";

const PCMU_RATE = 8000;
const OPUS_RATE = 48000;
const LONE_CALL_ID = "restart-lone@tenant-s.example";
const KEY_PREFIX = `fsagent-e2e-${randomBytes(6).toString("hex")}:`;

let redis: Redis;
const harnesses: E2eHarness[] = [];

async function start(): Promise<E2eHarness> {
  const harness = await E2eHarness.start({ storage: { type: "redis", keyPrefix: KEY_PREFIX } });
  harnesses.push(harness);
  return harness;
}

function legKey(uuid: string): string {
  return `${KEY_PREFIX}leg:${uuid}`;
}

async function prefixKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${KEY_PREFIX}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}

/** Polls an async condition (Redis is written behind, ~50 ms after a change). */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface StoredLeg {
  labels: { correlationId: string; domainName: string };
  inbound: Array<{ ssrc: string; lastLost: number }>;
  jitterCount: number;
  farEndLost: number;
}

async function stored(uuid: string): Promise<StoredLeg | null> {
  const text = await redis.get(legKey(uuid));
  return text === null ? null : (JSON.parse(text) as StoredLeg);
}

before(async () => {
  redis = new Redis({ host: "127.0.0.1", port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
});

after(async () => {
  for (const harness of harnesses) await harness.close();
  const keys = await prefixKeys();
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe("e2e with Redis state: an agent restart in the middle of a call", () => {
  it("keeps labels and incremental loss across the restart, reports QoS once, deletes the keys", async () => {
    const h = await start();
    const gen = h.generator;
    const t0 = Date.now();
    const A_CALL_ID = "restart-a@tenant-r.example";
    const DOMAIN = "tenant-r.example";
    const call = gen.startCall({
      bridged: true,
      domain: DOMAIN,
      codec: "PCMU",
      sipCallId: A_CALL_ID,
      bSipCallId: "restart-b-own-call-id",
      atMs: t0,
    });
    const lone = gen.startCall({
      domain: "tenant-s.example",
      codec: "opus",
      sipCallId: LONE_CALL_ID,
      atMs: t0,
    });
    const a = call.uuid;
    const b = call.bLeg?.uuid ?? "";
    const l = lone.uuid;

    // Agent 1: CREATE, ANSWER, BRIDGE and the first report of each leg.
    await h.waitProcessed("CHANNEL_BRIDGE", 1);
    await h.waitProcessed("CHANNEL_ANSWER", 3);
    gen.sendRtcp(a, { jitter: 160, lost: 3, fraction: 64, atMs: t0 + 5000 });
    gen.sendRtcp(b, { jitter: 56, lost: 4, fraction: 16, atMs: t0 + 5000 });
    gen.sendRtcp(l, { jitter: 960, lost: 5, fraction: 128, atMs: t0 + 5000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 3);
    await h.flush();
    await h.stopAgent(); // flushes the store to Redis
    const dumps = () => h.commands.filter((line) => line.includes("uuid_dump")).length;
    const dumpsBefore = dumps();

    // What agent 1 left in Redis: labels and the loss baseline of each leg.
    const storedA = await stored(a);
    const storedB = await stored(b);
    assert.equal(storedA?.labels.correlationId, A_CALL_ID);
    assert.equal(storedA?.inbound[0]?.lastLost, 3);
    assert.equal(storedB?.labels.correlationId, A_CALL_ID);
    assert.equal(storedB?.labels.domainName, DOMAIN);
    assert.equal(storedB?.farEndLost, 4);
    const ttl = await redis.pttl(legKey(a));
    assert.ok(ttl > 3_600_000, `keys carry the leg TTL (${ttl} ms)`);

    // Agent 2: never sees CREATE/ANSWER/BRIDGE; the A-leg's second report (cumulative 10).
    const agent2 = await h.startAgent();
    gen.sendRtcp(a, { jitter: 80, lost: 10, fraction: 32, atMs: t0 + 10_000 });
    gen.sendRtcp(l, { jitter: 1440, lost: 8, fraction: 64, atMs: t0 + 10_000 });
    await h.waitProcessed("RECV_RTCP_MESSAGE", 2);
    await h.flush();
    assert.equal(h.received("CHANNEL_CREATE"), 0, "agent 2 never saw the legs begin");

    // Across both agents, the A-leg's series: 3 then 7 (not 10), with the original labels.
    assertRtcpSeries(h, specRtcpLabels(a, A_CALL_ID, DOMAIN, "inbound"), {
      jitterMs: [specJitterMs(160, PCMU_RATE), specJitterMs(80, PCMU_RATE)],
      fractionLost: [specFraction(64), specFraction(32)],
      packetsLost: [3, 10 - 3],
    });
    assertRtcpSeries(h, specRtcpLabels(l, LONE_CALL_ID, "tenant-s.example", "inbound"), {
      jitterMs: [specJitterMs(960, OPUS_RATE), specJitterMs(1440, OPUS_RATE)], // 20 ms, 30 ms
      fractionLost: [specFraction(128), specFraction(64)],
      packetsLost: [5, 8 - 5],
    });
    assertRtcpSeries(h, specRtcpLabels(b, A_CALL_ID, DOMAIN, "inbound"), {
      jitterMs: [specJitterMs(56, PCMU_RATE)],
      fractionLost: [specFraction(16)],
      packetsLost: [4],
    });
    // The labels came from Redis, not from asking FreeSWITCH.
    assert.equal(dumps(), dumpsBefore, "no uuid_dump by agent 2");
    assert.equal(agent2.store.kind, "redis");

    // Hangup, handled by agent 2 only: the B-leg's state (far-end loss 4, jitter history) is
    // known to it only through Redis.
    const ended = [
      ...gen.hangupCall(a, {
        atMs: t0 + 60_000,
        qos: { inPacketCount: 2950, inFlaws: 9, jitterMs: 4 },
        bQos: { inPacketCount: 2980, inFlaws: 2, jitterMs: 3 },
      }),
      ...gen.hangupCall(l, {
        atMs: t0 + 60_000,
        qos: { inPacketCount: 2999, inFlaws: 0, jitterMs: 7 },
      }),
    ];
    await h.waitProcessed("CHANNEL_DESTROY", 3);
    await h.flush();
    await h.flush();

    const hcA = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", a);
    const hcB = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", b);
    assertQos(
      h,
      specQosLabels(hcA, A_CALL_ID, DOMAIN),
      specQos(hcA, [specJitterMs(160, PCMU_RATE), specJitterMs(80, PCMU_RATE)], 10),
    );
    assertQos(
      h,
      specQosLabels(hcB, A_CALL_ID, DOMAIN),
      specQos(hcB, [specJitterMs(56, PCMU_RATE)], 4),
    );
    const hcL = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", l);
    assertQos(
      h,
      specQosLabels(hcL, LONE_CALL_ID, "tenant-s.example"),
      specQos(hcL, [specJitterMs(960, OPUS_RATE), specJitterMs(1440, OPUS_RATE)], 8),
    );
    assert.equal(h.counters().qosGenerated, 3);
    assert.equal(dumps(), dumpsBefore, "still no uuid_dump");

    // DESTROY deletes the keys (within the write-behind delay), not left to the 24 h TTL.
    await eventually(
      async () => (await redis.exists(legKey(a), legKey(b), legKey(l))) === 0,
      "the legs' keys to be deleted after DESTROY",
    );
    assert.equal(agent2.legStore().legs, 0);
    const errors = agent2.storageOperations().filter((op) => op.status === "error");
    assert.deepEqual(
      errors.filter((op) => op.count > 0),
      [],
      "no storage error",
    );
    await h.stopAgent();
    assert.deepEqual(await prefixKeys(), [], "nothing left under the prefix");
  });

  it("does not report a leg's QoS again when the restart falls between HANGUP_COMPLETE and DESTROY", async () => {
    const harness = await start();
    const gen = harness.generator;
    const t0 = Date.now();
    const call = gen.startCall({
      domain: "tenant-q.example",
      codec: "PCMU",
      sipCallId: "restart-qos@tenant-q.example",
      atMs: t0,
    });
    await harness.waitProcessed("CHANNEL_ANSWER", 1);
    gen.sendRtcp(call.uuid, { jitter: 160, lost: 6, fraction: 16, atMs: t0 + 5000 });
    await harness.waitProcessed("RECV_RTCP_MESSAGE", 1);
    // Agent 1 gets HANGUP_COMPLETE; the DESTROY is held back until agent 2 runs.
    harness.drop = (e) => e.name === "CHANNEL_DESTROY";
    const ended = gen.hangupCall(call.uuid, {
      atMs: t0 + 30_000,
      qos: { inPacketCount: 1480, inFlaws: 5, jitterMs: 4 },
    });
    await harness.waitProcessed("CHANNEL_HANGUP_COMPLETE", 1);
    await harness.stopAgent();
    assert.equal((await stored(call.uuid)) === null, false, "the leg is still in Redis");

    await harness.startAgent();
    harness.drop = () => false;
    harness.server.publish(eventOf(ended, "CHANNEL_DESTROY", call.uuid));
    await harness.waitProcessed("CHANNEL_DESTROY", 1);
    await harness.flush();
    await harness.flush();

    const hc = eventOf(ended, "CHANNEL_HANGUP_COMPLETE", call.uuid);
    // assertQos checks exactly one point per metric across both agents' exports.
    assertQos(
      harness,
      specQosLabels(hc, "restart-qos@tenant-q.example", "tenant-q.example"),
      specQos(hc, [specJitterMs(160, PCMU_RATE)], 6),
    );
    assert.equal(harness.counters().qosGenerated, 0, "agent 2 generated no QoS");
    await eventually(
      async () => (await redis.exists(legKey(call.uuid))) === 0,
      "the leg's key to be deleted after DESTROY",
    );
  });
});
