// Issue 21, "Stale writers after a partition", on a real FreeSWITCH with lossy RTP: two replicas
// share it through a private redis-server. The holder is paused (SIGSTOP) past its lease while
// it has leg state waiting to be written; the other replica takes over and writes. Then, with the
// new owner paused so that every write Redis sees comes from the old one, the old holder resumes:
// Redis's keyspace notifications must show none of its writes landing, and its counter must show
// them refused. The new owner then stops, the old one takes the instance back and reads the
// state from Redis. Per leg and direction, the loss the replicas exported adds up exactly to
// FreeSWITCH's final count: the reports the old holder consumed while its writes were held back
// are counted once, by the new owner (the old one exports loss only once its baseline is in
// Redis), and no stale baseline makes anyone count increments twice.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { tempDir } from "../support/child.js";
import { skipWithoutFreeswitch } from "../support/freeswitch.js";
import { assertLossAddsUp, assertQosExactlyOnce, callWithRtcp } from "../support/fs-assert.js";
import { FS_NAME, Rig, sleep } from "../support/fs-rig.js";
import { consumerOf, PrivateRedisServer, Replica, replicaEnv, sample } from "../support/ha.js";
import { skipWithoutImpairment } from "../support/impair.js";
import { pollUntil } from "../support/net.js";

const TTL_MS = 4_000;
const skip = skipWithoutFreeswitch() || skipWithoutImpairment();

describe("real FreeSWITCH, HA: a holder paused past its lease writes nothing when it resumes", {
  skip,
}, () => {
  const prefix = `fsagent-fence-${randomUUID().slice(0, 8)}:`;
  const password = `pw-${randomUUID()}`;
  let rig: Rig;
  let cwd: { dir: string; remove(): void };
  let server: PrivateRedisServer;
  let admin: Redis;
  const replicas: Replica[] = [];

  before(async () => {
    cwd = tempDir();
    server = await PrivateRedisServer.start(cwd.dir, password);
    admin = new Redis({ port: server.port, password, lazyConnect: true });
    await admin.connect();
    rig = await Rig.start({ name: "fence", impair: { delayMs: 5, jitterMs: 2, lossPct: 5 } });
    for (const id of ["replica-a", "replica-b"]) {
      const env = replicaEnv({
        instances: [rig.fs.agentInstance(FS_NAME)],
        replicaId: id,
        keyPrefix: prefix,
        leaseTtl: String(TTL_MS / 1000),
        redisPort: server.port,
        redisPassword: password,
        otlpEndpoint: rig.receiver.endpoint,
      });
      replicas.push(await Replica.start(cwd.dir, env));
    }
  });

  after(async () => {
    for (const r of replicas) {
      r.process.signal("SIGCONT");
      await r.process.kill();
    }
    admin?.disconnect();
    await rig?.dispose();
    await server?.stop();
    cwd?.remove();
  });

  const holder = () => consumerOf(replicas, FS_NAME);

  const rtcpSeen = () =>
    rig.capture.eventsNamed("RECV_RTCP_MESSAGE").length +
    rig.capture.eventsNamed("SEND_RTCP_MESSAGE").length;

  async function legKeys(): Promise<string[]> {
    return (await admin.keys(`${prefix}leg:*`)).sort();
  }

  it("none of its writes lands, they are counted, and the exported loss stays incremental", async (t) => {
    const first = await pollUntil(holder, (r) => r !== undefined, "one replica holds it", 15_000);
    assert.ok(first);
    const second = replicas.find((r) => r !== first)!;
    const { calls, legs } = await callWithRtcp(rig);

    // Redis holds writes back for a moment: the holder's write-behind pipeline waits, and what
    // the reports it consumes meanwhile change waits behind it (one pipeline at a time). It is
    // paused with those changes pending, before its pipeline's 1 s command timeout. After their
    // first reports (4 s apart) the 16 streams report every second.
    await pollUntil(
      async () => rtcpSeen(),
      (n) => n >= 48,
      "the streams at full pace",
      30_000,
    );
    let pausedAt = 0;
    for (let attempt = 1; pausedAt === 0; attempt++) {
      await admin.call("CLIENT", "PAUSE", "900", "WRITE");
      const seen = rtcpSeen();
      await sleep(650);
      const during = rtcpSeen() - seen;
      if (during >= 2 || attempt === 3) {
        first.process.signal("SIGSTOP");
        pausedAt = Date.now();
        t.diagnostic(`paused with ${during} report(s) consumed while Redis held writes back`);
      }
      await admin.call("CLIENT", "UNPAUSE");
      if (pausedAt === 0) await sleep(1_000);
    }

    await pollUntil(
      () => second.consuming(),
      (c) => c.includes(FS_NAME),
      "the other replica consumes the FreeSWITCH",
      TTL_MS + 10_000,
    );
    t.diagnostic(`taken over ${Date.now() - pausedAt} ms after the pause (lease TTL ${TTL_MS} ms)`);
    const fenceToken = await admin.get(`${prefix}ha:fence:${FS_NAME}`);
    assert.match(fenceToken ?? "", /^2\/replica-b#|^2\/replica-a#/, "the second owner's epoch");
    assert.ok(fenceToken?.includes(`/${second.id}#`), `the new owner's token: ${fenceToken}`);
    // The new owner reads the legs from Redis and writes their next state.
    const saves = async () =>
      sample(await second.metrics(), "fsagent_storage_operations_total", {
        operation: "save",
        status: "ok",
      }) ?? 0;
    await pollUntil(saves, (n) => n >= 2, "the new owner's writes", 15_000);

    // Now only the old holder can write: every write Redis applies to a leg key is notified.
    second.process.signal("SIGSTOP");
    await sleep(300);
    await admin.config("SET", "notify-keyspace-events", "K$g");
    const watcher = admin.duplicate();
    const landed: string[] = [];
    watcher.on("pmessage", (_pattern, channel: string, event: string) => {
      landed.push(`${event} ${channel}`);
    });
    await watcher.psubscribe(`__keyspace@0__:${prefix}leg:*`);
    const keys = await legKeys();
    assert.ok(keys.length >= legs.length, `the legs are in Redis: ${keys.length}`);
    const before = await admin.mget(...keys);

    first.process.signal("SIGCONT");
    const refused = async () =>
      sample(await first.metrics(), "fsagent_ha_fenced_writes_total", { write: "leg_state" }) ?? 0;
    const count = await pollUntil(refused, (n) => n > 0, "the old holder's refused writes", 10_000);
    await sleep(500);
    t.diagnostic(`old holder: ${count} leg-state write(s) refused`);
    assert.deepEqual(landed, [], "no write of the old holder reached a leg key");
    assert.deepEqual(await legKeys(), keys);
    assert.deepEqual(await admin.mget(...keys), before, "every leg's state is the new owner's");
    assert.equal((await first.consuming()).length, 0, "the old holder consumes nothing");
    const warned = first.logLines(/^HA: Redis refused this replica's late leg-state writes/);
    assert.ok(warned.length >= 1, "said so in its log");
    await watcher.quit();

    // The new owner resumes and stops (SIGTERM: its last state and points go out); the old
    // holder takes the instance back and reads the legs from Redis.
    second.process.signal("SIGCONT");
    second.process.signal("SIGTERM");
    const exit = await second.process.waitForExit(10_000);
    assert.equal(exit.code, 0);
    await pollUntil(
      () => first.consuming(),
      (c) => c.includes(FS_NAME),
      "the first replica takes the FreeSWITCH back",
      TTL_MS + 10_000,
    );
    const back = rtcpSeen();
    await pollUntil(
      async () => rtcpSeen(),
      (n) => n >= back + 4,
      "reports after it",
      15_000,
    );
    await sleep(1_500);
    const ended = await rig.endCalls(calls);
    // The loss adds up exactly. Gauges are not compared in order here: the old holder exports the
    // points it recorded before its pause when it resumes, after the new owner's.
    for (const leg of ended) {
      for (const direction of ["inbound", "outbound"] as const) {
        if (leg.reports.some((r) => r.direction === direction)) {
          assertLossAddsUp(rig.receiver, leg, direction);
        }
      }
    }
    await assertQosExactlyOnce(rig.receiver, legs, 2_000);
    assert.equal(first.process.stderr, "");
    assert.doesNotMatch(first.process.stdout, /\n\s+at /, "no stack trace");
  });
});
